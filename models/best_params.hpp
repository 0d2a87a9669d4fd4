#pragma once
// The parameters of a model at its best epoch so far, as the fine-tuning
// fitters keep them: one untrainable copy "<param>.best" per parameter in
// the same graph (so checkpoints save them like any tensor).

#include <algorithm>
#include <utility>
#include <vector>

#include "graph/graph.hpp"

namespace ebm {

class BestParams {
 public:
  BestParams() = default;
  // Creates the copies and fills them with the parameters' current values.
  BestParams(Graph& g, std::vector<Tensor> params) : g_(&g), params_(std::move(params)) {
    for (Tensor p : params_) copies_.push_back(g.param(g.label(p.id) + ".best", p.shape(), 0.0f, false));
    keep();
  }
  void keep() { copy(params_, copies_); }     // parameters -> copies
  void restore() { copy(copies_, params_); }  // copies -> parameters
  const std::vector<Tensor>& copies() const { return copies_; }

 private:
  void copy(const std::vector<Tensor>& from, const std::vector<Tensor>& to) {
    for (size_t i = 0; i < from.size(); ++i) std::ranges::copy(g_->value(from[i]), g_->value(to[i]).begin());
  }

  Graph* g_ = nullptr;
  std::vector<Tensor> params_, copies_;
};

}  // namespace ebm
