#pragma once
// The joint model of images and labels of Hinton, Osindero & Teh (2006):
// a DBN whose top RBM sees the penultimate layer p together with K softmax
// label units y:
//
//   E(p, y, h) = -c.p - d.y - b.h - p' W h - y' U h
//   F(p, y)    = -c.p - d.y - sum_j softplus(b_j + (p W + y U)_j)
//   p(y = k | p) is proportional to exp(-F(p, e_k)): classification by free energy,
//   exact for p(y | p) given the top-level features p (no sampling). It is not
//   p(y | image): p comes from the recognition pass's probabilities, not from
//   summing over the lower layers' states.
//
// Up-down fine-tuning (contrastive wake-sleep) unties the lower layers into
// recognition weights R_l, r_l and generative weights G_l, g_l, then per
// batch, with sg = stop_gradient and every h below a sample:
//   wake   (up pass with R, clamped labels): maximise log p(h_l | sg(h_{l+1})) under G
//   top    CD-k in the top RBM from sg(wake state, label)
//   sleep  (down pass with G from the top RBM's sample): maximise
//          log q(h_{l+1} | sg(h_l)) under R
// Each phase is a loss (bce_logits / the CD objective) over the same ops,
// so one grad() and one SGD step apply all the wake-sleep rules at once.

#include <string_view>
#include <vector>

#include "autodiff/optim.hpp"
#include "models/dbn.hpp"

namespace ebm {

// How the top RBM's Gibbs chain carries its label units from one step to the
// next (and into the negative statistics).
enum class ChainLabels {
  sampled,        // a one-hot draw from softmax(h U' + d)
  probabilities,  // softmax(h U' + d) itself, as in Hinton et al.'s (2006) code: less noise in U's statistics
};

struct LabelledRbm {
  Graph* graph = nullptr;
  std::string name;
  int64_t visible = 0, labels = 0, hidden = 0;
  Tensor w, u, b, c, d;  // W [visible, hidden], U [labels, hidden], biases

  static LabelledRbm make(Graph& g, std::string name, int64_t visible, int64_t labels, int64_t hidden,
                          float init_std, uint64_t seed);
  Tensor hidden_input(Tensor p, Tensor y) const;  // p W + y U + b
  Tensor free_energy(Tensor p, Tensor y) const;   // [B, 1]
  // -F(p, e_k) - c.p for every label k: [B, K] scores whose softmax is p(y | p)
  // (c.p is the same for every k, so softmax and argmax are those of -F(p, e_k)).
  Tensor label_scores(Tensor p) const;
  std::vector<Tensor> params() const { return {w, u, b, c, d}; }
};

// CD-k for the labelled RBM on (p, y) data batches.
struct LabelledCd {
  Tensor p0, y0;  // inputs
  Tensor objective, recon_error, step;
  Optimizer opt;
};
LabelledCd make_labelled_cd(const LabelledRbm& top, int64_t batch, int k, SgdOptions sgd_options,
                            ChainLabels labels = ChainLabels::sampled);

// The untied network for up-down fine-tuning, initialised from a pretrained
// DBN's lower RBMs (all but its last) and a labelled top RBM.
struct UpDown {
  std::vector<Tensor> r, rb, g, gb;  // recognition / generative weights and biases, per lower layer
  LabelledRbm top;
  Tensor v, y;                       // inputs: pixels and one-hot labels
  Tensor wake_loss, sleep_loss, top_objective, step;
  std::vector<Tensor> wake_states, sleep_states;  // sampled states, bottom up (for inspection and tests)
  Tensor negative_labels;                         // the top chain's last labels (a sample or probabilities)
  Tensor negative_hidden;                         // the top chain's last hidden sample, which drew them
  ChainLabels labels = ChainLabels::sampled;
  Optimizer opt;

  // The recognition pass (probabilities) to the penultimate layer, and the
  // label scores there: argmax is the model's class.
  Tensor classify(Tensor pixels) const;
  // The generative pass: the penultimate layer's states (or probabilities)
  // down to pixel probabilities by G, each layer's probabilities passed on
  // (as Dbn::down does with the tied weights).
  Tensor generate(Tensor pen) const;
  // Both refuse an empty UpDown (default-made, or JointTrainer::updown_model()
  // before up_down()) and an input of another width, naming the call.
};

// Refused up front, before anything is added to the graph (an ebm::Error
// naming `call`): an empty model, the two in different graphs, a top RBM
// whose visible layer is not the DBN's top layer, or units other than binary
// in the DBN (the up-down passes sample binary states at every layer).
void check_joint_models(const Dbn& lower, const LabelledRbm& top, std::string_view call);

// Every argument is checked (check_joint_models, batch, top_k) before the
// untied parameters are added to the graph, so a refused call leaves the
// graph as it was. One up-down network per DBN in a graph: a second is
// refused (with_top_k makes another chain over the same parameters).
UpDown make_up_down(const Dbn& lower, const LabelledRbm& top, int64_t batch, int top_k, SgdOptions sgd_options,
                    ChainLabels labels = ChainLabels::sampled);
// The same model and parameters (R, G, the top RBM, the inputs, the chain's labels) with a
// top-level chain of `top_k` steps: a new step and a new optimizer (its
// velocities start at zero). For schedules that lengthen the chain.
UpDown with_top_k(const UpDown& ud, int top_k, SgdOptions sgd_options);

}  // namespace ebm
