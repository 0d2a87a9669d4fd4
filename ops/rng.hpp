#pragma once
// Counter-based random numbers. A draw is a pure function of
// (seed, node, step, element index): no generator state is carried between
// draws, so any schedule, any thread count and any tiling of the work gives
// bitwise the same samples.
//
//   key     = mix64(seed, node, step)                 (once per op call)
//   bits(i) = hash32(hash32(key.lo ^ i) + key.hi)     (per element)
//
// hash32 is a 32-bit integer permutation with very low avalanche bias
// (xor-shift / multiply rounds); two rounds over distinct keys decorrelate
// neighbouring counters. uniform(i) = (bits(i) >> 8) * 2^-24 lies in [0, 1).

#include <cstdint>

namespace ebm {

struct RngKey {
  uint32_t lo = 0;
  uint32_t hi = 0;
};

constexpr uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

constexpr RngKey make_rng_key(uint64_t seed, uint64_t node, uint64_t step) {
  uint64_t k = splitmix64(splitmix64(splitmix64(seed) ^ node) ^ step);
  return {static_cast<uint32_t>(k), static_cast<uint32_t>(k >> 32)};
}

// Works for uint32_t and for xsimd::batch<uint32_t>.
template <typename U>
constexpr U hash32(U x) {
  x ^= x >> 16;
  x *= U(0x7feb352du);
  x ^= x >> 15;
  x *= U(0x846ca68bu);
  x ^= x >> 16;
  return x;
}

template <typename U>
constexpr U random_bits(RngKey key, U counter) {
  return hash32(U(hash32(U(counter ^ U(key.lo))) + U(key.hi)));
}

inline float uniform01(RngKey key, uint32_t counter) {
  return static_cast<float>(random_bits<uint32_t>(key, counter) >> 8) * 0x1p-24f;
}

}  // namespace ebm
