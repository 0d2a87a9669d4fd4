#pragma once
// An energy model the tests build through the EnergyModel interface alone:
// a semi-restricted RBM (a model the library does not ship) written as the
// README's guide says.

#include <cstdint>
#include <vector>

#include "graph/functions.hpp"
#include "models/energy_model.hpp"
#include "models/rbm.hpp"

namespace ebm::test_models {

// A semi-restricted RBM (lateral connections between the visible units,
// symmetric with a zero diagonal) built as the README's guide says, with
// its names (b the hidden biases, c the visible ones):
// E(v, h) = -v c' - h b' - v W h' - v L v' / 2, so
// F(v) = -v c' - v L v' / 2 - sum_j softplus(b_j + (v W)_j), with
// L = (A + A') * off_diagonal built once from the free parameter A, so
// that training keeps it symmetric with a zero diagonal. Its visible units
// depend on each other given h, so its chain is its own step: h from v,
// then each visible unit in turn from h and the others' current states,
// one site at a time through slice_cols and concat. With `lateral` false
// the sweep forgets L (the mistake the chi-square test must catch).
inline std::vector<float> off_diagonal(int64_t n) {
  std::vector<float> m(static_cast<size_t>(n * n), 1.0f);
  for (int64_t i = 0; i < n; ++i) m[static_cast<size_t>(i * n + i)] = 0.0f;
  return m;
}

struct SemiRbm final : EnergyModel {
  Tensor w, b, c, a, l;
  int64_t visible;
  bool lateral = true;
  SemiRbm(Graph& g, int64_t nv, int64_t nh)
      : w(g.param("w", {nv, nh})), b(g.param("b", {1, nh})), c(g.param("c", {1, nv})), a(g.param("a", {nv, nv})),
        l((a + transpose(a)) * g.constant({nv, nv}, off_diagonal(nv), "off_diagonal")), visible(nv) {}
  Tensor free_energy(Tensor v) const override {
    return -(matmul(v, c, {.tb = true}) + 0.5f * sum(matmul(v, l) * v, 1) + sum(softplus(affine(v, w, b)), 1));
  }
  Tensor sample_h(Tensor v) const override { return bernoulli(affine_sigmoid(v, w, b)); }
  Tensor gibbs_step(Tensor v) const override {
    const Tensor top_down = affine(sample_h(v), w, c, true);  // c + W h, every unit at once
    for (int64_t i = 0; i < visible; ++i) {
      Tensor input = slice_cols(top_down, i, i + 1);
      if (lateral) input = input + matmul(v, slice_cols(l, i, i + 1));  // L_ii = 0: unit i's own state adds nothing
      std::vector<Tensor> parts;
      if (i > 0) parts.push_back(slice_cols(v, 0, i));
      parts.push_back(bernoulli(sigmoid(input)));
      if (i + 1 < visible) parts.push_back(slice_cols(v, i + 1, visible));
      v = concat(parts);
    }
    return v;
  }
  std::vector<Tensor> params() const override { return {w, b, c, a}; }
};

}  // namespace ebm::test_models
