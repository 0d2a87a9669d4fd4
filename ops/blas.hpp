#pragma once
// OpenBLAS's choice of kernels for this CPU, and its repair.
//
// OpenBLAS (built with DYNAMIC_ARCH, as Debian's is) picks its kernels when it
// is loaded, from the CPU's family and model. A release older than the CPU
// does not know it and falls back to its Prescott (SSE3) kernels: Debian
// 12's 0.3.21 on an Intel Xeon of family 6, model 207 (Emerald Rapids) runs
// dgemm at 6 GFLOP/s a thread where its AVX-512 (SkylakeX) kernels reach 44
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

// When OpenBLAS fell back to "Prescott" on a CPU with AVX-512 (F, BW, DQ, VL)
// or AVX2 with FMA, and the environment does not name a core
// (OPENBLAS_CORETYPE, which OpenBLAS itself reads), selects OpenBLAS's
// SkylakeX or Haswell kernels instead; otherwise changes nothing. Decided
// once per process: later calls return the first call's answer. Call it at
// the start of main, before any thread runs a BLAS routine (the samples do,
// and say so when it changed something). Results stay correct either way;
// only their speed, and the rounding of BLAS's sums, depend on the kernels.
KernelChoice use_cpu_kernels();

// "OpenBLAS 0.3.21" (the first two words of openblas_get_config()).
std::string version();

}  // namespace ebm::blas
