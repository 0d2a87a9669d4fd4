#pragma once
// What the dense and the zero-skipping products of ops/gemm_kernel.hpp
// share: storing a tile of C from its register accumulators. Internal
// linkage, as everything the ISA translation units instantiate.

#include <cstdint>

#include <xsimd/xsimd.hpp>

namespace ebm::gemm::detail {
namespace {

// (std:: templates would be shared between the ISA TUs: this one is not.)
constexpr int64_t min(int64_t x, int64_t y) { return x < y ? x : y; }

// x y + z with one rounding. xsimd's AVX-512 fma is x * y + z, left to the
// compiler's contraction, which fuses it or not (and with two products in
// one sum, fuses either) depending on the code it was inlined into; an ISA
// TU whose xsimd fma is not an intrinsic specialises this with one
// (gemm_avx512.cpp), so every kernel rounds the same way.
template <class Arch>
struct Fma {
  using V = xsimd::batch<float, Arch>;
  static V apply(const V& x, const V& y, const V& z) { return xsimd::fma(x, y, z); }
};

// C[0:R, 0:cols] = alpha acc + beta C with beta 0 (C not read) or 1
// (sgemm scales C by any other beta first: ops/gemm.cpp, run). A tile
// narrower than NV vectors goes through a buffer with the same vector
// arithmetic, so a column's bits do not depend on where the panels fall.
template <class Arch, int R, int NV>
void store_tile(const xsimd::batch<float, Arch> (&acc)[R][NV], float* c, int64_t ldc, int64_t cols, float alpha,
                float beta) {
  using V = xsimd::batch<float, Arch>;
  constexpr int64_t L = V::size;
  const V va(alpha);
  auto out = [&](const V& x, const float* p) { return beta == 0.0f ? va * x : Fma<Arch>::apply(va, x, V::load_unaligned(p)); };
  if (cols == NV * L) {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) out(acc[r][v], c + r * ldc + v * L).store_unaligned(c + r * ldc + v * L);
    return;
  }
  alignas(64) float tmp[NV * L] = {};
  for (int r = 0; r < R; ++r) {
    float* p = c + r * ldc;
    for (int64_t j = 0; j < cols && beta != 0.0f; ++j) tmp[j] = p[j];
    for (int v = 0; v < NV; ++v) out(acc[r][v], tmp + v * L).store_aligned(tmp + v * L);
    for (int64_t j = 0; j < cols; ++j) p[j] = tmp[j];
  }
}

}  // namespace
}  // namespace ebm::gemm::detail
