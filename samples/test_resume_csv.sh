#!/bin/sh
# dbn_mnist run, then resumed with more epochs, then resumed with nothing
# left to do, then run afresh: each phase's CSV file holds one row per
# epoch of the model its checkpoint holds, never a row twice; a resumed
# phase keeps its earlier rows, one that starts afresh rewrites them; the
# run resumed with more epochs ends bitwise as a fresh run with them; a
# resume with another --validation is refused and changes nothing.
# Usage: test_resume_csv.sh DBN_MNIST DATA_DIR. Exit 77 (skipped) without MNIST.
# shellcheck source=samples/test_lib.sh
. "$(dirname "$0")/test_lib.sh"
bin=$1
data=$2
skip_unless "$data/train-images-idx3-ubyte" "MNIST is not in $data (scripts/fetch_mnist.sh fetches it)"
files="pretrain_layer1.csv pretrain_layer2.csv finetune.csv"
run() { "$bin" --data "$data" --output "$out" --hidden 30,30 "$@" > "$out/log" 2>&1 || { cat "$out/log"; exit 1; }; }
epochs() { tail -n +2 "$out/$1" | cut -d, -f1 | tr '\n' ' '; }
check() {  # check WHEN EPOCHS: every file holds exactly those epochs
  for f in $files; do
    got=$(epochs "$f")
    [ "$got" = "$2" ] || fail "$1: $f holds epochs '$got'; expected '$2'"
  done
}
keep() { mkdir -p "$out/$1" && for f in $files; do cp "$out/$f" "$out/$1/$f"; done; }
same_start() { head -n "$3" "$out/$1" | cmp -s - "$out/$2/$1"; }  # FILE COPY LINES

run --pretrain-epochs 2 --finetune-epochs 2
check "first run" "1 2 "
keep run1
run --pretrain-epochs 3 --finetune-epochs 3 --resume
grep -q "layer 1: resumed at epoch 2 of 3" "$out/log" || fail "resumed with more epochs: layer 1 did not resume"
check "resumed with more epochs" "1 2 3 "
same_start pretrain_layer1.csv run1 3 || fail "resumed: layer 1 lost its first two rows"
! same_start pretrain_layer2.csv run1 3 || fail "resumed: layer 2 kept rows, but layer 1 trained on: it starts afresh"
! same_start finetune.csv run1 3 || fail "resumed: fine-tuning kept rows, but the layers below trained on"
keep run2
# ... and it ends as a fresh run with those epochs would: the same result
# line and the same fine-tuned weights, bit for bit.
fresh="$out/fresh"
mkdir -p "$fresh"
"$bin" --data "$data" --output "$fresh" --hidden 30,30 --pretrain-epochs 3 --finetune-epochs 3 > "$fresh/log" 2>&1 ||
  { cat "$fresh/log"; exit 1; }
want=$(grep '^test_error_pct=' "$fresh/log")
got=$(grep '^test_error_pct=' "$out/log")
[ -n "$want" ] && [ "$got" = "$want" ] || fail "resumed: '$got'; a fresh run with the same epochs printed '$want'"
for f in "$fresh"/finetune/*.npy; do
  cmp -s "$f" "$out/finetune/$(basename "$f")" || fail "resumed: finetune/$(basename "$f") differs from a fresh run's"
done
run --pretrain-epochs 3 --finetune-epochs 3 --resume
check "resumed with nothing to do" "1 2 3 "
for f in $files; do cmp -s "$out/$f" "$out/run2/$f" || fail "resumed with nothing to do: $f changed"; done
# Another validation split is another run: refused before anything trains.
code=0
"$bin" --data "$data" --output "$out" --hidden 30,30 --pretrain-epochs 3 --finetune-epochs 3 --resume \
  --validation 5000 > "$out/log" 2>&1 || code=$?
[ "$code" = 2 ] || fail "resumed with another --validation: exit code $code; expected 2"
grep -q "the checkpoint has --validation = 10000; this run has 5000" "$out/log" ||
  fail "resumed with another --validation: not refused naming it"
# (the header went to stdout before the refusal to stderr: the log keeps their order)
tail -n 1 "$out/log" | grep -q "the checkpoint has --validation" || fail "the refusal is not the log's last line"
for f in $files; do cmp -s "$out/$f" "$out/run2/$f" || fail "resumed with another --validation: $f changed"; done
run --pretrain-epochs 1 --finetune-epochs 1
check "a fresh run" "1 "
test -s "$out/curves.svg" || fail "no curves.svg"
echo "every CSV file holds each epoch once; resumed phases kept their rows, fresh ones rewrote them;" \
  "the resumed run equals a fresh one; another --validation is refused"
