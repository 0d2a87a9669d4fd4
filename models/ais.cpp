#include "models/ais.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
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

AisResult ais_log_z(const Rbm& rbm, std::span<const float> base_bias, const AisConfig& cfg) {
  if (rbm.config.visible_unit != Unit::binary || rbm.config.hidden_unit != Unit::binary)
    throw Error("ais '{}': implemented for binary visible and hidden units only", rbm.name);
  const int64_t nv = rbm.config.visible, nh = rbm.config.hidden, m = cfg.runs;
  if (static_cast<int64_t>(base_bias.size()) != nv)
    throw Error("ais '{}': {} base-rate biases; expected {}", rbm.name, base_bias.size(), nv);
  if (m < 2) throw Error("ais '{}': {} runs; expected at least 2", rbm.name, m);
  const Graph& src = *rbm.graph;
  Graph g;  // the annealing graph, over copies of the parameters
  const Tensor w = g.constant({nv, nh}, src.value(rbm.w)), b = g.constant({1, nh}, src.value(rbm.b));
  const Tensor c = g.constant({1, nv}, src.value(rbm.c)), a = g.constant({1, nv}, base_bias);
  const Tensor beta = g.input("beta", {1, 1}), beta_prev = g.input("beta_prev", {1, 1});
  const Tensor dbeta = g.input("dbeta", {1, 1});  // beta - beta_prev, formed in double
  const Tensor v = g.param("v", {m, nv}, 0.0f, false);
  const Tensor xh = matmul(v, w) + b;
  // log f_k(v) - log f_{k-1}(v), written as differences so float rounding stays small
  const Tensor delta = dbeta * sum(v * (c - a), 1) + sum(softplus(xh * beta) - softplus(xh * beta_prev), 1);
  const Tensor h = sigmoid_bernoulli(xh * beta);
  const Tensor v_next = sigmoid_bernoulli((1.0f - beta) * a + beta * (matmul(h, w, {.tb = true}) + c));
  const Tensor step = assign(v, v_next);
  // v_0 ~ p_A
  std::vector<float> u(static_cast<size_t>(m * nv));
  fill_uniform(u, 0.0f, 1.0f, cfg.seed, 0xA15);
  auto vs = g.value(v);
  for (size_t i = 0; i < u.size(); ++i) vs[i] = u[i] < 1.0f / (1.0f + std::exp(-base_bias[i % static_cast<size_t>(nv)])) ? 1.0f : 0.0f;
  AisResult r;
  for (float ai : base_bias) r.log_z_base += std::max(double(ai), 0.0) + std::log1p(std::exp(-std::abs(double(ai))));
  r.log_z_base += static_cast<double>(nh) * std::log(2.0);
  const std::vector<double> bs = betas(cfg);
  r.temperatures = static_cast<int>(bs.size()) - 1;
  Executor ex(g, {.threads = cfg.threads, .seed = cfg.seed});
  float bk = 0, bp = 0, db = 0;
  const Feed feeds[] = {{beta, std::span<const float>(&bk, 1)},
                        {beta_prev, std::span<const float>(&bp, 1)},
                        {dbeta, std::span<const float>(&db, 1)}};
  const Tensor targets[] = {delta, step};
  std::vector<double> logw(static_cast<size_t>(m), 0.0);  // accumulated in double
  for (size_t k = 1; k < bs.size(); ++k) {
    bk = static_cast<float>(bs[k]);
    bp = static_cast<float>(bs[k - 1]);
    db = static_cast<float>(bs[k] - bs[k - 1]);
    ex.run(targets, feeds);
    auto d = ex.value(delta);
    for (size_t i = 0; i < logw.size(); ++i) logw[i] += d[i];
    if (cfg.progress && k % std::max<size_t>(1, bs.size() / 10) == 0)
      std::fprintf(stderr, "ais: %zu / %zu temperatures\n", k, bs.size() - 1);
  }
  summarize(logw, r);
  return r;
}

}  // namespace ebm
