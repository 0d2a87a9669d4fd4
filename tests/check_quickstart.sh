#!/usr/bin/env bash
# scripts/quickstart.sh's arguments: each of its defaults (--data, --output,
# --preset) is given to dbn_mnist once, unless the caller sets it, in either
# spelling; everything else passes through in order. Runs the script with
# EBM_QUICKSTART_DRY_RUN=1, which prints the command instead of running it.
set -euo pipefail
script="$(cd "$(dirname "$0")/.." && pwd)/scripts/quickstart.sh"
failed=0
expect() {
  local want=$1 got
  shift
  got=$(EBM_QUICKSTART_DRY_RUN=1 bash "$script" "$@")
  if [[ $got != "$want" ]]; then
    echo "quickstart.sh $*: expected '$want', got '$got'"
    failed=1
  fi
}
expect "./build/bin/dbn_mnist --data data/mnist --output out/dbn_mnist --preset quick"
expect "./build/bin/dbn_mnist --data data/mnist --output out/dbn_mnist --preset paper" --preset paper
expect "./build/bin/dbn_mnist --data data/mnist --output out/dbn_mnist --preset=paper --finetune updown" \
  --preset=paper --finetune updown
expect "./build/bin/dbn_mnist --preset quick --output o --data d" --output o --data d
expect "./build/bin/dbn_mnist --data data/mnist --output out/dbn_mnist --preset quick --seed 3" --seed 3
exit $failed
