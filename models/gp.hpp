#pragma once
// Gaussian-process regression on fixed features (Rasmussen & Williams
// 2006): the squared-exponential kernel of ops/gp.hpp, its three
// hyper-parameters learned by maximising the marginal likelihood of the
// training targets, and predictions at new points. It is the regressor of
// Salakhutdinov & Hinton (2007), on pixels or on a DBN's top-level
// features; models/deep_kernel.hpp learns the features themselves.
//
// Targets are centred on their mean (the GP's prior mean is that mean);
// predictions add it back.

#include <span>
#include <string>
#include <vector>

#include "ops/gp.hpp"

namespace ebm {

struct GpFitConfig {
  int steps = 300;    // Adam steps on theta = (log l, log sf, log sn)
  double lr = 0.05;   // in log units per step
};

// A start for theta: l the median distance between (up to 500) training
// points, of those apart (1 when none is), sf the targets' standard
// deviation, sn a tenth of it.
gp::Hyper initial_hyper(std::span<const double> sq_dists, int64_t n, std::span<const float> centred_targets);

// How a fit of theta went: the negative log marginal likelihood per target
// (or point) at the start and after each Adam step, in nats. A fit whose
// last tenth of the steps still lowered it by more than `tolerance` had not
// settled: still_falling() says so, naming the steps and the fall (more
// steps, or a larger rate, would fit better), and is empty otherwise (also
// for a fit of fewer than 10 steps, or none).
struct GpFitCourse {
  std::vector<double> nll;  // [0]: the start; [k]: after step k
  std::string still_falling(double tolerance = 1e-3) const;
};

class GpRegression {
 public:
  // Learns theta on `features` (n x d, row-major) and `targets` (n), from
  // `start` if given, else initial_hyper(); an ebm::Error names a shape
  // mismatch, a NaN, a rate that is not positive and finite, more points
  // than memory holds, or a kernel matrix that is not positive definite.
  GpRegression(std::span<const float> features, int64_t n, int64_t d, std::span<const float> targets,
               const GpFitConfig& config = {}, const gp::Hyper* start = nullptr);
  // Conditions on the targets with a given theta (no learning).
  GpRegression(std::span<const float> features, int64_t n, int64_t d, std::span<const float> targets, gp::Hyper theta);

  // Predictive means at m points (m x d); with `variance`, also each
  // point's predictive variance of the noise-free function (add
  // exp(2 log_noise) for a new target's).
  std::vector<double> predict(std::span<const float> features, int64_t m,
                              std::vector<double>* variance = nullptr) const;
  const gp::Hyper& hyper() const { return post_.hyper; }
  double nll_per_target() const { return post_.nll / static_cast<double>(post_.n); }
  double target_mean() const { return mean_; }
  // Why the fit stopped before config.steps (a step to a theta whose kernel
  // is not finite; theta is the best before it), or empty: every step ran.
  const std::string& stopped_early() const { return stopped_; }
  // The fit's course (empty when theta was given).
  const GpFitCourse& course() const { return course_; }

 private:
  // Checks the shapes, keeps the features and their distances; returns the
  // centred targets.
  std::vector<float> prepare(std::span<const float> features, int64_t n, int64_t d, std::span<const float> targets);
  void condition(std::span<const float> targets, gp::Hyper theta, const GpFitConfig* config);

  std::vector<float> features_;
  int64_t d_ = 0;
  double mean_ = 0.0;
  std::vector<double> dists_;
  gp::Posterior post_;
  std::string stopped_;
  GpFitCourse course_;
};

// Gaussian-process classification on fixed features: labels -1 and +1,
// the logistic likelihood, Laplace's approximation (ops/gp.hpp); its two
// hyper-parameters (log l, log sf) learned by Adam on the approximate
// marginal likelihood, keeping the best seen. The classifier of
// Salakhutdinov & Hinton (2007), on pixels or on a DBN's features.
class GpClassifier {
 public:
  // Learns theta on `features` (n x d) and `labels` (n, each -1 or +1) from
  // `start` if given (its log_noise is not used), else l the median
  // distance and sf 1; an ebm::Error names a shape mismatch, a NaN or a
  // label other than -1 and +1.
  GpClassifier(std::span<const float> features, int64_t n, int64_t d, std::span<const float> labels,
               const GpFitConfig& config = {}, const gp::Hyper* start = nullptr);
  // Conditions on the labels with a given theta (no learning).
  GpClassifier(std::span<const float> features, int64_t n, int64_t d, std::span<const float> labels, gp::Hyper theta);

  // p(y = +1 | x) at m points (m x d), the latent averaged over its
  // Gaussian posterior.
  std::vector<double> probability(std::span<const float> features, int64_t m) const;
  // theta; log_noise is -infinity (the likelihood has no noise).
  gp::Hyper hyper() const;
  double nll_per_point() const { return post_.nll / static_cast<double>(post_.n); }
  // Why the fit stopped before config.steps (Newton's method failing at a
  // kernel grown too large; theta is the best before it), or empty.
  const std::string& stopped_early() const { return stopped_; }
  // The fit's course (empty when theta was given).
  const GpFitCourse& course() const { return course_; }

 private:
  void prepare(std::span<const float> features, int64_t n, int64_t d);
  void condition(std::span<const float> labels, gp::Hyper theta, const GpFitConfig* config);

  std::vector<float> features_;
  int64_t d_ = 0;
  std::vector<double> dists_;
  gp::Laplace post_;
  std::string stopped_;
  GpFitCourse course_;
};

// The percentage of labels (-1 or +1) whose probability of +1 falls on the
// wrong side of 1/2 (a probability of exactly 1/2 counts as wrong), and the
// mean negative log probability of the true labels, in nats.
struct ClassScores {
  double error_pct = 0;
  double log_loss = 0;
};
ClassScores class_scores(std::span<const double> probability, std::span<const float> labels);

// Root mean squared error of predictions against truth (same length); an
// ebm::Error names a prediction or target that is not finite.
double rmse(std::span<const double> predicted, std::span<const float> truth);

}  // namespace ebm
