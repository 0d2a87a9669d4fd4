#pragma once
// Contrastive divergence as autodiff. The objective
//
//   L = mean_batch F(v0) - mean_batch F(stop_gradient(v_model))
//
// has exactly the CD gradient dL/dW = -(v0' E[h|v0] - vm' E[h|vm]) / B, where
// v_model ends a k-step Gibbs chain started at the data (CD-k) or continues
// persistent chains kept across updates (PCD, Tieleman 2008). Regularisers
// are further loss terms: L1 on W, and a sparsity penalty pulling each hidden
// unit's mean activation q_j towards a target t:
//   cost * sum_j -(t log q_j + (1 - t) log(1 - q_j)).
// Weight decay (L2) is the optimizer's, on W only.

#include <string>

#include "autodiff/optim.hpp"
#include "models/rbm.hpp"

namespace ebm {

enum class CdMethod { cd, pcd };

struct CdConfig {
  CdMethod method = CdMethod::cd;
  int k = 1;
  int64_t batch = 100;
  float lr = 0.1f;
  float momentum = 0.5f;
  float weight_decay = 2e-4f;  // L2 on W
  float l1 = 0.0f;             // L1 on W
  float sparsity_target = 0.0f;  // 0: unset; any other value must lie in (0, 1), with or without a cost
  float sparsity_cost = 0.0f;  // 0: no sparsity penalty
  // CD only: E[v|h] instead of a sample at the chain's end. PCD ignores it (its
  // persistent chains keep sampled states), and make_cd_trainer's config holds
  // false for PCD, whatever was asked.
  bool mean_field_last = false;
};

// The graph a CD trainer runs, whatever its model: the data batch, the
// objective, the reconstruction error, the update and the optimizers.
struct CdSteps {
  CdConfig config;
  Tensor v0;           // the data batch [batch, visible]
  Tensor objective;    // L above (without regularisers)
  Tensor recon_error;  // |v0 - E[v|h0]|^2 summed over units, averaged over the batch
  Tensor step;         // one parameter update (and, for PCD, the chains' advance)
  Tensor negative;     // the model sample v_model (negative phase) of this step
  Tensor chain;        // PCD fantasy particles [batch, visible]; invalid for CD
  Optimizer weights;   // W, with weight decay
  Optimizer biases;    // b and c

  void set_lr(float lr);
  void set_momentum(float m);
};

struct CdTrainer : CdSteps {
  Rbm rbm;
};

// Checks a CD configuration's numbers; `who` names the trainer in the error.
void check_cd_config(const std::string& who, const CdConfig& config);
// The same, and refuses a sparsity cost for hidden units whose mean
// activation is not a probability (gaussian, rectified): the penalty's
// log q and log(1 - q) are undefined there. Binary and softmax hidden units
// take it (make_cd_trainer checks this way).
void check_cd_config(const std::string& who, const CdConfig& config, Unit hidden_unit);

// Ends a trainer's graph: the loss t.objective plus the configured L1 on w
// and sparsity penalty on `hidden_means` (the hidden units' or groups' mean
// activations over the batch, [1, n]); SGD with weight decay on w, plain on
// b and c; t.step runs both and `chain_update` (PCD's advance) when valid.
void add_cd_updates(CdSteps& t, Tensor w, Tensor b, Tensor c, Tensor hidden_means, Tensor chain_update);

CdTrainer make_cd_trainer(const Rbm& rbm, CdConfig config);

// Sets config.method and config.k from "cd1", "cdK" (e.g. "cd25"), "pcd" or
// "pcdK"; anything else is an ebm::Error naming the accepted forms.
void parse_cd_method(std::string_view text, CdConfig& config);

}  // namespace ebm
