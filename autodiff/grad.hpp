#pragma once
// Reverse-mode autodiff by graph extension. grad() walks the nodes from the
// loss back to the parameters and appends ordinary backward nodes from each
// op's VJP rule; a value used several times receives the sum of its
// gradients. Sampling ops, sign and stop_gradient pass no gradient; a path
// through a node a gradient made (sigmoid_grad, gp_nll_grad...: a gradient
// of a gradient) is an ebm::Error, not a silent zero. The backward nodes
// run on the same Executor and appear in the same profile.

#include <span>
#include <vector>

#include "graph/graph.hpp"

namespace ebm {

// d loss / d w for each w in wrt; loss must be a scalar [1, 1]. A w the loss
// does not depend on gets a zero constant.
std::vector<Tensor> grad(Tensor loss, std::span<const Tensor> wrt);
inline std::vector<Tensor> grad(Tensor loss, std::initializer_list<Tensor> wrt) {
  return grad(loss, std::span<const Tensor>(wrt.begin(), wrt.size()));
}

}  // namespace ebm
