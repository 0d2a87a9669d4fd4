#!/bin/sh
# gp_faces end to end on a few Olivetti patches with a small net: it prints
# its results, the DBN's features and fine-tuning beat the pixels, it
# writes its pictures and metrics, and a resumed run (with every step
# done, or from step 20 of 40) ends where the fresh one did, leaving the
# rows of the steps already done untouched; a resume with patches cut
# otherwise is refused, naming the flag; a first layer whose weights go
# NaN stops the run, naming the flag of its rate.
# Usage: test_gp_faces.sh GP_FACES DATA_DIR. Exit 77 (skipped) without the faces.
# shellcheck source=samples/test_lib.sh
. "$(dirname "$0")/test_lib.sh"
bin=$1
data=$2
skip_unless "$data/olivetti-faces-idx3-ubyte" "the Olivetti faces are not in $data (../shared/data/olivetti)"
args="--data $data --per-image 10 --test-per-image 2 --labelled 300 --hidden 200,100 --pretrain-epochs 10
  --gp-steps 100 --eval-every 10 --finetune-lr 0.001"
# shellcheck disable=SC2086
"$bin" $args --output "$out" --finetune-steps 40 > "$out/log" 2>&1 || fail "the run failed"
pixels=$(value pixels_test_rmse_degrees "$out/log")
dbn=$(value dbn_test_rmse_degrees "$out/log")
tuned=$(value finetuned_test_rmse_degrees "$out/log")
[ -n "$pixels" ] && [ -n "$dbn" ] && [ -n "$tuned" ] || fail "missing result lines"
# Angles are uniform in [-90, 90]: predicting their mean scores 52.
awk -v p="$pixels" 'BEGIN { exit !(p > 0 && p < 40) }' || fail "the GP on pixels is near chance: $pixels"
awk -v d="$dbn" -v p="$pixels" 'BEGIN { exit !(d > 0 && d < p) }' ||
  fail "the DBN's features ($dbn) do not beat the pixels ($pixels)"
awk -v t="$tuned" -v p="$pixels" 'BEGIN { exit !(t > 0 && t < p) }' ||
  fail "the fine-tuned kernel ($tuned) does not beat the pixels ($pixels)"
for f in orientation.svg patches.png finetune.csv predictions.csv pretrain_layer1.csv pretrain_layer2.csv; do
  [ -s "$out/$f" ] || fail "no $f"
done
[ "$(wc -l < "$out/predictions.csv")" -eq 201 ] || fail "predictions.csv: expected a header and 200 test patches"
[ "$(wc -l < "$out/finetune.csv")" -eq 6 ] || fail "finetune.csv: expected a header and steps 0, 10, 20, 30, 40"
cp "$out/finetune.csv" "$out/finetune_before.csv"
# shellcheck disable=SC2086
"$bin" $args --output "$out" --finetune-steps 40 --resume > "$out/log2" 2>&1 || { cat "$out/log2"; fail "the resumed run failed"; }
[ "$(value finetuned_test_rmse_degrees "$out/log2")" = "$tuned" ] || { cat "$out/log2"; fail "the resumed run ended elsewhere"; }
# untouched, the rows' seconds too: a run that ignored --resume would write them again
cmp -s "$out/finetune.csv" "$out/finetune_before.csv" ||
  fail "finetune.csv: a resumed run with nothing left to do changed it (was --resume ignored?)"
# Stopped after 20 fine-tuning steps and resumed to 40: the same end, each step's row once.
out2="$out/part"
# shellcheck disable=SC2086
"$bin" $args --output "$out2" --finetune-steps 20 > "$out/log3" 2>&1 || { cat "$out/log3"; fail "the 20-step run failed"; }
cp "$out2/finetune.csv" "$out/part_before.csv"
# shellcheck disable=SC2086
"$bin" $args --output "$out2" --finetune-steps 40 --resume > "$out/log4" 2>&1 || { cat "$out/log4"; fail "the resumed 40-step run failed"; }
head -n 4 "$out2/finetune.csv" | cmp -s - "$out/part_before.csv" ||
  fail "finetune.csv: the resumed run changed the rows of steps 0-20 (was --resume ignored?)"
[ "$(value finetuned_test_rmse_degrees "$out/log4")" = "$tuned" ] ||
  { cat "$out/log4"; fail "resumed at step 20, the run ended elsewhere than the fresh one ($tuned)"; }
[ "$(cut -d, -f1 "$out2/finetune.csv" | tr '\n' ' ')" = "step 0 10 20 30 40 " ] ||
  fail "finetune.csv after a resume: steps $(cut -d, -f1 "$out2/finetune.csv" | tr '\n' ' ')"
# Resumed with patches cut otherwise (--per-image 9, --zoom 1.6) or other points fitted (--labelled 290):
# refused, naming the flag; nothing rewritten.
for change in "s/--per-image 10/--per-image 9/" "s/--test-per-image 2/--test-per-image 2 --zoom 1.6/" \
    "s/--labelled 300/--labelled 290/"; do
  changed=$(echo "$args" | sed "$change")
  flag=$(echo "$change" | sed 's/.*\(--[a-z-]*\) [0-9.]*\/$/\1/')
  # shellcheck disable=SC2086
  status=0
  "$bin" $changed --output "$out" --finetune-steps 40 --resume > "$out/log5" 2>&1 || status=$?
  [ "$status" -ge 1 ] && [ "$status" -le 125 ] || fail "resumed with $flag changed: exit status $status, not a refusal"
  grep -q -- "the checkpoint has $flag = .*; this run has" "$out/log5" ||
    { cat "$out/log5"; fail "the refused resume does not name $flag"; }
  ! grep -q "^finetune .*resumed from the checkpoint" "$out/log5" ||
    { cat "$out/log5"; fail "the refused resume drew the fine-tuning's progress line as resumed first"; }
  cmp -s "$out/finetune.csv" "$out/finetune_before.csv" || fail "finetune.csv: the refused resume changed it"
done
# Resumed with another fine-tuning rate: allowed, and said.
changed=$(echo "$args" | sed "s/--finetune-lr 0.001/--finetune-lr 0.002/")
# shellcheck disable=SC2086
"$bin" $changed --output "$out" --finetune-steps 40 --resume > "$out/log6" 2>&1 || { cat "$out/log6"; fail "the resume at another rate failed"; }
grep -q "finetune: resumed with lr 0.002 (the checkpoint's 0.001)" "$out/log6" ||
  { cat "$out/log6"; fail "a resume at another --finetune-lr does not say so"; }
# A first layer whose weights go NaN (--data-lr 1 on the Gaussian pixels)
# stops the run, naming the flag that set its rate.
if "$bin" --data "$data" --per-image 10 --test-per-image 2 --labelled 300 --hidden 200,100 --pretrain-epochs 2 \
  --gp-steps 10 --data-lr 1 --output "$out/nan" > "$out/log7" 2>&1; then
  cat "$out/log7"
  fail "--data-lr 1: the run ended with status 0"
fi
grep -q "training diverged in epoch 1: .*a smaller --data-lr (now 1) usually cures it" "$out/log7" ||
  { cat "$out/log7"; fail "--data-lr 1: the error does not name --data-lr"; }
echo "pixels $pixels, DBN features $dbn, fine-tuned $tuned"
