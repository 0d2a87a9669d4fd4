// Drawing from a DBN (models/dbn_sampling.hpp): the top RBM's chains against
// its exact marginal (enumerated, chi-square at a fixed seed), with labels
// clamped against p(penultimate | label), the top-down pass and the start
// from data against plain loops, and the refusals.

#include <cmath>
#include <cstdint>
#include <vector>

#include <doctest/doctest.h>

#include "graph/executor.hpp"
#include "graph/init.hpp"
#include "models/dbn_sampling.hpp"

using namespace ebm;

namespace {

double sigmoid_d(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double softplus_d(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

// Pearson's chi-square of binary rows (n bits each, as state indices)
// against probabilities p over the 2^n states.
double chi_square(std::span<const float> rows, int n, const std::vector<double>& p) {
  std::vector<double> count(p.size(), 0.0);
  const size_t m = rows.size() / static_cast<size_t>(n);
  for (size_t r = 0; r < m; ++r) {
    size_t s = 0;
    for (int i = 0; i < n; ++i) s |= static_cast<size_t>(rows[r * static_cast<size_t>(n) + static_cast<size_t>(i)] > 0.5f) << i;
    count[s] += 1;
  }
  double x2 = 0;
  for (size_t s = 0; s < p.size(); ++s) x2 += (count[s] - double(m) * p[s]) * (count[s] - double(m) * p[s]) / (double(m) * p[s]);
  return x2;
}

std::vector<double> normalised(std::vector<double> logp) {
  double mx = logp[0], z = 0;
  for (double l : logp) mx = std::max(mx, l);
  for (double& l : logp) z += (l = std::exp(l - mx));
  for (double& l : logp) l /= z;
  return logp;
}

}  // namespace

TEST_CASE("dbn sampling: the top RBM's chains draw from its exact marginal, on 1 and 2 threads alike") {
  Graph g;
  Dbn dbn = Dbn::make(g, "d", {.layers = {5, 3, 4}, .init_std = 1.0f, .seed = 3});
  const Rbm& top = dbn.rbms[1];
  fill_normal(g.value(top.b), 0.7f, 3, 1);
  fill_normal(g.value(top.c), 0.7f, 3, 2);
  constexpr int64_t kChains = 4000;
  DbnChains c = make_dbn_chains(dbn, kChains, "gen");
  fill_uniform(g.value(c.state), 0.0f, 1.0f, 9, 1);  // probabilities at first: a step draws binary states
  // p(v) of the top RBM (3 visible units) by enumeration, in double
  const auto w = g.value(top.w), b = g.value(top.b), cv = g.value(top.c);
  std::vector<double> logp;
  for (int s = 0; s < 8; ++s) {
    double l = 0;
    for (int i = 0; i < 3; ++i) l += ((s >> i) & 1) * double(cv[static_cast<size_t>(i)]);
    for (int j = 0; j < 4; ++j) {
      double x = b[static_cast<size_t>(j)];
      for (int i = 0; i < 3; ++i) x += ((s >> i) & 1) * double(w[static_cast<size_t>(i * 4 + j)]);
      l += softplus_d(x);
    }
    logp.push_back(l);
  }
  const std::vector<double> p = normalised(logp);
  auto after = [&](int threads) {
    fill_uniform(g.value(c.state), 0.0f, 1.0f, 9, 1);
    Executor ex(g, {.threads = threads, .seed = 5});
    for (int s = 0; s < 40; ++s) ex.run({c.step});
    const auto st = g.value(c.state);
    return std::vector<float>(st.begin(), st.end());
  };
  const std::vector<float> one = after(1);
  CHECK(after(2) == one);
  const double x2 = chi_square(one, 3, p);
  CAPTURE(x2);
  CHECK(x2 < 24.3);  // chi-square, 7 degrees of freedom, p = 0.001
  // every state is 0 or 1 after a step
  for (float v : one) CHECK((v == 0.0f || v == 1.0f));
}

TEST_CASE("dbn sampling: visible is the top-down pass of the step's hidden draw, and start the recognition pass") {
  Graph g;
  Dbn dbn = Dbn::make(g, "d", {.layers = {4, 3, 2}, .init_std = 1.0f, .seed = 4});
  fill_normal(g.value(dbn.rbms[0].c), 0.5f, 4, 1);
  fill_normal(g.value(dbn.rbms[0].b), 0.5f, 4, 2);
  fill_normal(g.value(dbn.rbms[1].c), 0.5f, 4, 3);
  // the top RBM's hidden draw made certain: unit 0 on, unit 1 off
  auto tb = g.value(dbn.rbms[1].b);
  tb[0] = 40.0f;
  tb[1] = -40.0f;
  DbnChains c = make_dbn_chains(dbn, 3, "gen");
  Executor ex(g, {.threads = 1});
  const std::vector<float> xs = {1, 0, 1, 1, 0, 0, 1, 0, 0.5f, 0.25f, 1, 0};
  ex.run({c.start}, {{c.x, xs}});
  const auto w0 = g.value(dbn.rbms[0].w), b0 = g.value(dbn.rbms[0].b), c0 = g.value(dbn.rbms[0].c);
  const auto w1 = g.value(dbn.rbms[1].w), c1 = g.value(dbn.rbms[1].c);
  for (int r = 0; r < 3; ++r)
    for (int j = 0; j < 3; ++j) {
      double x = b0[static_cast<size_t>(j)];
      for (int i = 0; i < 4; ++i) x += xs[static_cast<size_t>(r * 4 + i)] * double(w0[static_cast<size_t>(i * 3 + j)]);
      CHECK(g.value(c.state)[static_cast<size_t>(r * 3 + j)] == doctest::Approx(sigmoid_d(x)).epsilon(1e-6));
    }
  ex.run({c.visible});
  for (int r = 0; r < 3; ++r)  // h = (1, 0): E[v1 | h] = sigmoid(W1[:, 0] + c1), then down through layer 0
    for (int i = 0; i < 4; ++i) {
      double x = c0[static_cast<size_t>(i)];
      for (int j = 0; j < 3; ++j)
        x += sigmoid_d(double(w1[static_cast<size_t>(j * 2)]) + c1[static_cast<size_t>(j)]) * double(w0[static_cast<size_t>(i * 3 + j)]);
      CHECK(ex.value(c.visible)[static_cast<size_t>(r * 4 + i)] == doctest::Approx(sigmoid_d(x)).epsilon(1e-5));
    }
}

TEST_CASE("dbn sampling: chains with a clamped label draw from p(penultimate | label)") {
  Graph g;
  const LabelledRbm top = LabelledRbm::make(g, "top", 3, 2, 4, 1.2f, 6);
  fill_normal(g.value(top.b), 0.6f, 6, 1);
  fill_normal(g.value(top.c), 0.6f, 6, 2);
  fill_normal(g.value(top.d), 0.6f, 6, 3);
  std::vector<int> labels(6000);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = i < 3000 ? 0 : 1;
  const LabelledChains c = make_labelled_chains(top, labels, "gen", [](Tensor t) { return t; });
  fill_uniform(g.value(c.state), 0.0f, 1.0f, 2, 2);
  Executor ex(g, {.threads = 2, .seed = 8});
  for (int s = 0; s < 40; ++s) ex.run({c.step});
  const auto w = g.value(top.w), u = g.value(top.u), b = g.value(top.b), cv = g.value(top.c);
  const auto state = g.value(c.state);
  std::vector<std::vector<double>> dist;  // p(p | y) per label
  for (int y = 0; y < 2; ++y) {
    std::vector<double> logp;  // log p(p, y) up to a constant shared by every p (d_y drops out)
    for (int s = 0; s < 8; ++s) {
      double l = 0;
      for (int i = 0; i < 3; ++i) l += ((s >> i) & 1) * double(cv[static_cast<size_t>(i)]);
      for (int j = 0; j < 4; ++j) {
        double x = double(b[static_cast<size_t>(j)]) + u[static_cast<size_t>(y * 4 + j)];
        for (int i = 0; i < 3; ++i) x += ((s >> i) & 1) * double(w[static_cast<size_t>(i * 4 + j)]);
        l += softplus_d(x);
      }
      logp.push_back(l);
    }
    dist.push_back(normalised(logp));
  }
  for (int y = 0; y < 2; ++y) {
    const auto rows = state.subspan(static_cast<size_t>(y) * 3000 * 3, 3000 * 3);
    const double x2 = chi_square(rows, 3, dist[static_cast<size_t>(y)]);
    const double other = chi_square(rows, 3, dist[static_cast<size_t>(1 - y)]);
    CAPTURE(y);
    CAPTURE(x2);
    CAPTURE(other);
    CHECK(x2 < 24.3);      // 7 degrees of freedom, p = 0.001
    CHECK(other > 100.0);  // and the test tells the labels apart: an unclamped chain would fail it
  }
  ex.run({c.visible});  // with the identity for `down`: the top RBM's E[p | h], in (0, 1)
  for (float v : ex.value(c.visible)) CHECK((v > 0.0f && v < 1.0f));
}

TEST_CASE("dbn sampling: an empty model, no chains, a used name, a label out of range and other units are refused") {
  Graph g;
  Dbn dbn = Dbn::make(g, "d", {.layers = {4, 3, 2}});
  CHECK_THROWS_WITH_AS(make_dbn_chains(Dbn{}, 2, "a"), doctest::Contains("an empty Dbn"), Error);
  CHECK_THROWS_WITH_AS(make_dbn_chains(dbn, 0, "a"), doctest::Contains("0 chains; expected at least 1"), Error);
  make_dbn_chains(dbn, 2, "a");
  const NodeId size = g.size();
  CHECK_THROWS_WITH_AS(make_dbn_chains(dbn, 2, "a"), doctest::Contains("the graph already holds 'a.state'"), Error);
  CHECK(g.size() == size);  // nothing added
  Dbn real = Dbn::make(g, "r", {.layers = {4, 3}, .visible_unit = Unit::gaussian});
  CHECK_THROWS_WITH_AS(make_dbn_chains(real, 2, "b"), doctest::Contains("expected binary units in every layer"), Error);
  const LabelledRbm top = LabelledRbm::make(g, "top", 2, 3, 4, 0.1f, 1);
  const NodeId before = g.size();
  const std::vector<int> bad = {0, 3};
  auto id = [](Tensor t) { return t; };
  CHECK_THROWS_WITH_AS(make_labelled_chains(top, bad, "c", id), doctest::Contains("chain 1 has label 3; expected a label from 0 to 2"),
                       Error);
  CHECK_THROWS_WITH_AS(make_labelled_chains(top, {}, "c", id), doctest::Contains("no labels"), Error);
  CHECK_THROWS_WITH_AS(make_labelled_chains(LabelledRbm{}, bad, "c", id), doctest::Contains("an empty LabelledRbm"), Error);
  CHECK(g.size() == before);  // the refusals added nothing
}
