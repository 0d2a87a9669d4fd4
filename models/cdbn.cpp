#include "models/cdbn.hpp"

#include <string_view>

#include <fmt/format.h>

#include "autodiff/grad.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "models/dbn.hpp"
#include "models/finetune.hpp"
#include "ops/error.hpp"

namespace ebm {

Cdbn Cdbn::make(Graph& g, std::string name, const CdbnConfig& cfg) {
  if (cfg.layers.empty()) throw Error("cdbn '{}': no layers; expected at least one", name);
  Cdbn d;
  d.graph = &g;
  d.name = name;
  ConvGeometry in{.channels = cfg.channels, .height = cfg.height, .width = cfg.width, .size = 0};
  for (size_t l = 0; l < cfg.layers.size(); ++l) {
    const CdbnLayer& c = cfg.layers[l];
    in.size = c.size;
    const auto refuse = [&](std::string_view expected) {
      return Error("cdbn '{}': layer {} has {} filters of {} x {} pooled {} x {} over an input of {} x {}; expected {}",
                   name, l + 1, c.filters, c.size, c.size, c.pool, c.pool, in.height, in.width, expected);
    };
    if (c.filters < 1) throw refuse("at least one filter");
    if (c.size < 1 || c.size > in.height || c.size > in.width)
      throw refuse("filters of 1 x 1 up to the input's size");
    if (c.pool < 1 || c.pool > kMaxCrbmPool)
      throw refuse(fmt::format("pooling blocks of 1 x 1 (no pooling) to {} x {}", kMaxCrbmPool, kMaxCrbmPool));
    if (in.out_height() % c.pool != 0 || in.out_width() % c.pool != 0)
      throw refuse(fmt::format("pooling blocks that divide the hidden planes ({} x {})", in.out_height(),
                               in.out_width()));
    d.crbms.push_back(Crbm::make(g, fmt::format("{}.crbm{}", name, l),
                                 {.visible = in,
                                  .filters = c.filters,
                                  .pool = c.pool,
                                  .visible_unit = l == 0 ? cfg.visible_unit : Unit::binary,
                                  .init_std = cfg.init_std,
                                  .seed = cfg.seed + l}));
    in = {.channels = c.filters, .height = in.out_height() / c.pool, .width = in.out_width() / c.pool, .size = 0};
  }
  return d;
}

Tensor Cdbn::up(Tensor v, int l) const {
  if (l < 0 || l > depth()) throw Error("cdbn '{}': up to layer {}; expected 0 to {}", name, l, depth());
  for (int i = 0; i < l; ++i) v = crbms[static_cast<size_t>(i)].p_pool(v);
  return v;
}

int64_t Cdbn::pooled_size(int l) const {
  if (l < 0 || l >= depth()) throw Error("cdbn '{}': pooled_size({}); expected a layer 0 to {}", name, l, depth() - 1);
  const Crbm& m = crbms.at(static_cast<size_t>(l));
  return m.config.filters * m.pooling().blocks();
}

CdbnGibbs make_cdbn_gibbs(const Cdbn& d, const std::string& name, const CdbnGibbsConfig& cfg) {
  const int layers = cfg.layers == 0 ? d.depth() : cfg.layers;
  if (layers < 1 || layers > d.depth() || cfg.batch < 1)
    throw Error("cdbn gibbs '{}': {} layers of {} chains over cdbn '{}' of depth {}; expected 1 to {} layers (0: all) "
                "and at least one chain",
                name, cfg.layers, cfg.batch, d.name, d.depth(), d.depth());
  Graph& g = *d.graph;
  const Crbm& bottom = d.crbms[0];
  const Shape pixels{cfg.batch, bottom.config.visible.image()};
  CdbnGibbs s;
  s.x = g.input(name + ".x", pixels);
  if (cfg.clamp) {
    s.known = g.input(name + ".known", pixels);
    s.mask = g.input(name + ".mask", pixels);
  }
  s.v = g.param(name + ".v", pixels, 0.0f, false);
  for (int l = 0; l < layers; ++l) {
    const Crbm& m = d.crbms[static_cast<size_t>(l)];
    s.h.push_back(g.param(fmt::format("{}.h{}", name, l), {cfg.batch, m.config.filters * m.config.visible.plane()},
                          0.0f, false));
  }
  // Layer l's draw given what is below it (pixels or pooling units) and, above, layer l + 1's detection units.
  const auto draw = [&](int l, Tensor below, Tensor above) {
    const Crbm& m = d.crbms[static_cast<size_t>(l)];
    Tensor in = m.hidden_input(below);
    if (above.valid()) in = in + pool_spread(d.crbms[static_cast<size_t>(l) + 1].visible_input(above), m.pooling());
    return maxpool_sample(in, m.pooling());
  };

  std::vector<Tensor> sets{assign(s.v, s.x)};
  Tensor below = s.x;
  for (int l = 0; l < layers; ++l) {
    const Tensor h = draw(l, below, {});
    sets.push_back(assign(s.h[static_cast<size_t>(l)], h));
    below = pool_sum(h, d.crbms[static_cast<size_t>(l)].pooling());
  }
  s.start = group(sets);

  sets.clear();
  below = s.v;
  Tensor h0;
  for (int l = 0; l < layers; ++l) {
    const Tensor h = draw(l, below, l + 1 < layers ? s.h[static_cast<size_t>(l) + 1] : Tensor{});
    if (l == 0) h0 = h;
    sets.push_back(assign(s.h[static_cast<size_t>(l)], h));
    below = pool_sum(h, d.crbms[static_cast<size_t>(l)].pooling());
  }
  const Tensor xv = bottom.visible_input(h0);
  Tensor v = unit_sample(bottom.config.visible_unit, xv), mean = unit_mean(bottom.config.visible_unit, xv);
  if (cfg.clamp) {
    const Tensor free = 1.0f - s.mask, kept = s.mask * s.known;
    v = kept + free * v;
    mean = kept + free * mean;
  }
  sets.push_back(assign(s.v, v));
  s.sweep = group(sets);
  s.mean_v = mean;
  return s;
}

CdbnSampler make_cdbn_sampler(const Cdbn& d, const std::string& name, int64_t batch) {
  if (batch < 1) throw Error("cdbn sampler '{}': {} chains; expected at least one", name, batch);
  Graph& g = *d.graph;
  const int top = d.depth() - 1;
  const auto crbm = [&](int l) -> const Crbm& { return d.crbms[static_cast<size_t>(l)]; };
  CdbnSampler s;
  s.x = g.input(name + ".x", {batch, crbm(0).config.visible.image()});
  for (int l = 0; l <= top; ++l)
    s.state.push_back(g.param(fmt::format("{}.s{}", name, l), {batch, crbm(l).config.visible.image()}, 0.0f, false));
  std::vector<Tensor> sets{assign(s.state[0], s.x)};
  Tensor below = s.x;
  for (int l = 0; l < top; ++l) {
    below = pool_sum(crbm(l).sample_h(below), crbm(l).pooling());
    sets.push_back(assign(s.state[static_cast<size_t>(l) + 1], below));
  }
  s.start = group(sets);

  const Crbm& t = crbm(top);
  const Tensor ht = t.sample_h(s.state[static_cast<size_t>(top)]);
  s.top = assign(s.state[static_cast<size_t>(top)], t.sample_v(ht));
  if (top == 0) s.mean_v = t.p_v(ht);
  for (int l = 0; l < top; ++l) {
    const Crbm& m = crbm(l);
    const Tensor above = s.state[static_cast<size_t>(l) + 1];
    const Tensor h = maxpool_sample_given(m.hidden_input(s.state[static_cast<size_t>(l)]), above, m.pooling());
    s.down.push_back(assign(s.state[static_cast<size_t>(l)], m.sample_v(h)));
    if (l == 0) s.mean_v = m.p_v(h);
  }
  return s;
}

CdbnClassifier CdbnClassifier::make(Graph& g, const std::string& name, const Cdbn& cdbn,
                                    const CdbnClassifierConfig& cfg) {
  if (cfg.feature_layers.empty() || cfg.classes < 2)
    throw Error("cdbn classifier '{}': {} feature layers and {} classes; expected at least one layer and two classes",
                name, cfg.feature_layers.size(), cfg.classes);
  for (size_t i = 0; i < cfg.feature_layers.size(); ++i)
    if (cfg.feature_layers[i] < 0 || cfg.feature_layers[i] >= cdbn.depth() ||
        (i > 0 && cfg.feature_layers[i] <= cfg.feature_layers[i - 1]))
      throw Error("cdbn classifier '{}': feature layer {}; expected layers in increasing order, each below {}", name,
                  cfg.feature_layers[i], cdbn.depth());
  CdbnClassifier c;
  c.name = name;
  c.cdbn = cdbn;
  c.config = cfg;
  for (size_t i = 0; i < cfg.feature_layers.size(); ++i) {
    c.v.push_back(g.param(fmt::format("{}.V{}", name, i), {cdbn.pooled_size(cfg.feature_layers[i]), cfg.classes}));
    fill_normal(g.value(c.v.back()), cfg.init_std, cfg.seed, i);
  }
  c.d = g.param(name + ".d", {1, cfg.classes});
  const ConvGeometry& in = cdbn.crbms[0].config.visible;
  c.x = g.input(name + ".x", {cfg.batch, in.image()});
  c.t = g.input(name + ".t", {cfg.batch, cfg.classes});
  c.logits = c.predict(c.x);
  c.loss = softmax_xent(c.logits, c.t);
  const auto params = c.params();
  c.opt = sgd(params, grad(c.loss, params), cfg.sgd);
  return c;
}

Tensor CdbnClassifier::predict(Tensor input) const {
  Tensor logits, h = input;
  size_t next = 0;
  for (int l = 0; l <= config.feature_layers.back(); ++l) {
    h = cdbn.crbms[static_cast<size_t>(l)].p_pool(h);
    if (l != config.feature_layers[next]) continue;
    logits = next == 0 ? affine(h, v[0], d) : logits + matmul(h, v[next]);
    ++next;
  }
  return logits;
}

std::vector<Tensor> CdbnClassifier::params() const {
  std::vector<Tensor> p;
  for (int l = 0; l <= config.feature_layers.back(); ++l) {
    const Crbm& m = cdbn.crbms[static_cast<size_t>(l)];
    p.insert(p.end(), {m.w, m.b});
  }
  p.insert(p.end(), v.begin(), v.end());
  p.push_back(d);
  return p;
}

SoftmaxNet CdbnClassifier::net() const {
  std::vector<int64_t> layers;
  for (int l : config.feature_layers) layers.push_back(l);
  return {cdbn.graph, name, x, t, loss, opt, params(),
          [c = *this](Tensor in) { return c.predict(in); }, config.classes, config.sgd.lr, layers};
}

DataSource cdbn_layer_source(const Cdbn& cdbn, int l, Executor& ex, const DataSource& images, int64_t batch) {
  if (l == 0) return images;
  const Tensor x = cdbn.graph->input(fmt::format("{}.up{}.in", cdbn.name, l), {batch, images.dim});
  return mapped_source(ex, x, cdbn.up(x, l), images);
}

}  // namespace ebm
