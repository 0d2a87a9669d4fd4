#pragma once
// The GEMM floor of a training step: the best rate GEMM reaches on the
// step's own shapes, measured in the same run two ways — through the
// executor's matmul op (BLAS single-threaded, tiles on the executor's 2
// threads) and directly on OpenBLAS with 2 threads — and the better of the
// two taken. floor seconds = the step's GEMM flops / that rate.

#include <cblas.h>

#include <vector>

#include "bench/timing.hpp"
#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"

namespace bench {

struct GemmShape {
  int64_t m, n, k;
  bool ta, tb;
  double flops() const { return 2.0 * static_cast<double>(m * n * k); }
};

struct GemmRates {
  double executor_gflops = 0, direct_gflops = 0;
  double best() const { return std::max(executor_gflops, direct_gflops); }
};

inline GemmRates measure_gemm_rates(const std::vector<GemmShape>& shapes, int threads, int rounds = 7) {
  ebm::Graph g;
  std::vector<ebm::Tensor> outs;
  std::vector<std::vector<float>> a, b, c;
  double flops = 0;
  for (const GemmShape& s : shapes) {
    const ebm::Tensor x = g.param("a", s.ta ? ebm::Shape{s.k, s.m} : ebm::Shape{s.m, s.k}, 0.0f, false);
    const ebm::Tensor y = g.param("b", s.tb ? ebm::Shape{s.n, s.k} : ebm::Shape{s.k, s.n}, 0.0f, false);
    ebm::fill_uniform(g.value(x), 0.0f, 1.0f, 1, 1);
    ebm::fill_uniform(g.value(y), -0.1f, 0.1f, 1, 2);
    outs.push_back(ebm::matmul(x, y, {.ta = s.ta, .tb = s.tb}));
    a.emplace_back(g.value(x).begin(), g.value(x).end());
    b.emplace_back(g.value(y).begin(), g.value(y).end());
    c.emplace_back(static_cast<size_t>(s.m * s.n));
    flops += s.flops();
  }
  ebm::Executor ex(g, {.threads = threads});
  auto run_executor = [&] { ex.run(outs); };
  auto run_direct = [&] {
    for (size_t i = 0; i < shapes.size(); ++i) {
      const GemmShape& s = shapes[i];
      cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans, int(s.m), int(s.n),
                  int(s.k), 1.0f, a[i].data(), int(s.ta ? s.m : s.k), b[i].data(), int(s.tb ? s.k : s.n), 0.0f,
                  c[i].data(), int(s.n));
    }
  };
  std::vector<double> te, td;
  for (int r = 0; r < rounds; ++r) {
    openblas_set_num_threads(1);
    warm_up(run_executor, 0.05);
    te.push_back(time_per_call(run_executor, 10));
    openblas_set_num_threads(threads);
    warm_up(run_direct, 0.05);
    td.push_back(time_per_call(run_direct, 10));
  }
  openblas_set_num_threads(1);
  return {flops / median(te) * 1e-9, flops / median(td) * 1e-9};
}

// Prints the executor's profile of `steps` training steps as comment lines:
// a separate executor with {.profile = true}, so a timed one pays nothing.
// step(ex, i) runs step i (feeding whatever it needs); the first tenth warm up.
template <typename Step>
void print_step_profile(ebm::Graph& g, int threads, int steps, Step step) {
  ebm::Executor prof(g, {.threads = threads, .seed = 1, .profile = true});
  const int warm = std::max(1, steps / 10);
  for (int i = 0; i < warm + steps; ++i) {
    if (i == warm) prof.profile().reset();
    step(prof, i);
  }
  print_comment(fmt::format("profile of {} steps, ExecutorOptions{{.threads = {}, .profile = true}}:", steps, threads));
  print_comment(prof.profile().summary());
}

}  // namespace bench
