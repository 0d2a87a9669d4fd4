#!/bin/sh
# dbn_mnist with --bound and without: measuring the bound after a layer
# leaves the models as they were, the layers above it, the fine-tuned net
# and its test error the same bit for bit (the bound runs the executor,
# whose step counter keys the training's draws).
# Usage: test_bound_neutral.sh DBN_MNIST DATA_DIR. Exit 77 (skipped) without MNIST.
# shellcheck source=samples/test_lib.sh
. "$(dirname "$0")/test_lib.sh"
bin=$1
data=$2
skip_unless "$data/train-images-idx3-ubyte" "MNIST is not in $data (scripts/fetch_mnist.sh fetches it)"
run() {  # run FOLDER FLAGS...
  dir="$out/$1"
  shift
  mkdir -p "$dir"
  "$bin" --data "$data" --output "$dir" --hidden 30,30 --pretrain-epochs 1 --finetune-epochs 1 "$@" > "$dir/log" 2>&1 ||
    { cat "$dir/log"; exit 1; }
}
run measured --bound --ais-runs 2 --ais-scale 0.05 --bound-images 200
run plain
[ -n "$(value bound_layers2_nats "$out/measured/log")" ] || fail "--bound printed no bound for two layers"
# Each bound's error: a number, or inf (log Z's interval open below), which is then warned of.
for l in 1 2; do
  err=$(value "bound_layers${l}_err_nats" "$out/measured/log")
  case "$err" in
    inf) grep -q "warning: the bound with $l layer(s): AIS's 2 runs spread too widely" "$out/measured/log" ||
           fail "bound $l open above (error inf) but not warned of" ;;
    [0-9]*) ;;
    *) fail "bound_layers${l}_err_nats is '$err'; expected a number or inf" ;;
  esac
done
for f in "$out"/plain/pretrain/layer1/*.npy "$out"/plain/finetune/*.npy; do
  rel=${f#"$out/plain/"}
  cmp -s "$f" "$out/measured/$rel" || fail "$rel differs between runs with --bound and without"
done
want=$(value test_error_pct "$out/plain/log")
got=$(value test_error_pct "$out/measured/log")
[ -n "$want" ] && [ "$got" = "$want" ] || fail "test error $got with --bound, $want without; expected the same"
echo "bound_neutral: the same models and test error ($want%) with --bound and without"
