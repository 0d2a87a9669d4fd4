#pragma once
// Gaussian-process regression with a squared-exponential kernel, in double
// precision (Rasmussen & Williams 2006, ch. 2 and 5): the numerics behind
// the gp_nll op (ops/op.hpp) and behind fitting and predicting with a GP
// on fixed features (models/gp.hpp).
//
//   k(f, f') = sf^2 exp(-|f - f'|^2 / (2 l^2)),   K = [k(f_i, f_j)] + (sn^2 + j sf^2) I
//   -log p(y | F) = 1/2 y' K^-1 y + 1/2 log det K + n/2 log(2 pi)
//
// with a fixed jitter j = 1e-6 (kJitter): the noise's variance never falls
// below a millionth of the signal's, so K stays positive definite in
// double precision however small sn is learned to be (features that
// repeat, or that fine-tuning pulls onto each other, would make it
// singular).
//
// The hyper-parameters are kept as natural logs, so that any real values
// are valid: theta = (log l, log sf, log sn). The Cholesky factor, the
// solves and the inverse are LAPACK's (OpenBLAS), single-threaded like
// every BLAS call inside an op.

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace ebm::gp {

inline constexpr double kJitter = 1e-6;

struct Hyper {
  double log_length = 0.0;  // log l
  double log_signal = 0.0;  // log sf
  double log_noise = 0.0;   // log sn
};
inline Hyper hyper_from(std::span<const float> theta) { return {theta[0], theta[1], theta[2]}; }

// The n x n squared distances |f_i - f_j|^2 between the rows of F (n x d,
// row-major), clamped at 0; an ebm::Error, naming `who`, names a NaN or
// infinite feature.
std::vector<double> squared_distances(std::span<const float> features, int64_t n, int64_t d, const char* who = "gp");
// The m x n squared distances between the rows of A (m x d) and B (n x d).
std::vector<double> cross_squared_distances(std::span<const float> a, int64_t m, std::span<const float> b, int64_t n,
                                            int64_t d);

// The squared-exponential kernel's values sf^2 exp(-D / 2 l^2) at the
// given squared distances (no noise, no jitter).
std::vector<double> se_kernel(std::span<const double> sq_dists, double log_length, double log_signal);

// A GP conditioned on n targets: what the likelihood, its gradients and
// predictions need.
struct Posterior {
  int64_t n = 0;
  Hyper hyper;
  std::vector<double> signal;  // sf^2 exp(-D / 2 l^2), n x n (no noise)
  std::vector<double> chol;    // the Cholesky factor of K (LAPACK's lower triangle, column-major)
  std::vector<double> alpha;   // K^-1 y
  double nll = 0.0;            // -log p(y | F), in nats, over all n targets
};

// Conditions on targets y given the squared distances D (n x n). An
// ebm::Error, naming `who`, when a target or theta is not finite, or K is
// not positive definite (which the jitter leaves to extreme theta, such as
// a signal variance that overflows).
Posterior condition(std::span<const double> sq_dists, int64_t n, std::span<const float> y, Hyper h,
                    const char* who = "gp");

// Q = K^-1 - alpha alpha' (n x n, full), the matrix every gradient of the
// likelihood is a contraction with: d nll = 1/2 tr(Q dK).
std::vector<double> gradient_matrix(const Posterior& p);

// d nll / d theta (log l, log sf, log sn), from Q and the squared distances.
std::array<double, 3> hyper_gradient(const Posterior& p, std::span<const double> q, std::span<const double> sq_dists);
// d nll / d F (n x d): -(1 / l^2) (diag(W 1) F - W F) with W = Q o signal.
std::vector<double> feature_gradient(const Posterior& p, std::span<const double> q, std::span<const float> features,
                                     int64_t d);
// The same for any likelihood whose gradient is d nll = 1/2 tr(Q dK), given
// the kernel's noise-free part `signal` and its log length scale.
std::vector<double> feature_gradient(std::span<const double> signal, double log_length, std::span<const double> q,
                                     std::span<const float> features, int64_t d);

// The predictive means at m new points, given their squared distances to
// the n training points (m x n): k*' alpha. With `variance`, also each
// point's predictive variance of the noise-free function, sf^2 - v'v.
std::vector<double> predict(const Posterior& p, std::span<const double> cross_sq_dists, int64_t m,
                            std::vector<double>* variance = nullptr);


// ---- binary classification: Laplace's approximation (R&W ch. 3 and 5.5) ------
//
// Labels y_i in {-1, +1}, the logistic likelihood p(y_i | f_i) = sigmoid(y_i f_i),
// and the noise-free kernel K = sf^2 exp(-D / 2 l^2) (no jitter: nothing here
// inverts K, only B = I + W^1/2 K W^1/2, whose eigenvalues are at least 1).
// Newton's method finds the posterior's mode f^; the approximate negative
// log marginal likelihood is
//   nll = 1/2 a' f^ - sum_i log sigmoid(y_i f^_i) + 1/2 log det B,   a = K^-1 f^ = grad log p(y | f^).
// theta = (log l, log sf): the logistic likelihood has no noise.
struct Laplace {
  int64_t n = 0;
  double log_length = 0.0, log_signal = 0.0;
  std::vector<double> signal;  // K, n x n
  std::vector<double> mode;    // f^
  std::vector<double> grad;    // d log p(y | f) / d f at f^: (y + 1) / 2 - sigmoid(f^) (= K^-1 f^ at the mode)
  std::vector<double> w;       // -d2 log p / d f2 at f^: sigmoid(f^) (1 - sigmoid(f^))
  std::vector<double> chol;    // the Cholesky factor of B at f^ (LAPACK's lower triangle, column-major)
  double nll = 0.0;            // over all n labels, in nats
  int newton_steps = 0;
  double last_step = 0.0;  // the last Newton step in f: max |step| / (1 + max |f^|)
};

// The mode and its approximation, given the squared distances D (n x n).
// Newton's method starts at f = 0, or with `warm` at f = K a of that
// approximation's a (a nearby theta's on the same points: fewer steps to
// the same mode, which is unique). An ebm::Error, naming `who`, when a
// label is not -1 or +1, theta is not finite or gives no finite positive
// kernel, or Newton's method does not reach the mode in 200 steps (its
// step in f under 1e-10 of 1 + max|f|, or under 1e-4 after a step where
// Psi did not rise; three such steps in a row with a larger one refused).
Laplace laplace(std::span<const double> sq_dists, int64_t n, std::span<const float> labels, double log_length,
                double log_signal, const char* who = "gp classification", const Laplace* warm = nullptr);
// Q with d nll = 1/2 tr(Q dK), the mode's move with K included (as in R&W
// algorithm 5.1): Q = R - a a' + u a' + a u', with R = W^1/2 B^-1 W^1/2,
// s = d nll / d f^ = -1/2 diag((K^-1 + W)^-1) o d3 log p / d f3 (the log
// det's dependence on the mode; the other terms are stationary there), and
// u = (I + W K)^-1 s, since d f^ = (I + K W)^-1 dK a. (The sign of s: d log
// det B / d W_ii = [(K^-1 + W)^-1]_ii and d W_ii / d f^_i = -d3 log p / d f3,
// so d nll / d f^ = 1/2 d log det B / d f^ is the minus; central
// differences agree, test_ops.)
std::vector<double> gradient_matrix(const Laplace& p);
// d nll / d (log l, log sf), from Q and the squared distances.
std::array<double, 2> hyper_gradient(const Laplace& p, std::span<const double> q, std::span<const double> sq_dists);
// The latent function's predictive mean k*' grad at m new points (their
// squared distances to the n training points, m x n) and, with
// `variance`, its variance sf^2 - v'v, v = L^-1 W^1/2 k*.
std::vector<double> predict(const Laplace& p, std::span<const double> cross_sq_dists, int64_t m,
                            std::vector<double>* variance = nullptr);
// The probability of label +1 averaged over the latent's Gaussian,
// approximated as sigmoid(mean / sqrt(1 + pi var / 8)) (MacKay 1992).
double class_probability(double mean, double variance);

}  // namespace ebm::gp
