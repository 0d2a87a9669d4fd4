#pragma once
// The GEMM floor of a training step: its GEMM flops at the best rate GEMM
// reaches on the step's own shapes, measured in the same run three ways —
// the executor's matmul op on ebm::gemm and on CBLAS (single-threaded tiles
// on the executor's threads), and OpenBLAS called directly with all the
// threads — and the best taken. The benches also measure the floor at
// OpenBLAS's AVX-512 rate (the kernels issue's reference): the same CBLAS
// figures in a child process started with OPENBLAS_CORETYPE=SkylakeX (this
// program re-run with --openblas-avx512-child; tests and CI never set it).

#include <cblas.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "bench/timing.hpp"
#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "ops/gemm.hpp"

namespace bench {

struct GemmShape {
  int64_t m, n, k;
  bool ta, tb;
  // A's values as stored (k x m when ta, else m x k), such as a batch of
  // sampled states, whose zeros ebm::gemm skips; empty: uniform in [0, 1),
  // which has none.
  std::vector<float> a = {};
  double flops() const { return 2.0 * static_cast<double>(m * n * k); }
};

struct GemmRates {
  double ebm_gflops = 0;           // executor, ebm::gemm tiles
  double cblas_tiled_gflops = 0;   // executor, CBLAS tiles
  double cblas_direct_gflops = 0;  // OpenBLAS with its own threads
  double openblas() const { return std::max(cblas_tiled_gflops, cblas_direct_gflops); }
  double best() const { return std::max(ebm_gflops, openblas()); }
};

// The step's GEMMs alone: each a matmul op of an executor on operands of
// its own (GemmShape::a, else uniform), all in one graph, so the tiles of
// independent products share the threads as freely as they can.
// Seconds for `calls` runs of run() back to back, after a short warm-up.
template <typename Run>
double seconds_of_calls(Run run, int calls) {
  warm_up(run, 0.05);
  return time_per_call(run, calls) * calls;
}

class GemmSet {
 public:
  GemmSet(const std::vector<GemmShape>& shapes, int threads, ebm::GemmBackend backend = ebm::GemmBackend::ebm) {
    for (const GemmShape& s : shapes) {
      const ebm::Tensor x = g_.param("a", s.ta ? ebm::Shape{s.k, s.m} : ebm::Shape{s.m, s.k}, 0.0f, false);
      const ebm::Tensor y = g_.param("b", s.tb ? ebm::Shape{s.n, s.k} : ebm::Shape{s.k, s.n}, 0.0f, false);
      if (s.a.empty())
        ebm::fill_uniform(g_.value(x), 0.0f, 1.0f, 1, 1);
      else if (s.a.size() == g_.value(x).size())
        std::copy(s.a.begin(), s.a.end(), g_.value(x).begin());
      else
        throw std::invalid_argument(fmt::format("GemmShape: {} values of A for a {} x {} product", s.a.size(), s.m, s.k));
      ebm::fill_uniform(g_.value(y), -0.1f, 0.1f, 1, 2);
      outs_.push_back(ebm::matmul(x, y, {.ta = s.ta, .tb = s.tb}));
      flops_ += s.flops();
    }
    ex_ = std::make_unique<ebm::Executor>(g_, ebm::ExecutorOptions{.threads = threads, .gemm = backend});
  }
  double flops() const { return flops_; }  // of one run
  void run() { ex_->run(outs_); }
  double seconds(int calls) { return seconds_of_calls([&] { run(); }, calls); }

 private:
  ebm::Graph g_;
  std::vector<ebm::Tensor> outs_;
  double flops_ = 0;
  std::unique_ptr<ebm::Executor> ex_;
};

// A parameter of `g` filled uniformly in [lo, hi) (stream: fill_uniform's).
inline ebm::Tensor uniform_param(ebm::Graph& g, std::string name, ebm::Shape shape, float lo, float hi,
                                 uint64_t stream) {
  const ebm::Tensor t = g.param(std::move(name), shape, 0.0f, false);
  ebm::fill_uniform(g.value(t), lo, hi, 1, stream);
  return t;
}

// The step's GEMMs alone, wired as the step wires them: `build(g)` declares
// them in a graph of their own, each operand the output of the product it
// comes from (or a parameter, one weight matrix shared by every product
// that multiplies it), and returns the products nothing else reads. A
// product then waits for those it reads, as in the step, while independent
// ones share the threads. GemmSet's products wait for nothing; against
// this floor the step's overhead is what it adds to its GEMMs under its
// own data dependencies.
class GemmFlow {
 public:
  template <typename Build>
  GemmFlow(Build build, int threads) : outs_(build(g_)), ex_(g_, {.threads = threads}) {}
  void run() { ex_.run(outs_); }
  double seconds(int calls) { return seconds_of_calls([&] { run(); }, calls); }

 private:
  ebm::Graph g_;
  std::vector<ebm::Tensor> outs_;
  ebm::Executor ex_;
};

inline GemmRates measure_gemm_rates(const std::vector<GemmShape>& shapes, int threads, int rounds = 7) {
  GemmSet ours(shapes, threads), theirs(shapes, threads, ebm::GemmBackend::cblas);
  std::vector<std::vector<float>> a, b, c;
  for (const GemmShape& s : shapes) {
    a.emplace_back(static_cast<size_t>(s.m * s.k), 0.5f);
    b.emplace_back(static_cast<size_t>(s.k * s.n), 0.01f);
    c.emplace_back(static_cast<size_t>(s.m * s.n));
  }
  auto run_ours = [&] { ours.run(); };
  auto run_tiled = [&] { theirs.run(); };
  auto run_direct = [&] {
    for (size_t i = 0; i < shapes.size(); ++i) {
      const GemmShape& s = shapes[i];
      cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans, int(s.m), int(s.n),
                  int(s.k), 1.0f, a[i].data(), int(s.ta ? s.m : s.k), b[i].data(), int(s.tb ? s.k : s.n), 0.0f,
                  c[i].data(), int(s.n));
    }
  };
  std::vector<double> to, tt, td;
  for (int r = 0; r < rounds; ++r) {  // interleaved, so a noisy moment hits all three
    openblas_set_num_threads(1);
    warm_up(run_ours, 0.05);
    to.push_back(time_per_call(run_ours, 10));
    warm_up(run_tiled, 0.05);
    tt.push_back(time_per_call(run_tiled, 10));
    openblas_set_num_threads(threads);
    warm_up(run_direct, 0.05);
    td.push_back(time_per_call(run_direct, 10));
  }
  openblas_set_num_threads(1);
  const double flops = ours.flops();
  return {flops / median(to) * 1e-9, flops / median(tt) * 1e-9, flops / median(td) * 1e-9};
}

// OpenBLAS's rate on `shapes` with its AVX-512 kernels: its best (tiles on
// the executor's threads or its own threading), or with `direct_only` only
// the calls with its own threads. In the child (argv holds
// --openblas-avx512-child) it prints both figures and exits; in the parent
// it starts the child and reads the figure (0 when that fails, and without
// starting a child on a CPU or OS that does not run AVX-512, where those
// kernels would stop it with an illegal instruction).
inline double openblas_avx512_gflops(int argc, char** argv, const std::vector<GemmShape>& shapes, int threads,
                                     bool direct_only = false) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--openblas-avx512-child") == 0) {
      const GemmRates r = measure_gemm_rates(shapes, threads);
      print_value("openblas_gflops", r.openblas(), 1);
      print_value("openblas_direct_gflops", r.cblas_direct_gflops, 1);
      std::exit(0);
    }
  if (!ebm::gemm::isa_supported(ebm::gemm::Isa::avx512)) {
    print_comment("this CPU (or OS) does not run AVX-512: no OpenBLAS AVX-512 figures (printed as 0)");
    return 0.0;
  }
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  FILE* p = popen(fmt::format("OPENBLAS_CORETYPE=SkylakeX '{}' --openblas-avx512-child", exe).c_str(), "r");
  if (p == nullptr) return 0.0;
  const std::string key = direct_only ? "openblas_direct_gflops=" : "openblas_gflops=";
  double gflops = 0.0;
  char line[256];
  while (std::fgets(line, sizeof line, p) != nullptr)
    if (std::strncmp(line, key.c_str(), key.size()) == 0) gflops = std::atof(line + key.size());
  pclose(p);
  return gflops;
}

// The figures every training-step bench prints about its floor, in this
// order, before its own headline; floor_s is the median over rounds of the
// best-rate floor (best_floors).
inline void print_floor(double epoch_s, double epoch_flops, const GemmRates& rates, double avx512_gflops,
                        double floor_s) {
  print_value("ebm_gemm_gflops", rates.ebm_gflops, 1);
  print_value("cblas_tiled_gflops", rates.cblas_tiled_gflops, 1);
  print_value("cblas_direct_gflops", rates.cblas_direct_gflops, 1);
  print_value("openblas_avx512_gflops", avx512_gflops, 1);
  print_value("avx512_floor_s", avx512_gflops > 0 ? epoch_flops / (avx512_gflops * 1e9) : 0.0);
  print_value("overhead_vs_avx512_floor", avx512_gflops > 0 ? epoch_s * avx512_gflops * 1e9 / epoch_flops : 0.0);
  print_value("gemm_floor_s", floor_s);
}

}  // namespace bench
