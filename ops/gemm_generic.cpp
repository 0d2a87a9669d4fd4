// ebm::gemm the portable fallback: xsimd's default architecture for this TU's flags (SSE2 on x86-64, compiled with -march=x86-64; NEON on ARM).

#include "ops/gemm_kernel.hpp"

namespace ebm::gemm::detail {

void sgemm_generic(const Problem& p, Workspace w) { blocked_sgemm<xsimd::default_arch>(p, w); }

}  // namespace ebm::gemm::detail
