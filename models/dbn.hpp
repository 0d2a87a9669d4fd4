#pragma once
// A Deep Belief Network: a stack of RBMs. rbms[l] models the representation
// of layer l (the data for l = 0) with layer l + 1 as its hidden units. The
// lower layers form a directed sigmoid belief net (generative weights W_l,
// visible biases c_l); the top RBM is an undirected associative memory.
//
//   recognition  Q(h_{l+1} | h_l) = sigmoid(h_l W_l + b_l)
//   generation   p(h_l | h_{l+1}) = sigmoid(h_{l+1} W_l' + c_l)
//
// Greedy layer-wise training (Hinton, Osindero & Teh 2006) trains rbms[0] on
// the data, then rbms[l] on Q(h_l | data) with the layers below frozen. A new
// layer started from the transpose of the layer below (init_from_below)
// leaves the variational bound on log p(v) where it was (for the second
// layer, equal to the first RBM's log-likelihood). The theory guarantees
// that training the new layer can then only raise the bound when that
// training is maximum likelihood on samples of Q(h_l | data); CD-1 on Q's
// probabilities is neither, and can lower it (measured exactly on tiny
// models: changes of the mean bound from -0.13 to +0.04 nats).

#include <filesystem>
#include <string>
#include <vector>

#include "models/data_source.hpp"
#include "models/rbm.hpp"

namespace ebm {

class Executor;

struct DbnConfig {
  std::vector<int64_t> layers{784, 500, 500, 2000};
  float init_std = 0.01f;
  uint64_t seed = 1;
  Unit visible_unit = Unit::binary;     // the data layer's units (gaussian: real-valued data)
  Unit top_hidden_unit = Unit::binary;  // the top layer's (gaussian: a linear code, as a deep autoencoder's)
};

struct Dbn {
  Graph* graph = nullptr;
  std::string name;
  std::vector<Rbm> rbms;

  static Dbn make(Graph& g, std::string name, const DbnConfig& config);
  // Every RBM's W, b and c, bottom up (the first `layers` RBMs'; -1: all).
  std::vector<Tensor> params(int layers = -1) const;

  int depth() const { return static_cast<int>(rbms.size()); }
  // E[h_l | v] through the recognition weights of layers 0 .. l-1.
  Tensor up(Tensor v, int l) const;
  // From a state of layer l down to the data layer through the generative
  // weights, with probabilities (the mean-field top-down pass).
  Tensor down(Tensor h, int l) const;
  // rbms[l] := rbms[l-1]' (W, b and c swapped), when the shapes allow.
  void init_from_below(int l);
  // The same stack (sizes, units, values) in graph `g`: a measurement run
  // on it adds no node to this stack's graph, whose node ids key the
  // training's draws.
  Dbn clone(Graph& g) const;
};

// The whole stack as one checkpoint (models/checkpoint.hpp: a folder of
// .npy files numpy reads, "W0", "b0", "c0", "W1", ..., and a manifest with
// the layer sizes and unit types; written to a temporary folder and
// renamed). load_dbn needs a DBN of the same layer sizes and unit types,
// and copies nothing when the checkpoint differs (an ebm::Error names
// what). The samples' fitters checkpoint each layer as it trains instead
// (with its velocities, to resume); these are for a finished stack.
void save_dbn(const Dbn& dbn, const std::filesystem::path& dir);
void load_dbn(Dbn& dbn, const std::filesystem::path& dir);

// Copies each RBM l's recognition weights W and hidden biases b into w[l]
// and b[l], the first layers of a feed-forward net unrolled from the DBN
// (a classifier, a deep kernel), which must have at least as many layers
// of the same shapes; `who` names the net in the errors. The DBN may be in
// another graph than the net (its values are copied).
void copy_recognition_weights(const Dbn& dbn, std::span<const Tensor> w, std::span<const Tensor> b,
                              std::string_view who);

// The rows of layer l's representation: images of `images` converted by
// `images.fill`, passed up through the frozen layers 0 .. l-1 on `ex`, in
// whole batches of `batch` rows (the source gives only those: read it with
// for_each_batch at that batch size, as the fitters do).
// Probabilities by default; with sample_up, a Bernoulli draw keyed by
// (seed, epoch, row) so the source stays a pure function of (rows, epoch).
DataSource layer_source(const Dbn& dbn, int l, Executor& ex, const DataSource& images, int64_t batch,
                        bool sample_up = false, uint64_t seed = 0);

// The rows of `images` passed through a graph: each batch is fed to `x`
// ([batch, images.dim]) and `h` ([batch, n]) is computed on `ex`; the rows
// are h's, or with sample_up a Bernoulli draw from them keyed by (seed,
// epoch, row). layer_source is this with h the recognition pass; a
// convolutional DBN's layers use it with pooled probabilities.
DataSource mapped_source(Executor& ex, Tensor x, Tensor h, const DataSource& images, bool sample_up = false,
                         uint64_t seed = 0);

}  // namespace ebm
