#pragma once
// Optimizers as update ops that run inside the compiled training graph.
// Their hyper-parameters live in small graph parameters, so a schedule can
// change the learning rate between runs without recompiling.

#include <cstddef>
#include <limits>
#include <span>
#include <string_view>
#include <vector>

#include "graph/graph.hpp"

namespace ebm {

struct SgdOptions {
  float lr = 0.1f;
  float momentum = 0.0f;
  float weight_decay = 0.0f;  // L2: adds weight_decay * w to the gradient
};

struct AdamOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
};

struct Optimizer {
  Tensor step;                // run this target to take one step
  std::vector<Tensor> hyper;  // hyper-parameter rows; element 0 is the learning rate
  std::vector<Tensor> state;  // velocities / moments (persistent, not trainable)

  void set_lr(float lr);
  float lr() const;
  void set_momentum(float m);  // sgd: momentum; adam: beta1
  float momentum() const;
  void set_weight_decay(float wd);
  float weight_decay() const;
  size_t decay_slot = 2;  // where a hyper-parameter row holds the weight decay (adam: 4)
};

// Throws an ebm::Error naming `who`, `what` and the range unless
// lo <= v < hi (with no hi, v finite); NaN never passes. The optimizers and
// the trainers check their hyper-parameters with it.
void check_hyper(std::string_view who, std::string_view what, float v, float lo,
                 float hi = std::numeric_limits<float>::infinity());

// vel = momentum vel - lr (g + wd w);  w += vel.  lr >= 0, 0 <= momentum < 1,
// weight_decay >= 0 (an ebm::Error otherwise; set_lr, set_momentum and set_weight_decay too).
Optimizer sgd(std::span<const Tensor> params, std::span<const Tensor> grads, SgdOptions o = {});
// lr >= 0, 0 <= beta1, beta2 < 1, eps > 0, weight_decay >= 0.
Optimizer adam(std::span<const Tensor> params, std::span<const Tensor> grads, AdamOptions o = {});

}  // namespace ebm
