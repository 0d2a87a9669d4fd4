#!/bin/sh
# custom_energy end to end at its default rate, on 50 hidden units for 3
# epochs: it writes its three pictures and every result line; the
# reconstruction error falls from the first epoch to the last; the learned
# sigmas stay inside (0.1, 1), and no run-away warning is printed; a run
# of 2 epochs resumed to 3 (EnergyFitter's checkpoint) ends bit for bit as
# the run of 3. With a rate ten times the default the variances run away,
# and a warning names the epoch.
# Usage: test_custom_energy.sh CUSTOM_ENERGY DATA_DIR. Exit 77 (skipped)
# without MNIST.
# shellcheck source=samples/test_lib.sh
. "$(dirname "$0")/test_lib.sh"
bin=$1
data=$2
skip_unless "$data/train-images-idx3-ubyte" "MNIST is not in $data (scripts/fetch_mnist.sh fetches it)"

"$bin" --data "$data" --output "$out/run" --hidden 50 --epochs 3 --threads 2 > "$out/log" 2>&1 ||
  fail "custom_energy: the run failed"
for f in filters.png stddev.png samples.png metrics.csv checkpoint/manifest.json; do
  [ -s "$out/run/$f" ] || fail "no $f"
done
for k in epochs mean_free_energy reconstruction_error free_energy_gap sigma_min sigma_max total_seconds; do
  [ -n "$(value "$k")" ] || fail "no $k= line"
done
grep -q "warning" "$out/log" && fail "a warning at the default rate"
first=$(sed -n 's/^epoch 1\/3: .*reconstruction error \([0-9.]*\), .*/\1/p' "$out/log")
last=$(value reconstruction_error)
[ -n "$first" ] || fail "no reconstruction error in epoch 1's line"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a) }' ||
  fail "the reconstruction error did not fall: $first in epoch 1, $last in epoch 3"
lo=$(value sigma_min)
hi=$(value sigma_max)
awk -v lo="$lo" -v hi="$hi" 'BEGIN { exit !(lo > 0.1 && hi < 1) }' ||
  fail "learned sigmas from $lo to $hi; expected inside (0.1, 1)"

"$bin" --data "$data" --output "$out/split" --hidden 50 --epochs 2 --threads 2 > "$out/log2" 2>&1 ||
  fail "custom_energy --epochs 2: the run failed"
"$bin" --data "$data" --output "$out/split" --hidden 50 --epochs 3 --threads 2 --resume > "$out/log3" 2>&1 ||
  fail "custom_energy --resume: the run failed"
for f in "$out"/run/checkpoint/*.npy; do
  cmp -s "$f" "$out/split/checkpoint/${f##*/}" || fail "resumed to 3 epochs: ${f##*/} differs from the run of 3"
done
[ "$(value reconstruction_error "$out/log3")" = "$last" ] || fail "resumed: another reconstruction error than the run of 3"
[ "$(cut -d, -f1 "$out/split/metrics.csv" | tr '\n' ' ')" = "epoch 1 2 3 " ] || fail "resumed: metrics.csv is not epochs 1-3"

# Ten times the default rate, on the default 200 hidden units: a warning
# (or, should the values overflow first, the named divergence error).
"$bin" --data "$data" --output "$out/fast" --epochs 4 --lr 0.001 --threads 2 > "$out/log" 2>&1 ||
  grep -q "custom_energy: .*training diverged" "$out/log" || fail "custom_energy --lr 0.001: the run failed"
grep -q -E "custom_energy: (warning: epoch [0-9]*: a learned sigma of|epoch [0-9]*: .*training diverged|fit 'grbm': training diverged in epoch)" "$out/log" ||
  fail "--lr 0.001: not told that the variances run away"
echo "custom_energy: reconstruction error $first -> $last, sigma $lo to $hi, resumed bit for bit; ok"
