#!/bin/sh
# autoencoder_faces end to end on a few Olivetti patches with a small net:
# it prints its results, fine-tuning lowers the unrolled stack's test
# error, and it writes its pictures and metrics.
# Usage: test_autoencoder_faces.sh AUTOENCODER_FACES DATA_DIR. Exit 77 (skipped) without the faces.
set -e
bin=$1
data=$2
if [ ! -f "$data/olivetti-faces-idx3-ubyte" ]; then
  echo "the Olivetti faces are not in $data (../shared/data/olivetti): skipped"
  exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
trap 'exit 1' HUP INT TERM
fail() { echo "$1"; cat "$out/log"; exit 1; }
"$bin" --data "$data" --output "$out" --per-image 10 --hidden 100,10 --pretrain-epochs 2 --finetune-epochs 3 \
  > "$out/log" 2>&1 || fail "the run failed"
value() { sed -n "s/^$1=//p" "$out/log" | tail -n 1; }
pca=$(value pca_test_squared_error)
before=$(value unrolled_test_squared_error)
after=$(value test_squared_error)
[ -n "$pca" ] && [ -n "$before" ] && [ -n "$after" ] || fail "missing result lines"
awk -v a="$after" -v b="$before" 'BEGIN { exit !(a > 0 && a < b) }' ||
  fail "fine-tuning did not lower the test error: $before before, $after after"
for f in reconstructions.png curves.svg finetune.csv pretrain_layer1.csv pretrain_layer2.csv; do
  [ -s "$out/$f" ] || fail "no $f"
done
echo "pca $pca, unrolled $before, fine-tuned $after"
