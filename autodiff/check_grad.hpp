#pragma once
// Finite differences against autodiff for any scalar loss:
//   numeric_i = (L(w + eps e_i) - L(w - eps e_i)) / (w_up - w_down)
// compared with grad(), w_up and w_down the floats w + eps and w - eps
// round to (2 eps but for large weights: near 1e5 a float moves by 1/128;
// an entry so large that neither moves it is NaN, and fails). Random ops draw the same bits in every evaluation
// (the executor's step is held fixed), so a loss of reparameterised draws
// (a Gaussian's mean + sd * noise) can be checked. A loss through Bernoulli
// draws cannot: a nudge of eps may flip samples, a step the derivative does
// not see (and when none flips, a pass checks the gradient for those fixed
// draws, not the expected one); nor can CD's objective, which by design
// passes no gradient through its negative samples (test it against the
// textbook update). Each call adds the gradient's nodes to the loss's graph
// (grad()): check once, not at every step of a long run.

#include <span>
#include <string>

#include "graph/executor.hpp"

namespace ebm {

struct CheckGradOptions {
  double eps = 1e-2;
  double rtol = 2e-2;
  double atol = 1e-3;
  int max_entries = 64;  // at most this many entries checked per parameter, spread evenly over its elements
  uint64_t seed = 7;
};

struct GradCheck {
  bool ok = true;  // every entry checked within atol + rtol * its size (NaN or inf on either side fails)
  double max_abs_err = 0.0;
  int entries = 0;      // the entries compared, over all parameters
  std::string largest;  // the entry behind max_abs_err: "param[i]: autodiff a, numeric n"
  std::string worst;    // the entry with the largest error relative to its allowance (over 1 fails), as above
};

// wrt must be parameters of the loss's graph, at least one (their stored values are
// perturbed and restored). eps must be finite and positive, the tolerances
// finite and at least 0, max_entries at least 1. An ebm::Error otherwise,
// naming the entry of wrt, before anything is added to the graph.
GradCheck check_grad(Tensor loss, std::span<const Tensor> wrt, std::span<const Feed> feeds = {},
                     CheckGradOptions o = {});
// The same with braced lists: check_grad(loss, {rbm.w, rbm.b}, {{x, xs}}).
inline GradCheck check_grad(Tensor loss, std::initializer_list<Tensor> wrt, std::initializer_list<Feed> feeds = {},
                            CheckGradOptions o = {}) {
  return check_grad(loss, std::span<const Tensor>(wrt.begin(), wrt.size()),
                    std::span<const Feed>(feeds.begin(), feeds.size()), o);
}

}  // namespace ebm
