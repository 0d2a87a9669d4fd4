// Uses the installed headers and library: a graph of the engine's ops run
// by the executor, and a model's exact log Z, each against its value in
// closed form. Prints what it found and exits 1 on a mismatch.

#include <cmath>
#include <cstdio>
#include <vector>

#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "models/exact.hpp"
#include "models/rbm.hpp"

int main() {
  ebm::Graph g;
  const ebm::Tensor x = g.input("x", {2, 3});
  const ebm::Tensor y = ebm::sum(ebm::concat({ebm::slice_cols(x, 1, 3), x * 2.0f}), 1);  // 2 x0 + 3 x1 + 3 x2 per row
  const ebm::Rbm rbm = ebm::Rbm::make(g, "rbm", {.visible = 6, .hidden = 4, .init_std = 0.0f});
  ebm::Executor ex(g, {.threads = 2});
  const std::vector<float> xs = {1, 2, 3, 4, 5, 6};
  ex.run({y}, {{x, xs}});
  const auto sums = ex.value(y);
  const double log_z = ebm::exact_log_z(rbm), want = 10 * std::log(2.0);  // zero weights and biases: 2^(6 + 4) states
  std::printf("row sums %g %g (want 17 41), log Z %.6f (want %.6f)\n", sums[0], sums[1], log_z, want);
  return sums[0] == 17.0f && sums[1] == 41.0f && std::abs(log_z - want) < 1e-6 ? 0 : 1;
}
