#!/bin/sh
# gp_mnist end to end on MNIST with a small net and few labelled digits: a
# GP classifier tells 4 from 9 far better than chance on the pixels and on
# the DBN's features, it writes its pictures and metrics, a resumed run
# (from step 10 of 20) ends where the fresh one did, and a resume with
# other digits or another task is refused, naming the flag, before the
# GP on DBN features and leaving finetune.csv as it was; odd digits are told from even
# ones better than chance; the regression of a digit's value beats
# predicting the mean.
# Usage: test_gp_mnist.sh GP_MNIST DATA_DIR. Exit 77 (skipped) without MNIST.
# shellcheck source=samples/test_lib.sh
. "$(dirname "$0")/test_lib.sh"
bin=$1
data=$2
skip_unless "$data/train-images-idx3-ubyte" "MNIST is not in $data (scripts/fetch_mnist.sh)"
base="--data $data --labelled 200 --hidden 100,50 --pretrain-epochs 1 --gp-steps 30"
args="$base --task pair --validation 100 --eval-every 10 --finetune-lr 0.001"
# shellcheck disable=SC2086
"$bin" $args --output "$out" --finetune-steps 20 > "$out/log" 2>&1 || fail "the run failed"
pixels=$(value pixels_test_error_pct "$out/log")
dbn=$(value dbn_test_error_pct "$out/log")
tuned=$(value finetuned_test_error_pct "$out/log")
[ -n "$pixels" ] && [ -n "$dbn" ] && [ -n "$tuned" ] || fail "missing result lines"
# Two classes of about the same size: chance is 50%.
for v in "$pixels" "$dbn" "$tuned"; do
  awk -v e="$v" 'BEGIN { exit !(e > 0 && e < 15) }' || fail "a test error near chance: $v%"
done
for f in gp_mnist.svg mistakes.png finetune.csv predictions.csv pretrain_layer1.csv pretrain_layer2.csv; do
  [ -s "$out/$f" ] || fail "no $f"
done
# MNIST's test set has 982 fours and 1,009 nines.
[ "$(wc -l < "$out/predictions.csv")" -eq 1992 ] || fail "predictions.csv: expected a header and 1,991 test digits"
[ "$(cut -d, -f1 "$out/finetune.csv" | tr '\n' ' ')" = "step 0 10 20 " ] ||
  fail "finetune.csv: steps $(cut -d, -f1 "$out/finetune.csv" | tr '\n' ' ')"
# Stopped after 10 fine-tuning steps and resumed to 20: the same end.
out2="$out/part"
# shellcheck disable=SC2086
"$bin" $args --output "$out2" --finetune-steps 10 > "$out/log2" 2>&1 || { cat "$out/log2"; fail "the 10-step run failed"; }
# shellcheck disable=SC2086
"$bin" $args --output "$out2" --finetune-steps 20 --resume > "$out/log3" 2>&1 ||
  { cat "$out/log3"; fail "the resumed 20-step run failed"; }
[ "$(value finetuned_test_error_pct "$out/log3")" = "$tuned" ] ||
  { cat "$out/log3"; fail "resumed at step 10, the run ended elsewhere than the fresh one ($tuned)"; }
cp "$out2/finetune.csv" "$out/before.csv"
# Resumed with other digits: refused, naming the flag; nothing rewritten.
status=0
# shellcheck disable=SC2086
"$bin" $args --output "$out2" --finetune-steps 20 --resume --digits 3,5 > "$out/log4" 2>&1 || status=$?
[ "$status" -ge 1 ] && [ "$status" -le 125 ] || fail "resumed with --digits changed: exit status $status, not a refusal"
grep -q -- "the checkpoint has --digits = 4,9; this run has 3,5" "$out/log4" ||
  { cat "$out/log4"; fail "the refused resume does not name --digits"; }
cmp -s "$out2/finetune.csv" "$out/before.csv" || fail "finetune.csv: the refused resume changed it"
# Resumed with another task, whose CSV has other columns: refused before the GP on DBN features runs,
# finetune.csv untouched (it was emptied, the old one moved aside, before the checkpoint was read).
status=0
# shellcheck disable=SC2086
"$bin" $base --task magnitude --validation 100 --eval-every 10 --finetune-lr 0.001 --output "$out2" --finetune-steps 20 \
  --resume > "$out/log7" 2>&1 || status=$?
[ "$status" = 2 ] || { cat "$out/log7"; fail "resumed with --task changed: exit status $status; expected 2"; }
# (the first setting that differs is named: --digits, which magnitude leaves empty)
grep -q -- "the checkpoint has --digits = 4,9; this run has" "$out/log7" ||
  { cat "$out/log7"; fail "the refused resume does not name what changed"; }
! grep -q "GP on DBN features" "$out/log7" || { cat "$out/log7"; fail "refused only after the GP on DBN features"; }
cmp -s "$out2/finetune.csv" "$out/before.csv" || fail "finetune.csv: the resume refused for --task changed it"
[ ! -e "$out2/finetune.csv.old" ] || fail "finetune.csv.old: the refused resume moved finetune.csv aside"
# Odd against even, all ten digits (the default task; no fine-tuning): far better than a coin. An earlier run's
# tables of the phases this fresh run skips go.
mkdir -p "$out/parity"
echo "an earlier run's" > "$out/parity/finetune.csv"
echo "an earlier run's" > "$out/parity/baseline.csv"
# shellcheck disable=SC2086
"$bin" $base --output "$out/parity" --finetune-steps 0 > "$out/log6" 2>&1 ||
  { cat "$out/log6"; fail "the parity run failed"; }
for key in pixels_test_error_pct dbn_test_error_pct; do
  v=$(value "$key" "$out/log6")
  awk -v e="$v" 'BEGIN { exit !(e > 0 && e < 30) }' || { cat "$out/log6"; fail "odd against even, $key: $v%"; }
done
[ "$(wc -l < "$out/parity/predictions.csv")" -eq 10001 ] || fail "parity: expected all 10,000 test digits"
[ "$(head -1 "$out/parity/predictions.csv")" = "test_index,digit,label,p_pixels,p_dbn" ] ||
  fail "parity: predictions.csv's columns $(head -1 "$out/parity/predictions.csv"), a fine-tuned one without fine-tuning?"
[ ! -e "$out/parity/gp_mnist.svg" ] || fail "parity: a fine-tuning curve without fine-tuning"
! grep -q "finetuned_test_error_pct=" "$out/log6" || fail "parity: a fine-tuned result without fine-tuning"
[ ! -e "$out/parity/finetune.csv" ] && [ ! -e "$out/parity/baseline.csv" ] ||
  fail "parity: an earlier run's finetune.csv or baseline.csv left beside a run without them"
# The value of a digit, regressed on all ten: better than their mean (the test values' sd is 2.9).
# shellcheck disable=SC2086
"$bin" $base --output "$out/magnitude" --task magnitude --finetune-steps 10 --validation 0 > "$out/log5" 2>&1 ||
  { cat "$out/log5"; fail "the regression run failed"; }
for key in pixels_test_rmse dbn_test_rmse finetuned_test_rmse; do
  v=$(value "$key" "$out/log5")
  awk -v r="$v" 'BEGIN { exit !(r > 0 && r < 2.5) }' || { cat "$out/log5"; fail "$key: $v, no better than the mean"; }
done
# Nothing validates: the validation cells are empty, not a perfect 0.
[ "$(cut -d, -f7 "$out/magnitude/finetune.csv" | sort -u | tr '\n' ' ')" = " valid_rmse " ] ||
  fail "magnitude without validation: valid_rmse holds '$(cut -d, -f7 "$out/magnitude/finetune.csv" | tr '\n' ' ')'"
# A hyper-parameter rate far too large: the run stops on numbers that ran away, naming the rates to make smaller.
status=0
# shellcheck disable=SC2086
"$bin" $base --task pair --validation 50 --eval-every 1 --finetune-steps 3 --hyper-lr 1e30 --output "$out/runaway" \
  > "$out/log7" 2>&1 || status=$?
[ "$status" -ne 0 ] || { cat "$out/log7"; fail "--hyper-lr 1e30: the run ended well"; }
grep -q "a smaller --finetune-lr (now 0.0001) or --hyper-lr (now 1e+30) usually cures it" "$out/log7" ||
  { cat "$out/log7"; fail "--hyper-lr 1e30: the error does not name --hyper-lr"; }
echo "4 against 9: pixels $pixels%, DBN features $dbn%, fine-tuned $tuned%"
