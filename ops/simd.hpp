#pragma once
// Scalar rules shared by kernels of several op families, each written once
// as a generic lambda serving both float and xsimd::batch<float>. Internal to
// ops/ (only kernel .cpp files include it: xsimd is a heavy header).

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <xsimd/xsimd.hpp>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "ops/rng.hpp"

namespace ebm::simd {

using B = xsimd::batch<float>;
constexpr int64_t W = static_cast<int64_t>(B::size);

// A span's last n < W elements, as one more register: every element of a
// span takes the vector rule, never a scalar one (std::exp's bits are not
// xsimd::exp's, and a scalar a * b + c may round differently from the
// vector's), so an element's value does not depend on where the span, a
// row tile or a thread's block of rows ends (bitwise-identical results
// across thread counts and between fused and unfused plans).
// load_partial: lanes n .. W - 1 read as 0 (memory past n is not read).
inline B load_partial(const float* p, int64_t n) {
#if defined(__AVX512F__)
  if constexpr (W == 16)
    return B(_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1u), p));
#endif
  alignas(64) float t[W] = {};
  std::copy_n(p, n, t);
  return B::load_aligned(t);
}
// store_partial: lanes 0 .. n - 1 of v to p[0 .. n - 1] (nothing past n written).
inline void store_partial(B v, float* p, int64_t n) {
#if defined(__AVX512F__)
  if constexpr (W == 16) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1u), v);
    return;
  }
#endif
  alignas(64) float t[W];
  v.store_aligned(t);
  std::copy_n(t, n, p);
}

// y[i] = f(x[i]) for i < n, the tail (n % W elements) through load_partial
// and store_partial: each element by the same instructions wherever it is.
// y may be x.
template <typename F>
inline void unary_span(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + W <= n; i += W) f(B::load_unaligned(x + i)).store_unaligned(y + i);
  if (i < n) store_partial(f(load_partial(x + i, n - i)), y + i, n - i);
}

// y = 1 / (1 + exp(-x)): exp overflows to inf for x < -88 and gives 0, never NaN
inline constexpr auto sigmoid_rule = [](auto x) {
  using std::exp;
  using T = decltype(x);
  return T(1.0f) / (T(1.0f) + exp(-x));
};

// y[i] = f(y[i], bias[i]) for i < n, the tail as in unary_span
template <typename F>
inline void with_bias(float* y, const float* bias, int64_t n, F f) {
  int64_t i = 0;
  for (; i + W <= n; i += W) f(B::load_unaligned(y + i), B::load_unaligned(bias + i)).store_unaligned(y + i);
  if (i < n) store_partial(f(load_partial(y + i, n - i), load_partial(bias + i, n - i)), y + i, n - i);
}

// y[i] = sigmoid(y[i] + bias[i]) for i < n
inline void add_bias_sigmoid(float* y, const float* bias, int64_t n) {
  with_bias(y, bias, n, [](B v, B b) { return sigmoid_rule(v + b); });
}

// y[i] += bias[i] for i < n
inline void add_bias(float* y, const float* bias, int64_t n) {
  with_bias(y, bias, n, [](B v, B b) { return v + b; });
}

// y[i] = exp(y[i]) for i < n, xsimd's exp on every element (the tail too);
// overflows to inf, underflows to 0.
inline void exp_in_place(float* y, int64_t n) {
  unary_span(y, y, n, [](B v) { return xsimd::exp(v); });
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
