// The joint image-label model: classification by free energy equals the
// exact posterior over labels, and one up-down step applies the wake-sleep
// rules computed by hand.

#include <cmath>

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
Mat affine(std::span<const float> a, std::span<const float> b, std::span<const float> bias, int64_t m, int64_t k, int64_t n) {
  Mat o(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = bias[static_cast<size_t>(j)];
      for (int64_t l = 0; l < k; ++l) s += double(a[static_cast<size_t>(i * k + l)]) * b[static_cast<size_t>(l * n + j)];
      o[static_cast<size_t>(i * n + j)] = s;
    }
  return o;
}

// The wake-sleep delta of predicting `target` from `from` through (w, bias):
// lr * from' (target - sigmoid(from w + bias)) / B
Mat predict_delta(std::span<const float> from, std::span<const float> target, std::span<const float> w,
                  std::span<const float> bias, int64_t batch, int64_t nf, int64_t nt, double lr) {
  const Mat a = affine(from, w, bias, batch, nf, nt);
  Mat d(static_cast<size_t>(nf * nt), 0.0);
  for (int64_t r = 0; r < batch; ++r)
    for (int64_t i = 0; i < nf; ++i)
      for (int64_t j = 0; j < nt; ++j)
        d[static_cast<size_t>(i * nt + j)] += lr * from[static_cast<size_t>(r * nf + i)] *
                                              (target[static_cast<size_t>(r * nt + j)] - sigm(a[static_cast<size_t>(r * nt + j)])) / batch;
  return d;
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
          for (int i = 0; i < 5; ++i) e += ps[static_cast<size_t>(r * 5 + i)] * g.value(top.w)[static_cast<size_t>(i * 4 + j)];
        }
        z[static_cast<size_t>(k)] += std::exp(e);
      }
    const auto s = ex.value(scores).subspan(static_cast<size_t>(r * 3), 3);
    for (int k = 1; k < 3; ++k)  // the scores' differences are log odds between labels
      CHECK(s[k] - s[0] == doctest::Approx(std::log(z[static_cast<size_t>(k)] / z[0])).epsilon(1e-4));
  }
}

TEST_CASE("joint/updown: one step applies the wake-sleep rules computed by hand") {
  for (const int top_k : {1, 3}) {  // 3: the step rebuilt with a longer top chain, same parameters
    CAPTURE(top_k);
    const int64_t batch = 8, nv = 6, nh = 5, np = 4, nl = 3, ntop = 7;
    const double lr = 0.3;
    Graph g;
    Dbn lower = Dbn::make(g, "dbn", {.layers = {nv, nh, np}, .init_std = 0.5f, .seed = 3});
    LabelledRbm top = LabelledRbm::make(g, "top", np, nl, ntop, 0.5f, 4);
    const UpDown first = make_up_down(lower, top, batch, 1, {.lr = static_cast<float>(lr)});
    const UpDown ud = top_k == 1 ? first : with_top_k(first, top_k, {.lr = static_cast<float>(lr)});
    CHECK(ud.r[1].id == first.r[1].id);
    CHECK(ud.g[0].id == first.g[0].id);
    CHECK((top_k == 1) == (ud.step.id == first.step.id));
    std::vector<float> v(batch * nv), y(batch * nl, 0.0f);
    fill_uniform(v, 0.0f, 1.0f, 5, 1);
    for (float& x : v) x = x > 0.5f ? 1.0f : 0.0f;
    for (int64_t r = 0; r < batch; ++r) y[static_cast<size_t>(r * nl + r % nl)] = 1.0f;
    auto copy = [&](Tensor t) { return std::vector<float>(g.value(t).begin(), g.value(t).end()); };
    const auto g0 = copy(ud.g[0]), gb0 = copy(ud.gb[0]), r0 = copy(ud.r[0]), rb0 = copy(ud.rb[0]);
    const auto g1 = copy(ud.g[1]), gb1 = copy(ud.gb[1]), r1 = copy(ud.r[1]), rb1 = copy(ud.rb[1]);
    Executor ex(g, {.threads = 2, .seed = 7});
    ex.run({ud.wake_states[1], ud.wake_states[2], ud.sleep_states[0], ud.sleep_states[1], ud.sleep_states[2], ud.step},
           {{ud.v, v}, {ud.y, y}});
    auto val = [&](Tensor t) { return std::vector<float>(ex.value(t).begin(), ex.value(t).end()); };
    const auto wake1 = val(ud.wake_states[1]), wake2 = val(ud.wake_states[2]);
    const auto sleep0 = val(ud.sleep_states[0]), sleep1 = val(ud.sleep_states[1]), sleep2 = val(ud.sleep_states[2]);
    // wake: G_l learns to predict the layer below from the layer above
    const Mat dg0 = predict_delta(wake1, v, g0, gb0, batch, nh, nv, lr);
    const Mat dg1 = predict_delta(wake2, wake1, g1, gb1, batch, np, nh, lr);
    // sleep: R_l learns to predict the layer above from the layer below
    const Mat dr0 = predict_delta(sleep0, sleep1, r0, rb0, batch, nv, nh, lr);
    const Mat dr1 = predict_delta(sleep1, sleep2, r1, rb1, batch, nh, np, lr);
    const std::pair<Tensor, std::pair<const std::vector<float>*, const Mat*>> checks[] = {
        {ud.g[0], {&g0, &dg0}}, {ud.g[1], {&g1, &dg1}}, {ud.r[0], {&r0, &dr0}}, {ud.r[1], {&r1, &dr1}}};
    for (const auto& [t, before_delta] : checks) {
      const auto after = copy(t);
      const auto& [before, delta] = before_delta;
      for (size_t i = 0; i < after.size(); ++i)
        CHECK(after[i] - (*before)[i] == doctest::Approx((*delta)[i]).epsilon(1e-3).scale(1e-4));
    }
  }
}
