#include "models/autoencoder.hpp"

#include <algorithm>
#include <cmath>

#include "autodiff/grad.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "models/dbn.hpp"

namespace ebm {

Autoencoder Autoencoder::make(Graph& g, std::string name, const AutoencoderConfig& cfg) {
  if (cfg.layers.size() < 2)
    throw Error("autoencoder '{}': {} layer sizes; expected an input size and at least a code size", name,
                cfg.layers.size());
  for (int64_t n : cfg.layers)
    if (n <= 0) throw Error("autoencoder '{}': a layer of {} units; expected positive sizes", name, n);
  if (cfg.data_unit != Unit::binary && cfg.data_unit != Unit::gaussian && !counts_words(cfg.data_unit))
    throw Error("autoencoder '{}': data units '{}'; expected binary, gaussian, count or poisson", name,
                to_string(cfg.data_unit));
  if (cfg.batch <= 0) throw Error("autoencoder '{}': batch {}; expected a positive size", name, cfg.batch);
  if (!(cfg.code_noise >= 0.0f) || !std::isfinite(cfg.code_noise))
    throw Error("autoencoder '{}': code noise {}; expected a standard deviation of 0 or more", name, cfg.code_noise);
  Autoencoder a{&g, name, cfg, {}, {}, {}, {}, {}, {}, {}, {}};
  const auto& s = cfg.layers;
  for (size_t l = 0; l + 1 < s.size(); ++l) {
    a.we.push_back(g.param(fmt::format("{}.We{}", name, l), {s[l], s[l + 1]}));
    a.be.push_back(g.param(fmt::format("{}.be{}", name, l), {1, s[l + 1]}));
    a.wd.push_back(g.param(fmt::format("{}.Wd{}", name, l), {s[l], s[l + 1]}));
    a.bd.push_back(g.param(fmt::format("{}.bd{}", name, l), {1, s[l]}));
    fill_normal(g.value(a.we.back()), cfg.init_std, cfg.seed, 2 * l);
    fill_normal(g.value(a.wd.back()), cfg.init_std, cfg.seed, 2 * l + 1);
  }
  a.x = g.input(name + ".x", {cfg.batch, s.front()});
  const Tensor out = a.decode_output(a.encode(a.x, cfg.code_noise));
  a.loss = cfg.data_unit == Unit::binary  ? bce_logits(out, a.x)
           : counts_words(cfg.data_unit) ? softmax_xent(out, a.x)
                                         : squared_error(out, a.x);
  const auto params = a.params();
  a.grads = grad(a.loss, params);
  if (cfg.optimizer == AeOptimizer::cg) {
    check_cg_options(cfg.cg);
    check_hyper(fmt::format("autoencoder '{}'", name), "cg_weight_decay", cfg.cg_weight_decay, 0.0f);
  } else {
    a.opt = cfg.optimizer == AeOptimizer::adam ? adam(params, a.grads, cfg.adam) : sgd(params, a.grads, cfg.sgd);
  }
  return a;
}

std::string_view optimizer_name(AeOptimizer o) {
  switch (o) {
    case AeOptimizer::sgd: return "sgd";
    case AeOptimizer::adam: return "adam";
    case AeOptimizer::cg: return "cg";
  }
  return "?";
}

void Autoencoder::init_from(const Dbn& dbn) {
  if (dbn.graph != graph)
    throw Error("autoencoder '{}': the DBN '{}' is in another graph; build both in one", name, dbn.name);
  if (dbn.depth() != depth())
    throw Error("autoencoder '{}': the DBN has {} layers of weights; expected {}", name, dbn.depth(), depth());
  if (dbn.rbms.front().config.visible_unit != config.data_unit)
    throw Error("autoencoder '{}': the DBN's data units are {}; this net's are {}", name,
                to_string(dbn.rbms.front().config.visible_unit), to_string(config.data_unit));
  for (int l = 0; l + 1 < dbn.depth(); ++l)
    if (const Unit u = dbn.rbms[static_cast<size_t>(l)].config.hidden_unit; u != Unit::binary)
      throw Error("autoencoder '{}': the DBN's hidden layer {} has {} units; the net's are sigmoid (binary)", name,
                  l + 1, to_string(u));
  const Unit top = dbn.rbms.back().config.hidden_unit;
  if ((top == Unit::gaussian) != config.linear_code)
    throw Error("autoencoder '{}': the DBN's top units are {}; a {} code needs {} ones", name, to_string(top),
                config.linear_code ? "linear" : "sigmoid", config.linear_code ? "gaussian" : "binary");
  Graph& g = *graph;
  auto copy = [&g](Tensor from, Tensor to) { std::ranges::copy(g.value(from), g.value(to).begin()); };
  for (size_t l = 0; l < dbn.rbms.size(); ++l) {
    const Rbm& r = dbn.rbms[l];
    if (r.w.shape() != we[l].shape())
      throw Error("autoencoder '{}': layer {} is {}, the DBN's is {}", name, l, we[l].shape(), r.w.shape());
    copy(r.w, we[l]);
    copy(r.w, wd[l]);
    copy(r.b, be[l]);
    copy(r.c, bd[l]);
  }
}

Tensor Autoencoder::encode(Tensor input, float noise) const {
  Tensor h = input;
  for (size_t l = 0; l < we.size(); ++l) {
    const bool code = l + 1 == we.size(), linear = code && config.linear_code;
    Tensor x = l == 0 && config.data_unit == Unit::count ? matmul(h, we[0]) + matmul(sum(h, 1), be[0])  // v We_0 + D be_0
                                                         : Tensor{};
    if (code && noise > 0.0f) {  // the noise is a constant to autodiff: gradients flow through x alone
      if (!x.valid()) x = affine(h, we[l], be[l]);
      x = x + gaussian(graph->constant({input.shape().rows, we[l].shape().cols}, 0.0f), noise);
    }
    if (x.valid()) h = linear ? x : sigmoid(x);
    else h = linear ? affine(h, we[l], be[l]) : affine_sigmoid(h, we[l], be[l]);
  }
  return h;
}

Tensor Autoencoder::decode_output(Tensor code) const {
  Tensor g = code;
  for (size_t l = wd.size(); l-- > 1;) g = affine_sigmoid(g, wd[l], bd[l], true);
  return affine(g, wd.front(), bd.front(), true);
}

Tensor Autoencoder::decode(Tensor code) const {
  const Tensor out = decode_output(code);
  if (counts_words(config.data_unit)) return softmax(out);
  return config.data_unit == Unit::binary ? sigmoid(out) : out;
}

Tensor Autoencoder::reconstruct(Tensor input) const {
  const Tensor r = decode(encode(input));
  return counts_words(config.data_unit) ? r * sum(input, 1) : r;
}

std::vector<Tensor> Autoencoder::params() const {
  std::vector<Tensor> p;
  for (size_t l = 0; l < we.size(); ++l) p.insert(p.end(), {we[l], be[l], wd[l], bd[l]});
  return p;
}

}  // namespace ebm
