// ebm::gemm AVX2 + FMA kernels (this TU is compiled with -march=x86-64-v3).

#include "ops/gemm_kernel.hpp"

namespace ebm::gemm::detail {

void sgemm_avx2(const Problem& p, Workspace w) { blocked_sgemm<xsimd::fma3<xsimd::avx2>>(p, w); }

}  // namespace ebm::gemm::detail
