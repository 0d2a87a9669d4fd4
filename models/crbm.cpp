#include "models/crbm.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "ops/error.hpp"

namespace ebm {
namespace {

// A [groups, groups * size] matrix of 0 and 1: row q is 1 over columns
// q * size .. (q + 1) * size - 1, so that x [1, groups] times it repeats
// each value size times.
Tensor expansion(Graph& g, int64_t groups, int64_t size, const std::string& name) {
  std::vector<float> e(static_cast<size_t>(groups * groups * size), 0.0f);
  for (int64_t q = 0; q < groups; ++q)
    for (int64_t i = 0; i < size; ++i) e[static_cast<size_t>(q * groups * size + q * size + i)] = 1.0f;
  return g.constant({groups, groups * size}, e, name);
}

}  // namespace

Crbm Crbm::make(Graph& g, std::string name, const CrbmConfig& cfg) {
  const ConvGeometry& v = cfg.visible;
  if (v.channels < 1 || cfg.filters < 1)
    throw Error("crbm '{}': {} channels and {} filters; expected at least one channel and one filter", name,
                v.channels, cfg.filters);
  if (v.size < 1 || v.height < v.size || v.width < v.size)
    throw Error("crbm '{}': filters of {} x {} over images of {} x {}; expected filters of 1 x 1 up to the images' "
                "size",
                name, v.size, v.size, v.height, v.width);
  if (cfg.pool < 1 || cfg.pool > kMaxCrbmPool)
    throw Error("crbm '{}': pooling {} x {}; expected blocks of 1 x 1 (no pooling) to {} x {}", name, cfg.pool,
                cfg.pool, kMaxCrbmPool, kMaxCrbmPool);
  if (v.out_height() % cfg.pool != 0 || v.out_width() % cfg.pool != 0)
    throw Error("crbm '{}': pooling {} x {} over hidden planes of {} x {} ({} x {} images, {} x {} filters); expected "
                "a pooling size that divides both sides",
                name, cfg.pool, cfg.pool, v.out_height(), v.out_width(), v.height, v.width, v.size, v.size);
  if (cfg.visible_unit != Unit::binary && cfg.visible_unit != Unit::gaussian)
    throw Error("crbm '{}': visible units '{}'; expected binary or gaussian", name, to_string(cfg.visible_unit));
  Crbm m;
  m.name = name;
  m.config = cfg;
  m.w = g.param(name + ".W", {cfg.filters, v.filter()});
  m.b = g.param(name + ".b", {1, cfg.filters});
  m.c = g.param(name + ".c", {1, v.channels});
  fill_normal(g.value(m.w), cfg.init_std, cfg.seed, 0);
  m.expand_b_ = expansion(g, cfg.filters, v.plane(), name + ".expand_b");
  m.expand_c_ = expansion(g, v.channels, v.height * v.width, name + ".expand_c");
  return m;
}

void Crbm::init_visible_bias(std::span<const float> data_mean) {
  const ConvGeometry& v = config.visible;
  if (static_cast<int64_t>(data_mean.size()) != v.image())
    throw Error("crbm '{}': init_visible_bias got {} means; expected {} ({} channels of {} x {})", name,
                data_mean.size(), v.image(), v.channels, v.height, v.width);
  const int64_t plane = v.height * v.width;
  for (size_t i = 0; i < data_mean.size(); ++i)  // one would make its channel's bias NaN
    if (!std::isfinite(data_mean[i]))
      throw Error("crbm '{}': init_visible_bias got mean {} for channel {} row {} column {}; expected finite means",
                  name, data_mean[i], static_cast<int64_t>(i) / plane, static_cast<int64_t>(i) % plane / v.width,
                  static_cast<int64_t>(i) % v.width);
  if (config.visible_unit == Unit::binary)  // unscaled bytes (0-255), say, would be clipped to a bias of 6.9
    for (size_t i = 0; i < data_mean.size(); ++i)
      if (!(data_mean[i] >= 0.0f && data_mean[i] <= 1.0f))
        throw Error("crbm '{}': init_visible_bias got mean {} for channel {} row {} column {}; expected means in "
                    "[0, 1] for binary visible units (data scaled to [0, 1])",
                    name, data_mean[i], static_cast<int64_t>(i) / plane, static_cast<int64_t>(i) % plane / v.width,
                    static_cast<int64_t>(i) % v.width);
  auto cv = w.graph->value(c);
  for (int64_t ch = 0; ch < v.channels; ++ch) {
    double m = 0;
    for (int64_t i = 0; i < plane; ++i) m += data_mean[static_cast<size_t>(ch * plane + i)];
    m /= static_cast<double>(plane);
    if (config.visible_unit == Unit::gaussian) {
      cv[static_cast<size_t>(ch)] = static_cast<float>(m);
    } else {
      const double p = std::clamp(m, 1e-3, 1.0 - 1e-3);  // a channel all 0s or all 1s: a large but finite bias
      cv[static_cast<size_t>(ch)] = static_cast<float>(std::log(p / (1.0 - p)));
    }
  }
}

PoolGeometry Crbm::pooling() const {
  return {.groups = config.filters, .height = config.visible.out_height(), .width = config.visible.out_width(),
          .pool = config.pool};
}

Tensor Crbm::hidden_input(Tensor v) const { return conv2d(v, w, config.visible) + matmul(b, expand_b_); }
Tensor Crbm::p_h(Tensor v) const { return maxpool_probs(hidden_input(v), pooling()); }
Tensor Crbm::p_pool(Tensor v) const { return 1.0f - exp(-maxpool_softplus(hidden_input(v), pooling())); }
Tensor Crbm::visible_input(Tensor h) const { return conv2d_transpose(h, w, config.visible) + matmul(c, expand_c_); }
Tensor Crbm::p_v(Tensor h) const { return unit_mean(config.visible_unit, visible_input(h)); }

Tensor Crbm::energy(Tensor v, Tensor h) const {
  return visible_energy(config.visible_unit, v, matmul(c, expand_c_)) - sum(h * hidden_input(v), 1);
}

Tensor Crbm::free_energy(Tensor v) const { return free_energy(v, hidden_input(v)); }

Tensor Crbm::free_energy(Tensor v, Tensor x) const {
  return visible_energy(config.visible_unit, v, matmul(c, expand_c_)) - sum(maxpool_softplus(x, pooling()), 1);
}

Tensor Crbm::group_means(Tensor h) const {
  return matmul(h, expand_b_, {.tb = true}) * (1.0f / static_cast<float>(config.visible.plane()));
}

Tensor Crbm::sample_h(Tensor v) const { return maxpool_sample(hidden_input(v), pooling()); }
Tensor Crbm::sample_v(Tensor h) const { return unit_sample(config.visible_unit, visible_input(h)); }

CrbmTrainer make_crbm_trainer(const Crbm& m, CdConfig cfg) {
  check_cd_config(fmt::format("cd trainer for '{}'", m.name), cfg);
  Graph& g = *m.w.graph;
  CrbmTrainer t;
  t.config = cfg;
  t.crbm = m;
  t.v0 = g.input(m.name + ".v0", {cfg.batch, m.config.visible.image()});
  const Tensor x0 = m.hidden_input(t.v0);  // shared by h0, F(v0) and the sparsity term
  const Tensor xv1 = m.visible_input(maxpool_sample(x0, m.pooling()));
  t.recon_error = squared_error(unit_mean(m.config.visible_unit, xv1), t.v0);
  Tensor vm, chain_update;
  // the chain's visible states; with mean_field_last, E[v | h] ends a CD
  // chain (persistent chains keep samples, as the RBM trainer's do)
  const auto visible = [&](Tensor x, bool last) {
    return last && cfg.mean_field_last && cfg.method == CdMethod::cd ? unit_mean(m.config.visible_unit, x) : unit_sample(m.config.visible_unit, x);
  };
  int steps = cfg.k;
  if (cfg.method == CdMethod::cd) {
    vm = visible(xv1, cfg.k == 1);
    --steps;
  } else {
    t.chain = g.param(m.name + ".chain", t.v0.shape(), 0.0f, false);
    vm = t.chain;
  }
  for (int i = 0; i < steps; ++i) vm = visible(m.visible_input(m.sample_h(vm)), i + 1 == steps);
  if (t.chain.valid()) chain_update = assign(t.chain, vm);
  t.negative = vm;
  t.objective = mean(m.free_energy(t.v0, x0)) - mean(m.free_energy(stop_gradient(vm)));
  const Tensor q = cfg.sparsity_cost > 0.0f ? mean(m.group_means(maxpool_probs(x0, m.pooling())), 0) : Tensor{};
  add_cd_updates(t, m.w, m.b, m.c, q, chain_update);
  return t;
}

}  // namespace ebm
