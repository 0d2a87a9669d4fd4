// The custom-model guide's model (samples/custom_energy_model.hpp), at a
// size small enough to enumerate: its free energy is the exact marginal of
// its energy, and CD training lowers its exact negative log-likelihood.

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

#include <doctest/doctest.h>

#include "graph/executor.hpp"
#include "samples/custom_energy_model.hpp"

using namespace ebm;

namespace {

// log Z = lse_h [ b.h + sum_i ( log(2 pi s_i) / 2 + ((c_i + (W h)_i)^2 - c_i^2) / (2 s_i) ) ]
double exact_log_z(Graph& g, const custom::LearnedVarianceRbm& m, int64_t nv, int64_t nh) {
  auto w = g.value(m.w), b = g.value(m.b), c = g.value(m.c), z = g.value(m.z);
  std::vector<double> terms;
  for (int h = 0; h < (1 << nh); ++h) {
    double t = 0;
    for (int64_t j = 0; j < nh; ++j) t += (h >> j & 1) * double(b[static_cast<size_t>(j)]);
    for (int64_t i = 0; i < nv; ++i) {
      const double s = std::exp(double(z[static_cast<size_t>(i)])) + m.s_min, ci = c[static_cast<size_t>(i)];
      double wh = 0;
      for (int64_t j = 0; j < nh; ++j) wh += (h >> j & 1) * double(w[static_cast<size_t>(i * nh + j)]);
      t += 0.5 * std::log(2 * std::numbers::pi * s) + ((ci + wh) * (ci + wh) - ci * ci) / (2 * s);
    }
    terms.push_back(t);
  }
  const double mx = *std::max_element(terms.begin(), terms.end());
  double s = 0;
  for (double t : terms) s += std::exp(t - mx);
  return mx + std::log(s);
}

}  // namespace

TEST_CASE("custom_energy: the free energy equals the brute-force marginal of the energy") {
  const int64_t nv = 3, nh = 4, rows = 5;
  Graph g;
  custom::LearnedVarianceRbm m(g, "m", nv, nh, 3);
  fill_normal(g.value(m.w), 0.7f, 1, 1);
  fill_normal(g.value(m.b), 0.5f, 1, 2);
  fill_normal(g.value(m.c), 0.5f, 1, 3);
  fill_normal(g.value(m.z), 0.5f, 1, 4);
  Tensor v = g.input("v", {rows, nv}), h = g.input("h", {rows, nh});
  Tensor f = m.free_energy(v), e = m.energy(v, h);
  std::vector<float> vs(rows * nv);
  fill_normal(vs, 1.0f, 2, 1);
  Executor ex(g, {.parallel = false});
  ex.run({f}, {{v, vs}});
  const std::vector<float> free(ex.value(f).begin(), ex.value(f).end());
  std::vector<double> marginal(rows, 0.0);
  for (int code = 0; code < (1 << nh); ++code) {
    std::vector<float> hs(rows * nh);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < nh; ++j) hs[static_cast<size_t>(r * nh + j)] = static_cast<float>(code >> j & 1);
    ex.run({e}, {{v, vs}, {h, hs}});
    for (int64_t r = 0; r < rows; ++r) marginal[static_cast<size_t>(r)] += std::exp(-double(ex.value(e)[static_cast<size_t>(r)]));
  }
  for (int64_t r = 0; r < rows; ++r) CHECK(free[static_cast<size_t>(r)] == doctest::Approx(-std::log(marginal[static_cast<size_t>(r)])).epsilon(1e-5));
}

TEST_CASE("custom_energy: CD training lowers the exact negative log-likelihood") {
  const int64_t nv = 4, nh = 5, batch = 50;
  Graph g;
  custom::LearnedVarianceRbm m(g, "m", nv, nh, 5);
  Tensor v = g.input("v", {batch, nv});
  Tensor fe = mean(m.free_energy(v));
  ContrastiveDivergence cd = contrastive_divergence(m, v, 1, true, {.lr = 0.005f, .momentum = 0.5f});
  // two clusters with different spreads per coordinate
  std::mt19937 gen(3);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> data;
  for (int64_t r = 0; r < batch; ++r)
    for (int64_t i = 0; i < nv; ++i) data.push_back((r % 2 ? 1.5f : -1.0f) * (i % 2 ? 1.0f : -1.0f) + 0.3f * (1 + i) * n(gen));
  Executor ex(g, {.threads = 2, .seed = 9});
  auto nll = [&] {
    ex.run({fe}, {{v, data}});
    return ex.scalar(fe) + exact_log_z(g, m, nv, nh);
  };
  const double before = nll();
  for (int s = 0; s < 2000; ++s) ex.run({cd.step}, {{v, data}});
  const double after = nll();
  INFO("NLL before ", before, " after ", after);
  CHECK(after < before - 1.0);
  CHECK(std::isfinite(after));
}
