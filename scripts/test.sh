#!/usr/bin/env bash
# Installs what is missing, builds everything and runs the test suite.
# Ends with ctest's summary line ("100% tests passed, 0 tests failed out of N").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
bash "$root/scripts/fetch_mnist.sh"
bash "$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure -j2 --timeout 600
