#!/bin/sh
# dbn_mnist's up-down fine-tuning at a rate far too large: its weights stay
# finite, so nothing stops it, but its validation error runs far above the
# greedy model's: the run says so (a key line and a warning naming
# --updown-lr), as backprop's does when its loss runs away; at its own rate
# it says nothing.
# Usage: test_updown_warning.sh DBN_MNIST DATA_DIR. Exit 77 (skipped) without MNIST.
# shellcheck source=samples/test_lib.sh
. "$(dirname "$0")/test_lib.sh"
bin=$1
data=$2
skip_unless "$data/train-images-idx3-ubyte" "MNIST is not in $data (scripts/fetch_mnist.sh fetches it)"
run() {
  "$bin" --data "$data" --output "$out/run" --hidden 100,100 --pretrain-epochs 2 --finetune updown --finetune-epochs 1 \
    --validation 55000 --test-binarizations 0 "$@" > "$out/log" 2>&1 || fail "dbn_mnist --finetune updown $*: the run failed"
}
run --updown-lr 1e30
[ "$(value updown_diverging_epoch)" = 1 ] || fail "--updown-lr 1e30: no updown_diverging_epoch=1 line"
grep -q "warning: up-down is diverging: validation error .* in epoch 1, over twice the .* test error of the greedy model it started from; a smaller --updown-lr (this run's is 1e+30)" "$out/log" ||
  fail "--updown-lr 1e30: no warning naming --updown-lr"
run
! grep -q "diverging" "$out/log" || fail "up-down at its own rate: warned of divergence"
echo "up-down at --updown-lr 1e30 warned of, at its own rate not"
