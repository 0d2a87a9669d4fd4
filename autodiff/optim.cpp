#include "autodiff/optim.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "graph/functions.hpp"

namespace ebm {
namespace {

Graph& check_pairs(std::span<const Tensor> params, std::span<const Tensor> grads, const char* who) {
  if (params.empty()) throw Error("{}: no parameters given", who);
  if (params.size() != grads.size())
    throw Error("{}: {} parameters but {} gradients; expected one gradient per parameter", who, params.size(),
                grads.size());
  for (size_t i = 0; i < params.size(); ++i) {
    checked_node(params[i], fmt::format("{} (parameter {})", who, i));
    checked_node(grads[i], fmt::format("{} (gradient {})", who, i));
  }
  Graph& g = *params.front().graph;
  std::vector<NodeId> ids;
  for (size_t i = 0; i < params.size(); ++i) {
    if (grads[i].graph != &g)
      throw Error("{}: gradient {} is in another graph than the parameters; expected all in one graph", who, i);
    if (params[i].graph != &g)
      throw Error("{}: parameter {} is in another graph than the first; expected all in one graph", who, i);
    if (!std::holds_alternative<Param>(g.node(params[i].id).op))
      throw Error("{}: '{}' is not a parameter", who, g.label(params[i].id));
    ids.push_back(params[i].id);
    if (grads[i].shape() != params[i].shape())
      throw Error("{}: gradient '{}' has shape {}; expected {} like '{}'", who, g.label(grads[i].id),
                  grads[i].shape(), params[i].shape(), g.label(params[i].id));
  }
  std::ranges::sort(ids);
  if (const auto twice = std::ranges::adjacent_find(ids); twice != ids.end())
    throw Error("{}: '{}' is listed twice; expected each parameter once (twice would update it twice a step)", who,
                g.label(*twice));
  return g;
}

}  // namespace

void check_hyper(std::string_view who, std::string_view what, float v, float lo, float hi) {
  if (v >= lo && v < hi) return;  // false for NaN
  if (std::isinf(hi) && lo == std::numeric_limits<float>::min())  // the smallest normal float: "positive"
    throw Error("{}: {} = {}; expected a finite value above 0", who, what, v);
  if (std::isinf(hi)) throw Error("{}: {} = {}; expected a finite value of at least {}", who, what, v, lo);
  throw Error("{}: {} = {}; expected a value in [{}, {})", who, what, v, lo, hi);
}

void Optimizer::set_lr(float lr) {
  if (hyper.empty()) throw Error("optimizer: set_lr() of an empty Optimizer; expected one made by sgd() or adam()");
  check_hyper("optimizer", "learning rate", lr, 0.0f);
  for (Tensor h : hyper) h.graph->value(h)[0] = lr;
}

void Optimizer::set_momentum(float m) {
  if (hyper.empty())
    throw Error("optimizer: set_momentum() of an empty Optimizer; expected one made by sgd() or adam()");
  check_hyper("optimizer", "momentum", m, 0.0f, 1.0f);
  for (Tensor h : hyper) h.graph->value(h)[1] = m;
}

void Optimizer::set_weight_decay(float wd) {
  if (hyper.empty())
    throw Error("optimizer: set_weight_decay() of an empty Optimizer; expected one made by sgd() or adam()");
  check_hyper("optimizer", "weight decay", wd, 0.0f);
  for (Tensor h : hyper) h.graph->value(h)[decay_slot] = wd;
}

float Optimizer::lr() const {
  if (hyper.empty()) throw Error("optimizer: lr() of an empty Optimizer; expected one made by sgd() or adam()");
  return hyper.front().graph->value(hyper.front())[0];
}

float Optimizer::momentum() const {
  if (hyper.empty()) throw Error("optimizer: momentum() of an empty Optimizer; expected one made by sgd() or adam()");
  return hyper.front().graph->value(hyper.front())[1];
}

float Optimizer::weight_decay() const {
  if (hyper.empty()) throw Error("optimizer: weight_decay() of an empty Optimizer; expected one made by sgd() or adam()");
  return hyper.front().graph->value(hyper.front())[decay_slot];
}

Optimizer sgd(std::span<const Tensor> params, std::span<const Tensor> grads, SgdOptions o) {
  Graph& g = check_pairs(params, grads, "sgd");
  check_hyper("sgd", "lr", o.lr, 0.0f);
  check_hyper("sgd", "momentum", o.momentum, 0.0f, 1.0f);
  check_hyper("sgd", "weight_decay", o.weight_decay, 0.0f);
  Optimizer opt;
  Tensor hyper = g.param("sgd.hyper", {1, 4}, 0.0f, false);
  auto h = g.value(hyper);
  h[0] = o.lr, h[1] = o.momentum, h[2] = o.weight_decay;
  opt.hyper.push_back(hyper);
  std::vector<Tensor> updates;
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor vel = g.param(g.label(params[i].id) + ".velocity", params[i].shape(), 0.0f, false);
    opt.state.push_back(vel);
    updates.push_back(g.apply(SgdUpdate{}, {params[i], vel, grads[i], hyper}));
  }
  opt.step = group(updates);
  return opt;
}

Optimizer adam(std::span<const Tensor> params, std::span<const Tensor> grads, AdamOptions o) {
  Graph& g = check_pairs(params, grads, "adam");
  check_hyper("adam", "lr", o.lr, 0.0f);
  check_hyper("adam", "beta1", o.beta1, 0.0f, 1.0f);
  check_hyper("adam", "beta2", o.beta2, 0.0f, 1.0f);
  check_hyper("adam", "eps", o.eps, std::numeric_limits<float>::min());
  check_hyper("adam", "weight_decay", o.weight_decay, 0.0f);
  Optimizer opt;
  opt.decay_slot = 4;
  std::vector<Tensor> updates;
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string base = g.label(params[i].id);
    Tensor hyper = g.param(base + ".adam", {1, 6}, 0.0f, false);  // its own step count t
    auto h = g.value(hyper);
    h[0] = o.lr, h[1] = o.beta1, h[2] = o.beta2, h[3] = o.eps, h[4] = o.weight_decay, h[5] = 0.0f;
    Tensor m = g.param(base + ".m", params[i].shape(), 0.0f, false);
    Tensor v = g.param(base + ".v", params[i].shape(), 0.0f, false);
    opt.hyper.push_back(hyper);
    opt.state.insert(opt.state.end(), {m, v});
    updates.push_back(g.apply(AdamUpdate{}, {params[i], m, v, grads[i], hyper}));
  }
  opt.step = group(updates);
  return opt;
}

}  // namespace ebm
