// ebm::blas::use_cpu_kernels: OpenBLAS's fallback to its Prescott kernels is
// repaired on a CPU that runs better ones, a core the user named is kept,
// and BLAS's products stay right after the switch, on one thread and two.

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "ops/blas.hpp"
#include "ops/gemm.hpp"

namespace {

// The largest |dgemm - plain loop| and |sgemm - plain loop| over C = A B', A
// m x k, B n x k, on `threads` OpenBLAS threads.
std::pair<double, double> product_errors(int threads) {
  const int m = 67, n = 131, k = 301;
  std::vector<double> a(m * k), b(n * k), c(m * n);
  std::vector<float> af(m * k), bf(n * k), cf(m * n);
  for (int i = 0; i < m * k; ++i) af[i] = static_cast<float>(a[i] = std::sin(0.37 * i));
  for (int i = 0; i < n * k; ++i) bf[i] = static_cast<float>(b[i] = std::cos(0.11 * i));
  openblas_set_num_threads(threads);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0, a.data(), k, b.data(), k, 0.0, c.data(), n);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, af.data(), k, bf.data(), k, 0.0f, cf.data(), n);
  double ed = 0, ef = 0;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double s = 0, sf = 0;
      for (int p = 0; p < k; ++p) {
        s += a[i * k + p] * b[j * k + p];
        sf += static_cast<double>(af[i * k + p]) * bf[j * k + p];
      }
      ed = std::max(ed, std::abs(c[i * n + j] - s));
      ef = std::max(ef, std::abs(cf[i * n + j] - sf));
    }
  return {ed, ef};
}

}  // namespace

TEST_CASE("blas/kernels: a Prescott fallback is repaired on a better CPU, a named core kept, products right") {
  // A ctest entry loads OpenBLAS with OPENBLAS_CORETYPE=Prescott and sets
  // EBM_TEST_FORGET_CORETYPE: the variable is removed before the call, which
  // then meets the very fallback it repairs, on any CPU with AVX2.
  if (std::getenv("EBM_TEST_FORGET_CORETYPE") != nullptr) ::unsetenv("OPENBLAS_CORETYPE");
  const std::string loaded = openblas_get_corename();
  const bool named = std::getenv("OPENBLAS_CORETYPE") != nullptr;
  const ebm::blas::KernelChoice k = ebm::blas::use_cpu_kernels();
  MESSAGE(ebm::blas::version() << " chose " << k.chosen << "; in use: " << k.in_use);
  CHECK(k.chosen == loaded);
  CHECK(k.in_use == std::string(openblas_get_corename()));
  if (loaded == "Prescott" && !named && ebm::gemm::isa_supported(ebm::gemm::Isa::avx2)) {
    CHECK(k.changed());  // SkylakeX, or Haswell (also what an OpenBLAS built without AVX-512 says for SkylakeX)
    CHECK((k.in_use == "SkylakeX" || k.in_use == "Haswell"));
  } else {
    CHECK_FALSE(k.changed());
  }
  CHECK((std::getenv("OPENBLAS_CORETYPE") != nullptr) == named);  // the environment as it was
  const ebm::blas::KernelChoice again = ebm::blas::use_cpu_kernels();
  CHECK(again.chosen == k.chosen);
  CHECK(again.in_use == k.in_use);
  CHECK(ebm::blas::version().rfind("OpenBLAS ", 0) == 0);
  for (int threads : {1, 2}) {
    const auto [ed, ef] = product_errors(threads);
    CHECK(ed < 1e-12);
    CHECK(ef < 1e-4);
  }
}
