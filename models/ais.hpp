#pragma once
// Annealed importance sampling of an RBM's log Z (Salakhutdinov & Murray
// 2008), for binary visible and binary hidden units, and for count visible
// units at a given number of words (below).
//
// The base model A has visible biases a (the data's base rates), no weights
// and H hidden units with zero biases: log Z_A = sum_i softplus(a_i) + H log 2.
// The intermediate distributions, for 0 = beta_0 < ... < beta_K = 1, are
//   log f_k(v) = (1 - beta_k) a.v + beta_k c.v + sum_j softplus(beta_k (b_j + (v W)_j))
// (at beta = 0 the hidden sum is H log 2, so f_0 sums to Z_A),
// each with its Gibbs transition h ~ sigmoid(beta (v W + b)),
// v ~ sigmoid((1 - beta) a + beta (h W' + c)). A run starts at v ~ p_A and
// accumulates log w += log f_k(v) - log f_{k-1}(v) before each transition;
// Z_B / Z_A is estimated by the mean of w over the runs.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "models/rbm.hpp"

namespace ebm {

// The most temperatures a schedule may hold: 145 million, ten thousand
// times the paper's (a longer one is refused, not allocated).
inline constexpr int64_t kMostTemperatures = 145'000'000;

struct AisConfig {
  int runs = 100;
  // betas: 500 steps in [0, 0.5), 4000 in [0.5, 0.9), 10000 in [0.9, 1] (the paper's schedule)
  std::vector<std::pair<double, int>> schedule = {{0.5, 500}, {0.9, 4000}, {1.0, 10000}};
  uint64_t seed = 1;
  // The executor's threads (0: every core). The runs are the rows of one
  // batch, each temperature a few small products, so a hundred runs gain
  // little from a second thread (the same bits on any count).
  int threads = 0;
  // Called as the temperatures go by (about every 1% of them, and at the
  // end) with how many are done of how many, for a progress line.
  std::function<void(int done, int total)> on_progress = {};

  // The temperatures the schedule walks through (AisResult::temperatures).
  int temperatures() const {
    int n = 0;
    for (const auto& [to, steps] : schedule) n += steps;
    return n;
  }
  // Every segment's steps times `factor` (at least one each; at most what
  // keeps the whole count an int).
  void scale_temperatures(double factor) {
    if (!(factor > 0.0) || !std::isfinite(factor))
      throw Error("ais: scale_temperatures({}); expected a finite factor above 0", factor);
    const double most = static_cast<double>(INT32_MAX) / static_cast<double>(std::max<size_t>(schedule.size(), 1));
    for (auto& [to, steps] : schedule) steps = static_cast<int>(std::clamp(steps * factor, 1.0, most));
  }
};

// The interval [log_z_low, log_z_high] is log(Z_hat -+ q sd), sd the standard
// error of the mean of the runs' weights w and q = ais_interval_sd(runs): the
// Student-t quantile for runs - 1 degrees of freedom at the coverage of +-3
// sigma of a normal (99.73%), so that few runs get an honest width (q = 235.8
// for 2 runs, 6.6 for 5, 4.1 for 10, 3.3 for 30, 3.08 for 100, towards 3).
// It covers the runs' spread only: AIS with too few temperatures is biased
// (log Z comes out low, as the weights' mean is dominated by rare runs it has
// not drawn), and no interval from the runs shows that. A lower end of -inf
// (q sd > Z_hat) says the weights spread too widely for the runs: more runs
// or temperatures bound it.
struct AisResult {
  double log_z = 0;        // the estimate of log Z_B
  double log_z_low = 0;    // log(Z_hat - q sd), or -inf when q sd > Z_hat
  double log_z_high = 0;   // log(Z_hat + q sd)
  double log_z_base = 0;   // log Z_A
  int temperatures = 0;
};

// q above: the interval's half-width in standard errors for `runs` runs (at
// least 2): the two-sided 99.73% quantile of Student's t with runs - 1
// degrees of freedom (exact to 1e-9 up to 101 runs, an expansion to 1e-5 beyond).
double ais_interval_sd(int64_t runs);

// Throws, naming the runs and both sizes, when `runs` chains of an RBM of
// `visible` and `hidden` units would need more memory than is available now
// (io/memory.hpp): a program checks it before training, so that a count
// of runs too large is said at the start, not after hours. ais_log_z
// checks it too.
void check_ais_fits(int64_t visible, int64_t hidden, int64_t runs);

// a: the base model's visible biases (e.g. log-odds of the training data's mean).
AisResult ais_log_z(const Rbm& rbm, std::span<const float> base_bias, const AisConfig& cfg = {});

// Count visible units (a replicated softmax) with binary hidden units: log
// Z_D for documents of `words` words, the normaliser exact_log_z(rbm, words)
// computes by enumeration (models/exact.hpp). The base model draws the D
// words from softmax(a): log Z_A = D log sum_i exp(a_i) + H log 2; the
// intermediate distributions are
//   log f_k(v) = (1 - beta_k) a.v + beta_k c.v + sum_j softplus(beta_k (D b_j + (v W)_j)),
// with h ~ sigmoid(beta (v W + D b)) and v = D draws from
// softmax((1 - beta) a + beta (h W' + c)).
AisResult ais_log_z(const Rbm& rbm, std::span<const float> base_bias, int64_t words, const AisConfig& cfg = {});

// log of each word's share of all the words (at least `floor`): the count
// units' base model, a unigram model of the training data.
std::vector<float> word_share_bias(std::span<const float> mean_counts, float floor = 1e-6f);

// log-odds of each pixel's mean with the mean clipped to [eps, 1 - eps]
std::vector<float> base_rate_bias(std::span<const float> data_mean, float eps = 1e-3f);

}  // namespace ebm
