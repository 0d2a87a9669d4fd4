// ebm::gemm AVX2 + FMA kernels (this TU is compiled with -march=x86-64-v3).

#include "ops/gemm_kernel.hpp"

namespace ebm::gemm::detail {

void sgemm_avx2(const Problem& p, Workspace w) { blocked_sgemm<xsimd::fma3<xsimd::avx2>>(p, w); }
int64_t pack_b_avx2(const Problem& p, float* dst) { return pack_b_all<xsimd::fma3<xsimd::avx2>>(p, dst); }

}  // namespace ebm::gemm::detail
