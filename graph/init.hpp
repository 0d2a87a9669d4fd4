#pragma once
// Parameter initialisation from the counter-based generator: the values are
// a pure function of (seed, stream, element), like every other random draw.

#include <cmath>
#include <numbers>
#include <span>

#include "ops/error.hpp"
#include "ops/rng.hpp"

namespace ebm {

// x_i ~ N(mean, stddev^2) by Box-Muller on draws 2i and 2i+1.
inline void fill_normal(std::span<float> x, float stddev, uint64_t seed, uint64_t stream, float mean = 0.0f) {
  if (!(stddev >= 0.0f) || !std::isfinite(stddev) || !std::isfinite(mean))
    throw Error("fill_normal: stddev {} and mean {}; expected a finite stddev of at least 0 and a finite mean (an "
                "initial scale such as init_std)",
                stddev, mean);
  const RngKey key = make_rng_key(seed, stream, 0);
  for (size_t i = 0; i < x.size(); ++i) {
    const auto j = static_cast<uint32_t>(2 * i);
    const float u1 = 1.0f - uniform01(key, j), u2 = uniform01(key, j + 1);
    x[i] = mean + stddev * std::sqrt(-2.0f * std::log(u1)) * std::cos(2.0f * std::numbers::pi_v<float> * u2);
  }
}

// x_i ~ U[lo, hi)
inline void fill_uniform(std::span<float> x, float lo, float hi, uint64_t seed, uint64_t stream) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo <= hi))
    throw Error("fill_uniform: range [{}, {}); expected finite bounds, the first at most the second", lo, hi);
  const RngKey key = make_rng_key(seed, stream, 0);
  for (size_t i = 0; i < x.size(); ++i) x[i] = lo + (hi - lo) * uniform01(key, static_cast<uint32_t>(i));
}

}  // namespace ebm
