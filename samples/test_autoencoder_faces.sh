#!/bin/sh
# autoencoder_faces end to end on a few Olivetti patches with a small net:
# it prints its results, fine-tuning lowers the unrolled stack's test
# error, and it writes its pictures and metrics.
# Usage: test_autoencoder_faces.sh AUTOENCODER_FACES DATA_DIR. Exit 77 (skipped) without the faces.
# shellcheck source=samples/test_lib.sh
. "$(dirname "$0")/test_lib.sh"
bin=$1
data=$2
skip_unless "$data/olivetti-faces-idx3-ubyte" "the Olivetti faces are not in $data (../shared/data/olivetti)"
"$bin" --data "$data" --output "$out" --per-image 10 --hidden 100,10 --pretrain-epochs 2 --finetune-epochs 3 \
  > "$out/log" 2>&1 || fail "the run failed"
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
