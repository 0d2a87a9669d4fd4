// The joint image-label model: classification by free energy equals the
// exact posterior over labels, and one up-down step changes every parameter
// by the wake-sleep and contrastive rules computed by hand.

#include <algorithm>
#include <cmath>
#include <span>

#include <doctest/doctest.h>

#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "models/joint.hpp"

using namespace ebm;

namespace {

using Mat = std::vector<double>;

double sigm(double x) { return 1 / (1 + std::exp(-x)); }

// out[i][j] = sum_k a[i][k] b[k][j] + bias[j]  (a: m x k, b: k x n)
Mat affine(std::span<const float> a, std::span<const float> b, std::span<const float> bias, int64_t m, int64_t k,
           int64_t n) {
  Mat o(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = bias[static_cast<size_t>(j)];
      for (int64_t l = 0; l < k; ++l)
        s += double(a[static_cast<size_t>(i * k + l)]) * b[static_cast<size_t>(l * n + j)];
      o[static_cast<size_t>(i * n + j)] = s;
    }
  return o;
}

// The wake-sleep deltas of predicting `target` from `from` through (w, bias):
// weights lr * from' (target - sigmoid(from w + bias)) / B, bias
// lr * sum over rows of (target - sigmoid(from w + bias)) / B
std::pair<Mat, Mat> predict_delta(std::span<const float> from, std::span<const float> target, std::span<const float> w,
                                  std::span<const float> bias, int64_t batch, int64_t nf, int64_t nt, double lr) {
  const Mat a = affine(from, w, bias, batch, nf, nt);
  Mat dw(static_cast<size_t>(nf * nt), 0.0), db(static_cast<size_t>(nt), 0.0);
  for (int64_t r = 0; r < batch; ++r)
    for (int64_t j = 0; j < nt; ++j) {
      const size_t rj = static_cast<size_t>(r * nt + j);
      const double e = lr * (target[rj] - sigm(a[rj])) / batch;
      db[static_cast<size_t>(j)] += e;
      for (int64_t i = 0; i < nf; ++i) dw[static_cast<size_t>(i * nt + j)] += from[static_cast<size_t>(r * nf + i)] * e;
    }
  return {dw, db};
}

// The contrastive deltas of the labelled top RBM (W, U, b, c, d) for positive
// statistics from (p, y) and negative ones from (pn, yn), each with the
// hidden probabilities sigmoid(p W + y U + b) the free energy's gradient uses:
// lr (<x' h>_pos - <x' h>_neg) for the weights, lr (<h>_pos - <h>_neg) etc.
std::vector<Mat> top_delta(std::span<const float> p, std::span<const float> y, std::span<const float> pn,
                           std::span<const float> yn, std::span<const float> w, std::span<const float> u,
                           std::span<const float> b, int64_t batch, int64_t np, int64_t nl, int64_t nt, double lr) {
  const std::vector<float> none(static_cast<size_t>(nt), 0.0f);
  auto hidden = [&](std::span<const float> pp, std::span<const float> yy) {
    Mat a = affine(pp, w, b, batch, np, nt);
    const Mat ay = affine(yy, u, none, batch, nl, nt);
    for (size_t i = 0; i < a.size(); ++i) a[i] = sigm(a[i] + ay[i]);
    return a;
  };
  const Mat hp = hidden(p, y), hn = hidden(pn, yn);
  Mat dw(static_cast<size_t>(np * nt), 0.0), du(static_cast<size_t>(nl * nt), 0.0), db(static_cast<size_t>(nt), 0.0),
      dc(static_cast<size_t>(np), 0.0), dd(static_cast<size_t>(nl), 0.0);
  const double s = lr / batch;
  for (int64_t r = 0; r < batch; ++r) {
    for (int64_t j = 0; j < nt; ++j) {
      const double pos = hp[static_cast<size_t>(r * nt + j)], neg = hn[static_cast<size_t>(r * nt + j)];
      db[static_cast<size_t>(j)] += s * (pos - neg);
      for (int64_t i = 0; i < np; ++i)
        dw[static_cast<size_t>(i * nt + j)] +=
            s * (p[static_cast<size_t>(r * np + i)] * pos - pn[static_cast<size_t>(r * np + i)] * neg);
      for (int64_t k = 0; k < nl; ++k)
        du[static_cast<size_t>(k * nt + j)] +=
            s * (y[static_cast<size_t>(r * nl + k)] * pos - yn[static_cast<size_t>(r * nl + k)] * neg);
    }
    for (int64_t i = 0; i < np; ++i)
      dc[static_cast<size_t>(i)] += s * (p[static_cast<size_t>(r * np + i)] - pn[static_cast<size_t>(r * np + i)]);
    for (int64_t k = 0; k < nl; ++k)
      dd[static_cast<size_t>(k)] += s * (y[static_cast<size_t>(r * nl + k)] - yn[static_cast<size_t>(r * nl + k)]);
  }
  return {dw, du, db, dc, dd};
}

}  // namespace

TEST_CASE("joint: label scores give the exact posterior over labels") {
  Graph g;
  LabelledRbm top = LabelledRbm::make(g, "top", 5, 3, 4, 0.8f, 2);
  fill_normal(g.value(top.b), 0.5f, 3, 1);
  fill_normal(g.value(top.d), 0.5f, 3, 2);
  const Tensor p = g.input("p", {6, 5});
  const Tensor scores = top.label_scores(p);
  std::vector<float> ps(30);
  fill_uniform(ps, 0.0f, 1.0f, 4, 1);
  Executor ex(g, {.threads = 2});
  ex.run({scores}, {{p, ps}});
  // brute force: p(y = k | p) from summing exp(-E) over all 16 hidden states
  for (int64_t r = 0; r < 6; ++r) {
    std::vector<double> z(3, 0.0);
    for (int k = 0; k < 3; ++k)
      for (int h = 0; h < 16; ++h) {
        double e = g.value(top.d)[static_cast<size_t>(k)];
        for (int j = 0; j < 4; ++j) {
          if (!(h >> j & 1)) continue;
          e += g.value(top.b)[static_cast<size_t>(j)] + g.value(top.u)[static_cast<size_t>(k * 4 + j)];
          for (int i = 0; i < 5; ++i)
            e += ps[static_cast<size_t>(r * 5 + i)] * g.value(top.w)[static_cast<size_t>(i * 4 + j)];
        }
        z[static_cast<size_t>(k)] += std::exp(e);
      }
    const auto s = ex.value(scores).subspan(static_cast<size_t>(r * 3), 3);
    for (int k = 1; k < 3; ++k)  // the scores' differences are log odds between labels
      CHECK(s[k] - s[0] == doctest::Approx(std::log(z[static_cast<size_t>(k)] / z[0])).epsilon(1e-4));
  }
}

TEST_CASE("joint/updown: one step applies the wake-sleep rules computed by hand") {
  // Every parameter's change in the first step (no momentum yet: -lr times
  // the gradient) is compared with the rules computed here from the states
  // the graph sampled: G_l and g_l by wake, R_l and r_l by sleep, and the top
  // RBM's W, U, b, c, d by the contrastive rule from the wake penultimate
  // sample with the clamped label against the chain's final (p, y).
  // Both ways the chain carries its labels: a one-hot sample, or the softmax
  // probabilities (then the negative statistics use those probabilities).
  using Case = std::pair<ChainLabels, int>;
  for (const auto& [labels, top_k] : {Case{ChainLabels::sampled, 1}, Case{ChainLabels::sampled, 3},
                                      Case{ChainLabels::probabilities, 1}, Case{ChainLabels::probabilities, 3}}) {
    // top_k 3: the step rebuilt with a longer top chain, same parameters
    const bool probs = labels == ChainLabels::probabilities;
    CAPTURE(probs);
    CAPTURE(top_k);
    const int64_t batch = 8, nv = 6, nh = 5, np = 4, nl = 3, ntop = 7;
    const double lr = 0.3;
    Graph g;
    Dbn lower = Dbn::make(g, "dbn", {.layers = {nv, nh, np}, .init_std = 0.5f, .seed = 3});
    LabelledRbm top = LabelledRbm::make(g, "top", np, nl, ntop, 0.5f, 4);
    const UpDown first = make_up_down(lower, top, batch, 1, {.lr = static_cast<float>(lr)}, labels);
    const UpDown ud = top_k == 1 ? first : with_top_k(first, top_k, {.lr = static_cast<float>(lr)});
    CHECK(ud.r[1].id == first.r[1].id);
    CHECK(ud.g[0].id == first.g[0].id);
    CHECK((top_k == 1) == (ud.step.id == first.step.id));
    // nonzero biases everywhere, so a bias used in the wrong place shows
    uint64_t stream = 1;
    for (Tensor t : {ud.rb[0], ud.rb[1], ud.gb[0], ud.gb[1], top.b, top.c, top.d})
      fill_normal(g.value(t), 0.5f, 9, stream++);
    std::vector<float> v(batch * nv), y(batch * nl, 0.0f);
    fill_uniform(v, 0.0f, 1.0f, 5, 1);
    for (float& x : v) x = x > 0.5f ? 1.0f : 0.0f;
    for (int64_t r = 0; r < batch; ++r) y[static_cast<size_t>(r * nl + r % nl)] = 1.0f;
    auto copy = [&](Tensor t) { return std::vector<float>(g.value(t).begin(), g.value(t).end()); };
    std::vector<std::vector<float>> before;
    for (Tensor t : g.params()) before.push_back(copy(t));
    const auto g0 = copy(ud.g[0]), gb0 = copy(ud.gb[0]), r0 = copy(ud.r[0]), rb0 = copy(ud.rb[0]);
    const auto g1 = copy(ud.g[1]), gb1 = copy(ud.gb[1]), r1 = copy(ud.r[1]), rb1 = copy(ud.rb[1]);
    const auto tw = copy(top.w), tu = copy(top.u), tb = copy(top.b), td = copy(top.d);
    Executor ex(g, {.threads = 2, .seed = 7});
    ex.run({ud.wake_states[1], ud.wake_states[2], ud.sleep_states[0], ud.sleep_states[1], ud.sleep_states[2],
            ud.negative_labels, ud.negative_hidden, ud.step},
           {{ud.v, v}, {ud.y, y}});
    auto val = [&](Tensor t) { return std::vector<float>(ex.value(t).begin(), ex.value(t).end()); };
    const auto wake1 = val(ud.wake_states[1]), wake2 = val(ud.wake_states[2]);
    const auto sleep0 = val(ud.sleep_states[0]), sleep1 = val(ud.sleep_states[1]), sleep2 = val(ud.sleep_states[2]);
    const auto neg_y = val(ud.negative_labels);
    CHECK(neg_y != y);  // the chain ran
    if (!probs) {  // its label sample is one-hot per row
      CHECK(std::count(neg_y.begin(), neg_y.end(), 1.0f) == batch);
    } else {  // the labels are softmax(h U' + d) of the chain's last hidden sample, computed here
      const auto neg_h = val(ud.negative_hidden);
      for (int64_t r = 0; r < batch; ++r) {
        std::vector<double> a(nl);
        double z = 0;
        for (int64_t k = 0; k < nl; ++k) {
          double& ak = a[static_cast<size_t>(k)];
          ak = td[static_cast<size_t>(k)];
          for (int64_t j = 0; j < ntop; ++j)
            ak += neg_h[static_cast<size_t>(r * ntop + j)] * tu[static_cast<size_t>(k * ntop + j)];
          z += std::exp(ak);
        }
        for (int64_t k = 0; k < nl; ++k)
          CHECK(neg_y[static_cast<size_t>(r * nl + k)] ==
                doctest::Approx(std::exp(a[static_cast<size_t>(k)]) / z).epsilon(1e-5));
      }
      CHECK(std::count(neg_y.begin(), neg_y.end(), 1.0f) == 0);
    }
    // wake: G_l learns to predict the layer below from the layer above
    const auto [dg0, dgb0] = predict_delta(wake1, v, g0, gb0, batch, nh, nv, lr);
    const auto [dg1, dgb1] = predict_delta(wake2, wake1, g1, gb1, batch, np, nh, lr);
    // sleep: R_l learns to predict the layer above from the layer below
    const auto [dr0, drb0] = predict_delta(sleep0, sleep1, r0, rb0, batch, nv, nh, lr);
    const auto [dr1, drb1] = predict_delta(sleep1, sleep2, r1, rb1, batch, nh, np, lr);
    // top: from the wake penultimate sample and the clamped label against the
    // chain's last penultimate sample (the sleep phase's start) and label sample
    const std::vector<Mat> dtop = top_delta(wake2, y, sleep2, neg_y, tw, tu, tb, batch, np, nl, ntop, lr);
    const std::pair<Tensor, const Mat*> checks[] = {
        {ud.g[0], &dg0},   {ud.gb[0], &dgb0}, {ud.g[1], &dg1},   {ud.gb[1], &dgb1}, {ud.r[0], &dr0},
        {ud.rb[0], &drb0}, {ud.r[1], &dr1},   {ud.rb[1], &drb1}, {top.w, &dtop[0]}, {top.u, &dtop[1]},
        {top.b, &dtop[2]}, {top.c, &dtop[3]}, {top.d, &dtop[4]}};
    const std::vector<Tensor> params = g.params();
    size_t checked = 0;
    for (size_t n = 0; n < params.size(); ++n) {
      const std::string name = params[n].name();
      CAPTURE(name);
      const auto after = copy(params[n]);
      const auto it =
          std::find_if(std::begin(checks), std::end(checks), [&](const auto& c) { return c.first == params[n]; });
      if (it == std::end(checks)) {  // the pretrained DBN's own (tied) parameters are not trained here
        CHECK(after == before[n]);
        continue;
      }
      ++checked;
      const Mat& delta = *it->second;
      REQUIRE(delta.size() == after.size());
      double largest = 0, err = 0;
      for (size_t i = 0; i < after.size(); ++i) {
        largest = std::max(largest, std::abs(delta[i]));
        err = std::max(err, std::abs(double(after[i]) - before[n][i] - delta[i]));
      }
      CAPTURE(largest);
      CHECK(largest > 1e-3);  // the step moves every one of them
      CHECK(err <= 1e-5 * largest);
    }
    CHECK(checked == std::size(checks));
  }
}
