#pragma once
// Scalar rules shared by kernels of several op families, each written once
// as a generic lambda serving both float and xsimd::batch<float>. Internal to
// ops/ (only kernel .cpp files include it: xsimd is a heavy header).

#include <cmath>
#include <cstdint>

#include <xsimd/xsimd.hpp>

#include "ops/rng.hpp"

namespace ebm::simd {

using B = xsimd::batch<float>;
constexpr int64_t W = static_cast<int64_t>(B::size);

// y = 1 / (1 + exp(-x)): exp overflows to inf for x < -88 and gives 0, never NaN
inline constexpr auto sigmoid_rule = [](auto x) {
  using std::exp;
  using T = decltype(x);
  return T(1.0f) / (T(1.0f) + exp(-x));
};

// y[i] = sigmoid(y[i] + bias[i]) for i < n
inline void add_bias_sigmoid(float* y, const float* bias, int64_t n) {
  int64_t i = 0;
  for (; i + W <= n; i += W)
    sigmoid_rule(B::load_unaligned(y + i) + B::load_unaligned(bias + i)).store_unaligned(y + i);
  for (; i < n; ++i) y[i] = sigmoid_rule(y[i] + bias[i]);
}

// y[i] += bias[i] for i < n
inline void add_bias(float* y, const float* bias, int64_t n) {
  int64_t i = 0;
  for (; i + W <= n; i += W) (B::load_unaligned(y + i) + B::load_unaligned(bias + i)).store_unaligned(y + i);
  for (; i < n; ++i) y[i] += bias[i];
}

// y[i] = exp(y[i]) for i < n (xsimd's exp on full registers, std::exp on
// the tail); overflows to inf, underflows to 0.
inline void exp_in_place(float* y, int64_t n) {
  int64_t i = 0;
  for (; i + W <= n; i += W) xsimd::exp(B::load_unaligned(y + i)).store_unaligned(y + i);
  for (; i < n; ++i) y[i] = std::exp(y[i]);
}

// Uniform [0,1) draws for the counters given lane by lane, bit-identical to
// uniform01() lane by lane.
inline B uniform_batch_at(RngKey key, xsimd::batch<uint32_t> counters) {
  const xsimd::batch<uint32_t> bits = random_bits<xsimd::batch<uint32_t>>(key, counters) >> 8;
  return xsimd::to_float(xsimd::bitwise_cast<xsimd::batch<int32_t>>(bits)) * B(0x1p-24f);
}

// The lanes' indices 0 .. W - 1.
inline xsimd::batch<uint32_t> lane_indices() {
  using U = xsimd::batch<uint32_t>;
  alignas(64) static constexpr uint32_t iota[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  static_assert(U::size <= 16);
  return U::load_aligned(iota);
}

// Uniform [0,1) draws for the counters first .. first + W - 1, bit-identical
// to uniform01() element by element.
inline B uniform_batch(RngKey key, uint32_t first) {
  return uniform_batch_at(key, xsimd::batch<uint32_t>(first) + lane_indices());
}

}  // namespace ebm::simd
