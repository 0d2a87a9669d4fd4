#pragma once
// A feed-forward sigmoid network with a softmax output, trained by backprop
// through autodiff: the discriminative fine-tuning of Hinton & Salakhutdinov
// (2006). init_from() unrolls a DBN into it: hidden layer l starts from the
// DBN's recognition weights W_l and hidden biases b_l; the softmax layer
// starts small and random, as does everything in a net trained from scratch.
//
//   h_0 = x;  h_{l+1} = sigmoid(h_l W_l + b_l);  logits = h_L W_out + b_out
//   loss = -mean_batch sum_k t_k log softmax(logits)_k

#include <span>
#include <string>
#include <vector>

#include "autodiff/optim.hpp"
#include "graph/graph.hpp"

namespace ebm {

struct Dbn;
struct SoftmaxNet;
class Executor;

struct ClassifierConfig {
  std::vector<int64_t> layers{784, 500, 500, 2000};  // input, then hidden layers
  int64_t classes = 10;
  int64_t batch = 100;
  SgdOptions sgd{.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.0f};
  float init_std = 0.01f;     // weights ~ N(0, init_std^2) ...
  float glorot_scale = 0.0f;  // ... or, when > 0, N(0, (glorot_scale^2) 2 / (fan_in + fan_out)):
                              // 4 suits sigmoid units trained from scratch (Glorot & Bengio 2010)
  uint64_t seed = 1;
};

struct Classifier {
  Graph* graph = nullptr;
  std::string name;
  ClassifierConfig config;
  std::vector<Tensor> w, b;  // hidden layers, then the softmax layer last
  Tensor x, t;               // a training batch and its one-hot labels
  Tensor logits, loss;
  Optimizer opt;

  static Classifier make(Graph& g, std::string name, const ClassifierConfig& config);

  // Copies the DBN's recognition weights into the hidden layers; the DBN's
  // layer sizes must match config.layers, and its hidden units be binary in
  // every layer (the net's sigmoid layers are their Q(h | v); a gaussian top
  // layer, say, is refused by name) and its visible units not count units.
  void init_from(const Dbn& dbn);
  // The forward pass on another input of shape [rows, layers[0]]: the top
  // hidden layer (features) or the logits.
  Tensor features(Tensor input) const;
  Tensor predict(Tensor input) const;
  std::vector<Tensor> params() const;
  // The view a Finetuner trains.
  SoftmaxNet net() const;
};

}  // namespace ebm
