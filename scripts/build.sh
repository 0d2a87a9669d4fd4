#!/usr/bin/env bash
# Configures (Release) and builds ebmflow into build/, two jobs at a time.
# Extra arguments go to `cmake --build` (e.g. --target test_ops).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${EBM_JOBS:-2}
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" -j"$jobs" "$@"
