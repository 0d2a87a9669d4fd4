#!/bin/sh
# A long run stopped by SIGTERM, or by Ctrl-C (SIGINT), says how to go on
# and ends by the signal, as a shell expects (exit status 143 or 130):
# rbm_mnist with a tiny RBM, asked for 1000 epochs, is stopped once its
# checkpoint holds an epoch; the same command with --resume and one epoch
# more than the checkpoint holds trains that epoch, and metrics.csv then
# holds each epoch once.
# Usage: test_interrupt.sh RBM_MNIST DATA_DIR. Exit 77 (skipped) without MNIST.
# shellcheck source=samples/test_lib.sh
. "$(dirname "$0")/test_lib.sh"
bin=$1
data=$2
skip_unless "$data/train-images-idx3-ubyte" "MNIST is not in $data (scripts/fetch_mnist.sh fetches it)"
said="rbm_mnist: interrupted; the same command with --resume goes on from the last checkpoint in '$out/run'"
manifest="$out/run/checkpoint/manifest.json"
flags="--hidden 20 --no-ais --sample-steps 10 --threads 2"

# SIGTERM, once an epoch is kept (a job started with & ignores SIGINT)
# shellcheck disable=SC2086
"$bin" --data "$data" --output "$out/run" $flags --epochs 1000 > "$out/log" 2>&1 &
pid=$!
i=0
until [ -f "$manifest" ]; do
  i=$((i + 1))
  [ "$i" -le 600 ] || { kill "$pid"; fail "no checkpoint after 60 s"; }
  sleep 0.1
done
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
[ "$status" = 143 ] || fail "SIGTERM: exit status $status; expected 143 (ended by the signal)"
grep -qF "$said" "$out/log" || fail "SIGTERM: the run did not say how to go on ('$said')"
kept=$(sed -n 's/^ *"epoch": *\([0-9]*\).*/\1/p' "$manifest")
[ -n "$kept" ] && [ "$kept" -ge 1 ] || fail "the checkpoint holds epoch '$kept'; expected 1 or more"
# shellcheck disable=SC2086
"$bin" --data "$data" --output "$out/run" $flags --epochs $((kept + 1)) --resume > "$out/log" 2>&1 ||
  fail "the resumed run failed"
[ "$(value epoch)" = $((kept + 1)) ] || fail "resumed: epoch=$(value epoch); expected $((kept + 1))"
rows=$(tail -n +2 "$out/run/metrics.csv" | cut -d, -f1 | tr '\n' ' ')
[ "$rows" = "$(seq -s ' ' 1 $((kept + 1))) " ] || fail "resumed: metrics.csv holds epochs '$rows'; expected 1..$((kept + 1))"

# Ctrl-C: SIGINT to a run in the foreground (timeout's child)
status=0
# shellcheck disable=SC2086
timeout --preserve-status -s INT 4 "$bin" --data "$data" --output "$out/run" $flags --epochs 1000 --resume \
  > "$out/log" 2>&1 || status=$?
[ "$status" = 130 ] || fail "SIGINT: exit status $status; expected 130 (ended by the signal)"
grep -qF "$said" "$out/log" || fail "SIGINT: the run did not say how to go on ('$said')"
echo "interrupted at epoch $kept, resumed to $((kept + 1)); SIGTERM and SIGINT said how to go on"
