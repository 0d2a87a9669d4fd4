#!/usr/bin/env bash
# The main job end to end on a fresh Debian machine: installs what is
# missing, fetches and verifies MNIST, builds, and runs dbn_mnist's quick
# preset (greedy pretraining of a 784-500-500-2000 DBN, then backprop
# fine-tuning; a few minutes on 2 cores). Pictures, metrics and checkpoints
# go to out/dbn_mnist/. Extra arguments go to dbn_mnist (see --help), e.g.
#   bash scripts/quickstart.sh --preset paper
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
bash "$root/scripts/fetch_mnist.sh"
bash "$root/scripts/build.sh"
cd "$root"
exec ./build/bin/dbn_mnist --data data/mnist --output out/dbn_mnist --preset quick "$@"
