#pragma once
// OpenBLAS's choice of kernels for this CPU, and its repair.
//
// OpenBLAS (built with DYNAMIC_ARCH, as Debian's is) picks its kernels when it
// is loaded, from the CPU's family and model. Debian 12's 0.3.21 does not
// know the Intel Xeon of family 6, model 207 (Emerald Rapids) this project
// runs on, and falls back to its Prescott (SSE3) kernels: dgemm at 6 GFLOP/s
// a thread where its AVX-512 (SkylakeX) kernels reach 44
// (docs/performance.md, 2026-12-06). ebmflow's own GEMM does not depend on
// it, but its baselines and solvers do: PCA and logistic PCA, the GP's
// double-precision algebra, retrieval's cosines, EBM_GEMM=cblas.

#include <string>

namespace ebm::blas {

struct KernelChoice {
  std::string chosen;  // the kernels OpenBLAS chose when loaded ("Prescott", "Haswell", "SkylakeX", "Zen", ...)
  std::string in_use;  // the kernels in use now
  bool changed() const { return chosen != in_use; }
};

// When OpenBLAS chose "Prescott" on a CPU (and OS) that runs AVX-512 (F, BW,
// DQ, VL) or AVX2 with FMA, and OPENBLAS_CORETYPE, which OpenBLAS itself
// reads, is not set (to any value), selects OpenBLAS's SkylakeX or Haswell
// kernels instead, by re-running OpenBLAS's own selection; otherwise changes
// nothing. Decided once per process: later calls return the first call's
// answer. Call it at the start of main, before any other thread starts: it
// sets OPENBLAS_CORETYPE for the selection and removes it again (the
// samples call it first, and say so when it changed something). Results
// stay correct either way; only their speed, and the rounding of BLAS's
// sums, depend on the kernels.
KernelChoice use_cpu_kernels();

// "OpenBLAS 0.3.21" (the first two words of openblas_get_config()).
std::string version();

}  // namespace ebm::blas
