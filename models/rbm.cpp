#include "models/rbm.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

#include "graph/functions.hpp"
#include "graph/init.hpp"

namespace ebm {

void check_finite_params(const Rbm& r, std::string_view what) {
  for (const Tensor t : r.params()) {
    const std::span<const float> v = r.graph->value(t);
    if (const auto bad = std::ranges::find_if(v, [](float x) { return !std::isfinite(x); }); bad != v.end())
      throw Error("{} '{}': {} holds {} at entry {}; expected finite parameters (a diverged or damaged model)", what,
                  r.name, r.graph->label(t.id), *bad, bad - v.begin());
  }
}

Rbm Rbm::make(Graph& g, std::string name, RbmConfig cfg) {
  if (cfg.visible <= 0 || cfg.hidden <= 0)
    throw Error("rbm '{}': {} visible and {} hidden units; expected positive sizes", name, cfg.visible, cfg.hidden);
  if (counts_words(cfg.hidden_unit))
    throw Error("rbm '{}': {} units are for the visible layer (a document's words); the hidden layer's cannot be",
                name, to_string(cfg.hidden_unit));
  if (cfg.hidden_unit == Unit::softmax && cfg.hidden < 2)
    throw Error("rbm '{}': a softmax hidden layer needs at least 2 units", name);
  Rbm r;
  r.graph = &g;
  r.name = name;
  r.config = cfg;
  r.w = g.param(name + ".W", {cfg.visible, cfg.hidden});
  r.b = g.param(name + ".b", {1, cfg.hidden});
  r.c = g.param(name + ".c", {1, cfg.visible});
  fill_normal(g.value(r.w), cfg.init_std, cfg.seed, std::hash<std::string>{}(name));
  return r;
}

void Rbm::init_visible_bias(std::span<const float> data_mean) {
  if (static_cast<int64_t>(data_mean.size()) != config.visible)
    throw Error("rbm '{}': init_visible_bias got {} means; expected {}", name, data_mean.size(), config.visible);
  for (size_t i = 0; i < data_mean.size(); ++i)
    if (!std::isfinite(data_mean[i]))
      throw Error("rbm '{}': init_visible_bias got mean {} for visible unit {}; expected finite means", name,
                  data_mean[i], i);
  // A binary unit's mean outside [0, 1] (bytes not scaled, say), or a
  // word's below 0, would be clipped to a bias that says nothing of the data.
  const Unit u = config.visible_unit;
  const bool binary = u == Unit::binary;
  if (data_kind(u) != DataKind::real)
    for (size_t i = 0; i < data_mean.size(); ++i)
      if (data_mean[i] < 0.0f || (binary && data_mean[i] > 1.0f))
        throw Error("rbm '{}': init_visible_bias got mean {} for visible unit {}; expected {} for {} visible units{}",
                    name, data_mean[i], i, binary ? "means in [0, 1]" : "means of 0 or more", to_string(u),
                    binary ? " (data scaled to [0, 1])" : "");
  auto cv = graph->value(c);
  switch (u) {
    case Unit::gaussian:
    case Unit::rectified:  // the mean of unit-variance units
      std::copy(data_mean.begin(), data_mean.end(), cv.begin());
      return;
    case Unit::softmax:
    case Unit::count:
    case Unit::poisson: {  // the log of each unit's share
      double total = 0;
      for (float m : data_mean) total += std::max(0.0f, m);
      if (!(total > 0))
        throw Error("rbm '{}': init_visible_bias got means that sum to {}; expected a positive sum (words, or a "
                    "softmax's states)",
                    name, total);
      for (size_t i = 0; i < cv.size(); ++i)
        cv[i] = static_cast<float>(std::log(std::max(1e-6, std::max(0.0f, data_mean[i]) / total)));
      return;
    }
    case Unit::binary:  // the log-odds
      for (size_t i = 0; i < cv.size(); ++i) {
        const float p = std::clamp(data_mean[i], 1e-3f, 1.0f - 1e-3f);
        cv[i] = std::log(p / (1.0f - p));
      }
      return;
  }
}

Tensor Rbm::hidden_input(Tensor v) const {
  if (config.visible_unit == Unit::count) return matmul(v, w) + matmul(trials(v), b);  // D b as a [B,1] x [1,n] product
  return affine(v, w, b);
}
Tensor Rbm::visible_input(Tensor h) const { return affine(h, w, c, true); }

Tensor Rbm::trials(Tensor v) const { return counts_words(config.visible_unit) ? sum(v, 1) : Tensor{}; }

Tensor Rbm::p_h(Tensor v) const {
  if (config.hidden_unit == Unit::binary && config.visible_unit != Unit::count)
    return affine_sigmoid(v, w, b);  // one fused kernel
  return unit_mean(config.hidden_unit, hidden_input(v));
}

Tensor Rbm::p_v(Tensor h, Tensor d) const {
  if (config.visible_unit == Unit::binary) return affine_sigmoid(h, w, c, true);
  return unit_mean(config.visible_unit, visible_input(h), d);
}

Tensor Rbm::sample_h(Tensor v) const { return unit_sample(config.hidden_unit, hidden_input(v)); }
Tensor Rbm::sample_v(Tensor h, Tensor d) const { return unit_sample(config.visible_unit, visible_input(h), d); }

Tensor Rbm::free_energy(Tensor v) const { return free_energy(v, hidden_input(v)); }

Tensor Rbm::free_energy(Tensor v, Tensor x) const {
  if (const Shape want{v.shape().rows, config.hidden}; x.shape() != want)
    throw Error("rbm '{}': free_energy(v, x) got x of shape {}; expected hidden_input(v)'s {}", name, x.shape(), want);
  return visible_energy(config.visible_unit, v, c) + hidden_free_energy(config.hidden_unit, x);
}

Tensor Rbm::energy(Tensor v, Tensor h) const {
  const Tensor e = visible_energy(config.visible_unit, v, c) - sum(h * hidden_input(v), 1);
  switch (config.hidden_unit) {  // E_self(h)
    case Unit::gaussian:
    case Unit::rectified: return e + sum(square(h), 1) * 0.5f;
    case Unit::binary:
    case Unit::softmax: return e;
    case Unit::count:
    case Unit::poisson: break;  // (refused as hidden units by make)
  }
  throw Error("rbm '{}': {} hidden units have no energy", name, to_string(config.hidden_unit));
}

Tensor gibbs_chain_from_hidden(const Rbm& rbm, Tensor h0, int k, bool mean_last, Tensor trials) {
  if (k < 1) throw Error("gibbs chain of '{}': k = {}; expected at least one step", rbm.name, k);
  Tensor h = h0, v;
  for (int i = 0; i < k; ++i) {
    if (i > 0) h = rbm.sample_h(v);
    v = (mean_last && i == k - 1) ? rbm.p_v(h, trials) : rbm.sample_v(h, trials);
  }
  return v;
}

Tensor gibbs_chain(const Rbm& rbm, Tensor v0, int k, bool mean_last) {
  return gibbs_chain_from_hidden(rbm, rbm.sample_h(v0), k, mean_last, rbm.trials(v0));
}

}  // namespace ebm
