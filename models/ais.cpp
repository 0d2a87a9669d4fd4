#include "models/ais.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"

namespace ebm {
namespace {

std::vector<double> betas(const AisConfig& cfg) {
  std::vector<double> b{0.0};
  double from = 0.0;
  for (auto [to, steps] : cfg.schedule) {
    if (steps < 1 || to <= from || to > 1.0) throw Error("ais: bad schedule segment to {} in {} steps", to, steps);
    for (int i = 1; i <= steps; ++i) b.push_back(from + (to - from) * i / steps);
    from = to;
  }
  if (b.back() != 1.0) throw Error("ais: the schedule ends at beta = {}; expected 1", b.back());
  return b;
}

// log(mean(exp(x))) and log(mean +- 3 standard errors), shifted for stability.
void summarize(std::span<const double> logw, AisResult& r) {
  const double m = *std::max_element(logw.begin(), logw.end());
  double mean = 0, sq = 0;
  for (double x : logw) mean += std::exp(x - m);
  mean /= static_cast<double>(logw.size());
  for (double x : logw) sq += (std::exp(x - m) - mean) * (std::exp(x - m) - mean);
  const double se = std::sqrt(sq / static_cast<double>(logw.size() - 1)) / std::sqrt(double(logw.size()));
  r.log_z = r.log_z_base + m + std::log(mean);
  r.log_z_high = r.log_z_base + m + std::log(mean + 3 * se);
  r.log_z_low = mean > 3 * se ? r.log_z_base + m + std::log(mean - 3 * se) : -std::numeric_limits<double>::infinity();
}

}  // namespace

std::vector<float> base_rate_bias(std::span<const float> data_mean, float eps) {
  std::vector<float> a;
  for (float p : data_mean) {
    const float q = std::clamp(p, eps, 1.0f - eps);
    a.push_back(std::log(q / (1.0f - q)));
  }
  return a;
}

namespace {

// The annealing graph over copies of the RBM's parameters: one run moves
// every chain from beta_prev to beta and yields its log-weight increment.
struct Annealer {
  Graph g;
  Tensor beta, beta_prev, dbeta;  // dbeta = beta - beta_prev, formed in double
  Tensor v, delta, step;

  Annealer(const Rbm& rbm, std::span<const float> base_bias, int64_t m) {
    const Graph& src = *rbm.graph;
    const int64_t nv = rbm.config.visible, nh = rbm.config.hidden;
    const Tensor w = g.constant({nv, nh}, src.value(rbm.w)), b = g.constant({1, nh}, src.value(rbm.b));
    const Tensor c = g.constant({1, nv}, src.value(rbm.c)), a = g.constant({1, nv}, base_bias);
    beta = g.input("beta", {1, 1});
    beta_prev = g.input("beta_prev", {1, 1});
    dbeta = g.input("dbeta", {1, 1});
    v = g.param("v", {m, nv}, 0.0f, false);
    const Tensor xh = matmul(v, w) + b;
    // log f_k(v) - log f_{k-1}(v), written as differences so float rounding stays small
    delta = dbeta * sum(v * (c - a), 1) + sum(softplus(xh * beta) - softplus(xh * beta_prev), 1);
    const Tensor h = sigmoid_bernoulli(xh * beta);
    step = assign(v, sigmoid_bernoulli((1.0f - beta) * a + beta * (matmul(h, w, {.tb = true}) + c)));
  }

  // v_0 ~ p_A: independent pixels with probabilities sigmoid(a)
  void start(std::span<const float> base_bias, uint64_t seed) {
    auto vs = g.value(v);
    fill_uniform(vs, 0.0f, 1.0f, seed, 0xA15);
    for (size_t i = 0; i < vs.size(); ++i)
      vs[i] = vs[i] < 1.0f / (1.0f + std::exp(-base_bias[i % base_bias.size()])) ? 1.0f : 0.0f;
  }
};

}  // namespace

AisResult ais_log_z(const Rbm& rbm, std::span<const float> base_bias, const AisConfig& cfg) {
  if (rbm.config.visible_unit != Unit::binary || rbm.config.hidden_unit != Unit::binary)
    throw Error("ais '{}': implemented for binary visible and hidden units only", rbm.name);
  if (static_cast<int64_t>(base_bias.size()) != rbm.config.visible)
    throw Error("ais '{}': {} base-rate biases; expected {}", rbm.name, base_bias.size(), rbm.config.visible);
  if (cfg.runs < 2) throw Error("ais '{}': {} runs; expected at least 2", rbm.name, cfg.runs);
  Annealer an(rbm, base_bias, cfg.runs);
  an.start(base_bias, cfg.seed);
  AisResult r;
  for (float ai : base_bias) r.log_z_base += std::max(double(ai), 0.0) + std::log1p(std::exp(-std::abs(double(ai))));
  r.log_z_base += static_cast<double>(rbm.config.hidden) * std::log(2.0);
  const std::vector<double> bs = betas(cfg);
  r.temperatures = static_cast<int>(bs.size()) - 1;
  Executor ex(an.g, {.threads = cfg.threads, .seed = cfg.seed});
  float bk = 0, bp = 0, db = 0;
  const Feed feeds[] = {{an.beta, std::span<const float>(&bk, 1)},
                        {an.beta_prev, std::span<const float>(&bp, 1)},
                        {an.dbeta, std::span<const float>(&db, 1)}};
  const Tensor targets[] = {an.delta, an.step};
  std::vector<double> logw(static_cast<size_t>(cfg.runs), 0.0);  // accumulated in double
  for (size_t k = 1; k < bs.size(); ++k) {
    bk = static_cast<float>(bs[k]);
    bp = static_cast<float>(bs[k - 1]);
    db = static_cast<float>(bs[k] - bs[k - 1]);
    ex.run(targets, feeds);
    auto d = ex.value(an.delta);
    for (size_t i = 0; i < logw.size(); ++i) logw[i] += d[i];
    if (cfg.on_progress && (k % std::max<size_t>(1, (bs.size() + 98) / 100) == 0 || k + 1 == bs.size()))
      cfg.on_progress(static_cast<int>(k), r.temperatures);
  }
  summarize(logw, r);
  return r;
}

}  // namespace ebm
