#include "models/joint.hpp"

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

LabelledCd make_labelled_cd(const LabelledRbm& top, int64_t batch, int k, SgdOptions sgd_options) {
  Graph& g = *top.graph;
  LabelledCd cd;
  cd.p0 = g.input(top.name + ".p0", {batch, top.visible});
  cd.y0 = g.input(top.name + ".y0", {batch, top.labels});
  Tensor h = sigmoid_bernoulli(top.hidden_input(cd.p0, cd.y0)), p, y;
  for (int i = 0; i < k; ++i) {
    if (i > 0) h = sigmoid_bernoulli(top.hidden_input(p, y));
    p = sigmoid_bernoulli(matmul(h, top.w, {.tb = true}) + top.c);
    y = categorical(softmax(matmul(h, top.u, {.tb = true}) + top.d));
  }
  cd.recon_error = squared_error(sigmoid(matmul(h, top.w, {.tb = true}) + top.c), cd.p0);
  cd.objective = mean(top.free_energy(cd.p0, cd.y0)) - mean(top.free_energy(stop_gradient(p), stop_gradient(y)));
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

Tensor UpDown::classify(Tensor pixels) const {
  Tensor h = pixels;
  for (size_t l = 0; l < r.size(); ++l) h = affine_sigmoid(h, r[l], rb[l]);
  return top.label_scores(h);
}

UpDown make_up_down(const Dbn& lower, const LabelledRbm& top, int64_t batch, int top_k, SgdOptions sgd_options) {
  Graph& g = *lower.graph;
  UpDown ud{{}, {}, {}, {}, top, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}};
  for (const Rbm& rbm : lower.rbms) {  // untie: copies of W for both directions
    const std::string n = rbm.name;
    ud.r.push_back(g.param(n + ".R", rbm.w.shape()));
    ud.g.push_back(g.param(n + ".G", {rbm.w.shape().cols, rbm.w.shape().rows}));
    ud.rb.push_back(g.param(n + ".r", rbm.b.shape()));
    ud.gb.push_back(g.param(n + ".g", rbm.c.shape()));
    const auto w = g.value(rbm.w);
    auto gt = g.value(ud.g.back());
    const int64_t nv = rbm.config.visible, nh = rbm.config.hidden;
    std::copy(w.begin(), w.end(), g.value(ud.r.back()).begin());
    for (int64_t i = 0; i < nv; ++i)
      for (int64_t j = 0; j < nh; ++j) gt[static_cast<size_t>(j * nv + i)] = w[static_cast<size_t>(i * nh + j)];
    std::copy(g.value(rbm.b).begin(), g.value(rbm.b).end(), g.value(ud.rb.back()).begin());
    std::copy(g.value(rbm.c).begin(), g.value(rbm.c).end(), g.value(ud.gb.back()).begin());
  }
  const size_t n = ud.r.size();
  ud.v = g.input("updown.v", {batch, lower.rbms.front().config.visible});
  ud.y = g.input("updown.y", {batch, top.labels});
  // wake: up with R, sampling
  ud.wake_states.push_back(ud.v);
  for (size_t l = 0; l < n; ++l) ud.wake_states.push_back(sigmoid_bernoulli(matmul(ud.wake_states[l], ud.r[l]) + ud.rb[l]));
  for (size_t l = 0; l < n; ++l) {
    const Tensor loss = predict_loss(ud.wake_states[l + 1], ud.g[l], ud.gb[l], ud.wake_states[l]);
    ud.wake_loss = ud.wake_loss.valid() ? ud.wake_loss + loss : loss;
  }
  // top: CD-k from the wake state and the clamped label
  const Tensor pen = ud.wake_states[n];
  Tensor h = sigmoid_bernoulli(top.hidden_input(pen, ud.y)), p, y;
  for (int i = 0; i < top_k; ++i) {
    if (i > 0) h = sigmoid_bernoulli(top.hidden_input(p, y));
    p = sigmoid_bernoulli(matmul(h, top.w, {.tb = true}) + top.c);
    y = categorical(softmax(matmul(h, top.u, {.tb = true}) + top.d));
  }
  ud.negative_labels = y;
  ud.top_objective = mean(top.free_energy(stop_gradient(pen), ud.y)) - mean(top.free_energy(stop_gradient(p), stop_gradient(y)));
  // sleep: down with G from the top RBM's sample; the bottom layer as probabilities
  std::vector<Tensor> down(n + 1);
  down[n] = p;
  for (size_t l = n; l-- > 0;) {
    const Tensor a = matmul(down[l + 1], ud.g[l]) + ud.gb[l];
    down[l] = l == 0 ? sigmoid(a) : sigmoid_bernoulli(a);
  }
  ud.sleep_states = down;
  for (size_t l = 0; l < n; ++l) {
    const Tensor loss = predict_loss(down[l], ud.r[l], ud.rb[l], down[l + 1]);
    ud.sleep_loss = ud.sleep_loss.valid() ? ud.sleep_loss + loss : loss;
  }
  std::vector<Tensor> params;
  for (size_t l = 0; l < n; ++l) params.insert(params.end(), {ud.r[l], ud.rb[l], ud.g[l], ud.gb[l]});
  for (Tensor t : top.params()) params.push_back(t);
  ud.opt = sgd(params, grad(ud.wake_loss + ud.sleep_loss + ud.top_objective, params), sgd_options);
  ud.step = ud.opt.step;
  return ud;
}

}  // namespace ebm
