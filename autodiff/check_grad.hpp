#pragma once
// Finite differences against autodiff for any scalar loss:
//   numeric_i = (L(w + eps e_i) - L(w - eps e_i)) / (2 eps)
// compared with grad(). Random ops draw the same bits in every evaluation
// (the executor's step is held fixed), so stochastic losses can be checked.

#include <span>
#include <string>

#include "graph/executor.hpp"

namespace ebm {

struct CheckGradOptions {
  double eps = 1e-2;
  double rtol = 2e-2;
  double atol = 1e-3;
  int max_entries = 64;  // per parameter, spread over its elements
  uint64_t seed = 7;
};

struct GradCheck {
  bool ok = true;
  double max_abs_err = 0.0;
  std::string worst;  // "param[i]: autodiff a, numeric n"
};

// wrt must be parameters (their stored values are perturbed and restored).
GradCheck check_grad(Tensor loss, std::span<const Tensor> wrt, std::span<const Feed> feeds = {},
                     CheckGradOptions o = {});

}  // namespace ebm
