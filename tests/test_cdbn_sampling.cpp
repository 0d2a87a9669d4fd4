// Gibbs sampling through a convolutional DBN, checked by exact enumeration
// on a two-layer stack small enough to list every state: the stack read as
// one undirected model (make_cdbn_gibbs, free and with pixels clamped) and
// as a DBN (make_cdbn_sampler); and the linear pooling ops they use.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "models/cdbn.hpp"
#include "samples/cdbn_sampling.hpp"

using namespace ebm;

namespace {

// A two-layer CDBN small enough to enumerate: 2 x 2 binary images, layer 0
// two 1 x 1 filters pooled 2 x 2 (each group one block of four units),
// layer 1 two 1 x 1 filters over its two pooling units, unpooled.
struct TinyStack {
  Graph g;
  Cdbn d = Cdbn::make(g, "tiny", {.channels = 1, .height = 2, .width = 2, .layers = {{2, 1, 2}, {2, 1, 1}}});
  TinyStack() {
    const std::vector<std::pair<Tensor, std::vector<float>>> set{
        {d.crbms[0].w, {1.8f, -1.2f}}, {d.crbms[0].b, {-0.5f, 0.3f}}, {d.crbms[0].c, {-0.4f}},
        {d.crbms[1].w, {2.0f, -1.5f, -1.0f, 1.7f}}, {d.crbms[1].b, {-0.6f, 0.2f}}, {d.crbms[1].c, {0.9f, -1.1f}}};
    for (const auto& [t, v] : set) std::copy(v.begin(), v.end(), g.value(t).begin());
  }
  float at(Tensor t, size_t i) { return g.value(t)[i]; }
  // The joint model's weight of pixels v (bit i: pixel i), pooling units p
  // (bit k: group k) and layer 1's units h (bit j), layer 0's units summed
  // out: a block on contributes sum_i exp(w_k v_i + b_k), the layers' energies
  // added. With `layers` 1, layer 1 is left out (and p, h only label states).
  double weight(int v, int p, int h, int layers = 2) {
    const Crbm &m0 = d.crbms[0], &m1 = d.crbms[1];
    double log_w = 0;
    for (int i = 0; i < 4; ++i) log_w += at(m0.c, 0) * ((v >> i) & 1);
    double w = 1;
    for (size_t k = 0; k < 2; ++k) {
      if (!((p >> k) & 1)) continue;
      double block = 0;
      for (int i = 0; i < 4; ++i) block += std::exp(at(m0.w, k) * ((v >> i) & 1) + at(m0.b, k));
      w *= block;
    }
    if (layers == 1) return w * std::exp(log_w);
    for (size_t k = 0; k < 2; ++k) log_w += at(m1.c, k) * ((p >> k) & 1);
    for (size_t j = 0; j < 2; ++j) {
      if (!((h >> j) & 1)) continue;
      log_w += at(m1.b, j);
      for (size_t k = 0; k < 2; ++k) log_w += at(m1.w, j * 2 + k) * ((p >> k) & 1);
    }
    return w * std::exp(log_w);
  }
  // The top CRBM's marginal of its visible units (the pooling units' states p), unnormalised.
  std::vector<double> top_marginal() {
    const Crbm& m1 = d.crbms[1];
    std::vector<double> pp(4, 0.0);
    for (int p = 0; p < 4; ++p) {
      double w = std::exp(at(m1.c, 0) * (p & 1) + at(m1.c, 1) * ((p >> 1) & 1));
      for (size_t j = 0; j < 2; ++j)
        w *= 1 + std::exp(at(m1.b, j) + at(m1.w, j * 2) * (p & 1) + at(m1.w, j * 2 + 1) * ((p >> 1) & 1));
      pp[static_cast<size_t>(p)] = w;
    }
    return pp;
  }
};

// Pearson's statistic of counts against probabilities (normalised here).
double chi_square(const std::vector<double>& count, std::vector<double> prob) {
  const double total = std::accumulate(count.begin(), count.end(), 0.0);
  const double z = std::accumulate(prob.begin(), prob.end(), 0.0);
  double chi2 = 0;
  for (size_t s = 0; s < count.size(); ++s) {
    const double e = total * prob[s] / z;
    chi2 += (count[s] - e) * (count[s] - e) / e;
  }
  return chi2;
}

}  // namespace

TEST_CASE("cdbn: pool_sum and pool_spread are each other's adjoint, and a drawn block's sum is its pooling unit") {
  const PoolGeometry pool{.groups = 3, .height = 4, .width = 6, .pool = 2};
  Graph g;
  const Tensor x = g.input("x", {5, 72}), y = g.input("y", {5, 18});
  const Tensor drawn = maxpool_sample(x, pool), on = pool_sum(drawn, pool), back = pool_spread(y, pool),
               forth = pool_sum(x, pool);
  std::vector<float> xs(5 * 72), ys(5 * 18);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<float>(std::sin(0.7 * i));
  for (size_t i = 0; i < ys.size(); ++i) ys[i] = static_cast<float>(std::cos(1.3 * i));
  Executor ex(g, {.threads = 2, .seed = 3});
  ex.run({drawn, on, back, forth}, {{x, xs}, {y, ys}});
  // <pool_sum(x), y> = <x, pool_spread(y)>
  double lhs = 0, rhs = 0;
  for (size_t i = 0; i < ys.size(); ++i) lhs += double{ex.value(forth)[i]} * ys[i];
  for (size_t i = 0; i < xs.size(); ++i) rhs += double{ex.value(back)[i]} * xs[i];
  CHECK(lhs == doctest::Approx(rhs).epsilon(1e-5));
  int blocks_on = 0;
  for (float p : ex.value(on)) {
    CHECK((p == 0.0f || p == 1.0f));
    blocks_on += p == 1.0f;
  }
  CHECK(blocks_on > 0);
  CHECK(blocks_on < 90);
}

TEST_CASE("cdbn: Gibbs sweeps through both layers sample the stack's joint model, free and with pixels clamped") {
  TinyStack t;
  constexpr int64_t kChains = 20000;
  // exact distributions: of the pixels, of (pooling units, layer 1's units), and of pixels 2, 3 given
  // pixels 0 = 1, 1 = 0; against them the first CRBM's pixels and the stack as a DBN's pooling units
  std::vector<double> pv(16, 0.0), pv_one_layer(16, 0.0), pph(16, 0.0), pcond(4, 0.0);
  const std::vector<double> dbn_p = t.top_marginal();
  for (int v = 0; v < 16; ++v)
    for (int p = 0; p < 4; ++p)
      for (int h = 0; h < 4; ++h) {
        const double w = t.weight(v, p, h);
        pv[static_cast<size_t>(v)] += w;
        pph[static_cast<size_t>(p * 4 + h)] += w;
        if ((v & 3) == 1) pcond[static_cast<size_t>(v >> 2)] += w;
        if (h == 0) pv_one_layer[static_cast<size_t>(v)] += t.weight(v, p, h, 1);
      }

  for (const bool clamp : {false, true}) {
    CAPTURE(clamp);
    const CdbnGibbs s = make_cdbn_gibbs(t.d, clamp ? "clamped" : "free", {.batch = kChains, .clamp = clamp});
    Executor ex(t.g, {.threads = 2, .seed = 11});
    std::vector<float> x(kChains * 4, 0.0f), known(kChains * 4, 0.0f), mask(kChains * 4, 0.0f);
    for (int64_t r = 0; r < kChains; ++r) {
      known[static_cast<size_t>(r * 4)] = 1.0f;
      mask[static_cast<size_t>(r * 4)] = mask[static_cast<size_t>(r * 4 + 1)] = 1.0f;
    }
    ex.run({s.start}, {{s.x, x}});
    std::vector<Feed> feeds;
    if (clamp) feeds = {{s.known, known}, {s.mask, mask}};
    for (int sweep = 0; sweep < 30; ++sweep) ex.run({s.sweep, s.mean_v}, feeds);
    const auto v = ex.value(s.v), h0 = ex.value(s.h[0]), h1 = ex.value(s.h[1]), mean = ex.value(s.mean_v);
    std::vector<double> count_v(16, 0.0), count_ph(16, 0.0), count_p(4, 0.0), count_cond(4, 0.0);
    for (int64_t r = 0; r < kChains; ++r) {
      int bits = 0, p = 0, h = 0;
      for (int i = 0; i < 4; ++i) bits |= static_cast<int>(v[static_cast<size_t>(r * 4 + i)]) << i;
      for (int k = 0; k < 2; ++k) {
        float on = 0;
        for (int i = 0; i < 4; ++i) on += h0[static_cast<size_t>(r * 8 + k * 4 + i)];
        REQUIRE(on <= 1.0f);
        p |= static_cast<int>(on) << k;
        h |= static_cast<int>(h1[static_cast<size_t>(r * 2 + k)]) << k;
      }
      count_v[static_cast<size_t>(bits)] += 1;
      count_ph[static_cast<size_t>(p * 4 + h)] += 1;
      count_p[static_cast<size_t>(p)] += 1;
      if (clamp) {
        REQUIRE((bits & 3) == 1);
        CHECK(mean[static_cast<size_t>(r * 4)] == 1.0f);
        CHECK(mean[static_cast<size_t>(r * 4 + 1)] == 0.0f);
        count_cond[static_cast<size_t>(bits >> 2)] += 1;
      }
    }
    if (clamp) {
      CHECK(chi_square(count_cond, pcond) < 16.27);  // 0.999 quantile, 3 degrees of freedom
    } else {
      CHECK(chi_square(count_v, pv) < 37.70);  // 0.999 quantile, 15 degrees of freedom
      CHECK(chi_square(count_ph, pph) < 37.70);
      // rejected, at the level the tests above accept at: the first CRBM's own pixels, and the DBN's pooling units
      CHECK(chi_square(count_v, pv_one_layer) > 37.70);
      CHECK(chi_square(count_p, dbn_p) > 16.27);
    }
  }
}

TEST_CASE("cdbn: Gibbs sampling names a bad layer count") {
  TinyStack t;
  CHECK_THROWS_WITH_AS(make_cdbn_gibbs(t.d, "bad", {.batch = 4, .layers = 3}),
                       doctest::Contains("expected 1 to 2 layers (0: all)"), Error);
  const CdbnGibbs one = make_cdbn_gibbs(t.d, "one", {.batch = 4, .layers = 1});
  CHECK(one.h.size() == 1);
}

TEST_CASE("cdbn: the sampler draws from the stack as a DBN: the top CRBM's pooling units, then pixels given them") {
  TinyStack t;
  constexpr int64_t kChains = 20000;
  // P(p) = the top CRBM's marginal of its visible units; P(v | p) = the first CRBM's, given its pooling
  // units; against them, the joint model's pooling units
  const std::vector<double> pp = t.top_marginal();
  const double zp = std::accumulate(pp.begin(), pp.end(), 0.0);
  std::vector<double> pv(16, 0.0), joint_p(4, 0.0);
  for (int p = 0; p < 4; ++p) {
    double z = 0;
    for (int v = 0; v < 16; ++v) z += t.weight(v, p, 0, 1);
    for (int v = 0; v < 16; ++v) {
      pv[static_cast<size_t>(v)] += pp[static_cast<size_t>(p)] / zp * t.weight(v, p, 0, 1) / z;
      for (int h = 0; h < 4; ++h) joint_p[static_cast<size_t>(p)] += t.weight(v, p, h);
    }
  }
  const CdbnSampler s = make_cdbn_sampler(t.d, "dbn", kChains);
  REQUIRE(s.state.size() == 2);
  Executor ex(t.g, {.threads = 2, .seed = 5});
  ex.run({s.start}, {{s.x, std::vector<float>(kChains * 4, 1.0f)}});
  REQUIRE(s.down.size() == 1);
  for (int k = 0; k < 30; ++k) ex.run({s.top});
  for (int k = 0; k < 30; ++k) ex.run({s.down[0], s.mean_v});
  const auto v = ex.value(s.state[0]), p = ex.value(s.state[1]), mean = ex.value(s.mean_v);
  std::vector<double> count_v(16, 0.0), count_p(4, 0.0);
  for (int64_t r = 0; r < kChains; ++r) {
    int bits = 0;
    for (int i = 0; i < 4; ++i) {
      bits |= static_cast<int>(v[static_cast<size_t>(r * 4 + i)]) << i;
      CHECK(mean[static_cast<size_t>(r * 4 + i)] > 0.0f);
    }
    count_v[static_cast<size_t>(bits)] += 1;
    count_p[static_cast<size_t>(static_cast<int>(p[static_cast<size_t>(r * 2)]) |
                                static_cast<int>(p[static_cast<size_t>(r * 2 + 1)]) << 1)] += 1;
  }
  CHECK(chi_square(count_p, pp) < 16.27);  // 0.999 quantile, 3 degrees of freedom
  CHECK(chi_square(count_v, pv) < 37.70);  // 15 degrees of freedom
  // rejected at the level the test accepts at: the joint model's pooling units (both layers' priors on them)
  CHECK(chi_square(count_p, joint_p) > 16.27);
}

TEST_CASE("cdbn: a one-layer sampler is its CRBM's chain, and a three-layer one steps each layer below the top") {
  Graph g;
  const Cdbn one = Cdbn::make(g, "one", {.channels = 1, .height = 6, .width = 6, .layers = {{2, 3, 2}}});
  const CdbnSampler s = make_cdbn_sampler(one, "s", 3);
  CHECK(s.state.size() == 1);
  CHECK(s.down.empty());
  CHECK_THROWS_WITH_AS(make_cdbn_sampler(one, "none", 0), doctest::Contains("expected at least one"), Error);

  // 12 x 12 -> 3 groups of 10 x 10 pooled to 5 x 5 -> 2 groups of 4 x 4 pooled to 2 x 2 -> 2 groups of 1 x 1
  const Cdbn three = Cdbn::make(g, "three", {.channels = 1, .height = 12, .width = 12,
                                             .layers = {{3, 3, 2}, {2, 2, 2}, {2, 2, 1}}});
  for (const Crbm& m : three.crbms) fill_normal(g.value(m.w), 1.0f, 4, 0);
  const CdbnSampler t = make_cdbn_sampler(three, "t", 4);
  REQUIRE(t.down.size() == 2);
  Executor ex(g, {.threads = 2, .seed = 2});
  ex.run({t.start}, {{t.x, std::vector<float>(4 * 144, 1.0f)}});
  const std::vector<float> before(ex.value(t.state[1]).begin(), ex.value(t.state[1]).end());
  for (int k = 0; k < 5; ++k) ex.run({t.top});
  for (int k = 0; k < 5; ++k) ex.run({t.down[1]});
  for (int k = 0; k < 5; ++k) ex.run({t.down[0], t.mean_v});
  for (size_t l = 1; l < 3; ++l)  // pooling units: 0 or 1
    for (float p : ex.value(t.state[l])) CHECK((p == 0.0f || p == 1.0f));
  CHECK(std::vector<float>(ex.value(t.state[1]).begin(), ex.value(t.state[1]).end()) != before);
  for (float m : ex.value(t.mean_v)) CHECK((m > 0.0f && m < 1.0f));
}

// samples.png shows ten snapshots, one every tenth of the steps: 15 steps
// drew fifteen (a snapshot every step) before.
TEST_CASE("cdbn: cdbn_mnist's samples refuse a step count that is not a multiple of 10") {
  TinyStack t;
  Executor ex(t.g, {.threads = 1, .seed = 1});
  samples::Summary sum;
  const io::ImageSet none;
  for (const int steps : {15, 5, -10})
    CHECK_THROWS_WITH_AS(samples::write_samples(t.d, ex, none, steps, "unwritten.png", sum),
                         doctest::Contains(
                             fmt::format("samples: {} steps; expected 0 (none) or a positive multiple of 10", steps)
                                 .c_str()),
                         Error);
  CHECK_NOTHROW(samples::write_samples(t.d, ex, none, 0, "unwritten.png", sum));  // none: nothing drawn
}
