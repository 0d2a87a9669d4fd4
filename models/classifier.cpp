#include "models/classifier.hpp"

#include <cmath>

#include "autodiff/grad.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "models/dbn.hpp"
#include "models/finetune.hpp"

namespace ebm {

Classifier Classifier::make(Graph& g, std::string name, const ClassifierConfig& cfg) {
  if (cfg.layers.size() < 1 || cfg.classes < 2)
    throw Error("classifier '{}': {} layer sizes and {} classes; expected an input size and at least 2 classes", name,
                cfg.layers.size(), cfg.classes);
  Classifier c{&g, name, cfg, {}, {}, {}, {}, {}, {}, {}};
  std::vector<int64_t> sizes = cfg.layers;
  sizes.push_back(cfg.classes);
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    c.w.push_back(g.param(fmt::format("{}.W{}", name, l), {sizes[l], sizes[l + 1]}));
    c.b.push_back(g.param(fmt::format("{}.b{}", name, l), {1, sizes[l + 1]}));
    const float sd = cfg.glorot_scale > 0.0f
                         ? cfg.glorot_scale * std::sqrt(2.0f / static_cast<float>(sizes[l] + sizes[l + 1]))
                         : cfg.init_std;
    fill_normal(g.value(c.w.back()), sd, cfg.seed, l);
  }
  c.x = g.input(name + ".x", {cfg.batch, cfg.layers.front()});
  c.t = g.input(name + ".t", {cfg.batch, cfg.classes});
  c.logits = c.predict(c.x);
  c.loss = softmax_xent(c.logits, c.t);
  const auto params = c.params();
  c.opt = sgd(params, grad(c.loss, params), cfg.sgd);
  return c;
}

void Classifier::init_from(const Dbn& dbn) {
  if (dbn.depth() + 1 != static_cast<int>(config.layers.size()))
    throw Error("classifier '{}': the DBN has {} layers of weights; expected {}", name, dbn.depth(),
                config.layers.size() - 1);
  // The unrolled net's hidden layers are sigmoid(h W + b): Q(h | v) of binary
  // hidden units over a hidden input of h W + b, and nothing else.
  for (const Rbm& r : dbn.rbms)
    if (r.config.hidden_unit != Unit::binary)
      throw Error("classifier '{}': init_from: '{}' has {} hidden units; expected binary hidden units in every layer "
                  "(the net's hidden layers are sigmoid units, whose mean is that of binary units only)",
                  name, r.name, to_string(r.config.hidden_unit));
  if (dbn.rbms.front().config.visible_unit == Unit::count)
    throw Error("classifier '{}': init_from: '{}' has count visible units, whose hidden input scales b by each row's "
                "words; expected visible units whose hidden input is x W + b, as the net's first layer computes",
                name, dbn.rbms.front().name);
  copy_recognition_weights(dbn, w, b, fmt::format("classifier '{}'", name));
}

Tensor Classifier::features(Tensor input) const {
  Tensor h = input;
  for (size_t l = 0; l + 1 < w.size(); ++l) h = affine_sigmoid(h, w[l], b[l]);
  return h;
}

Tensor Classifier::predict(Tensor input) const { return affine(features(input), w.back(), b.back()); }

SoftmaxNet Classifier::net() const {
  return {graph, name, x, t, loss, opt, params(), [c = *this](Tensor in) { return c.predict(in); }, config.classes,
          config.sgd.lr, config.layers};
}

std::vector<Tensor> Classifier::params() const {
  std::vector<Tensor> p;
  for (size_t l = 0; l < w.size(); ++l) p.insert(p.end(), {w[l], b[l]});
  return p;
}

}  // namespace ebm
