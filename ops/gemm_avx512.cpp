// ebm::gemm AVX-512 kernels (this TU is compiled with -march=x86-64-v4).

#include "ops/gemm_kernel.hpp"

namespace ebm::gemm::detail {

void sgemm_avx512(const Problem& p, Workspace w) { blocked_sgemm<xsimd::avx512f>(p, w); }

}  // namespace ebm::gemm::detail
