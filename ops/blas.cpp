#include "ops/blas.hpp"

#include <cblas.h>

#include <cstdlib>
#include <string_view>

#include "ops/gemm.hpp"

// The selection OpenBLAS's DYNAMIC_ARCH builds run when loaded (it reads
// OPENBLAS_CORETYPE, else the CPU's model), and its reset. Declared weak: an
// OpenBLAS built for one CPU does not have them, and then nothing changes.
extern "C" {
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));
}

namespace ebm::blas {
namespace {

// The OpenBLAS core whose kernels this CPU and its OS run, of those worth
// choosing over the Prescott fallback: the x86-64-v4 and v3 levels our own
// GEMM's kernels need (AVX-512 F/BW/DQ/VL; AVX2, FMA, BMI), which cover
// OpenBLAS's SkylakeX and Haswell kernels. Empty for neither (and off x86).
std::string_view best_core() {
  if (gemm::isa_supported(gemm::Isa::avx512)) return "SkylakeX";
  if (gemm::isa_supported(gemm::Isa::avx2)) return "Haswell";
  return {};
}

KernelChoice choose() {
  KernelChoice k{openblas_get_corename(), {}};
  k.in_use = k.chosen;
  const std::string_view core = best_core();
  if (k.chosen != "Prescott" || core.empty() || std::getenv("OPENBLAS_CORETYPE") != nullptr ||
      gotoblas_dynamic_init == nullptr || gotoblas_dynamic_quit == nullptr)
    return k;
  // The variable is set only while OpenBLAS reads it: child processes see
  // the environment as it was.
  ::setenv("OPENBLAS_CORETYPE", std::string(core).c_str(), 1);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  ::unsetenv("OPENBLAS_CORETYPE");
  k.in_use = openblas_get_corename();
  return k;
}

}  // namespace

KernelChoice use_cpu_kernels() {
  static const KernelChoice k = choose();
  return k;
}

std::string version() {
  const std::string config = openblas_get_config();
  const size_t first = config.find(' ');
  return config.substr(0, first == std::string::npos ? first : config.find(' ', first + 1));
}

}  // namespace ebm::blas
