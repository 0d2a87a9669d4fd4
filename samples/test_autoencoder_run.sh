#!/bin/sh
# An image autoencoder sample end to end with a small net: it prints its
# results, fine-tuning lowers the unrolled stack's test error, it writes its
# pictures and metrics, and --resume with more epochs trains only those.
# Usage: test_autoencoder_run.sh AUTOENCODER_MNIST DATA_DIR (exit 77,
# skipped, without MNIST), or test_autoencoder_run.sh SAMPLE - ARGS... for a
# sample that makes its data (autoencoder_curves), ARGS (words without
# spaces) added to every run.
# shellcheck source=samples/test_lib.sh
. "$(dirname "$0")/test_lib.sh"
bin=$1
data=$2
shift 2
extra="$*"
if [ "$data" != "-" ]; then
  skip_unless "$data/train-images-idx3-ubyte" "MNIST is not in $data (scripts/fetch_mnist.sh fetches it)"
fi
run() {
  # shellcheck disable=SC2086 # $extra is words
  if [ "$data" = "-" ]; then set -- $extra "$@"; else set -- --data "$data" "$@"; fi
  "$bin" --output "$out" --hidden 100,10 --pretrain-epochs 1 --logistic-pca-sweeps 2 "$@" > "$out/log" 2>&1 ||
    fail "the run failed"
}

run --finetune-epochs 2
pca=$(value pca_test_squared_error)
before=$(value unrolled_test_squared_error)
after=$(value test_squared_error)
logistic=$(value logistic_pca10_test_squared_error)
[ -n "$pca" ] && [ -n "$before" ] && [ -n "$after" ] && [ -n "$logistic" ] || fail "missing result lines"
# logistic PCA, fitted to data in [0, 1] with their own loss, beats PCA with as many components
awk -v l="$logistic" -v p="$pca" 'BEGIN { exit !(l > 0 && l < p) }' || fail "logistic PCA ($logistic) did not beat PCA ($pca)"
awk -v a="$after" -v b="$before" 'BEGIN { exit !(a > 0 && a < b) }' ||
  fail "fine-tuning did not lower the test error: $before before, $after after"
for f in reconstructions.png curves.svg finetune.csv pretrain_layer1.csv pretrain_layer2.csv; do
  [ -s "$out/$f" ] || fail "no $f"
done
[ "$(tail -n +2 "$out/finetune.csv" | cut -d, -f1 | tr '\n' ' ')" = "1 2 " ] || fail "finetune.csv: not epochs 1 2"
cp "$out/finetune.csv" "$out/first.csv"

run --finetune-epochs 3 --resume
grep -q "^pretrain layer 1 (784-100) 1/1 .*resumed from the checkpoint" "$out/log" || fail "layer 1 was not resumed"
[ "$(tail -n +2 "$out/finetune.csv" | cut -d, -f1 | tr '\n' ' ')" = "1 2 3 " ] || fail "finetune.csv after resume: not epochs 1 2 3"
# a fine-tuning resumed from epoch 2 keeps its first two rows (one started afresh rewrites them, timings and all)
head -n 3 "$out/finetune.csv" | cmp -s - "$out/first.csv" || fail "the resumed fine-tuning rewrote its first epochs"
echo "pca $pca, logistic pca $logistic, unrolled $before, fine-tuned $after; resumed to epoch 3"
