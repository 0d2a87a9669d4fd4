#!/bin/sh
# autoencoder_faces end to end on a few Olivetti patches with a small net:
# it prints its results, fine-tuning lowers the unrolled stack's test
# error, and it writes its pictures and metrics; a net that ends no better
# than the mean patch (a layer killed by --pretrain-lr 5) is warned of, and
# so is an unrolled stack broken in pretraining (--data-lr 0.1).
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
! grep -q "the code carries nothing" "$out/log" || fail "a healthy run was warned of as carrying nothing"
"$bin" --data "$data" --output "$out/dead" --per-image 10 --hidden 100,50,10 --pretrain-epochs 2 --finetune-epochs 3 \
  --pretrain-lr 5 > "$out/log" 2>&1 || fail "the run at --pretrain-lr 5 failed"
grep -q "finetune: warning: its best validation error .* is no lower than that of rebuilding every row as the training patches' mean" \
  "$out/log" || fail "a fine-tuned net no better than the mean patch was not warned of"
# A first layer that diverged (--data-lr 0.1): the unrolled stack is warned of before fine-tuning fails.
"$bin" --data "$data" --output "$out/diverged" --per-image 10 --hidden 100,10 --pretrain-epochs 2 --finetune-epochs 3 \
  --data-lr 0.1 > "$out/log" 2>&1 && fail "the run at --data-lr 0.1 did not fail"
grep -q "warning: the unrolled stack's test error (.*) is over 100 times PCA's" "$out/log" ||
  fail "an unrolled stack broken in pretraining was not warned of"
echo "pca $pca, unrolled $before, fine-tuned $after; --pretrain-lr 5 and --data-lr 0.1 warned of"
