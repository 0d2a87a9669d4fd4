#!/usr/bin/env bash
# The main job end to end on a fresh Debian machine: installs what is
# missing, fetches and verifies MNIST, builds, and runs dbn_mnist's quick
# preset (greedy pretraining of a 784-500-500-2000 DBN, then backprop
# fine-tuning; a few minutes on 2 cores). Pictures, metrics and checkpoints
# go to out/dbn_mnist/. Extra arguments go to dbn_mnist (see --help) and
# take the place of the defaults above, e.g.
#   bash scripts/quickstart.sh --preset paper
#   bash scripts/quickstart.sh --preset paper --finetune updown --output out/dbn_updown
# EBM_QUICKSTART_DRY_RUN=1 prints the dbn_mnist command instead of
# installing, building and running anything.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# Whether the arguments after the first set option $1 ("--x value" or "--x=value").
given() {
  local option=$1 arg
  shift
  for arg in "$@"; do
    if [[ $arg == "$option" || $arg == "$option="* ]]; then return 0; fi
  done
  return 1
}
command=(./build/bin/dbn_mnist)
given --data "$@" || command+=(--data data/mnist)
given --output "$@" || command+=(--output out/dbn_mnist)
given --preset "$@" || command+=(--preset quick)
command+=("$@")

if [[ ${EBM_QUICKSTART_DRY_RUN:-0} == 1 ]]; then
  echo "${command[*]}"
  exit 0
fi
bash "$root/scripts/setup.sh"
bash "$root/scripts/fetch_mnist.sh"
bash "$root/scripts/build.sh"
cd "$root"
exec "${command[@]}"
