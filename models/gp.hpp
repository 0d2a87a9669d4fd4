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

class GpRegression {
 public:
  // Learns theta on `features` (n x d, row-major) and `targets` (n), from
  // `start` if given, else initial_hyper(); an ebm::Error names a shape
  // mismatch, a NaN, or a kernel matrix that is not positive definite.
  GpRegression(std::span<const float> features, int64_t n, int64_t d, std::span<const float> targets,
               const GpFitConfig& config = {}, const gp::Hyper* start = nullptr);
  // Conditions on the targets with a given theta (no learning).
  GpRegression(std::span<const float> features, int64_t n, int64_t d, std::span<const float> targets, gp::Hyper theta);

  // Predictive means at m points (m x d).
  std::vector<double> predict(std::span<const float> features, int64_t m) const;
  const gp::Hyper& hyper() const { return post_.hyper; }
  double nll_per_target() const { return post_.nll / static_cast<double>(post_.n); }
  double target_mean() const { return mean_; }

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
};

// Root mean squared error of predictions against truth (same length); an
// ebm::Error names a prediction or target that is not finite.
double rmse(std::span<const double> predicted, std::span<const float> truth);

}  // namespace ebm
