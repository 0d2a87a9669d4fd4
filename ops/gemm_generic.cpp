// ebm::gemm the portable fallback: xsimd's default architecture for this TU's flags (SSE2 on x86-64, compiled with -march=x86-64; NEON on ARM).

#include "ops/gemm_kernel.hpp"

namespace ebm::gemm::detail {

void sgemm_generic(const Problem& p, Workspace w) { blocked_sgemm<xsimd::default_arch>(p, w); }
int64_t pack_b_generic(const Problem& p, float* dst) { return pack_b_all<xsimd::default_arch>(p, dst); }

}  // namespace ebm::gemm::detail
