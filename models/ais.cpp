#include "models/ais.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "io/memory.hpp"
#include "ops/scalar_math.hpp"

namespace ebm {
namespace {

std::vector<double> betas(const AisConfig& cfg) {
  int64_t total = 0;
  for (const auto& [to, steps] : cfg.schedule) total += std::max(steps, 0);
  if (total > kMostTemperatures)
    throw Error("ais: a schedule of {} temperatures; expected at most {} (the paper's 14,500 times 10,000)", total,
                kMostTemperatures);
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

// The regularized incomplete beta function I_x(a, b) (Numerical Recipes' betai: Lentz's continued fraction on the
// side where it converges fast).
double incomplete_beta(double a, double b, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const auto fraction = [](double a, double b, double x) {
    constexpr double tiny = 1e-300;
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (std::abs(d) < tiny) d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 1000; ++m) {
      const double m2 = 2.0 * m;
      double aa = m * (b - m) * x / ((a - 1.0 + m2) * (a + m2));
      d = 1.0 + aa * d;
      c = 1.0 + aa / c;
      d = 1.0 / (std::abs(d) < tiny ? tiny : d);
      c = std::abs(c) < tiny ? tiny : c;
      h *= d * c;
      aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1.0 + m2));
      d = 1.0 + aa * d;
      c = 1.0 + aa / c;
      d = 1.0 / (std::abs(d) < tiny ? tiny : d);
      c = std::abs(c) < tiny ? tiny : c;
      const double del = d * c;
      h *= del;
      if (std::abs(del - 1.0) < 1e-15) break;
    }
    return h;
  };
  const double front =
      std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  return x < (a + 1.0) / (a + b + 2.0) ? front * fraction(a, b, x) / a : 1.0 - front * fraction(b, a, 1.0 - x) / b;
}

// log(mean(exp(x))) and log(mean +- q standard errors), shifted for stability, q = ais_interval_sd(runs).
void summarize(std::span<const double> logw, AisResult& r) {
  const double m = *std::max_element(logw.begin(), logw.end());
  double mean = 0, sq = 0;
  for (double x : logw) mean += std::exp(x - m);
  mean /= static_cast<double>(logw.size());
  for (double x : logw) sq += (std::exp(x - m) - mean) * (std::exp(x - m) - mean);
  const double se = std::sqrt(sq / static_cast<double>(logw.size() - 1)) / std::sqrt(double(logw.size()));
  const double half = ais_interval_sd(static_cast<int64_t>(logw.size())) * se;
  r.log_z = r.log_z_base + m + std::log(mean);
  r.log_z_high = r.log_z_base + m + std::log(mean + half);
  r.log_z_low = mean > half ? r.log_z_base + m + std::log(mean - half) : -std::numeric_limits<double>::infinity();
}

}  // namespace

double ais_interval_sd(int64_t runs) {
  if (runs < 2) throw Error("ais_interval_sd: {} runs; expected at least 2 (one gives no spread)", runs);
  const double nu = static_cast<double>(runs - 1);
  const double tail = 0.5 * std::erfc(3.0 / std::numbers::sqrt2);  // one side of +-3 sigma's 99.73% coverage
  if (nu > 100) {  // Cornish-Fisher expansion about the normal's 3, good to 1e-5 here
    constexpr double z = 3.0, z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z;
    return z + (z3 + z) / (4 * nu) + (5 * z5 + 16 * z3 + 3 * z) / (96 * nu * nu) +
           (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * nu * nu * nu);
  }
  // P(T > t) = I_{nu / (nu + t^2)}(nu / 2, 1 / 2) / 2 falls as t grows: bisect on log t between 3 and 10^4
  // (nu = 1, the widest, gives 235.8)
  double lo = std::log(3.0), hi = std::log(1e4);
  for (int i = 0; i < 200 && hi - lo > 1e-13; ++i) {
    const double mid = 0.5 * (lo + hi), t = std::exp(mid);
    (0.5 * incomplete_beta(nu / 2, 0.5, nu / (nu + t * t)) > tail ? lo : hi) = mid;
  }
  return std::exp(0.5 * (lo + hi));
}

std::vector<float> base_rate_bias(std::span<const float> data_mean, float eps) {
  if (!(eps > 0.0f && eps < 0.5f))
    throw Error("base_rate_bias: eps = {}; expected a clip in (0, 0.5) (0 gives infinite biases)", eps);
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

  // words: 0 for binary visible units; for count units every chain's
  // number of words D, which scales the hidden biases and is kept by the
  // visible transition (D draws from the tempered softmax).
  Annealer(const Rbm& rbm, std::span<const float> base_bias, int64_t m, int64_t words = 0) {
    const Graph& src = *rbm.graph;
    const int64_t nv = rbm.config.visible, nh = rbm.config.hidden;
    std::vector<float> bias(src.value(rbm.b).begin(), src.value(rbm.b).end());
    if (words > 0)
      for (float& x : bias) x *= static_cast<float>(words);
    const Tensor w = g.constant({nv, nh}, src.value(rbm.w)), b = g.constant({1, nh}, bias);
    const Tensor c = g.constant({1, nv}, src.value(rbm.c)), a = g.constant({1, nv}, base_bias);
    beta = g.input("beta", {1, 1});
    beta_prev = g.input("beta_prev", {1, 1});
    dbeta = g.input("dbeta", {1, 1});
    v = g.param("v", {m, nv}, 0.0f, false);
    const Tensor xh = matmul(v, w) + b;
    // log f_k(v) - log f_{k-1}(v), written as differences so float rounding stays small
    delta = dbeta * sum(v * (c - a), 1) + sum(softplus(xh * beta) - softplus(xh * beta_prev), 1);
    const Tensor h = sigmoid_bernoulli(xh * beta);
    const Tensor xv = (1.0f - beta) * a + beta * (matmul(h, w, {.tb = true}) + c);
    step = assign(v, words > 0 ? multinomial(softmax(xv), g.constant({m, 1}, static_cast<float>(words)))
                               : sigmoid_bernoulli(xv));
  }

  // v_0 ~ p_A for count units: `words` draws from softmax(a) per chain
  void start_words(std::span<const float> base_bias, int64_t words, uint64_t seed) {
    auto vs = g.value(v);
    std::ranges::fill(vs, 0.0f);
    std::vector<double> cdf;
    double acc = 0;
    const double top = *std::ranges::max_element(base_bias);
    for (float ai : base_bias) cdf.push_back(acc += std::exp(double(ai) - top));
    const size_t nv = base_bias.size(), m = vs.size() / nv;
    std::vector<float> u(m * static_cast<size_t>(words));
    fill_uniform(u, 0.0f, 1.0f, seed, 0xA16);
    for (size_t r = 0; r < m; ++r)
      for (int64_t k = 0; k < words; ++k) {
        const double x = u[r * static_cast<size_t>(words) + static_cast<size_t>(k)] * acc;
        const auto j = std::min<size_t>(static_cast<size_t>(std::ranges::upper_bound(cdf, x) - cdf.begin()), nv - 1);
        vs[r * nv + j] += 1.0f;
      }
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

void check_ais_fits(int64_t visible, int64_t hidden, int64_t runs) {
  // The chains' states and the step's intermediates: about four values a
  // unit a chain, visible and hidden (the executor shares buffers by liveness).
  const double bytes = 4.0 * 4.0 * double(runs) * double(visible + hidden), have = double(available_memory_bytes());
  if (have >= 0 && bytes > 0.9 * have)
    throw Error("ais: {} runs of an RBM of {} visible and {} hidden units need about {:.1f} GiB; {:.1f} GiB of "
                "memory is available now; expected fewer runs",
                runs, visible, hidden, bytes / double(1 << 30), have / double(1 << 30));
}

namespace {

AisResult anneal(const Rbm& rbm, std::span<const float> base_bias, int64_t words, const AisConfig& cfg) {
  if (static_cast<int64_t>(base_bias.size()) != rbm.config.visible)
    throw Error("ais '{}': {} base-rate biases; expected {}", rbm.name, base_bias.size(), rbm.config.visible);
  if (cfg.runs < 2) throw Error("ais '{}': {} runs; expected at least 2", rbm.name, cfg.runs);
  check_ais_fits(rbm.config.visible, rbm.config.hidden, cfg.runs);
  check_finite_params(rbm, "ais");
  if (const auto bad = std::ranges::find_if(base_bias, [](float x) { return !std::isfinite(x); });
      bad != base_bias.end())
    throw Error("ais '{}': the base model's bias holds {} at entry {}; expected finite biases", rbm.name, *bad,
                bad - base_bias.begin());
  Annealer an(rbm, base_bias, cfg.runs, words);
  AisResult r;
  if (words > 0) {  // D draws from softmax(a), in any order: D log sum_i exp(a_i)
    an.start_words(base_bias, words, cfg.seed);
    const double top = *std::ranges::max_element(base_bias);
    double s = 0;
    for (float ai : base_bias) s += std::exp(double(ai) - top);
    r.log_z_base = static_cast<double>(words) * (top + std::log(s));
  } else {
    an.start(base_bias, cfg.seed);
    for (float ai : base_bias) r.log_z_base += softplus(double(ai));
  }
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

}  // namespace

AisResult ais_log_z(const Rbm& rbm, std::span<const float> base_bias, const AisConfig& cfg) {
  if (rbm.config.visible_unit == Unit::poisson)
    throw Error("ais '{}': poisson visible units (the constrained Poisson model) belong to no joint distribution, so "
                "there is no log Z to estimate",
                rbm.name);
  if (rbm.config.visible_unit != Unit::binary || rbm.config.hidden_unit != Unit::binary)
    throw Error("ais '{}': {} visible and {} hidden units; expected binary ones here (count visible units take the "
                "number of words: ais_log_z(rbm, bias, words))",
                rbm.name, to_string(rbm.config.visible_unit), to_string(rbm.config.hidden_unit));
  return anneal(rbm, base_bias, 0, cfg);
}

AisResult ais_log_z(const Rbm& rbm, std::span<const float> base_bias, int64_t words, const AisConfig& cfg) {
  if (rbm.config.visible_unit == Unit::poisson)
    throw Error("ais '{}': poisson visible units (the constrained Poisson model) belong to no joint distribution, so "
                "there is no log Z to estimate; count units (the replicated softmax) have one per length",
                rbm.name);
  if (rbm.config.visible_unit != Unit::count || rbm.config.hidden_unit != Unit::binary)
    throw Error("ais '{}': a number of words is for count visible units with binary hidden units; these are {} and {}",
                rbm.name, to_string(rbm.config.visible_unit), to_string(rbm.config.hidden_unit));
  if (words < 1) throw Error("ais '{}': {} words; expected at least 1 (log Z_0 is {} log 2)", rbm.name, words,
                             rbm.config.hidden);
  return anneal(rbm, base_bias, words, cfg);
}

std::vector<float> word_share_bias(std::span<const float> mean_counts, float floor) {
  if (!(floor > 0.0f && floor < 1.0f))
    throw Error("word_share_bias: floor = {}; expected a share in (0, 1) (0 gives infinite biases)", floor);
  double total = 0;
  for (float m : mean_counts) total += std::max(0.0f, m);
  if (!(total > 0)) throw Error("word_share_bias: the mean counts hold no word; expected some positive");
  std::vector<float> a;
  for (float m : mean_counts) a.push_back(static_cast<float>(std::log(std::max<double>(floor, std::max(0.0f, m) / total))));
  return a;
}

}  // namespace ebm
