// The convolutional RBM with probabilistic max-pooling (models/crbm.hpp) at
// sizes small enough to enumerate: its free energy is the exact marginal of
// its energy (with and without pooling), the pooled sampler draws each
// block's states with their probabilities and the same bits on any thread
// count, and CD-1 lowers the exact negative log-likelihood of bar images.
// (The ops' forward passes and gradients are checked in test_ops.)

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

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

// Every hidden state the pooling allows (per block: none on, or one of its
// units), one per row.
std::vector<std::vector<float>> allowed_states(const PoolGeometry& p) {
  std::vector<std::vector<float>> states{std::vector<float>(static_cast<size_t>(p.groups * p.plane()), 0.0f)};
  for (int64_t q = 0; q < p.groups; ++q)
    for (int64_t bi = 0; bi < p.height / p.pool; ++bi)
      for (int64_t bj = 0; bj < p.width / p.pool; ++bj) {
        std::vector<std::vector<float>> next;
        for (const auto& st : states) {
          next.push_back(st);  // the block off
          for (int64_t i = 0; i < p.pool; ++i)
            for (int64_t j = 0; j < p.pool; ++j) {
              next.push_back(st);
              next.back()[static_cast<size_t>(q * p.plane() + (bi * p.pool + i) * p.width + bj * p.pool + j)] = 1.0f;
            }
        }
        states = std::move(next);
      }
  return states;
}

// E(v, h) in double by plain loops over the model's parameters, sharing no
// code with the graph's ops: the visible term (binary: -c . v; gaussian:
// |v - c|^2 / 2, c per channel) minus h . (correlation of v with the filters
// + the filters' biases).
double plain_energy(Graph& g, const Crbm& m, const float* v, const std::vector<float>& h) {
  const ConvGeometry& geo = m.config.visible;
  const auto w = g.value(m.w), b = g.value(m.b), c = g.value(m.c);
  const int64_t plane = geo.height * geo.width, oh = geo.out_height(), ow = geo.out_width();
  double e = 0;
  for (int64_t ch = 0; ch < geo.channels; ++ch)
    for (int64_t p = 0; p < plane; ++p) {
      const double x = v[ch * plane + p], cc = c[static_cast<size_t>(ch)];
      e += m.config.visible_unit == Unit::gaussian ? 0.5 * (x - cc) * (x - cc) : -cc * x;
    }
  for (int64_t k = 0; k < m.config.filters; ++k)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        if (h[static_cast<size_t>((k * oh + i) * ow + j)] == 0.0f) continue;
        double x = b[static_cast<size_t>(k)];
        for (int64_t ch = 0; ch < geo.channels; ++ch)
          for (int64_t u = 0; u < geo.size; ++u)
            for (int64_t t = 0; t < geo.size; ++t)
              x += double{v[ch * plane + (i + u) * geo.width + j + t]} *
                   w[static_cast<size_t>(k * geo.filter() + (ch * geo.size + u) * geo.size + t)];
        e -= x;
      }
  return e;
}

// -log sum_h exp(-E(v, h)) for each row of `images`, by plain_energy over
// every allowed hidden state; with `block_on`, also the probability that
// the first block of each group is active.
std::vector<double> brute_free_energies(Graph& g, const Crbm& m, const std::vector<float>& images,
                                        std::vector<double>* block_on = nullptr) {
  const int64_t n = m.config.visible.image();
  const auto states = allowed_states(m.pooling());
  const auto count = static_cast<int64_t>(images.size()) / n, hs = static_cast<int64_t>(states.size());
  std::vector<double> f;
  for (int64_t i = 0; i < count; ++i) {
    std::vector<double> minus_e;
    for (int64_t s = 0; s < hs; ++s)
      minus_e.push_back(-plain_energy(g, m, images.data() + i * n, states[static_cast<size_t>(s)]));
    const double lse = log_sum_exp(minus_e);
    f.push_back(-lse);
    if (block_on)  // group q's first block: units (0..pool) x (0..pool) of its plane
      for (int64_t q = 0; q < m.pooling().groups; ++q) {
        double on = 0;
        for (int64_t s = 0; s < hs; ++s) {
          bool active = false;
          for (int64_t a = 0; a < m.config.pool; ++a)
            for (int64_t b = 0; b < m.config.pool; ++b)
              active = active || states[static_cast<size_t>(s)][static_cast<size_t>(
                                     q * m.pooling().plane() + a * m.pooling().width + b)] == 1.0f;
          if (active) on += std::exp(minus_e[static_cast<size_t>(s)] - lse);
        }
        block_on->push_back(on);
      }
  }
  return f;
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
  // Every binary 3 x 3 image against a sum of exp(-E) over every allowed
  // hidden state (25 with 2 x 2 pooling, 256 without).
  for (int64_t pool : {1, 2}) {
    Graph g;
    Crbm m = Crbm::make(g, "crbm", {.visible = {.channels = 1, .height = 3, .width = 3, .size = 2}, .filters = 2,
                                    .pool = pool, .init_std = 1.0f, .seed = 4});
    fill_normal(g.value(m.b), 0.5f, 4, 1);
    fill_normal(g.value(m.c), 0.5f, 4, 2);
    const std::vector<float> images = all_images(9);
    const std::vector<float> f = graph_free_energies(g, m, images, 9);
    const std::vector<double> brute = brute_free_energies(g, m, images);
    double worst = 0;
    for (size_t s = 0; s < f.size(); ++s) worst = std::max(worst, std::abs(f[s] - brute[s]));
    INFO("pool ", pool);
    CHECK(worst < 1e-4);
  }
}

TEST_CASE("crbm: energy() equals the plain loop, binary and gaussian visible units") {
  for (Unit unit : {Unit::binary, Unit::gaussian}) {
    Graph g;
    Crbm m = Crbm::make(g, "crbm", {.visible = {.channels = 2, .height = 4, .width = 4, .size = 2}, .filters = 2,
                                    .pool = 3, .visible_unit = unit, .init_std = 0.8f, .seed = 6});
    fill_normal(g.value(m.b), 0.5f, 6, 1);
    fill_normal(g.value(m.c), 0.5f, 6, 2);
    const auto states = allowed_states(m.pooling());
    const int64_t rows = 7, n = 32, hidden = m.pooling().groups * m.pooling().plane();
    std::vector<float> images(static_cast<size_t>(rows * n)), h;
    fill_normal(images, 1.0f, 6, 3);
    for (int64_t i = 0; i < rows; ++i) {  // states spread over the list, the first all off
      const auto& st = states[static_cast<size_t>(i * 37 % static_cast<int64_t>(states.size()))];
      h.insert(h.end(), st.begin(), st.end());
    }
    const Tensor tv = g.input("v", {rows, n}), th = g.input("h", {rows, hidden});
    const Tensor e = m.energy(tv, th);
    Executor ex(g, {.threads = 2});
    ex.run({e}, {{tv, images}, {th, h}});
    for (int64_t i = 0; i < rows; ++i) {
      const std::vector<float> hi(h.begin() + i * hidden, h.begin() + (i + 1) * hidden);
      INFO("unit ", to_string(unit), ", row ", i);
      CHECK(ex.value(e)[static_cast<size_t>(i)] ==
            doctest::Approx(plain_energy(g, m, images.data() + i * n, hi)).epsilon(1e-5));
    }
  }
}

TEST_CASE("crbm: gaussian visible units on two channels: free energy and pooling units against the joint sum") {
  Graph g;
  Crbm m = Crbm::make(g, "crbm", {.visible = {.channels = 2, .height = 3, .width = 3, .size = 2}, .filters = 2,
                                  .pool = 2, .visible_unit = Unit::gaussian, .init_std = 0.7f, .seed = 8});
  fill_normal(g.value(m.b), 0.5f, 8, 1);
  fill_normal(g.value(m.c), 0.5f, 8, 2);
  REQUIRE(g.value(m.c)[0] != g.value(m.c)[1]);  // the channels' biases differ
  std::vector<float> images(5 * 18);
  fill_normal(images, 1.0f, 8, 3);
  std::vector<double> block_on;
  const std::vector<double> brute = brute_free_energies(g, m, images, &block_on);
  const Tensor v = g.input("v", {5, 18});
  const Tensor f = m.free_energy(v), pooled = m.p_pool(v);
  Executor ex(g, {.threads = 2});
  ex.run({f, pooled}, {{v, images}});
  for (size_t i = 0; i < 5; ++i) {
    CHECK(ex.value(f)[i] == doctest::Approx(brute[i]).epsilon(1e-5));
    for (size_t q = 0; q < 2; ++q)  // one block per group: the pooling unit is the block's
      CHECK(ex.value(pooled)[i * 2 + q] == doctest::Approx(block_on[i * 2 + q]).epsilon(1e-5));
  }
}

TEST_CASE("crbm: the default configuration builds, Gibbs steps give the same bits serial and on 2 threads") {
  Graph g0;
  const Crbm defaults = Crbm::make(g0, "crbm", {});
  CHECK(defaults.w.shape() == Shape{24, 81});
  CHECK(defaults.pooling().blocks() == 100);
  CHECK_THROWS_WITH_AS(Crbm::make(g0, "bad", {.filters = 0}), doctest::Contains("at least one channel and one filter"),
                       Error);
  // Three groups of 6 x 6 units in nine 2 x 2 blocks, 16 images: the
  // convolutions split over images, the draws keyed by row and block.
  auto chain = [](bool parallel) {
    Graph g;
    Crbm m = Crbm::make(g, "crbm", {.visible = {.channels = 1, .height = 8, .width = 8, .size = 3}, .filters = 3,
                                    .pool = 2, .init_std = 0.5f, .seed = 5});
    const Tensor v = g.input("v", {16, 64});
    const Tensor h = m.sample_h(v), v1 = m.sample_v(h), h1 = m.sample_h(v1);
    std::vector<float> images(16 * 64);
    fill_uniform(images, 0.0f, 1.0f, 5, 1);
    for (float& x : images) x = x < 0.3f ? 1.0f : 0.0f;
    Executor ex(g, {.threads = 2, .seed = 9, .parallel = parallel});
    ex.run({h, h1}, {{v, images}});
    std::vector<float> out(ex.value(h).begin(), ex.value(h).end());
    out.insert(out.end(), ex.value(h1).begin(), ex.value(h1).end());
    return out;
  };
  const std::vector<float> serial = chain(false), threaded = chain(true);
  CHECK(serial == threaded);
  double on = 0;
  for (float x : serial) on += x;
  CHECK(on > 0);  // something was drawn
  CHECK(on < static_cast<double>(serial.size()) / 4);  // at most one unit of four per block
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

// Calls f(r, a, units) for block a (the groups' blocks in order, each
// group's row-major) of each of `rows` rows of 2 groups of 4 x 6 units in
// 2 x 2 blocks: units are the block's four columns, row-major.
template <typename F>
void each_block_of_2x4x6(int64_t rows, F f) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t q = 0; q < 2; ++q)
      for (int64_t a = 0; a < 6; ++a) {
        std::vector<int64_t> units;
        for (int64_t i = 0; i < 2; ++i)
          for (int64_t j = 0; j < 2; ++j) units.push_back(q * 24 + ((a / 3) * 2 + i) * 6 + (a % 3) * 2 + j);
        f(r, q * 6 + a, units);
      }
}

// Runs the random op y once with the executor's seed: its output and its draws' key.
std::pair<std::vector<float>, RngKey> draw_once(Graph& g, Tensor y, uint64_t seed) {
  Executor ex(g, {.threads = 2, .seed = seed});
  ex.run({y});
  std::vector<float> out(ex.value(y).begin(), ex.value(y).end());
  return {std::move(out), make_rng_key(seed, static_cast<uint64_t>(y.id), 0)};
}

// maxpool_sample's documented generator: block a of row r (groups' blocks
// in order, each group's in row-major order) draws u = uniform01(key,
// r * groups * blocks + a) with the op's key, and takes the first state
// (off, then its units in row-major order) whose cumulative probability
// exceeds u.
TEST_CASE("crbm: maxpool_sample equals a plain loop over its generator") {
  const PoolGeometry p{.groups = 2, .height = 4, .width = 6, .pool = 2};  // 6 blocks a group
  const uint64_t seed = 7;
  Graph g;
  const Tensor x = g.param("x", {5, 48});
  fill_normal(g.value(x), 1.5f, 3, 1);
  const auto [got, key] = draw_once(g, maxpool_sample(x, p), seed);
  const auto xs = g.value(x);
  std::vector<float> want(5 * 48, 0.0f);
  each_block_of_2x4x6(5, [&](int64_t r, int64_t a, const std::vector<int64_t>& units) {
    double total = 1;
    for (int64_t u : units) total += std::exp(double{xs[static_cast<size_t>(r * 48 + u)]});
    const double draw = uniform01(key, static_cast<uint32_t>(r * 12 + a));
    double acc = 1 / total;
    for (int64_t u : units) {
      if (draw < acc) break;
      acc += std::exp(double{xs[static_cast<size_t>(r * 48 + u)]}) / total;
      if (draw < acc) want[static_cast<size_t>(r * 48 + u)] = 1.0f;
    }
  });
  CHECK(std::equal(got.begin(), got.end(), want.begin()));
  double on = 0;
  for (float v : want) on += v;
  CHECK(on > 10);  // the draws turned units on (of 60 blocks)
}

// maxpool_sample_given's documented generator: block a of row r draws
// u = uniform01(key, r * groups * blocks + a); an off pooling unit leaves its
// block off, an on one turns on the first unit whose cumulative share of
// sum_{i in a} exp(x_i) exceeds u.
TEST_CASE("crbm: maxpool_sample_given equals a plain loop over its generator") {
  const PoolGeometry p{.groups = 2, .height = 4, .width = 6, .pool = 2};  // 6 blocks a group
  const uint64_t seed = 9;
  Graph g;
  const Tensor x = g.param("x", {5, 48}), on = g.param("on", {5, 12});
  fill_normal(g.value(x), 1.5f, 3, 1);
  for (int u : {0, 1, 6, 7})  // a block of inputs whose exponents underflow still turns one unit on
    g.value(x)[static_cast<size_t>(u)] = -200.0f - static_cast<float>(u);
  for (size_t i = 0; i < 60; ++i) g.value(on)[i] = (i * 7) % 3 == 0 ? 0.0f : 1.0f;
  g.value(on)[0] = 1.0f;
  const auto [got, key] = draw_once(g, maxpool_sample_given(x, on, p), seed);
  const auto xs = g.value(x);
  std::vector<float> want(5 * 48, 0.0f);
  each_block_of_2x4x6(5, [&](int64_t r, int64_t a, const std::vector<int64_t>& units) {
    if (g.value(on)[static_cast<size_t>(r * 12 + a)] == 0.0f) return;
    double mx = -1e30, total = 0;
    for (int64_t u : units) mx = std::max(mx, double{xs[static_cast<size_t>(r * 48 + u)]});
    for (int64_t u : units) total += std::exp(double{xs[static_cast<size_t>(r * 48 + u)]} - mx);
    const double draw = uniform01(key, static_cast<uint32_t>(r * 12 + a));
    double acc = 0;
    for (size_t i = 0; i < units.size(); ++i) {
      acc += std::exp(double{xs[static_cast<size_t>(r * 48 + units[i])]} - mx) / total;
      if (draw < acc || i + 1 == units.size()) {
        want[static_cast<size_t>(r * 48 + units[i])] = 1.0f;
        break;
      }
    }
  });
  CHECK(std::equal(got.begin(), got.end(), want.begin()));
  // one unit on in each block whose pooling unit is, none elsewhere
  each_block_of_2x4x6(5, [&](int64_t r, int64_t a, const std::vector<int64_t>& units) {
    float count = 0;
    for (int64_t u : units) count += got[static_cast<size_t>(r * 48 + u)];
    CHECK(count == (g.value(on)[static_cast<size_t>(r * 12 + a)] != 0.0f ? 1.0f : 0.0f));
  });
}

// The pooling ops on `rows` rows of geometry p against plain loops in
// double: the blocks' free-energy terms, the units' probabilities, both
// backward ops and the draw through its documented generator. With
// `extremes`, every 7th input is far out (+-95 or -120: exponents that
// overflow or underflow unless the block's largest input is taken out).
// Returns how many blocks the draws turned on.
int check_pooling_ops(const PoolGeometry& p, int64_t rows, uint64_t seed, bool extremes) {
  const int64_t cols = p.groups * p.plane(), pooled = p.groups * p.blocks(), side = p.width / p.pool;
  Graph g;
  const Tensor x = g.param("x", {rows, cols}), gy = g.param("gy", {rows, cols}), gyp = g.param("gyp", {rows, pooled});
  fill_normal(g.value(x), 2.0f, 3, 1);
  fill_normal(g.value(gy), 1.0f, 3, 2);
  fill_normal(g.value(gyp), 1.0f, 3, 3);
  for (size_t i = 0; extremes && i < g.value(x).size(); i += 7)
    g.value(x)[i] = i % 3 == 0 ? -120.0f : i % 3 == 1 ? 95.0f : -95.0f;
  const Tensor soft = maxpool_softplus(x, p), probs = maxpool_probs(x, p), grad = apply(MaxPoolGrad{p}, {x, gyp}),
               probs_grad = apply(MaxPoolProbsGrad{p}, {x, gy}), drawn = maxpool_sample(x, p);
  Executor ex(g, {.threads = 2, .seed = seed});
  ex.run({soft, probs, grad, probs_grad, drawn});
  const RngKey key = make_rng_key(seed, static_cast<uint64_t>(drawn.id), 0);
  const auto xs = g.value(x), gys = g.value(gy), gyps = g.value(gyp);
  int on = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t a = 0; a < pooled; ++a) {
      const int64_t q = a / p.blocks(), top = (a % p.blocks()) / side * p.pool, left = (a % p.blocks()) % side * p.pool;
      std::vector<size_t> units;
      for (int64_t i = 0; i < p.pool; ++i)
        for (int64_t j = 0; j < p.pool; ++j)
          units.push_back(static_cast<size_t>(r * cols + q * p.plane() + (top + i) * p.width + left + j));
      double mx = 0;  // the off state's 0 with the units' inputs
      for (size_t u : units) mx = std::max(mx, double{xs[u]});
      double z = std::exp(-mx), dot = 0;
      for (size_t u : units) z += std::exp(double{xs[u]} - mx);
      for (size_t u : units) dot += std::exp(double{xs[u]} - mx) / z * gys[u];
      const auto at = static_cast<size_t>(r * pooled + a);
      CHECK(ex.value(soft)[at] == doctest::Approx(mx + std::log(z)).epsilon(1e-5));
      const double draw = uniform01(key, static_cast<uint32_t>(at));
      double acc = std::exp(-mx) / z;
      bool taken = draw < acc;  // the block off
      for (size_t u : units) {
        const double pu = std::exp(double{xs[u]} - mx) / z;
        CHECK(ex.value(probs)[u] == doctest::Approx(pu).epsilon(1e-5).scale(1e-6));
        CHECK(ex.value(grad)[u] == doctest::Approx(pu * gyps[at]).epsilon(1e-5).scale(0.01));
        // far out, gy - dot cancels when one unit takes the block: float's error is a few ulps of gy, not of the result
        const double abs_scale = extremes ? 0.1 : 0.01;
        CHECK(ex.value(probs_grad)[u] == doctest::Approx(pu * (gys[u] - dot)).epsilon(1e-5).scale(abs_scale));
        acc += pu;
        const bool here = !taken && draw < acc;
        CHECK(ex.value(drawn)[u] == (here ? 1.0f : 0.0f));
        taken = taken || here;
        on += here;
      }
    }
  return on;
}

// Blocks of 3 x 3 (the kernels' path for pools other than 2) over planes
// of 6 x 9.
TEST_CASE("crbm: the pooling ops on 3 x 3 blocks of 6 x 9 planes equal plain loops") {
  CHECK(check_pooling_ops({.groups = 2, .height = 6, .width = 9, .pool = 3}, 4, 5, false) > 10);  // of 48 blocks
}

// Blocks of 2 x 2 in groups of at least a vector of blocks (18 a group:
// the kernels' vector path, whose last vector of a half plane overlaps the
// one before on AVX-512 and AVX2), inputs far out included.
TEST_CASE("crbm: the pooling ops on 2 x 2 blocks of 6 x 12 planes equal plain loops, inputs far out included") {
  CHECK(check_pooling_ops({.groups = 3, .height = 6, .width = 12, .pool = 2}, 5, 8, true) > 100);  // of 270 blocks
}

// Small planes on the vector path: groups of 6 x 6 (9 blocks, fewer than a
// vector) side by side in one bundle, and 33 groups of 4 x 4 in two bundles
// (16 and 17 groups).
TEST_CASE("crbm: the pooling ops on 2 x 2 blocks of small planes, groups side by side, equal plain loops") {
  CHECK(check_pooling_ops({.groups = 5, .height = 6, .width = 6, .pool = 2}, 4, 9, true) > 40);      // of 180 blocks
  CHECK(check_pooling_ops({.groups = 33, .height = 4, .width = 4, .pool = 2}, 3, 10, false) > 100);  // of 396 blocks
}


// A NaN or +inf input makes its block's sum NaN, and the draw there is NaN
// at every unit (before, a NaN target compared as "off": the block was
// drawn off, and an all-NaN image drew every block off). The other blocks
// draw as they would without it, and an input of -inf is a unit that is
// never on, not a NaN. Run on the vector path (2 x 2 blocks of 6 x 12
// planes) and the block-by-block one (3 x 3 blocks; 2 x 2 on a 2 x 2 plane).
TEST_CASE("crbm: maxpool_sample draws NaN over a block with a NaN or +inf input, on either kernel path") {
  const float inf = std::numeric_limits<float>::infinity();
  for (const PoolGeometry& p : {PoolGeometry{.groups = 3, .height = 6, .width = 12, .pool = 2},
                                PoolGeometry{.groups = 2, .height = 6, .width = 9, .pool = 3},
                                PoolGeometry{.groups = 3, .height = 2, .width = 2, .pool = 2}}) {
    CAPTURE(p.pool);
    CAPTURE(p.width);
    const int64_t rows = 3, cols = p.groups * p.plane(), side = p.width / p.pool;
    Graph g;
    const Tensor x = g.param("x", {rows, cols});
    fill_normal(g.value(x), 1.5f, 3, 1);
    const Tensor y = maxpool_sample(x, p);
    const std::vector<float> clean = draw_once(g, y, 4).first;
    // row 0: a NaN in group 0's first block and a +inf in the last group's
    // last block, a -inf in group 0's last block; row 2 all NaN
    const auto at = [&](int64_t q, int64_t block, int64_t unit) {
      const int64_t top = block / side * p.pool + unit / p.pool, left = block % side * p.pool + unit % p.pool;
      return static_cast<size_t>(q * p.plane() + top * p.width + left);
    };
    const int64_t last = p.blocks() - 1;
    g.value(x)[at(0, 0, p.pool * p.pool - 1)] = NAN;
    g.value(x)[at(p.groups - 1, last, 0)] = inf;
    g.value(x)[at(0, last, 1)] = -inf;
    std::fill_n(g.value(x).begin() + 2 * cols, cols, NAN);
    const std::vector<float> got = draw_once(g, y, 4).first;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t q = 0; q < p.groups; ++q)
        for (int64_t a = 0; a < p.blocks(); ++a) {
          const bool bad = r == 2 || (r == 0 && ((q == 0 && a == 0) || (q == p.groups - 1 && a == last)));
          for (int64_t u = 0; u < p.pool * p.pool; ++u) {
            const size_t i = static_cast<size_t>(r * cols) + at(q, a, u);
            if (bad)
              CHECK(std::isnan(got[i]));
            else if (r == 0 && q == 0 && a == last)  // the -inf block: a state, the -inf unit off
              CHECK((got[i] == 0.0f || (got[i] == 1.0f && u != 1)));
            else
              CHECK(got[i] == clean[i]);
          }
        }
  }
}

// A NaN pooling unit, or an on block without a finite sum of exponentials
// (a NaN or +inf input, or every input -inf), draws NaN at every unit
// (before, a NaN pooling unit was on, and such a block turned its last unit
// on); an off pooling unit leaves its block off whatever its inputs.
TEST_CASE("crbm: maxpool_sample_given draws NaN for a NaN pooling unit or a block without a finite sum") {
  const float inf = std::numeric_limits<float>::infinity();
  const PoolGeometry p{.groups = 1, .height = 2, .width = 12, .pool = 2};  // six blocks side by side
  Graph g;
  const Tensor x = g.param("x", {1, 24}), on = g.param("on", {1, 6});
  fill_normal(g.value(x), 1.0f, 5, 1);
  const auto unit = [](int64_t block, int64_t u) { return static_cast<size_t>((u / 2) * 12 + block * 2 + u % 2); };
  std::vector<float> pooling{NAN, 1.0f, 1.0f, 0.0f, 1.0f, 1.0f};
  std::copy(pooling.begin(), pooling.end(), g.value(on).begin());
  for (int64_t u = 0; u < 4; ++u) g.value(x)[unit(1, u)] = -inf;  // block 1: every input -inf
  g.value(x)[unit(2, 3)] = inf;                                    // block 2: one +inf
  g.value(x)[unit(3, 0)] = NAN;                                    // block 3: NaN, but its pooling unit off
  g.value(x)[unit(5, 0)] = -inf;                                   // block 5: one -inf, never drawn
  const std::vector<float> got = draw_once(g, maxpool_sample_given(x, on, p), 6).first;
  for (int64_t b = 0; b < 6; ++b) {
    CAPTURE(b);
    int nan = 0, ones = 0;
    for (int64_t u = 0; u < 4; ++u) {
      nan += std::isnan(got[unit(b, u)]);
      ones += got[unit(b, u)] == 1.0f;
    }
    CHECK(nan == (b < 3 ? 4 : 0));
    CHECK(ones == (b <= 3 ? 0 : 1));
  }
  CHECK(got[unit(5, 0)] == 0.0f);
}

// make() names the condition that failed: a pool above the kernels' 16 was
// taken and failed at the first run, naming an internal node ('add#8'), and
// a pool of 0 was said not to divide the hidden planes.
TEST_CASE("crbm: make names the condition a configuration fails, a pool above 16 included") {
  const auto make = [](int64_t side, int64_t size, int64_t filters, int64_t pool) {
    Graph g;
    Crbm::make(g, "m", {.visible = {.channels = 1, .height = side, .width = side, .size = size}, .filters = filters,
                        .pool = pool});
  };
  CHECK_NOTHROW(make(34, 3, 2, 16));  // hidden planes of 32 x 32
  CHECK_THROWS_WITH_AS(make(36, 3, 2, 17),
                       "crbm 'm': pooling 17 x 17; expected blocks of 1 x 1 (no pooling) to 16 x 16", Error);
  CHECK_THROWS_WITH_AS(make(6, 3, 2, 0), "crbm 'm': pooling 0 x 0; expected blocks of 1 x 1 (no pooling) to 16 x 16",
                       Error);
  CHECK_THROWS_WITH_AS(make(7, 3, 2, 2),
                       "crbm 'm': pooling 2 x 2 over hidden planes of 5 x 5 (7 x 7 images, 3 x 3 filters); expected a "
                       "pooling size that divides both sides",
                       Error);
  CHECK_THROWS_WITH_AS(make(6, 7, 2, 1), "crbm 'm': filters of 7 x 7 over images of 6 x 6; expected filters of 1 x 1 "
                       "up to the images' size", Error);
  CHECK_THROWS_WITH_AS(make(6, 3, 0, 1),
                       "crbm 'm': 1 channels and 0 filters; expected at least one channel and one filter", Error);
}

// Binary units' means are probabilities: means of unscaled bytes (0-255)
// were clipped to a bias of log(0.999 / 0.001) = 6.9 without a word.
TEST_CASE("crbm: init_visible_bias refuses a binary unit's mean outside [0, 1], and takes 0 and 1") {
  Graph g;
  Crbm m =
      Crbm::make(g, "m", {.visible = {.channels = 2, .height = 3, .width = 4, .size = 2}, .filters = 2, .pool = 1});
  std::vector<float> mean(24, 0.0f);
  std::fill(mean.begin() + 12, mean.end(), 1.0f);
  m.init_visible_bias(mean);
  CHECK(g.value(m.c)[0] == doctest::Approx(std::log(0.001 / 0.999)));
  CHECK(g.value(m.c)[1] == doctest::Approx(std::log(0.999 / 0.001)));
  mean[12 + 4 + 2] = 255.0f;  // channel 1, row 1, column 2
  CHECK_THROWS_WITH_AS(m.init_visible_bias(mean),
                       "crbm 'm': init_visible_bias got mean 255 for channel 1 row 1 column 2; expected means in "
                       "[0, 1] for binary visible units (data scaled to [0, 1])",
                       Error);
  mean[12 + 4 + 2] = -0.5f;
  CHECK_THROWS_WITH_AS(m.init_visible_bias(mean), doctest::Contains("got mean -0.5 for channel 1 row 1 column 2"),
                       Error);
  Graph gg;  // gaussian units take any finite mean
  Crbm r = Crbm::make(gg, "r", {.visible = {.channels = 1, .height = 3, .width = 4, .size = 2}, .filters = 2, .pool = 1,
                                .visible_unit = Unit::gaussian});
  r.init_visible_bias(std::vector<float>(12, 255.0f));
  CHECK(gg.value(r.c)[0] == 255.0f);
}
