#pragma once
// A convolutional RBM with probabilistic max-pooling (Lee, Grosse,
// Ranganath & Ng 2009), written as graph ops: K filters of r x r over the
// image's C channels share their weights across the image, and each of the
// K groups of (H - r + 1) x (W - r + 1) hidden units is cut into P x P
// blocks in which at most one unit is on (P = 1: plain binary units).
//
//   I_k = W_k * v + b_k                     (valid cross-correlation, conv2d)
//   E(v, h) = -sum_k h_k . I_k + E_v(v),  E_v = -sum_i c_ch(i) v_i (binary), sum_i (v_i - c_ch(i))^2 / 2 (gaussian)
//   F(v) = E_v(v) - sum_{k, blocks a} log(1 + sum_{i in a} exp(I_k,i))
//   h | v: per block, unit i on with exp(I_i) / (1 + sum_a exp(I)), none with 1 / (1 + ...)
//   v | h: Bernoulli(sigmoid(sum_k W_k (*) h_k + c)) or N(that input, 1)  (conv2d_transpose)
//
// The pooling unit of block a is on when any of its units is: with
// probability 1 - exp(-log(1 + sum exp(I))), taken in single precision as
// 1 - exp(-s): good to about 3e-8 absolutely, not relatively (some 3% off
// at 1e-6), and 0 below about 6e-8. Being an EnergyModel, it
// trains by the library's contrastive_divergence (CD-k or PCD-k, the
// gradient autodiff of the free-energy difference).
//
// An input that is NaN (or makes a hidden input NaN or +inf) makes its
// blocks' free-energy terms, probabilities and draws NaN: sample_h draws NaN
// at every unit of such a block rather than a state.

#include <span>
#include <string>
#include <vector>

#include "graph/graph.hpp"
#include "models/cd.hpp"
#include "models/energy_model.hpp"
#include "models/units.hpp"

namespace ebm {

inline constexpr int64_t kMaxCrbmPool = 16;  // the pooling ops' largest block side (ops/pool.cpp)

struct CrbmConfig {
  ConvGeometry visible{.channels = 1, .height = 28, .width = 28, .size = 9};  // the images and the filters' side
  int64_t filters = 24;
  int64_t pool = 2;                 // blocks of pool x pool hidden units, 1 (no pooling) to kMaxCrbmPool
  Unit visible_unit = Unit::binary;  // binary or gaussian (unit variance)
  float init_std = 0.01f;
  uint64_t seed = 1;
};

class Crbm final : public EnergyModel {
 public:
  static Crbm make(Graph& g, std::string name, const CrbmConfig& config);

  Tensor hidden_input(Tensor v) const;  // I, [B, K H' W']
  Tensor p_h(Tensor v) const;           // each hidden unit's probability of being on
  Tensor p_pool(Tensor v) const;        // each pooling unit's, [B, K (H'/P) (W'/P)]
  Tensor visible_input(Tensor h) const;
  Tensor p_v(Tensor h) const;           // E[v | h]
  Tensor energy(Tensor v, Tensor h) const;  // [B, 1]; h an allowed state (at most one unit on per block)

  Tensor free_energy(Tensor v) const override;  // [B, 1]
  // The same, reusing x = hidden_input(v) already in the graph (one convolution less).
  Tensor free_energy(Tensor v, Tensor x) const;
  // Each group's mean over its units of h [B, K H' W'] (probabilities, say): [B, K].
  Tensor group_means(Tensor h) const;
  Tensor sample_h(Tensor v) const override;
  Tensor sample_v(Tensor h) const override;
  std::vector<Tensor> params() const override { return {w, b, c}; }
  // Each channel's bias from the data's mean per visible unit (C H W of
  // them): the log-odds of the channel's mean (clipped to [1e-3, 1 - 1e-3])
  // for binary units, whose means must lie in [0, 1] (an ebm::Error names
  // the first that does not), the mean itself for gaussian ones.
  void init_visible_bias(std::span<const float> data_mean);

  std::string name;
  CrbmConfig config;
  Tensor w;  // [K, C r r]: filter k's channels, each r x r row-major
  Tensor b;  // [1, K]: one hidden bias per group
  Tensor c;  // [1, C]: one visible bias per channel
  PoolGeometry pooling() const;

 private:
  Tensor expand_b_, expand_c_;  // constants spreading b over its groups' units, c over its channels' pixels
};

// CD-k or PCD-k for a Crbm with the RBM trainer's options (models/cd.hpp):
// momentum, weight decay and L1 on the filters, and the sparsity penalty of
// Lee et al. on each group's mean activation E[h | v0] over its units and
// the batch. A CrbmTrainer drives an RbmFitter like an RBM's.
struct CrbmTrainer : CdSteps {
  Crbm crbm;
};

CrbmTrainer make_crbm_trainer(const Crbm& crbm, CdConfig config);

}  // namespace ebm
