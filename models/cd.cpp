#include "models/cd.hpp"

#include <limits>
#include <string>

#include "autodiff/grad.hpp"
#include "graph/functions.hpp"

namespace ebm {

void CdSteps::set_lr(float lr) {
  weights.set_lr(lr);
  biases.set_lr(lr);
}

void CdSteps::set_momentum(float m) {
  weights.set_momentum(m);
  biases.set_momentum(m);
}

void parse_cd_method(std::string_view text, CdConfig& c) {
  const bool pcd = text.starts_with("pcd"), cd = !pcd && text.starts_with("cd");
  const std::string_view k = text.substr(pcd ? 3 : std::min<size_t>(2, text.size()));
  if ((!pcd && !cd) || k.find_first_not_of("0123456789") != std::string_view::npos || k.starts_with('0') ||
      k.size() > 4)
    throw Error("method '{}': expected cd1 (or cd), cdK (K a positive number, e.g. cd25), pcd (pcd1) or pcdK", text);
  c.method = pcd ? CdMethod::pcd : CdMethod::cd;
  c.k = k.empty() ? 1 : std::stoi(std::string(k));
}

void check_cd_config(const std::string& who, const CdConfig& cfg) {
  if (cfg.k < 1 || cfg.batch < 1)
    throw Error("{}: k = {} and batch = {}; expected both at least 1", who, cfg.k, cfg.batch);
  check_hyper(who, "lr", cfg.lr, 0.0f);
  check_hyper(who, "momentum", cfg.momentum, 0.0f, 1.0f);
  check_hyper(who, "weight_decay", cfg.weight_decay, 0.0f);
  check_hyper(who, "l1", cfg.l1, 0.0f);
  check_hyper(who, "sparsity_cost", cfg.sparsity_cost, 0.0f);
  // The penalty takes log t and log(1 - t). A target set without a cost is
  // checked too (it would be used once a cost is set); 0 is the unset default.
  if (cfg.sparsity_cost > 0.0f || cfg.sparsity_target != 0.0f)
    check_hyper(who, "sparsity_target", cfg.sparsity_target, std::numeric_limits<float>::min(), 1.0f);
}

void check_cd_config(const std::string& who, const CdConfig& cfg, Unit hidden_unit) {
  check_cd_config(who, cfg);
  // The penalty takes log q and log(1 - q) of each hidden unit's mean activation q over the batch: a probability
  // for binary units (sigmoid) and softmax groups (each row's softmax), but any real for gaussian units and any
  // value >= 0 for rectified ones, where the logs are undefined and the gradient drives q away from the target.
  if (cfg.sparsity_cost > 0.0f && hidden_unit != Unit::binary && hidden_unit != Unit::softmax)
    throw Error("{}: sparsity_cost = {} with {} hidden units, whose mean activation is not a probability (the penalty "
                "takes log q and log(1 - q)); expected binary or softmax hidden units for a sparsity penalty, or "
                "sparsity_cost = 0",
                who, cfg.sparsity_cost, to_string(hidden_unit));
}

void add_cd_updates(CdSteps& t, Tensor w, Tensor b, Tensor c, Tensor hidden_means, Tensor chain_update) {
  const CdConfig& cfg = t.config;
  Tensor loss = t.objective;
  if (cfg.l1 > 0.0f) loss = loss + sum(ebm::abs(w)) * cfg.l1;
  if (cfg.sparsity_cost > 0.0f) {
    const float s = cfg.sparsity_target;
    const Tensor ce = -(ebm::log(hidden_means) * s + ebm::log(1.0f - hidden_means) * (1.0f - s));
    loss = loss + sum(ce) * cfg.sparsity_cost;
  }
  const auto grads = grad(loss, {w, b, c});
  t.weights = sgd(std::vector{w}, std::vector{grads[0]},
                  {.lr = cfg.lr, .momentum = cfg.momentum, .weight_decay = cfg.weight_decay});
  t.biases = sgd(std::vector{b, c}, std::vector{grads[1], grads[2]}, {.lr = cfg.lr, .momentum = cfg.momentum});
  std::vector<Tensor> updates;
  if (chain_update.valid()) updates.push_back(chain_update);
  updates.push_back(t.weights.step);
  updates.push_back(t.biases.step);
  t.step = group(updates);
}

CdTrainer make_cd_trainer(const Rbm& rbm, CdConfig cfg) {
  if (rbm.graph == nullptr)
    throw Error("make_cd_trainer: an empty Rbm (default-made); expected one that Rbm::make built");
  const std::string who = fmt::format("cd trainer for '{}'", rbm.name);
  check_cd_config(who, cfg, rbm.config.hidden_unit);
  if (cfg.method == CdMethod::pcd && counts_words(rbm.config.visible_unit))
    throw Error("{}: persistent chains of {} units are not supported (each chain would need its own document "
                "length); use cd1 or cdK",
                who, to_string(rbm.config.visible_unit));
  // Persistent chains keep sampled states (E[v|h] would become the next step's start): PCD ignores
  // mean_field_last, and the trainer's config says so, so a run's saved settings hold what it did.
  if (cfg.method == CdMethod::pcd) cfg.mean_field_last = false;
  Graph& g = *rbm.graph;
  CdTrainer t;
  t.config = cfg;
  t.rbm = rbm;
  t.v0 = g.input(rbm.name + ".v0", {cfg.batch, rbm.config.visible});
  const Tensor x0 = rbm.hidden_input(t.v0);  // shared by h0 and F(v0)
  const Tensor h0 = unit_sample(rbm.config.hidden_unit, x0);
  const Tensor xv1 = rbm.visible_input(h0);  // shared by the reconstruction and the chain
  const Tensor d0 = rbm.trials(t.v0);        // count and poisson units: each document's length, kept by the chain
  t.recon_error = squared_error(unit_mean(rbm.config.visible_unit, xv1, d0), t.v0);
  Tensor vm, chain_update;
  if (cfg.method == CdMethod::cd) {
    const bool last_mean = cfg.mean_field_last && cfg.k == 1;
    vm = last_mean ? unit_mean(rbm.config.visible_unit, xv1, d0) : unit_sample(rbm.config.visible_unit, xv1, d0);
    // Poisson units: each step's draws sum to D only on average, so the chain goes on with the data's D.
    if (cfg.k > 1 && rbm.config.visible_unit == Unit::poisson)
      vm = gibbs_chain_from_hidden(rbm, rbm.sample_h(vm), cfg.k - 1, cfg.mean_field_last, d0);
    else if (cfg.k > 1) vm = gibbs_chain(rbm, vm, cfg.k - 1, cfg.mean_field_last);
  } else {
    t.chain = g.param(rbm.name + ".chain", t.v0.shape(), 0.0f, false);
    vm = gibbs_chain(rbm, t.chain, cfg.k);
    chain_update = assign(t.chain, vm);
  }
  t.negative = vm;
  t.objective = mean(rbm.free_energy(t.v0, x0)) - mean(rbm.free_energy(stop_gradient(vm)));
  const Tensor q = cfg.sparsity_cost > 0.0f ? mean(unit_mean(rbm.config.hidden_unit, x0), 0) : Tensor{};
  add_cd_updates(t, rbm.w, rbm.b, rbm.c, q, chain_update);
  return t;
}

}  // namespace ebm
