#pragma once
// A deep autoencoder unrolled from a DBN (Hinton & Salakhutdinov 2006): the
// encoder is the DBN's recognition pass, the decoder its generative pass,
// and backprop through autodiff fine-tunes both, untied, to reconstruct
// the input.
//
//   encoder  h_0 = x;  h_{l+1} = sigmoid(h_l We_l + be_l);  the code z = h_L is
//            linear (no sigmoid) when config.linear_code
//   decoder  g_L = z;  g_l = sigmoid(g_{l+1} Wd_l' + bd_l);  the output g_0
//            is sigmoid(.) for binary data (loss: cross-entropy against the
//            pixels, in nats per image) and linear for gaussian data (loss:
//            squared error per image); for count data (bags of words) the
//            output is softmax(.), the words' probabilities (loss: the
//            document's cross-entropy -sum_i v_i log p_i, in nats), and the
//            first layer's input is v We_0 + D be_0 (D = sum_i v_i), as in
//            the replicated-softmax RBM it starts from; poisson data (words
//            too, from a constrained Poisson RBM) the same, but for the
//            first layer's input, v We_0 + be_0
//
// Wd_l is stored [layers[l], layers[l + 1]], as We_l and the RBM's W are;
// init_from() copies RBM l's W into both and its b and c into be_l and bd_l,
// so before fine-tuning the net computes the DBN's mean-field up-down pass.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "autodiff/cg.hpp"
#include "autodiff/optim.hpp"
#include "graph/graph.hpp"
#include "models/units.hpp"

namespace ebm {

struct Dbn;

// sgd and adam are update nodes run once per mini-batch; cg (the original
// work's) runs a few line searches of conjugate gradients on each
// mini-batch (autodiff/cg.hpp), with AutoencoderFitter as the driver.
enum class AeOptimizer { sgd, adam, cg };
std::string_view optimizer_name(AeOptimizer o);  // "sgd", "adam", "cg"

struct AutoencoderConfig {
  std::vector<int64_t> layers{784, 1000, 500, 250, 30};  // input, hidden layers, code
  Unit data_unit = Unit::binary;  // binary (data in [0, 1]), gaussian (real-valued), count or poisson (words)
  bool linear_code = true;
  int64_t batch = 100;
  AeOptimizer optimizer = AeOptimizer::sgd;
  SgdOptions sgd{.lr = 0.01f, .momentum = 0.9f, .weight_decay = 0.0f};
  AdamOptions adam{.lr = 1e-3f};
  CgOptions cg{};                  // line searches per mini-batch, and the searches' conditions
  float cg_weight_decay = 0.0f;    // cg: adds cg_weight_decay |w|^2 / 2 over every parameter to the loss
  float init_std = 0.01f;  // the random start's weights ~ N(0, init_std^2)
  // Semantic hashing (Salakhutdinov & Hinton 2009): while training, noise
  // N(0, code_noise^2) is added to the code units' total input, so that a
  // sigmoid code learns to sit near 0 or 1 and thresholds to bits with
  // little loss. encode() adds none. 0: off.
  float code_noise = 0.0f;
  uint64_t seed = 1;
};

struct Autoencoder {
  Graph* graph = nullptr;
  std::string name;
  AutoencoderConfig config;
  std::vector<Tensor> we, be;  // encoder, layer l -> l + 1
  std::vector<Tensor> wd, bd;  // decoder, layer l + 1 -> l
  Tensor x;                    // a training batch
  Tensor loss;                 // cross-entropy or squared error, per image
  std::vector<Tensor> grads;   // the loss's gradients, one per params() entry
  Optimizer opt;               // sgd or adam's update nodes (none for cg)

  static Autoencoder make(Graph& g, std::string name, const AutoencoderConfig& config);

  // Copies the DBN's weights (the DBN must be in the same graph, its layer
  // sizes equal config.layers, and its unit types match: config.data_unit
  // for the data, binary hidden layers, and a gaussian top layer for a
  // linear code).
  void init_from(const Dbn& dbn);

  int depth() const { return static_cast<int>(we.size()); }
  Tensor encode(Tensor input) const { return encode(input, 0.0f); }
  Tensor decode(Tensor code) const;  // the reconstruction (probabilities, or values)
  // decode(encode(input)); for count and poisson data the expected counts D p.
  Tensor reconstruct(Tensor input) const;
  std::vector<Tensor> params() const;

 private:
  Tensor encode(Tensor input, float noise) const;
  Tensor decode_output(Tensor code) const;  // the output layer's total input
};

}  // namespace ebm
