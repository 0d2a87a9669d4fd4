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

  // Checks that each layer fits the one below (a filter no larger than its
  // input, pooling blocks dividing the hidden planes) and names the first
  // that does not.
  static Cdbn make(Graph& g, std::string name, const CdbnConfig& config);

  int depth() const { return static_cast<int>(crbms.size()); }
  // Layer l's input: the image for l = 0, else the pooling units' probabilities of layer l - 1.
  Tensor up(Tensor v, int l) const;
  // The pooling units' probabilities of layer l, [B, K_l (H_l/P_l) (W_l/P_l)].
  Tensor pooled(Tensor v, int l) const { return up(v, l + 1); }
  int64_t pooled_size(int l) const;
};

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
