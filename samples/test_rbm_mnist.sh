#!/bin/sh
# rbm_mnist end to end with a tiny RBM (20 hidden units, a short AIS), by
# CD-1 and by PCD: it writes its pictures, metrics and checkpoint and prints
# every result line; resumed for a third epoch, metrics.csv holds epochs
# 1-3 (the first two rows untouched, their seconds too) and the checkpoint equals, file for file, that of a fresh 3-epoch run.
# A resume that changes a training setting is refused and leaves the
# checkpoint alone; one with a smaller --lr says so and trains on. A
# metrics file that cannot be written (/dev/full) stops the run, named;
# so does a --validation that leaves fewer images than a batch.
# Usage: test_rbm_mnist.sh RBM_MNIST DATA_DIR. Exit 77 (skipped) without MNIST.
# shellcheck source=samples/test_lib.sh
. "$(dirname "$0")/test_lib.sh"
bin=$1
data=$2
skip_unless "$data/train-images-idx3-ubyte" "MNIST is not in $data (scripts/fetch_mnist.sh fetches it)"
run() {  # run FOLDER FLAGS...: a tiny run writing to $out/FOLDER, its output in $out/log
  dir=$1
  shift
  "$bin" --data "$data" --output "$out/$dir" --hidden 20 --ais-runs 10 --ais-scale 0.01 --sample-steps 100 \
    --threads 2 "$@" > "$out/log" 2>&1 || fail "rbm_mnist --output $dir $*: the run failed"
  tr '\r' '\n' < "$out/log" > "$out/lines"
}
epochs() { tail -n +2 "$1" | cut -d, -f1 | tr '\n' ' '; }

for method in cd1 pcd; do
  run "$method" --method "$method" --epochs 2
  for f in filters.png samples.png reconstructions.png metrics.csv curves.svg checkpoint/manifest.json \
    checkpoint/W.npy checkpoint/b.npy checkpoint/c.npy checkpoint/W.velocity.npy; do
    [ -s "$out/$method/$f" ] || fail "$method: no $f"
  done
  if [ "$method" = pcd ]; then
    [ -s "$out/pcd/checkpoint/chain.npy" ] || fail "pcd: the checkpoint has no persistent chains"
    grep -q "samples.png (100 Gibbs steps from the persistent chains)" "$out/lines" ||
      fail "pcd: samples.png is not drawn from the persistent chains"
  else
    grep -q "samples.png (100 Gibbs steps from test digits)" "$out/lines" ||
      fail "cd1: samples.png is not drawn from test digits"
  fi
  [ "$(value epoch)" = 2 ] || fail "$method: epoch=$(value epoch); expected 2"
  for k in train_seconds recon_error fe_gap pseudo_ll diverging_epochs log_z test_loglik_err_nats total_seconds; do
    [ -n "$(value $k)" ] || fail "$method: no $k= line"
  done
  ll=$(value test_loglik_nats)
  # a log-likelihood of binary 784-pixel images: below 0, above a uniform guess's -784 log 2 = -543.4
  awk -v l="$ll" 'BEGIN { exit !(l < 0 && l > -543.4) }' || fail "$method: test_loglik_nats=$ll; expected -543.4 .. 0"
  [ "$(epochs "$out/$method/metrics.csv")" = "1 2 " ] ||
    fail "$method: metrics.csv holds epochs '$(epochs "$out/$method/metrics.csv")'; expected '1 2 '"

  cp "$out/$method/metrics.csv" "$out/before.csv"
  run "$method" --method "$method" --epochs 3 --resume
  # epochs 1 and 2 kept as they were, their seconds too: a run that ignored --resume would write them again
  head -n 3 "$out/$method/metrics.csv" | cmp -s - "$out/before.csv" ||
    fail "$method resumed: the rows of epochs 1 and 2 changed (was --resume ignored?)"
  [ "$(value epoch)" = 3 ] || fail "$method resumed: epoch=$(value epoch); expected 3"
  [ "$(epochs "$out/$method/metrics.csv")" = "1 2 3 " ] ||
    fail "$method resumed: metrics.csv holds epochs '$(epochs "$out/$method/metrics.csv")'; expected '1 2 3 '"
  run "$method-fresh" --method "$method" --epochs 3
  for f in "$out/$method-fresh/checkpoint/"*.npy "$out/$method-fresh/checkpoint/manifest.json"; do
    name=$(basename "$f")
    cmp -s "$f" "$out/$method/checkpoint/$name" || fail "$method: resumed and fresh 3-epoch checkpoints differ in $name"
  done
  # the same figures epoch by epoch (all but the seconds)
  cut -d, -f1,3- "$out/$method/metrics.csv" > "$out/resumed.csv"
  cut -d, -f1,3- "$out/$method-fresh/metrics.csv" > "$out/fresh.csv"
  cmp -s "$out/resumed.csv" "$out/fresh.csv" ||
    fail "$method: metrics.csv of the resumed run differs from the fresh run's"
done

# A changed setting is refused, naming it, and the checkpoint stays as it was.
cp "$out/cd1/checkpoint/W.npy" "$out/W_before.npy"
if "$bin" --data "$data" --output "$out/cd1" --hidden 20 --no-ais --sample-steps 100 --epochs 4 --resume \
  --momentum 0.6 > "$out/log" 2>&1; then
  fail "a resume with another --momentum ran"
fi
grep -q "the checkpoint has momentum = 0.5; this run has 0.6 (set by --momentum)" "$out/log" || fail "the refusal does not name momentum"
cmp -s "$out/cd1/checkpoint/W.npy" "$out/W_before.npy" || fail "the refused resume changed the checkpoint"
if "$bin" --data "$data" --output "$out/cd1" --hidden 20 --no-ais --sample-steps 100 --epochs 4 --resume \
  --pixels threshold > "$out/log" 2>&1; then
  fail "a resume with other --pixels ran"
fi
grep -q "the checkpoint has --pixels = sampled; this run has threshold" "$out/log" ||
  fail "the refusal does not name --pixels"
# A smaller learning rate is a resume's to choose: said, and trained with.
run cd1 --epochs 4 --resume --lr 0.05
grep -q "^rbm_mnist: resumed with --lr 0.05 (checkpoint: 0.1)" "$out/lines" || fail "the resume does not say its new lr"
[ "$(epochs "$out/cd1/metrics.csv")" = "1 2 3 4 " ] || fail "resumed with --lr 0.05: metrics.csv is not epochs 1-4"
# The same command without --resume: said before the earlier run's checkpoint goes, not after.
run cd1 --epochs 1
grep -q "^rbm_mnist: a fresh run (no --resume) in .*/cd1, which holds an earlier run's checkpoints: this run replaces" \
  "$out/lines" || fail "a fresh run over an earlier run's checkpoint does not say it replaces it"
echo "cd1 and pcd: pictures, metrics, checkpoint and result lines written; resumed to 3 epochs equal to a fresh run;" \
  "a changed --momentum or --pixels refused, a smaller --lr taken"
# A metrics file that cannot be written (a disk full: /dev/full) stops the run with a named error, not exit 0.
if [ -c /dev/full ]; then
  mkdir -p "$out/full"
  ln -s /dev/full "$out/full/metrics.csv"
  if "$bin" --data "$data" --output "$out/full" --hidden 20 --no-ais --sample-steps 100 --epochs 1 > "$out/log" 2>&1; then
    fail "a run whose metrics.csv cannot be written ended with status 0"
  fi
  grep -q "metrics.csv': writing a row failed" "$out/log" || fail "the failed write is not named"
  [ -c /dev/full ] || fail "the run replaced /dev/full"
fi
# A --validation that leaves fewer training images than a batch is refused, naming both flags.
if "$bin" --data "$data" --output "$out/held" --validation 59950 --no-ais > "$out/log" 2>&1; then
  fail "--validation 59950 (50 training images, batches of 100) ended with status 0"
fi
grep -q "^rbm_mnist: --batch 100: more than the 50 training images (--validation 59950 holds out the rest); expected at most 50" \
  "$out/log" || fail "--validation 59950: the refusal does not name --batch and --validation"
