// The convolutional RBM with probabilistic max-pooling (models/crbm.hpp) at
// sizes small enough to enumerate: its free energy is the exact marginal of
// its energy (with and without pooling), the pooled sampler draws each
// block's states with their probabilities and the same bits on any thread
// count, and CD-1 lowers the exact negative log-likelihood of bar images.
// (The ops' forward passes and gradients are checked in test_ops.)

#include <algorithm>
#include <cmath>
#include <random>

#include <doctest/doctest.h>

#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "models/crbm.hpp"

using namespace ebm;

namespace {

double log_sum_exp(const std::vector<double>& t) {
  const double m = *std::max_element(t.begin(), t.end());
  double s = 0;
  for (double x : t) s += std::exp(x - m);
  return m + std::log(s);
}

// Every binary image of the model's visible layer, one per row.
std::vector<float> all_images(int64_t n) {
  std::vector<float> v;
  for (int64_t s = 0; s < (int64_t{1} << n); ++s)
    for (int64_t i = 0; i < n; ++i) v.push_back(static_cast<float>(s >> i & 1));
  return v;
}

// The hidden input I of image v by its definition (one channel).
std::vector<double> hidden_input(const Graph& g, const Crbm& m, std::span<const float> v) {
  const ConvGeometry& geo = m.config.visible;
  const auto w = g.value(m.w), b = g.value(m.b);
  std::vector<double> in;
  for (int64_t k = 0; k < m.config.filters; ++k)
    for (int64_t i = 0; i < geo.out_height(); ++i)
      for (int64_t j = 0; j < geo.out_width(); ++j) {
        double s = b[static_cast<size_t>(k)];
        for (int64_t u = 0; u < geo.size; ++u)
          for (int64_t t = 0; t < geo.size; ++t)
            s += double{v[static_cast<size_t>((i + u) * geo.width + j + t)]} *
                 w[static_cast<size_t>(k * geo.filter() + u * geo.size + t)];
        in.push_back(s);
      }
  return in;
}

// -log sum_h exp(-E(v, h)) over every hidden state the pooling allows.
double brute_free_energy(const Graph& g, const Crbm& m, std::span<const float> v) {
  const std::vector<double> in = hidden_input(g, m, v);
  const PoolGeometry p = m.pooling();
  double cv = 0;
  for (float x : v) cv += double{g.value(m.c)[0]} * x;
  // Each block independently: off (0) or one of its units on (sum of its I).
  double total = cv;  // log of the product over blocks of (1 + sum exp(I))
  for (int64_t q = 0; q < p.groups; ++q)
    for (int64_t bi = 0; bi < p.height / p.pool; ++bi)
      for (int64_t bj = 0; bj < p.width / p.pool; ++bj) {
        std::vector<double> states{0.0};  // -E contributions of the block's allowed states
        for (int64_t i = 0; i < p.pool; ++i)
          for (int64_t j = 0; j < p.pool; ++j)
            states.push_back(in[static_cast<size_t>(q * p.plane() + (bi * p.pool + i) * p.width + bj * p.pool + j)]);
        total += log_sum_exp(states);
      }
  return -total;
}

// Free energies of every image by the graph.
std::vector<float> graph_free_energies(Graph& g, const Crbm& m, const std::vector<float>& images, int64_t n) {
  const Tensor v = g.input("v" + std::to_string(g.size()), {static_cast<int64_t>(images.size()) / n, n});
  const Tensor f = m.free_energy(v);
  Executor ex(g, {.threads = 2});
  ex.run({f}, {{v, images}});
  return {ex.value(f).begin(), ex.value(f).end()};
}

}  // namespace

TEST_CASE("crbm: the free energy is the exact marginal of the energy, pooled and not") {
  for (int64_t pool : {1, 2}) {
    Graph g;
    Crbm m = Crbm::make(g, "crbm", {.visible = {.channels = 1, .height = 3, .width = 3, .size = 2}, .filters = 2,
                                    .pool = pool, .init_std = 1.0f, .seed = 4});
    fill_normal(g.value(m.b), 0.5f, 4, 1);
    fill_normal(g.value(m.c), 0.5f, 4, 2);
    const std::vector<float> images = all_images(9);
    const std::vector<float> f = graph_free_energies(g, m, images, 9);
    double worst = 0;
    for (size_t s = 0; s < f.size(); ++s)
      worst = std::max(worst, std::abs(f[s] - brute_free_energy(g, m, std::span(images).subspan(s * 9, 9))));
    INFO("pool ", pool);
    CHECK(worst < 1e-4);
  }
}

TEST_CASE("crbm: energy() and the free energy agree with a sum over every hidden state") {
  // Without pooling, 8 binary hidden units: F(v) = -log sum_h exp(-E(v, h)) by the graph's own energy().
  Graph g;
  Crbm m = Crbm::make(g, "crbm", {.visible = {.channels = 1, .height = 3, .width = 3, .size = 2}, .filters = 2,
                                  .pool = 1, .init_std = 1.0f, .seed = 6});
  fill_normal(g.value(m.b), 0.5f, 6, 1);
  fill_normal(g.value(m.c), 0.5f, 6, 2);
  const std::vector<float> image{1, 0, 1, 1, 1, 0, 0, 1, 0};
  std::vector<float> vs, hs;
  for (int s = 0; s < 256; ++s) {
    vs.insert(vs.end(), image.begin(), image.end());
    for (int j = 0; j < 8; ++j) hs.push_back(static_cast<float>(s >> j & 1));
  }
  const Tensor v = g.input("v", {256, 9}), h = g.input("h", {256, 8});
  const Tensor e = m.energy(v, h), f = m.free_energy(v);
  Executor ex(g, {.threads = 2});
  ex.run({e, f}, {{v, vs}, {h, hs}});
  std::vector<double> minus_e;
  for (float x : ex.value(e)) minus_e.push_back(-x);
  CHECK(ex.value(f)[0] == doctest::Approx(-log_sum_exp(minus_e)).epsilon(1e-5));
}

TEST_CASE("crbm: pooled draws take each block state with its probability, the same bits on any thread count") {
  // One group of 2 x 2 units in one block; 20,000 rows of the same input.
  const PoolGeometry p{.groups = 1, .height = 2, .width = 2, .pool = 2};
  const std::vector<float> in{0.5f, -1.0f, 1.5f, 0.0f};
  const int rows = 20000;
  std::vector<float> x;
  for (int r = 0; r < rows; ++r) x.insert(x.end(), in.begin(), in.end());
  auto draw = [&](int threads) {
    Graph g;
    const Tensor t = g.input("x", {rows, 4});
    const Tensor s = maxpool_sample(t, p), q = maxpool_probs(t, p);
    Executor ex(g, {.threads = threads, .seed = 11});
    ex.run({s, q}, {{t, x}});
    return std::pair{std::vector<float>(ex.value(s).begin(), ex.value(s).end()),
                     std::vector<float>(ex.value(q).begin(), ex.value(q).begin() + 4)};
  };
  const auto [samples, probs] = draw(2);
  CHECK(draw(1).first == samples);
  double total = 1;
  for (float v : in) total += std::exp(double{v});
  std::vector<double> expected{1 / total};  // off, then each unit
  for (size_t u = 0; u < 4; ++u) {
    expected.push_back(std::exp(double{in[u]}) / total);
    CHECK(probs[u] == doctest::Approx(expected.back()).epsilon(1e-6));
  }
  std::vector<double> count(5, 0.0);
  for (int r = 0; r < rows; ++r) {
    int on = 0, state = 0;
    for (int u = 0; u < 4; ++u)
      if (samples[static_cast<size_t>(r * 4 + u)] == 1.0f) ++on, state = u + 1;
    REQUIRE(on <= 1);
    count[static_cast<size_t>(state)] += 1;
  }
  double chi2 = 0;
  for (size_t s = 0; s < 5; ++s) chi2 += std::pow(count[s] - rows * expected[s], 2) / (rows * expected[s]);
  CHECK(chi2 < 18.47);  // the 0.999 quantile of chi-square with 4 degrees of freedom
}

TEST_CASE("crbm: CD-1 lowers the exact negative log-likelihood of bar images") {
  // 3 x 3 images of one full row or one full column.
  std::vector<float> bars;
  for (int k = 0; k < 3; ++k)
    for (bool row : {true, false})
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) bars.push_back(static_cast<float>((row ? i : j) == k));
  Graph g;
  Crbm m = Crbm::make(g, "crbm", {.visible = {.channels = 1, .height = 3, .width = 3, .size = 2}, .filters = 4,
                                  .pool = 2, .init_std = 0.1f, .seed = 2});
  const Tensor v = g.input("data", {6, 9}), every = g.input("every", {512, 9});
  const ContrastiveDivergence cd = contrastive_divergence(m, v, 1, false, {.lr = 0.05f, .momentum = 0.5f});
  const Tensor f_data = m.free_energy(v), f_all = m.free_energy(every);
  const std::vector<float> images = all_images(9);
  Executor ex(g, {.threads = 2, .seed = 3});
  auto nll = [&] {  // mean F(data) + log Z
    ex.run({f_data, f_all}, {{v, bars}, {every, images}});
    std::vector<double> minus_f;
    for (float x : ex.value(f_all)) minus_f.push_back(-x);
    double mean = 0;
    for (float x : ex.value(f_data)) mean += x / 6.0;
    return mean + log_sum_exp(minus_f);
  };
  const double before = nll();
  for (int step = 0; step < 2000; ++step) ex.run({cd.step}, {{v, bars}});
  const double after = nll();
  INFO("exact NLL per image: ", before, " before, ", after, " after (uniform: ", 9 * std::log(2.0), ")");
  CHECK(before == doctest::Approx(9 * std::log(2.0)).epsilon(0.05));
  CHECK(after < before - 1.0);  // (6 equally likely images: 1.79 at best)
}

TEST_CASE("crbm: a sparsity penalty through the pooled probabilities holds the hidden units near their target") {
  // CD-1 on the bar images with and without cost * (mean p(h | v) - 0.05)^2 added to the objective.
  std::vector<float> bars;
  for (int k = 0; k < 3; ++k)
    for (bool row : {true, false})
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) bars.push_back(static_cast<float>((row ? i : j) == k));
  auto mean_activation = [&](float cost) {
    Graph g;
    Crbm m = Crbm::make(g, "crbm", {.visible = {.channels = 1, .height = 3, .width = 3, .size = 2}, .filters = 4,
                                    .pool = 2, .init_std = 0.1f, .seed = 2});
    const Tensor v = g.input("data", {6, 9});
    const Tensor activation = mean(m.p_h(v));
    const Tensor penalty = square(activation - 0.05f) * cost;
    const ContrastiveDivergence cd = contrastive_divergence(m, v, 1, false, {.lr = 0.05f, .momentum = 0.5f}, penalty);
    Executor ex(g, {.threads = 2, .seed = 3});
    for (int step = 0; step < 1000; ++step) ex.run({cd.step}, {{v, bars}});
    ex.run({activation}, {{v, bars}});
    return ex.scalar(activation);
  };
  const float free = mean_activation(0.0f), held = mean_activation(50.0f);
  INFO("mean p(h | v): ", free, " without the penalty, ", held, " with it");
  CHECK(std::abs(held - 0.05f) < 0.5f * std::abs(free - 0.05f));
  Graph g;
  Crbm m = Crbm::make(g, "crbm", {.visible = {.channels = 1, .height = 3, .width = 3, .size = 2}, .filters = 1});
  const Tensor v = g.input("data", {6, 9});
  CHECK_THROWS_WITH_AS(contrastive_divergence(m, v, 1, false, {}, m.p_h(v)), doctest::Contains("expected a scalar"),
                       Error);
}
