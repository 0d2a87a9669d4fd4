#!/bin/sh
# An earlier run's checkpoints are never resumed as this run's (dbn_mnist,
# whose stack code the autoencoder, GP and document samples share).
# A run that stops between phases is played by `--finetune none`, which
# stops after pretraining as a run killed there would:
#  1. a fresh run over an earlier run's --output removes its checkpoints
#     (and the tables and pictures of phases it may not run) first, so a
#     --resume that adds fine-tuning trains it afresh instead of taking
#     the earlier run's (built on other layers);
#  2. a resume whose lower layer trains on removes what was built on it
#     before it trains, so a later --resume does not take an older
#     fine-tuning either.
# Each resumed run must end bit for bit as one fresh run with its settings.
# Usage: test_stale_checkpoints.sh DBN_MNIST DATA_DIR. Exit 77 (skipped) without MNIST.
# shellcheck source=samples/test_lib.sh
. "$(dirname "$0")/test_lib.sh"
bin=$1
data=$2
skip_unless "$data/train-images-idx3-ubyte" "MNIST is not in $data (scripts/fetch_mnist.sh fetches it)"
run() {  # run FOLDER FLAGS...
  dir=$1
  shift
  "$bin" --data "$data" --output "$dir" --hidden 30,30 --threads 2 "$@" > "$out/log" 2>&1 ||
    fail "dbn_mnist $* failed"
}
same_as_fresh() {  # same_as_fresh WHEN: the last run's result and fine-tuned weights equal the fresh one's
  got=$(value test_error_pct)
  [ -n "$got" ] && [ "$got" = "$want" ] || fail "$1: test_error_pct=$got; a fresh run with these settings gives $want"
  for f in "$out/fresh"/finetune/*.npy; do
    cmp -s "$f" "$out/a/finetune/$(basename "$f")" || fail "$1: finetune/$(basename "$f") is not a fresh run's"
  done
}

run "$out/fresh" --pretrain-epochs 2,1 --finetune-epochs 1
want=$(value test_error_pct)
[ -n "$want" ] || fail "the fresh run printed no test_error_pct"

# 1. An earlier run (other epochs) fine-tunes; a fresh run with other
#    epochs stops after pretraining; resumed with fine-tuning, it must
#    train it afresh on its own layers.
run "$out/a" --pretrain-epochs 1 --finetune-epochs 1
run "$out/a" --pretrain-epochs 2,1 --finetune none
test -e "$out/a/finetune" && fail "a fresh run left the earlier run's finetune checkpoint"
for f in finetune.csv misclassified.png; do
  test -e "$out/a/$f" && fail "a fresh run that does not fine-tune left the earlier run's $f, which passes for its own"
done
run "$out/a" --pretrain-epochs 2,1 --finetune-epochs 1 --resume
same_as_fresh "a fresh run over an earlier one, resumed"

# 2. A run with one epoch a layer fine-tunes; resumed with two epochs in
#    layer 1 (which trains on) it stops after pretraining; resumed again,
#    the fine-tuning must start afresh on the new layers.
rm -rf "$out/a"
run "$out/a" --pretrain-epochs 1 --finetune-epochs 1
run "$out/a" --pretrain-epochs 2,1 --resume --finetune none
test -e "$out/a/finetune" && fail "layer 1 trained on, and the fine-tuning built on the old one stayed"
run "$out/a" --pretrain-epochs 2,1 --finetune-epochs 1 --resume
same_as_fresh "resumed after a resume whose lower layer trained on"
echo "a fresh run removed the earlier run's checkpoints, a layer that trained on removed those built on it," \
  "and each resumed run ended as a fresh one"
