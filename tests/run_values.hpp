#pragma once
// The values of `targets` after each of `steps` runs of a fresh executor
// with options `o`: what the scheduler and plan tests compare bit for bit.

#include <span>
#include <vector>

#include "graph/executor.hpp"

namespace ebm::test {

inline std::vector<std::vector<float>> run_values(Graph& g, std::span<const Tensor> targets, ExecutorOptions o,
                                                  int steps) {
  Executor ex(g, o);
  std::vector<std::vector<float>> out;
  for (int s = 0; s < steps; ++s) {
    ex.run(targets);
    for (Tensor t : targets) out.emplace_back(ex.value(t).begin(), ex.value(t).end());
  }
  return out;
}

}  // namespace ebm::test
