#include "models/joint.hpp"

#include <string>

#include <fmt/format.h>

#include "autodiff/grad.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"

namespace ebm {

LabelledRbm LabelledRbm::make(Graph& g, std::string name, int64_t visible, int64_t labels, int64_t hidden,
                              float init_std, uint64_t seed) {
  if (visible < 1 || labels < 2 || hidden < 1)
    throw Error("labelled rbm '{}': {} visible, {} label and {} hidden units; expected positive sizes and >= 2 labels",
                name, visible, labels, hidden);
  LabelledRbm r{&g, name, visible, labels, hidden, {}, {}, {}, {}, {}};
  r.w = g.param(name + ".W", {visible, hidden});
  r.u = g.param(name + ".U", {labels, hidden});
  r.b = g.param(name + ".b", {1, hidden});
  r.c = g.param(name + ".c", {1, visible});
  r.d = g.param(name + ".d", {1, labels});
  fill_normal(g.value(r.w), init_std, seed, 1);
  fill_normal(g.value(r.u), init_std, seed, 2);
  return r;
}

Tensor LabelledRbm::hidden_input(Tensor p, Tensor y) const { return matmul(p, w) + matmul(y, u) + b; }

Tensor LabelledRbm::free_energy(Tensor p, Tensor y) const {
  return -(sum(p * c, 1) + sum(y * d, 1) + sum(softplus(hidden_input(p, y)), 1));
}

// score_k = d_k + sum_j softplus(b_j + (p W)_j + U_kj) = -F(p, e_k) - c.p
Tensor LabelledRbm::label_scores(Tensor p) const {
  Graph& g = *graph;
  const Tensor base = matmul(p, w) + b;
  Tensor scores;
  for (int64_t k = 0; k < labels; ++k) {
    std::vector<float> e(static_cast<size_t>(labels), 0.0f);
    e[static_cast<size_t>(k)] = 1.0f;
    const Tensor ek = g.constant({1, labels}, e);
    const Tensor s = sum(softplus(base + matmul(ek, u)), 1) + sum(d * ek);
    scores = scores.valid() ? scores + s * ek : s * ek;  // [B, 1] x [1, K] places column k
  }
  return scores;
}

namespace {

// k steps of Gibbs sampling in the top RBM from (p0, y0): h ~ p(h | p, y),
// p ~ p(p | h), y ~ softmax(h U' + d) (or y = softmax(h U' + d) with
// ChainLabels::probabilities). Returns the last (p, y) and h.
struct TopChain {
  Tensor p, y, h;
};
TopChain top_gibbs(const LabelledRbm& top, Tensor p0, Tensor y0, int k, ChainLabels labels) {
  if (k < 1) throw Error("labelled RBM '{}': a chain of {} Gibbs steps; expected at least 1 (CD-k's k)", top.name, k);
  TopChain c{p0, y0, {}};
  for (int i = 0; i < k; ++i) {
    c.h = sigmoid_bernoulli(top.hidden_input(c.p, c.y));
    c.p = sigmoid_bernoulli(matmul(c.h, top.w, {.tb = true}) + top.c);
    const Tensor q = softmax(matmul(c.h, top.u, {.tb = true}) + top.d);
    c.y = labels == ChainLabels::probabilities ? q : categorical(q);
  }
  return c;
}

}  // namespace

LabelledCd make_labelled_cd(const LabelledRbm& top, int64_t batch, int k, SgdOptions sgd_options,
                            ChainLabels labels) {
  if (top.graph == nullptr)
    throw Error("make_labelled_cd: an empty LabelledRbm (default-made); expected one LabelledRbm::make built");
  if (batch < 1) throw Error("make_labelled_cd of '{}': batch {}; expected at least 1 row", top.name, batch);
  Graph& g = *top.graph;
  LabelledCd cd;
  cd.p0 = g.input(top.name + ".p0", {batch, top.visible});
  cd.y0 = g.input(top.name + ".y0", {batch, top.labels});
  const TopChain neg = top_gibbs(top, cd.p0, cd.y0, k, labels);
  cd.recon_error = squared_error(sigmoid(matmul(neg.h, top.w, {.tb = true}) + top.c), cd.p0);
  cd.objective =
      mean(top.free_energy(cd.p0, cd.y0)) - mean(top.free_energy(stop_gradient(neg.p), stop_gradient(neg.y)));
  const auto params = top.params();
  cd.opt = sgd(params, grad(cd.objective, params), sgd_options);
  cd.step = cd.opt.step;
  return cd;
}

namespace {

// -log p(target | sg(from)) under weights (w, bias), targets binary: bce from logits
Tensor predict_loss(Tensor from, Tensor w, Tensor bias, Tensor target) {
  return bce_logits(matmul(stop_gradient(from), w) + bias, stop_gradient(target));
}

}  // namespace

namespace {

// An UpDown make_up_down built: else an ebm::Error naming the call.
void check_built(const UpDown& ud, std::string_view call) {
  if (ud.top.graph == nullptr || ud.r.empty() || !ud.step.valid())
    throw Error("{}: an empty UpDown (default-made, or JointTrainer::updown_model() before up_down()); expected one "
                "make_up_down built",
                call);
}

// An input of `width` columns: else an ebm::Error naming the call.
void check_width(std::string_view call, Tensor in, int64_t width, std::string_view what) {
  if (!in.valid() || in.shape().cols != width)
    throw Error("{}: an input of shape {}; expected {} columns ({})", call,
                in.valid() ? fmt::format("{}", in.shape()) : std::string("(none: a default-made Tensor)"), width,
                what);
}

}  // namespace

Tensor UpDown::classify(Tensor pixels) const {
  check_built(*this, "UpDown::classify");
  check_width("UpDown::classify", pixels, r.front().shape().rows, "the pixels the network takes");
  Tensor h = pixels;
  for (size_t l = 0; l < r.size(); ++l) h = affine_sigmoid(h, r[l], rb[l]);
  return top.label_scores(h);
}

Tensor UpDown::generate(Tensor pen) const {
  check_built(*this, "UpDown::generate");
  check_width("UpDown::generate", pen, top.visible, "the penultimate layer's units");
  Tensor h = pen;
  for (size_t l = g.size(); l-- > 0;) h = sigmoid(matmul(h, g[l]) + gb[l]);
  return h;
}

namespace {

// Untied copies of a pretrained RBM: recognition R = W, r = b and generative
// G = W', g = c.
void untie(Graph& g, const Rbm& rbm, UpDown& ud) {
  const std::string n = rbm.name;
  const int64_t nv = rbm.config.visible, nh = rbm.config.hidden;
  ud.r.push_back(g.param(n + ".R", rbm.w.shape()));
  ud.g.push_back(g.param(n + ".G", {nh, nv}));
  ud.rb.push_back(g.param(n + ".r", rbm.b.shape()));
  ud.gb.push_back(g.param(n + ".g", rbm.c.shape()));
  const auto w = g.value(rbm.w);
  auto gt = g.value(ud.g.back());
  std::copy(w.begin(), w.end(), g.value(ud.r.back()).begin());
  for (int64_t i = 0; i < nv; ++i)
    for (int64_t j = 0; j < nh; ++j) gt[static_cast<size_t>(j * nv + i)] = w[static_cast<size_t>(i * nh + j)];
  std::copy(g.value(rbm.b).begin(), g.value(rbm.b).end(), g.value(ud.rb.back()).begin());
  std::copy(g.value(rbm.c).begin(), g.value(rbm.c).end(), g.value(ud.gb.back()).begin());
}

// total + loss (or loss, when total is not yet set)
Tensor add_loss(Tensor total, Tensor loss) { return total.valid() ? total + loss : loss; }

}  // namespace

void check_joint_models(const Dbn& lower, const LabelledRbm& top, std::string_view call) {
  if (lower.graph == nullptr || lower.rbms.empty() || top.graph == nullptr)
    throw Error("{}: an empty {} (default-made); expected models that Dbn::make and LabelledRbm::make built", call,
                top.graph == nullptr ? "LabelledRbm" : "Dbn");
  if (lower.graph != top.graph)
    throw Error("{}: the DBN '{}' and the top RBM '{}' are in different graphs; expected both in one graph", call,
                lower.name, top.name);
  if (top.visible != lower.rbms.back().config.hidden)
    throw Error("{}: the top RBM '{}' has {} visible units; expected the DBN's top layer, {} units", call, top.name,
                top.visible, lower.rbms.back().config.hidden);
  for (const Rbm& r : lower.rbms)  // the wake and sleep passes sample Bernoulli states; the top RBM's p is binary
    if (r.config.visible_unit != Unit::binary || r.config.hidden_unit != Unit::binary)
      throw Error("{}: '{}' has {} visible and {} hidden units; expected binary units in every layer of the DBN '{}' "
                  "(the joint model's passes sample binary states at every layer, the pixels included)",
                  call, r.name, to_string(r.config.visible_unit), to_string(r.config.hidden_unit), lower.name);
}

UpDown make_up_down(const Dbn& lower, const LabelledRbm& top, int64_t batch, int top_k, SgdOptions sgd_options,
                    ChainLabels labels) {
  // Every argument before anything is added to the graph: a refused call
  // must leave it as it was, so that a corrected call can follow.
  check_joint_models(lower, top, "make_up_down");
  if (batch < 1) throw Error("make_up_down: batch {}; expected at least 1 row", batch);
  if (top_k < 1)
    throw Error("make_up_down: top_k {}; expected at least 1 (the top RBM's Gibbs steps, CD-k's k)", top_k);
  Graph& g = *lower.graph;
  for (Tensor p : g.params())
    if (g.label(p.id) == lower.rbms.front().name + ".R")
      throw Error("make_up_down: the graph already holds '{}', an up-down network over the DBN '{}'; expected one "
                  "make_up_down per DBN in a graph (with_top_k makes another chain over the same parameters)",
                  g.label(p.id), lower.name);
  UpDown ud;
  ud.top = top;
  ud.labels = labels;
  for (const Rbm& rbm : lower.rbms) untie(g, rbm, ud);
  ud.v = g.input("updown.v", {batch, lower.rbms.front().config.visible});
  ud.y = g.input("updown.y", {batch, top.labels});
  return with_top_k(ud, top_k, sgd_options);
}

UpDown with_top_k(const UpDown& from, int top_k, SgdOptions sgd_options) {
  // (make_up_down's own call comes before its step exists: it has the inputs)
  if (from.top.graph == nullptr || from.r.empty() || !from.v.valid() || !from.y.valid())
    throw Error("with_top_k: an empty UpDown (default-made); expected one make_up_down built");
  if (top_k < 1) throw Error("with_top_k: top_k {}; expected at least 1 (the top RBM's Gibbs steps, CD-k's k)", top_k);
  UpDown ud;  // the parameters, inputs and choices of `from`; a new chain, losses and step
  ud.r = from.r, ud.rb = from.rb, ud.g = from.g, ud.gb = from.gb, ud.top = from.top;
  ud.v = from.v, ud.y = from.y, ud.labels = from.labels;
  const LabelledRbm& top = ud.top;
  const size_t n = ud.r.size();
  ud.wake_states.push_back(ud.v);  // wake: up with R, sampling; G learns to predict each layer from the one above
  for (size_t l = 0; l < n; ++l) ud.wake_states.push_back(sigmoid_bernoulli(matmul(ud.wake_states[l], ud.r[l]) + ud.rb[l]));
  for (size_t l = 0; l < n; ++l)
    ud.wake_loss = add_loss(ud.wake_loss, predict_loss(ud.wake_states[l + 1], ud.g[l], ud.gb[l], ud.wake_states[l]));
  const Tensor pen = ud.wake_states[n];  // top: CD-k from the wake state and the clamped label
  const TopChain neg = top_gibbs(top, pen, ud.y, top_k, ud.labels);
  ud.negative_labels = neg.y;
  ud.negative_hidden = neg.h;
  ud.top_objective = mean(top.free_energy(stop_gradient(pen), ud.y)) -
                     mean(top.free_energy(stop_gradient(neg.p), stop_gradient(neg.y)));
  ud.sleep_states.assign(n + 1, {});  // sleep: down with G from the top's sample (probabilities at the bottom)
  ud.sleep_states[n] = neg.p;
  for (size_t l = n; l-- > 0;) {
    const Tensor a = matmul(ud.sleep_states[l + 1], ud.g[l]) + ud.gb[l];
    ud.sleep_states[l] = l == 0 ? sigmoid(a) : sigmoid_bernoulli(a);
  }
  for (size_t l = 0; l < n; ++l)  // R learns to predict each layer from the one below
    ud.sleep_loss = add_loss(ud.sleep_loss, predict_loss(ud.sleep_states[l], ud.r[l], ud.rb[l], ud.sleep_states[l + 1]));
  std::vector<Tensor> params;
  for (size_t l = 0; l < n; ++l) params.insert(params.end(), {ud.r[l], ud.rb[l], ud.g[l], ud.gb[l]});
  for (Tensor t : top.params()) params.push_back(t);
  ud.opt = sgd(params, grad(ud.wake_loss + ud.sleep_loss + ud.top_objective, params), sgd_options);
  ud.step = ud.opt.step;
  return ud;
}

}  // namespace ebm
