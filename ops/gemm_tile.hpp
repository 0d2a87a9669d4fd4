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

// C[0:R, 0:cols] = alpha acc + beta C (C not read when beta == 0). A tile
// narrower than NV vectors goes through a buffer with the same vector
// arithmetic, so a column's bits do not depend on where the panels fall.
template <class Arch, int R, int NV>
void store_tile(const xsimd::batch<float, Arch> (&acc)[R][NV], float* c, int64_t ldc, int64_t cols, float alpha,
                float beta) {
  using V = xsimd::batch<float, Arch>;
  constexpr int64_t L = V::size;
  const V va(alpha), vb(beta);
  auto out = [&](const V& x, const float* p) { return beta == 0.0f ? va * x : xsimd::fma(va, x, vb * V::load_unaligned(p)); };
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
