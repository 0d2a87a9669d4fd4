#include "models/cdbn.hpp"

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
    if (c.size < 1 || c.size > in.height || c.size > in.width || c.pool < 1 || c.filters < 1 ||
        in.out_height() % c.pool != 0 || in.out_width() % c.pool != 0)
      throw Error("cdbn '{}': layer {} has {} filters of {} x {} pooled {} x {} over an input of {} x {}; expected "
                  "filters no larger than the input and pooling blocks that divide the hidden planes ({} x {})",
                  name, l + 1, c.filters, c.size, c.size, c.pool, c.pool, in.height, in.width,
                  in.height - c.size + 1, in.width - c.size + 1);
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
  const Crbm& m = crbms.at(static_cast<size_t>(l));
  return m.config.filters * m.pooling().blocks();
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
