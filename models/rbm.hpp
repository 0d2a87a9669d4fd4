#pragma once
// A Restricted Boltzmann Machine declared as graph ops.
//
//   E(v, h) = E_vis(v) + E_self(h) - b.h - v' W h
//   F(v)    = E_vis(v) + sum_j f(b_j + (v W)_j)
//
// with E_vis and f from the unit types (models/units.hpp); E_self(h) is
// |h|^2/2 for gaussian and rectified hidden units, 0 otherwise. For binary
// and softmax hidden units F(v) = -log sum_h exp(-E(v, h)) exactly; for
// gaussian ones it is -log of the integral over h plus the constant
// (H/2) log 2 pi, which cancels in p(v). Rectified (noisy ReLU)
// hidden units are the exception: their f, -max(0, x)^2 / 2, is chosen so
// that -df/dx is their mean max(0, x), not as the marginal of this energy,
// so F is not -log sum_h exp(-E) for them.
// W is [visible, hidden], b is [1, hidden], c is [1, visible]. With count
// visible units (a replicated softmax, models/units.hpp) the hidden input
// is v W + D b, D = sum_i v_i, and E and F have -D b.h in place of -b.h;
// the visible conditional then needs each row's D, `trials` below. Poisson
// visible units (the constrained Poisson model) need D too, but their hidden
// input is v W + b.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "graph/graph.hpp"
#include "models/energy_model.hpp"
#include "models/units.hpp"

namespace ebm {

struct RbmConfig {
  int64_t visible = 784;
  int64_t hidden = 500;
  Unit visible_unit = Unit::binary;
  Unit hidden_unit = Unit::binary;
  float init_std = 0.01f;  // W ~ N(0, init_std^2), as in Hinton's practical guide
  uint64_t seed = 1;
};

// An EnergyModel, so what the library gives a user's own model (CD and PCD
// through contrastive_divergence, EnergyFitter, exact_log_z_binary) takes
// the shipped RBM too; make_cd_trainer and RbmFitter add what an RBM's
// known form allows (the textbook update without autodiff, log Z, AIS).
struct Rbm : EnergyModel {
  Graph* graph = nullptr;
  std::string name;
  RbmConfig config;
  Tensor w, b, c;

  // Creates the parameters "<name>.W", "<name>.b", "<name>.c".
  static Rbm make(Graph& g, std::string name, RbmConfig config);

  // c_i = log(p_i / (1 - p_i)) from the training data's mean p_i (clipped
  // to [1e-3, 1 - 1e-3]), the guide's start for binary visible units; for
  // softmax, count and poisson units c_i = log of unit i's share of the
  // means' sum (at least 1e-6; a word's share of all words); for gaussian
  // and rectified units c_i = the mean itself. A mean a unit cannot have
  // (outside [0, 1] for binary units, below 0 for the others but gaussian
  // and rectified) is an ebm::Error.
  void init_visible_bias(std::span<const float> data_mean);

  Tensor hidden_input(Tensor v) const;   // v W + b  (v W + D b for count units)
  Tensor visible_input(Tensor h) const;  // h W' + c
  // Each row's number of words D = sum_i v_i, [rows, 1], for count and
  // poisson visible units; an invalid tensor for the others, which need none.
  Tensor trials(Tensor v) const;
  Tensor p_h(Tensor v) const;            // E[h | v]
  Tensor p_v(Tensor h, Tensor trials = {}) const;  // E[v | h]
  Tensor sample_h(Tensor v) const override;
  // Count and poisson visible units need each row's D (an ebm::Error
  // without it); the others ignore `trials`.
  Tensor sample_v(Tensor h) const override { return sample_v(h, Tensor{}); }
  Tensor sample_v(Tensor h, Tensor trials) const;
  // v -> h -> v, keeping each row's D for count and poisson units.
  Tensor gibbs_step(Tensor v) const override { return sample_v(sample_h(v), trials(v)); }
  Tensor free_energy(Tensor v) const override;  // [B, 1]
  // The same, reusing x = hidden_input(v) already in the graph (one GEMM less).
  Tensor free_energy(Tensor v, Tensor x) const;
  Tensor energy(Tensor v, Tensor h) const;    // [B, 1]
  std::vector<Tensor> params() const override { return {w, b, c}; }
};

// Throws, naming `what` (the caller: "exact_log_z"), the RBM, the tensor and
// the entry, when a parameter holds NaN or inf: a log Z or an estimate of it
// from such a model would be NaN, or worse, a finite number that means nothing.
void check_finite_params(const Rbm& r, std::string_view what);

// k steps of alternating Gibbs sampling from the hidden sample h0:
// v ~ p(v|h), h ~ p(h|v). Returns v_k, or E[v | h_{k-1}] for the last step
// when mean_last is set. Count visible units need each row's D (`trials`),
// which the chain keeps.
Tensor gibbs_chain_from_hidden(const Rbm& rbm, Tensor h0, int k, bool mean_last = false, Tensor trials = {});
// The same chain started from visible v0 (h0 ~ p(h|v0) first; D from v0).
Tensor gibbs_chain(const Rbm& rbm, Tensor v0, int k, bool mean_last = false);

}  // namespace ebm
