#pragma once
// A convolutional DBN (Lee, Grosse, Ranganath & Ng 2009): a stack of
// convolutional RBMs with probabilistic max-pooling, trained greedily. Layer
// l + 1's visible units are layer l's pooling units, one channel per filter
// group, read as probabilities: Q(p_l | v) passed up through the layers
// below, as a DBN's recognition pass passes its hidden probabilities.
//
//   image [C, H, W] --crbm 0--> pooled [K0, H0/P0, W0/P0] --crbm 1--> pooled [K1, ...] ...
//                  (Hl = the layer's input side - its filter side + 1)

#include <string>
#include <vector>

#include "autodiff/optim.hpp"
#include "models/crbm.hpp"
#include "models/data_source.hpp"

namespace ebm {

class Executor;
struct SoftmaxNet;

struct CdbnLayer {
  int64_t filters = 24;
  int64_t size = 9;  // filters of size x size over every channel of the layer's input
  int64_t pool = 2;
};

struct CdbnConfig {
  int64_t channels = 1, height = 28, width = 28;  // the images
  std::vector<CdbnLayer> layers{{24, 9, 2}, {40, 5, 2}};
  Unit visible_unit = Unit::binary;  // the image layer's units (gaussian: real-valued data)
  float init_std = 0.01f;
  uint64_t seed = 1;
};

struct Cdbn {
  Graph* graph = nullptr;
  std::string name;
  std::vector<Crbm> crbms;  // crbms[l] is named "<name>.crbm<l>"

  // Checks that each layer fits the one below (at least one filter, a
  // filter no larger than its input, pooling blocks of 1 to kMaxCrbmPool
  // dividing the hidden planes) and names the first that does not, and how.
  static Cdbn make(Graph& g, std::string name, const CdbnConfig& config);

  int depth() const { return static_cast<int>(crbms.size()); }
  // Layer l's input: the image for l = 0, else the pooling units' probabilities of layer l - 1.
  Tensor up(Tensor v, int l) const;
  // The pooling units' probabilities of layer l, [B, K_l (H_l/P_l) (W_l/P_l)].
  Tensor pooled(Tensor v, int l) const { return up(v, l + 1); }
  int64_t pooled_size(int l) const;
};

// Gibbs sampling in the stack read as one undirected model, the way Lee et
// al. (2009) infer with all its layers at once: the layers' energies added,
//   E(v, h_0, ..., h_{L-1}) = E_0(v, h_0) + sum_{l=1}^{L-1} E_l(p_{l-1}, h_l),
// where p_l = pool_sum(h_l) are layer l's pooling units (on when one unit of
// their block is). So a detection unit of layer l < L - 1 gets, besides its
// bottom-up input, the top-down input of its block's pooling unit: layer
// l + 1's visible input there, c_{l+1} + conv2d_transpose(h_{l+1}, W_{l+1}).
// A sweep draws h_0 | v, h_1, then h_1 | p_0, h_2, ..., h_{L-1} | p_{L-2},
// then v | h_0, each given the newest states of its neighbours. Clamped,
// the pixels where `mask` is 1 keep `known`'s values, and the chain samples
// the others given them (filling in occluded pixels).
struct CdbnGibbsConfig {
  int64_t batch = 100;
  int layers = 0;      // the stack's lowest `layers` CRBMs (0: all)
  bool clamp = false;  // take the inputs `known` and `mask`
};

struct CdbnGibbs {
  Tensor x;               // input [batch, C H W]: what `start` sets v to
  Tensor known, mask;     // inputs of x's shape, when clamped (mask: 1 known, 0 sampled)
  Tensor v;               // the chains' pixels (a parameter the runs assign)
  std::vector<Tensor> h;  // the chains' detection units, one per layer
  Tensor start;           // v = x, then each h_l drawn from its bottom-up input alone (an upward pass)
  Tensor sweep;           // one sweep (fed `known` and `mask` when clamped)
  Tensor mean_v;          // run with `sweep`: E[v | h_0] at the sweep's h_0, known pixels replaced by `known`'s
};

// Names its inputs and states "<name>.x", "<name>.v", "<name>.h<l>" ...
CdbnGibbs make_cdbn_gibbs(const Cdbn& cdbn, const std::string& name, const CdbnGibbsConfig& config);

// Samples of the stack as a DBN, the generative model its greedy training
// bounds: Gibbs sampling in the top CRBM, whose visible units are the
// pooling units of the layer below, and below it each layer's input drawn
// given its pooling units, P_l(input | p_l), by Gibbs sampling in CRBM l
// with p_l held (maxpool_sample_given: a block whose pooling unit is off
// has no unit on, one that is on has exactly one). Run `top` for the top
// chain; then, from the layer below the top down to layer 0, run down[l]
// until layer l's chain has settled on the state above it (each layer's
// chain is the DBN's conditional only while the state above it holds).
// A one-layer stack is its CRBM's chain: `down` is empty.
struct CdbnSampler {
  Tensor x;                   // input [batch, C H W]: images `start` passes up
  std::vector<Tensor> state;  // state[l]: layer l's input (state[0] the pixels, then pooling units; parameters)
  Tensor start;               // state[0] = x, each state[l + 1] a draw of layer l's pooling units given state[l]
  Tensor top;                 // one Gibbs step of the top CRBM (it rewrites the top layer's input)
  std::vector<Tensor> down;   // down[l]: one step of layer l's chain, state[l] given state[l + 1]
  Tensor mean_v;              // E[v | h_0] of the step that draws h_0: run with down[0] (with `top` for one layer)
};

// Names its input and states "<name>.x", "<name>.s<l>".
CdbnSampler make_cdbn_sampler(const Cdbn& cdbn, const std::string& name, int64_t batch);

// A convolutional DBN unrolled into a convnet for backprop: the pooling
// units' probabilities of the chosen layers feed a softmax,
//   logits = sum_{l in feature_layers} pooled_l(x) V_l + d,
// (one linear map on their concatenation), and fine-tuning updates the
// CRBMs' filters and hidden biases (shared with `cdbn`: it changes them)
// with the softmax's V_l, d.
struct CdbnClassifierConfig {
  std::vector<int> feature_layers{0, 1};
  int64_t classes = 10;
  int64_t batch = 100;
  SgdOptions sgd{.lr = 0.01f, .momentum = 0.9f, .weight_decay = 0.0f};
  float init_std = 0.01f;  // V_l ~ N(0, init_std^2)
  uint64_t seed = 1;
};

struct CdbnClassifier {
  std::string name;
  Cdbn cdbn;
  CdbnClassifierConfig config;
  std::vector<Tensor> v;  // one per feature layer
  Tensor d;
  Tensor x, t, logits, loss;
  Optimizer opt;

  static CdbnClassifier make(Graph& g, const std::string& name, const Cdbn& cdbn, const CdbnClassifierConfig& config);
  Tensor predict(Tensor input) const;
  std::vector<Tensor> params() const;
  SoftmaxNet net() const;  // for a Finetuner
};

// Layer l's training rows: `images` passed up through the frozen layers
// 0 .. l-1 on `ex`, in batches of `batch` (mapped_source).
DataSource cdbn_layer_source(const Cdbn& cdbn, int l, Executor& ex, const DataSource& images, int64_t batch);

}  // namespace ebm
