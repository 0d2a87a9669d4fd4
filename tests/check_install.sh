#!/usr/bin/env bash
# Installs the built library into a scratch prefix and builds and runs
# tests/consumer, a project outside the tree that finds it with
# find_package(ebmflow); then builds it again against the build tree
# itself (-Debmflow_DIR=BUILD_DIR, uninstalled). Usage: check_install.sh BUILD_DIR
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cmake --install "$build" --prefix "$scratch/prefix" > "$scratch/install.log"
test -f "$scratch/prefix/include/ebmflow/graph/functions.hpp"
test -f "$scratch/prefix/lib/cmake/ebmflow/ebmflowConfig.cmake"
cmake -S "$here/consumer" -B "$scratch/build" -DCMAKE_PREFIX_PATH="$scratch/prefix" -DCMAKE_BUILD_TYPE=Release > "$scratch/configure.log" ||
  { cat "$scratch/configure.log"; exit 1; }
cmake --build "$scratch/build" > "$scratch/build.log" 2>&1 || { cat "$scratch/build.log"; exit 1; }
"$scratch/build/consumer"
cmake -S "$here/consumer" -B "$scratch/from_build" -Debmflow_DIR="$(cd "$build" && pwd)" -DCMAKE_BUILD_TYPE=Release \
  > "$scratch/configure2.log" || { cat "$scratch/configure2.log"; exit 1; }
cmake --build "$scratch/from_build" > "$scratch/build2.log" 2>&1 || { cat "$scratch/build2.log"; exit 1; }
"$scratch/from_build/consumer"
