// ebm::gemm AVX2 + FMA kernels (this TU is compiled with -march=x86-64-v3).

#include <immintrin.h>

#include "ops/gemm_kernel.hpp"

namespace ebm::gemm::detail {
namespace {

// Compares only: AVX2 has no compress, so the lists are written bit by bit.
template <>
struct Sparse16<xsimd::fma3<xsimd::avx2>> {
  static constexpr bool available = true;
  static uint32_t nonzero(const float* x) {
    return mask(x, _mm256_setzero_ps(), [](__m256 a, __m256 b) { return _mm256_cmp_ps(a, b, _CMP_NEQ_UQ); });
  }
  static uint32_t ones(const float* x) {
    return mask(x, _mm256_set1_ps(1.0f), [](__m256 a, __m256 b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); });
  }
  static int64_t compress(const float* x, int32_t k0, int32_t* k, float* v) {
    int64_t n = 0;
    for (uint32_t m = nonzero(x); m != 0; m &= m - 1) {
      const int i = __builtin_ctz(m);
      k[n] = k0 + i, v[n++] = x[i];
    }
    return n;
  }

 private:
  template <class Cmp>
  static uint32_t mask(const float* x, __m256 y, Cmp cmp) {
    const auto lo = static_cast<uint32_t>(_mm256_movemask_ps(cmp(_mm256_loadu_ps(x), y)));
    return lo | static_cast<uint32_t>(_mm256_movemask_ps(cmp(_mm256_loadu_ps(x + 8), y))) << 8;
  }
};

}  // namespace

void sgemm_avx2(const Problem& p, Workspace w) { blocked_sgemm<xsimd::fma3<xsimd::avx2>>(p, w); }
int64_t pack_b_avx2(const Problem& p, float* dst) { return pack_b_all<xsimd::fma3<xsimd::avx2>>(p, dst); }

}  // namespace ebm::gemm::detail
