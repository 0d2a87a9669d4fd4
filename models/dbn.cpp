#include "models/dbn.hpp"

#include <algorithm>
#include <memory>

#include "graph/executor.hpp"
#include "graph/functions.hpp"

namespace ebm {

Dbn Dbn::make(Graph& g, std::string name, const DbnConfig& cfg) {
  if (cfg.layers.size() < 2) throw Error("dbn '{}': {} layer sizes; expected at least 2", name, cfg.layers.size());
  Dbn d{&g, name, {}};
  for (size_t l = 0; l + 1 < cfg.layers.size(); ++l)
    d.rbms.push_back(Rbm::make(g, fmt::format("{}.rbm{}", name, l),
                               {.visible = cfg.layers[l], .hidden = cfg.layers[l + 1],
                                .visible_unit = l == 0 ? cfg.visible_unit : Unit::binary,
                                .hidden_unit = l + 2 == cfg.layers.size() ? cfg.top_hidden_unit : Unit::binary,
                                .init_std = cfg.init_std, .seed = cfg.seed + l}));
  return d;
}

std::vector<Tensor> Dbn::params(int layers) const {
  std::vector<Tensor> out;
  const size_t n = layers < 0 ? rbms.size() : std::min(rbms.size(), static_cast<size_t>(layers));
  for (size_t l = 0; l < n; ++l) out.insert(out.end(), {rbms[l].w, rbms[l].b, rbms[l].c});
  return out;
}

Tensor Dbn::up(Tensor v, int l) const {
  if (l < 0 || l > depth()) throw Error("dbn '{}': no layer {} (depth {})", name, l, depth());
  Tensor h = v;
  for (int k = 0; k < l; ++k) h = rbms[static_cast<size_t>(k)].p_h(h);
  return h;
}

Tensor Dbn::down(Tensor h, int l) const {
  if (l < 0 || l > depth()) throw Error("dbn '{}': no layer {} (depth {})", name, l, depth());
  for (int k = l - 1; k >= 0; --k) h = rbms[static_cast<size_t>(k)].p_v(h);
  return h;
}

void copy_recognition_weights(const Dbn& dbn, std::span<const Tensor> w, std::span<const Tensor> b,
                              std::string_view who) {
  if (w.size() < dbn.rbms.size() || b.size() < dbn.rbms.size())
    throw Error("{}: the DBN has {} layers of weights; expected at most {}", who, dbn.depth(), std::min(w.size(), b.size()));
  // The values are copied: the DBN may live in another graph than the net.
  const Graph& from = *dbn.graph;
  for (size_t l = 0; l < dbn.rbms.size(); ++l) {
    const Rbm& r = dbn.rbms[l];
    if (r.w.shape() != w[l].shape())
      throw Error("{}: layer {}'s weights are {}, the DBN's {}; expected the same shape", who, l, w[l].shape(),
                  r.w.shape());
    if (r.b.shape() != b[l].shape())
      throw Error("{}: layer {}'s bias is {}, the DBN's {}; expected the same shape", who, l, b[l].shape(),
                  r.b.shape());
    std::ranges::copy(from.value(r.w), w[l].graph->value(w[l]).begin());
    std::ranges::copy(from.value(r.b), b[l].graph->value(b[l]).begin());
  }
}

void Dbn::init_from_below(int l) {
  if (l < 1 || l >= depth()) throw Error("dbn '{}': init_from_below({}) needs 1 <= l < {}", name, l, depth());
  const Rbm& lo = rbms[static_cast<size_t>(l - 1)];
  const Rbm& hi = rbms[static_cast<size_t>(l)];
  if (lo.config.visible != hi.config.hidden)
    throw Error("dbn '{}': layer {} is {}-{}, not the transpose of layer {} ({}-{})", name, l, hi.config.visible,
                hi.config.hidden, l - 1, lo.config.visible, lo.config.hidden);
  Graph& g = *graph;
  auto wl = g.value(lo.w), wh = g.value(hi.w);
  const int64_t nv = lo.config.visible, nh = lo.config.hidden;
  for (int64_t i = 0; i < nv; ++i)
    for (int64_t j = 0; j < nh; ++j) wh[static_cast<size_t>(j * nv + i)] = wl[static_cast<size_t>(i * nh + j)];
  std::copy(g.value(lo.b).begin(), g.value(lo.b).end(), g.value(hi.c).begin());
  std::copy(g.value(lo.c).begin(), g.value(lo.c).end(), g.value(hi.b).begin());
}

Dbn Dbn::clone(Graph& g) const {
  if (rbms.empty()) throw Error("dbn '{}': clone of an empty stack; expected one made by Dbn::make", name);
  DbnConfig c{.layers = {rbms.front().config.visible}, .visible_unit = rbms.front().config.visible_unit,
              .top_hidden_unit = rbms.back().config.hidden_unit};
  for (const Rbm& r : rbms) c.layers.push_back(r.config.hidden);
  Dbn d = make(g, name, c);
  for (size_t l = 0; l < rbms.size(); ++l)
    for (auto [from, to] : {std::pair{rbms[l].w, d.rbms[l].w}, std::pair{rbms[l].b, d.rbms[l].b},
                            std::pair{rbms[l].c, d.rbms[l].c}})
      std::ranges::copy(graph->value(from), g.value(to).begin());
  return d;
}

DataSource layer_source(const Dbn& dbn, int l, Executor& ex, const DataSource& images, int64_t batch, bool sample_up,
                        uint64_t seed) {
  if (l == 0) return images;
  Graph& g = *dbn.graph;
  const Tensor x = g.input(fmt::format("{}.up{}.in", dbn.name, l), {batch, images.dim});
  return mapped_source(ex, x, dbn.up(x, l), images, sample_up, seed);
}

DataSource mapped_source(Executor& ex, Tensor x, Tensor h, const DataSource& images, bool sample_up, uint64_t seed) {
  const int64_t batch = x.shape().rows;
  if (x.shape().cols != images.dim || h.shape().rows != batch)
    throw Error("mapped source: rows of {} values into an input of shape {} computing {}; expected the input's "
                "columns to match the rows and the output to have as many rows as the input",
                images.dim, x.shape(), h.shape());
  auto buf = std::make_shared<std::vector<float>>(static_cast<size_t>(batch * images.dim));
  auto fill = [&ex, images, x, h, buf, batch, sample_up, seed](std::span<const int64_t> idx, std::span<float> out,
                                                                 uint64_t epoch) {
    if (static_cast<int64_t>(idx.size()) != batch)
      throw Error("mapped source: asked for {} rows; it computes batches of {}", idx.size(), batch);
    images.fill(idx, *buf, epoch);
    ex.run({h}, {{x, *buf}});
    const auto p = ex.value(h);
    if (out.size() != p.size()) throw Error("mapped source: output holds {} floats; expected {}", out.size(), p.size());
    const size_t per_row = p.size() / idx.size();
    for (size_t i = 0; i < p.size(); ++i) {
      const RngKey key = make_rng_key(seed, epoch, static_cast<uint64_t>(idx[i / per_row]));
      out[i] = sample_up ? (uniform01(key, static_cast<uint32_t>(i % per_row)) < p[i] ? 1.0f : 0.0f) : p[i];
    }
  };
  return {images.count, h.shape().cols, fill};
}

}  // namespace ebm
