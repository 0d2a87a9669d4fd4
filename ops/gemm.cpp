// ebm::gemm dispatch: picks the ISA once, owns the per-thread pack buffers,
// and handles the products the blocked kernels never see (an empty C, k = 0
// or alpha = 0: then C = beta C).

#include "ops/gemm.hpp"

#include <cstdlib>
#include <memory>
#include <new>
#include <string>

#include "ops/error.hpp"

namespace ebm::gemm {
namespace {

constexpr std::string_view kAccepted = "generic, avx2, avx512";

Isa best_isa() {
  for (Isa isa : {Isa::avx512, Isa::avx2})
    if (isa_supported(isa)) return isa;
  return Isa::generic;
}

Isa isa_from_env() {
  const char* env = std::getenv("EBM_GEMM_ISA");
  return env == nullptr || *env == '\0' ? best_isa() : isa_from_name(env);
}

struct AlignedDelete {
  void operator()(float* p) const { ::operator delete[](p, std::align_val_t{64}); }
};
using Buffer = std::unique_ptr<float[], AlignedDelete>;

Buffer aligned_floats(int64_t count) {
  return Buffer(static_cast<float*>(::operator new[](sizeof(float) * size_t(count), std::align_val_t{64})));
}

// The calling thread's pack buffers, allocated on its first product at the
// largest size any product needs, then reused.
detail::Workspace workspace() {
  thread_local const Buffer a = aligned_floats(detail::kPackA), b = aligned_floats(detail::kPackB);
  return {a.get(), b.get()};
}

// C = beta C over m x n (C not read when beta == 0).
void scale(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

}  // namespace

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::generic:
      return true;
#if defined(__x86_64__)
    case Isa::avx2:
      return __builtin_cpu_supports("x86-64-v3");
    case Isa::avx512:
      return __builtin_cpu_supports("x86-64-v4");
#endif
    default:
      return false;
  }
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx2:
      return "avx2";
    case Isa::avx512:
      return "avx512";
    default:
      return "generic";
  }
}

Isa isa_from_name(std::string_view name) {
  for (Isa isa : {Isa::generic, Isa::avx2, Isa::avx512}) {
    if (name != isa_name(isa)) continue;
    if (!isa_supported(isa))
      throw Error("EBM_GEMM_ISA={}: this CPU or build cannot run it; expected a supported one of {}", name, kAccepted);
    return isa;
  }
  throw Error("EBM_GEMM_ISA={}: unknown instruction set; expected one of {}", name, kAccepted);
}

Isa active_isa() {
  static const Isa isa = isa_from_env();
  return isa;
}

void sgemm(Isa isa, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (!isa_supported(isa)) throw Error("gemm: instruction set {} is not supported by this CPU or build", isa_name(isa));
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) return scale(m, n, beta, c, ldc);
  const detail::Problem p{ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc};
  switch (isa) {
#if defined(__x86_64__)
    case Isa::avx512:
      return detail::sgemm_avx512(p, workspace());
    case Isa::avx2:
      return detail::sgemm_avx2(p, workspace());
#endif
    default:
      return detail::sgemm_generic(p, workspace());
  }
}

void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  sgemm(active_isa(), ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace ebm::gemm
