// Gaussian-process classification by Laplace's approximation (ops/gp.hpp),
// and the gp_class_nll op over it.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numbers>

#include <cblas.h>

#include "ops/error.hpp"
#include "ops/gp.hpp"
#include "ops/lapack.hpp"
#include "ops/op.hpp"
#include "ops/scalar_math.hpp"

namespace ebm::gp {
namespace {

size_t at(int64_t i) { return static_cast<size_t>(i); }

double sigm(double z) { return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z)); }

// The likelihood's derivatives at f: grad = t - pi, w = pi (1 - pi), with
// t = (y + 1) / 2 and pi = sigmoid(f); returns log p(y | f).
double derivatives(std::span<const float> y, std::span<const double> f, std::vector<double>& grad,
                   std::vector<double>& w) {
  double logp = 0.0;
  for (size_t i = 0; i < f.size(); ++i) {
    const double pi = sigm(f[i]);
    grad[i] = (y[i] > 0 ? 1.0 : 0.0) - pi;
    w[i] = pi * (1.0 - pi);
    logp += log_sigmoid(y[i] * f[i]);
  }
  return logp;
}

// B = I + W^1/2 K W^1/2 factored in place of `chol` (column-major lower; K
// is symmetric, so its row-major storage reads the same).
void factor_b(const Laplace& p, std::span<const double> sw, std::vector<double>& chol, const char* who) {
  const int64_t n = p.n;
  chol.resize(p.signal.size());
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < n; ++i) chol[at(j * n + i)] = sw[at(i)] * p.signal[at(j * n + i)] * sw[at(j)] + (i == j);
  const int bn = static_cast<int>(n);
  int info = 0;
  dpotrf_("L", &bn, chol.data(), &bn, &info, 1);
  if (info != 0)  // B's eigenvalues are at least 1: only a K that is not finite gets here
    throw Error("{}: I + W^1/2 K W^1/2 is not positive definite (LAPACK dpotrf info {}); expected a finite kernel", who,
                info);
}

std::vector<double> times_k(const Laplace& p, std::span<const double> v) {
  std::vector<double> out(at(p.n), 0.0);
  cblas_dsymv(CblasRowMajor, CblasUpper, static_cast<int>(p.n), 1.0, p.signal.data(), static_cast<int>(p.n), v.data(),
              1, 0.0, out.data(), 1);
  return out;
}

}  // namespace

Laplace laplace(std::span<const double> sq_dists, int64_t n, std::span<const float> labels, double log_length,
                double log_signal, const char* who, const Laplace* warm) {
  if (n < 1 || n > 100'000 || static_cast<int64_t>(sq_dists.size()) != n * n ||
      static_cast<int64_t>(labels.size()) != n)
    throw Error("{}: {} distances and {} labels for {} points; expected n^2 and n, n from 1 to 100,000", who,
                sq_dists.size(), labels.size(), n);
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] != 1.0f && labels[i] != -1.0f)
      throw Error("{}: label {} is {}; expected -1 or +1", who, i, labels[i]);
  const double sf2 = std::exp(2.0 * log_signal), inv_2l2 = 0.5 * std::exp(-2.0 * log_length);
  if (!std::isfinite(log_length) || !std::isfinite(log_signal) || !(sf2 > 0) || !std::isfinite(sf2) ||
      !std::isfinite(inv_2l2))
    throw Error("{}: hyper-parameters (log l, log sf) = ({}, {}); expected finite values whose signal variance and "
                "1 / l^2 are finite and positive in double precision", who, log_length, log_signal);
  Laplace p;
  p.n = n;
  p.log_length = log_length;
  p.log_signal = log_signal;
  p.signal = se_kernel(sq_dists, log_length, log_signal);

  // Newton's method on Psi(f) = log p(y | f) - 1/2 f' K^-1 f, carried in a
  // (f = K a), each step's a halved back towards the last (at most 10
  // times) while Psi falls by more than its rounding (eps times |log p| +
  // 1/2 |a'f|). It stops on the Newton step in f, K (a_new - a) =
  // (K^-1 + W)^-1 (grad log p - a): at 1e-10 of 1 + max|f| f is at the
  // mode; after a step where Psi did not rise (beyond 1e-13 of its scale),
  // rounding rules, and 1e-4 will do; three such steps in a row with more
  // are refused. (A gap
  // |a - grad| judged against a floor that grew with sf^2 let the steps stop
  // far from the mode, the nll 0.3 off at sf e^12. K grad - f, the gap seen
  // through K, is large where K is nearly singular however close the mode;
  // Newton's decrement, how far Psi is below its maximum, vanishes where the
  // likelihood saturates while f, and log det B with it, still move.)
  const int bn = static_cast<int>(n), one = 1;
  std::vector<double> a(at(n), 0.0), f(at(n), 0.0), grad(at(n)), w(at(n)), sw(at(n)), chol;
  double psi = derivatives(labels, f, grad, w);
  if (warm != nullptr && warm->n == n) {  // kept only if it starts higher than f = 0
    std::vector<double> wa = warm->grad, wf = times_k(p, wa), wgrad(at(n)), ww(at(n));
    double quad = 0.0;
    for (int64_t i = 0; i < n; ++i) quad += wa[at(i)] * wf[at(i)];
    if (const double wpsi = derivatives(labels, wf, wgrad, ww) - 0.5 * quad; wpsi > psi) {
      a = std::move(wa), f = std::move(wf), grad = std::move(wgrad), w = std::move(ww);
      psi = wpsi;
    }
  }
  int flat_steps = 0;  // in a row, where Psi did not rise
  for (int step = 1;; ++step) {
    for (int64_t i = 0; i < n; ++i) sw[at(i)] = std::sqrt(w[at(i)]);
    factor_b(p, sw, chol, who);
    std::vector<double> b(at(n));
    for (int64_t i = 0; i < n; ++i) b[at(i)] = w[at(i)] * f[at(i)] + grad[at(i)];
    std::vector<double> z = times_k(p, b);  // a = b - W^1/2 B^-1 W^1/2 K b
    for (int64_t i = 0; i < n; ++i) z[at(i)] *= sw[at(i)];
    int info = 0;
    dpotrs_("L", &bn, &one, chol.data(), &bn, z.data(), &bn, &info, 1);
    std::vector<double> a_new(at(n)), da(at(n));
    for (int64_t i = 0; i < n; ++i) a_new[at(i)] = b[at(i)] - sw[at(i)] * z[at(i)], da[at(i)] = a_new[at(i)] - a[at(i)];
    const std::vector<double> step_f = times_k(p, da);
    double moved = 0.0, largest = 0.0;
    for (int64_t i = 0; i < n; ++i)
      moved = std::max(moved, std::abs(step_f[at(i)])), largest = std::max(largest, std::abs(f[at(i)]));
    p.last_step = moved / (1.0 + largest);
    if (p.last_step <= 1e-10 || (flat_steps > 0 && p.last_step <= 1e-4)) break;
    if (flat_steps >= 3 || step > 200)
      throw Error("{}: Newton's method stopped with f^ {:.2g} (relative) from the mode after {} steps (length scale "
                  "{:.3g}, signal sd {:.3g}); expected a kernel of moderate scale (a smaller signal sd, or features "
                  "of a smaller range)",
                  who, p.last_step, step - 1, std::exp(log_length), std::sqrt(sf2));
    double psi_new = 0.0, scale = 0.0;
    for (int halvings = 0;; ++halvings) {
      f = times_k(p, a_new);
      double quad = 0.0;
      for (int64_t i = 0; i < n; ++i) quad += a_new[at(i)] * f[at(i)];
      const double logp = derivatives(labels, f, grad, w);
      psi_new = logp - 0.5 * quad;
      if (!std::isfinite(psi_new))
        throw Error("{}: Newton's method reached a log posterior of {} (length scale {:.3g}, signal sd {:.3g}); "
                    "expected finite values: a kernel of moderate scale, and finite features",
                    who, psi_new, std::exp(log_length), std::sqrt(sf2));
      scale = std::abs(logp) + 0.5 * std::abs(quad);
      if (psi_new >= psi - 1e-12 * scale || halvings == 10) break;
      for (int64_t i = 0; i < n; ++i) a_new[at(i)] = 0.5 * (a[at(i)] + a_new[at(i)]);
    }
    a = std::move(a_new);
    flat_steps = psi_new - psi <= 1e-13 * scale ? flat_steps + 1 : 0;
    psi = psi_new;
    p.newton_steps = step;
  }
  for (int64_t i = 0; i < n; ++i) sw[at(i)] = std::sqrt(w[at(i)]);
  factor_b(p, sw, p.chol, who);  // B at the mode
  double logdet = 0.0;
  for (int64_t i = 0; i < n; ++i) logdet += std::log(p.chol[at(i * n + i)]);
  p.nll = -psi + logdet;
  p.mode = std::move(f);
  p.grad = std::move(grad);
  p.w = std::move(w);
  return p;
}

std::vector<double> gradient_matrix(const Laplace& p) {
  const int64_t n = p.n;
  const int bn = static_cast<int>(n);
  std::vector<double> sw(at(n));
  for (int64_t i = 0; i < n; ++i) sw[at(i)] = std::sqrt(p.w[at(i)]);
  // R = W^1/2 B^-1 W^1/2, full.
  std::vector<double> r = p.chol;
  int info = 0;
  dpotri_("L", &bn, r.data(), &bn, &info, 1);
  if (info != 0) throw Error("gp classification: inverting B failed (LAPACK dpotri info {})", info);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = j; i < n; ++i) r[at(i * n + j)] = r[at(j * n + i)] = sw[at(i)] * r[at(j * n + i)] * sw[at(j)];
  // diag((K^-1 + W)^-1) = diag(K) - colsums(C o C), C = L^-1 W^1/2 K.
  std::vector<double> c(p.signal.size());
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < n; ++i) c[at(j * n + i)] = sw[at(i)] * p.signal[at(j * n + i)];
  cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, bn, bn, 1.0, p.chol.data(), bn,
              c.data(), bn);
  std::vector<double> s(at(n));
  for (int64_t j = 0; j < n; ++j) {
    double v = p.signal[at(j * n + j)];
    for (int64_t i = 0; i < n; ++i) v -= c[at(j * n + i)] * c[at(j * n + i)];
    // d3 log p / d f3 = -pi (1 - pi) (1 - 2 pi), pi = sigmoid(f^)
    const double sig = sigm(p.mode[at(j)]);
    s[at(j)] = -0.5 * v * (-sig * (1.0 - sig) * (1.0 - 2.0 * sig));
  }
  // u = (I + W K)^-1 s = s - R K s
  const std::vector<double> ks = times_k(p, s);
  std::vector<double> u = s;
  cblas_dsymv(CblasRowMajor, CblasUpper, bn, -1.0, r.data(), bn, ks.data(), 1, 1.0, u.data(), 1);
  std::vector<double>& q = r;  // Q = R - a a' + u a' + a u'
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const double ai = p.grad[at(i)], aj = p.grad[at(j)];
      q[at(i * n + j)] += -ai * aj + u[at(i)] * aj + ai * u[at(j)];
    }
  return q;
}

std::array<double, 2> hyper_gradient(const Laplace& p, std::span<const double> q, std::span<const double> sq_dists) {
  // d K / d log l = K o D / l^2;  d K / d log sf = 2 K
  double dl = 0.0, dsf = 0.0;
  for (size_t i = 0; i < q.size(); ++i) {
    const double v = q[i] * p.signal[i];
    dl += v * sq_dists[i];
    dsf += v;
  }
  return {0.5 * dl * std::exp(-2.0 * p.log_length), dsf};
}

std::vector<double> predict(const Laplace& p, std::span<const double> cross_sq_dists, int64_t m,
                            std::vector<double>* variance) {
  const int64_t n = p.n;
  if (static_cast<int64_t>(cross_sq_dists.size()) != m * n)
    throw Error("gp classification: {} cross distances for {} new points and {} training points",
                cross_sq_dists.size(), m, n);
  const double sf2 = std::exp(2.0 * p.log_signal);
  std::vector<double> ks = se_kernel(cross_sq_dists, p.log_length, p.log_signal);
  std::vector<double> mean(at(m), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) mean[at(i)] += ks[at(i * n + j)] * p.grad[at(j)];
  if (variance != nullptr && m > 0) {
    // V = L^-1 W^1/2 K*' (n x m): K*' in column-major n x m is ks as stored (row-major m x n).
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) ks[at(i * n + j)] *= std::sqrt(p.w[at(j)]);
    cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, static_cast<int>(n),
                static_cast<int>(m), 1.0, p.chol.data(), static_cast<int>(n), ks.data(), static_cast<int>(n));
    variance->assign(at(m), sf2);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) (*variance)[at(i)] -= ks[at(i * n + j)] * ks[at(i * n + j)];
  }
  return mean;
}

double class_probability(double mean, double variance) {
  return sigm(mean / std::sqrt(1.0 + std::numbers::pi * std::max(variance, 0.0) / 8.0));
}

}  // namespace ebm::gp

// ---- the ops ------------------------------------------------------------------

namespace ebm {
namespace {

struct ClassInputs {
  int64_t n, d;
  std::span<const float> f, y;
  double log_length, log_signal;
};
ClassInputs class_inputs(const Kernel& k) {
  const Shape fs = k.in_shape[0];
  return {fs.rows, fs.cols, {k.in[0], static_cast<size_t>(fs.size())}, {k.in[1], static_cast<size_t>(fs.rows)},
          k.in[2][0], k.in[2][1]};
}

}  // namespace

Shape GpClassNll::shape(std::span<const Shape> in) const {
  if (in[1] != Shape{in[0].rows, 1})
    throw ShapeError{fmt::format("labels [{}, 1] for features [{}, {}]", in[0].rows, in[0].rows, in[0].cols)};
  if (in[2] != Shape{1, 2}) throw ShapeError{"hyper-parameters [1, 2] (log length scale, log signal sd)"};
  return {1, 1};
}
void GpClassNll::forward(const Kernel& k) const {
  const ClassInputs in = class_inputs(k);
  const gp::Laplace p = gp::laplace(gp::squared_distances(in.f, in.n, in.d, "gp_class_nll"), in.n, in.y,
                                    in.log_length, in.log_signal, "gp_class_nll");
  k.out[0] = static_cast<float>(p.nll / static_cast<double>(in.n));
}
void GpClassNll::vjp(VjpBuilder& b) const {
  // The labels are -1 or +1: like sign's, their gradient is none.
  const Val f = b.x(0), y = b.x(1), t = b.x(2), g = b.gy();
  if (b.wants(0) && b.wants(2)) {  // one factorization for both
    const Shape fs = b.shape(f);
    const Val both = b.emit(GpClassNllGrad{3}, {f, y, t, g});
    b.give(0, b.emit(Slice{0, fs.rows, 0, fs.cols}, {both}));
    b.give(2, b.emit(Slice{fs.rows, fs.rows + 1, 0, 2}, {both}));
    return;
  }
  for (int i : {0, 2})
    if (b.wants(i)) b.give(i, b.emit(GpClassNllGrad{i}, {f, y, t, g}));
}

Shape GpClassNllGrad::shape(std::span<const Shape> in) const {
  if (wrt != 0 && wrt != 2 && wrt != 3)
    throw ShapeError{fmt::format("wrt 0 (features), 2 (hyper-parameters) or 3 (both), not {}", wrt)};
  (void)GpClassNll{}.shape(in.first(3));
  if (!in[3].is_scalar()) throw ShapeError{"a scalar upstream gradient [1, 1]"};
  if (wrt == 3) return {in[0].rows + 1, std::max<int64_t>(in[0].cols, 2)};
  return in[static_cast<size_t>(wrt)];
}
void GpClassNllGrad::forward(const Kernel& k) const {
  const ClassInputs in = class_inputs(k);
  const std::vector<double> dists = gp::squared_distances(in.f, in.n, in.d, "gp_class_nll");
  const gp::Laplace p = gp::laplace(dists, in.n, in.y, in.log_length, in.log_signal, "gp_class_nll");
  const double g = static_cast<double>(k.in[3][0]) / static_cast<double>(in.n);
  const std::vector<double> q = gp::gradient_matrix(p);
  if (wrt == 2 || wrt == 3) {
    const std::array<double, 2> dh = gp::hyper_gradient(p, q, dists);
    float* out = wrt == 2 ? k.out : k.out + in.n * k.out_shape.cols;  // packed: the last row
    if (wrt == 3) std::fill(out, out + k.out_shape.cols, 0.0f);
    for (size_t i = 0; i < 2; ++i) out[i] = static_cast<float>(g * dh[i]);
    if (wrt == 2) return;
  }
  const std::vector<double> df = gp::feature_gradient(p.signal, p.log_length, q, in.f, in.d);
  const int64_t ld = k.out_shape.cols;  // d, or max(d, 2) when packed
  for (int64_t r = 0; r < in.n; ++r) {
    for (int64_t c = 0; c < in.d; ++c) k.out[r * ld + c] = static_cast<float>(g * df[static_cast<size_t>(r * in.d + c)]);
    std::fill(k.out + r * ld + in.d, k.out + (r + 1) * ld, 0.0f);
  }
}

}  // namespace ebm
