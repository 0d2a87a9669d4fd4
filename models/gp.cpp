#include "models/gp.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "io/memory.hpp"
#include "ops/error.hpp"

namespace ebm {
namespace {

// A GP holds n x n matrices of doubles (distances, K, its factor, the
// gradient's matrix, the best theta's copies): refused by name where they
// cannot fit, rather than by std::bad_alloc or the system's killer.
void check_points_fit(const char* who, int64_t n) {
  const double bytes = 6.0 * 8.0 * static_cast<double>(n) * static_cast<double>(n);
  const auto have = static_cast<double>(available_memory_bytes());
  if (have >= 0 && bytes > 0.9 * have)
    throw Error("{}: {} points need about {:.1f} GiB (six {} x {} matrices of doubles); {:.1f} GiB of memory is "
                "available; expected fewer points",
                who, n, bytes / double(1 << 30), n, n, have / double(1 << 30));
}

void check_fit_config(const char* who, const GpFitConfig& c) {
  if (c.steps < 0 || !(c.lr > 0) || !std::isfinite(c.lr))
    throw Error("{}: {} steps at rate {}; expected steps >= 0 and a positive, finite rate", who, c.steps, c.lr);
}

double mean_of(std::span<const float> v) {
  double s = 0.0;
  for (float x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

// Adam (Kingma & Ba) on the N log hyper-parameters t, the gradient g per
// point (n points); step counts from 1.
template <size_t N>
struct HyperAdam {
  std::array<double, N> m{}, v{};
  void step(std::array<double, N>& t, const std::array<double, N>& g, double n, double lr, int step) {
    const double b1 = 0.9, b2 = 0.999;
    for (size_t i = 0; i < N; ++i) {
      const double gi = g[i] / n;
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      const double mh = m[i] / (1 - std::pow(b1, step)), vh = v[i] / (1 - std::pow(b2, step));
      t[i] -= lr * mh / (std::sqrt(vh) + 1e-8);
    }
  }
};

}  // namespace

std::string GpFitCourse::still_falling(double tolerance) const {
  const auto steps = static_cast<int64_t>(nll.size()) - 1;
  if (steps < 10) return {};
  const int64_t from = steps - steps / 10;
  const double fall = nll[static_cast<size_t>(from)] - nll.back();
  if (!(fall > tolerance)) return {};
  return fmt::format("its last {} Adam steps of {} still lowered the negative log marginal likelihood by {:.3g} nats a "
                     "target (from {:.6g} to {:.6g}); more steps would fit theta better",
                     steps - from, steps, fall, nll[static_cast<size_t>(from)], nll.back());
}

gp::Hyper initial_hyper(std::span<const double> sq_dists, int64_t n, std::span<const float> centred_targets) {
  if (n < 1 || static_cast<int64_t>(sq_dists.size()) != n * n)
    throw Error("gp initial_hyper: {} squared distances for {} points; expected n x n, n at least 1", sq_dists.size(),
                n);
  if (!centred_targets.empty() && static_cast<int64_t>(centred_targets.size()) != n)
    throw Error("gp initial_hyper: {} targets for {} points; expected one a point, or none", centred_targets.size(), n);
  for (size_t i = 0; i < centred_targets.size(); ++i)
    if (!std::isfinite(centred_targets[i]))
      throw Error("gp initial_hyper: target element {} is {}; expected finite values", i, centred_targets[i]);
  const int64_t m = std::min<int64_t>(n, 500);
  std::vector<double> d;
  // Distinct points only: with repeated points the median could be 0, a
  // length blind to the data's scale.
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = i + 1; j < m; ++j)
      if (const double v = sq_dists[static_cast<size_t>(i * n + j)]; !(v >= 0) || !std::isfinite(v))
        throw Error("gp initial_hyper: the squared distance of points {} and {} is {}; expected a finite value, 0 or "
                    "more", i, j, v);
      else if (v > 0)
        d.push_back(v);
  double median = 1.0;  // every point the same: no scale to take
  if (!d.empty()) {
    std::nth_element(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(d.size() / 2), d.end());
    median = d[d.size() / 2];
  }
  double var = 0.0;
  for (float y : centred_targets) var += static_cast<double>(y) * y;
  var /= static_cast<double>(std::max<size_t>(centred_targets.size(), 1));
  const double sd = var > 0 ? std::sqrt(var) : 1.0;
  return {.log_length = 0.5 * std::log(median > 0 ? median : 1.0), .log_signal = std::log(sd),
          .log_noise = std::log(sd / 10.0)};
}

GpRegression::GpRegression(std::span<const float> features, int64_t n, int64_t d, std::span<const float> targets,
                           const GpFitConfig& config, const gp::Hyper* start) {
  check_fit_config("gp regression", config);
  const std::vector<float> centred = prepare(features, n, d, targets);
  condition(centred, start != nullptr ? *start : initial_hyper(dists_, n, centred), &config);
}

GpRegression::GpRegression(std::span<const float> features, int64_t n, int64_t d, std::span<const float> targets,
                           gp::Hyper theta) {
  condition(prepare(features, n, d, targets), theta, nullptr);
}

std::vector<float> GpRegression::prepare(std::span<const float> features, int64_t n, int64_t d,
                                         std::span<const float> targets) {
  if (n < 1 || d < 1 || static_cast<int64_t>(features.size()) != n * d || static_cast<int64_t>(targets.size()) != n)
    throw Error("gp regression: {} feature values and {} targets; expected {} x {} and {}, n and d at least 1",
                features.size(), targets.size(), n, d, n);
  for (size_t i = 0; i < targets.size(); ++i)  // before centring, which would spread one bad value over all
    if (!std::isfinite(targets[i]))
      throw Error("gp regression: target element {} is {}; expected finite values", i, targets[i]);
  check_points_fit("gp regression", n);
  features_.assign(features.begin(), features.end());
  d_ = d;
  dists_ = gp::squared_distances(features, n, d, "gp regression");
  mean_ = mean_of(targets);
  std::vector<float> centred(targets.begin(), targets.end());
  for (float& y : centred) y = static_cast<float>(y - mean_);
  return centred;
}

// Adam on theta (Kingma & Ba), the gradient per target; keeps the best
// theta seen. A step to a theta the kernel cannot take (an overshoot to a
// kernel that is not finite) ends the fit at the best so far, and says so.
void GpRegression::condition(std::span<const float> y, gp::Hyper theta, const GpFitConfig* config) {
  const int64_t n = static_cast<int64_t>(y.size());
  post_ = gp::condition(dists_, n, y, theta, "gp regression");
  if (config == nullptr) return;
  gp::Posterior best = post_;
  course_.nll.assign(1, post_.nll / static_cast<double>(n));
  std::array<double, 3> t{theta.log_length, theta.log_signal, theta.log_noise};
  HyperAdam<3> adam;
  for (int step = 1; step <= config->steps; ++step) {
    const std::vector<double> q = gp::gradient_matrix(post_);
    adam.step(t, gp::hyper_gradient(post_, q, dists_), static_cast<double>(n), config->lr, step);
    try {
      post_ = gp::condition(dists_, n, y, {t[0], t[1], t[2]}, "gp regression");
    } catch (const Error& e) {
      stopped_ = fmt::format("Adam step {} of {} (rate {}) reached a theta the fit could not use, so it kept the best "
                             "before it: {}", step, config->steps, config->lr, e.what());
      break;
    }
    course_.nll.push_back(post_.nll / static_cast<double>(n));
    if (post_.nll < best.nll) best = post_;
  }
  post_ = std::move(best);
}

std::vector<double> GpRegression::predict(std::span<const float> features, int64_t m,
                                          std::vector<double>* variance) const {
  if (static_cast<int64_t>(features.size()) != m * d_)
    throw Error("gp regression: {} feature values for {} points; expected {} per point, as in training",
                features.size(), m, d_);
  std::vector<double> mean =
      gp::predict(post_, gp::cross_squared_distances(features, m, features_, post_.n, d_), m, variance);
  for (double& x : mean) x += mean_;
  return mean;
}

GpClassifier::GpClassifier(std::span<const float> features, int64_t n, int64_t d, std::span<const float> labels,
                           const GpFitConfig& config, const gp::Hyper* start) {
  check_fit_config("gp classification", config);
  prepare(features, n, d);
  gp::Hyper h;
  if (start != nullptr) {
    h = *start;
  } else {
    h = initial_hyper(dists_, n, {});  // l the median distance; sf 1 (no targets to scale it by)
  }
  condition(labels, h, &config);
}

GpClassifier::GpClassifier(std::span<const float> features, int64_t n, int64_t d, std::span<const float> labels,
                           gp::Hyper theta) {
  prepare(features, n, d);
  condition(labels, theta, nullptr);
}

void GpClassifier::prepare(std::span<const float> features, int64_t n, int64_t d) {
  if (n < 1 || d < 1 || static_cast<int64_t>(features.size()) != n * d)
    throw Error("gp classification: {} feature values for {} points of {}; expected n x d, both at least 1",
                features.size(), n, d);
  check_points_fit("gp classification", n);
  features_.assign(features.begin(), features.end());
  d_ = d;
  dists_ = gp::squared_distances(features, n, d, "gp classification");
}

// Adam on (log l, log sf), the gradient per point; keeps the best theta
// seen. Where Newton's method fails (a kernel grown too large: with
// labels that a kernel can separate, the approximate likelihood keeps
// rising with sf), the fit stops at the best theta so far.
void GpClassifier::condition(std::span<const float> labels, gp::Hyper theta, const GpFitConfig* config) {
  const auto n = static_cast<int64_t>(features_.size()) / d_;
  post_ = gp::laplace(dists_, n, labels, theta.log_length, theta.log_signal);  // (checks the labels)
  if (n > 1 && std::all_of(labels.begin(), labels.end(), [&](float v) { return v == labels[0]; }))
    throw Error("gp classification: all {} labels are {}; expected both classes, -1 and +1", n, labels[0]);
  if (config == nullptr) return;
  gp::Laplace best = post_;
  course_.nll.assign(1, post_.nll / static_cast<double>(n));
  std::array<double, 2> t{theta.log_length, theta.log_signal};
  HyperAdam<2> adam;
  for (int step = 1; step <= config->steps; ++step) {
    adam.step(t, gp::hyper_gradient(post_, gp::gradient_matrix(post_), dists_), static_cast<double>(n), config->lr,
              step);
    try {
      post_ = gp::laplace(dists_, n, labels, t[0], t[1], "gp classification", &post_);
    } catch (const Error& e) {
      stopped_ = fmt::format("Adam step {} of {} (rate {}) reached a theta the fit could not use, so it kept the best "
                             "before it: {}", step, config->steps, config->lr, e.what());
      break;
    }
    course_.nll.push_back(post_.nll / static_cast<double>(n));
    if (post_.nll < best.nll) best = post_;
  }
  post_ = std::move(best);
}

std::vector<double> GpClassifier::probability(std::span<const float> features, int64_t m) const {
  if (static_cast<int64_t>(features.size()) != m * d_)
    throw Error("gp classification: {} feature values for {} points; expected {} per point, as in training",
                features.size(), m, d_);
  std::vector<double> var;
  std::vector<double> p = gp::predict(post_, gp::cross_squared_distances(features, m, features_, post_.n, d_), m, &var);
  for (size_t i = 0; i < p.size(); ++i) p[i] = gp::class_probability(p[i], var[i]);
  return p;
}

gp::Hyper GpClassifier::hyper() const {
  return {.log_length = post_.log_length, .log_signal = post_.log_signal,
          .log_noise = -std::numeric_limits<double>::infinity()};
}

ClassScores class_scores(std::span<const double> probability, std::span<const float> labels) {
  if (probability.size() != labels.size() || labels.empty())
    throw Error("class_scores: {} probabilities for {} labels; expected the same non-zero count", probability.size(),
                labels.size());
  ClassScores s;
  for (size_t i = 0; i < labels.size(); ++i) {
    const double p = probability[i];
    if (!(p >= 0 && p <= 1) || (labels[i] != 1.0f && labels[i] != -1.0f))
      throw Error("class_scores: point {} has probability {} and label {}; expected a probability in [0, 1] and a "
                  "label of -1 or +1", i, p, labels[i]);
    const bool positive = labels[i] > 0;
    if (positive ? !(p > 0.5) : !(p < 0.5)) s.error_pct += 1;
    s.log_loss -= std::log(std::max(positive ? p : 1 - p, 1e-300));
  }
  s.error_pct *= 100.0 / static_cast<double>(labels.size());
  s.log_loss /= static_cast<double>(labels.size());
  return s;
}

double rmse(std::span<const double> predicted, std::span<const float> truth) {
  if (predicted.size() != truth.size() || predicted.empty())
    throw Error("rmse: {} predictions for {} targets; expected the same non-zero count", predicted.size(), truth.size());
  double s = 0.0;
  for (size_t i = 0; i < truth.size(); ++i) {
    if (!std::isfinite(predicted[i]) || !std::isfinite(truth[i]))  // one would make the whole figure NaN
      throw Error("rmse: {} {} is {}; expected finite values", std::isfinite(truth[i]) ? "prediction" : "target", i,
                  std::isfinite(truth[i]) ? predicted[i] : double{truth[i]});
    s += (predicted[i] - truth[i]) * (predicted[i] - truth[i]);
  }
  return std::sqrt(s / static_cast<double>(truth.size()));
}

}  // namespace ebm
