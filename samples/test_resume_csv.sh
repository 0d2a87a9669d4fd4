#!/bin/sh
# dbn_mnist run, then resumed with more epochs, then resumed with nothing
# left to do, then run afresh: each phase's CSV file holds one row per
# epoch of the model its checkpoint holds, never a row twice.
# Usage: test_resume_csv.sh DBN_MNIST DATA_DIR. Exit 77 (skipped) without MNIST.
set -e
bin=$1
data=$2
if [ ! -f "$data/train-images-idx3-ubyte" ]; then
  echo "MNIST is not in $data (scripts/fetch_mnist.sh fetches it): skipped"
  exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() { "$bin" --data "$data" --output "$out" --hidden 30,30 "$@" > "$out/log" 2>&1 || { cat "$out/log"; exit 1; }; }
epochs() { tail -n +2 "$out/$1" | cut -d, -f1 | tr '\n' ' '; }
check() {
  got=$(epochs "$1")
  if [ "$got" != "$2" ]; then echo "$3: $1 holds epochs '$got'; expected '$2'"; exit 1; fi
}
run --pretrain-epochs 2 --finetune-epochs 2
check pretrain_layer1.csv "1 2 " "first run"
check finetune.csv "1 2 " "first run"
run --pretrain-epochs 3 --finetune-epochs 3 --resume
check pretrain_layer1.csv "1 2 3 " "resumed with more epochs"
check pretrain_layer2.csv "1 2 3 " "resumed with more epochs (layer 1 trained on: layer 2 afresh)"
check finetune.csv "1 2 3 " "resumed with more epochs (fine-tuning afresh)"
run --pretrain-epochs 3 --finetune-epochs 3 --resume
check pretrain_layer2.csv "1 2 3 " "resumed with nothing to do"
check finetune.csv "1 2 3 " "resumed with nothing to do"
run --pretrain-epochs 1 --finetune-epochs 1
check pretrain_layer1.csv "1 " "a fresh run"
check finetune.csv "1 " "a fresh run"
test -s "$out/curves.svg" || { echo "no curves.svg"; exit 1; }
echo "every CSV file holds each epoch once"
