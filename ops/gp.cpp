#include "ops/gp.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numbers>

#include <cblas.h>

#include "ops/error.hpp"
#include "ops/lapack.hpp"
#include "ops/op.hpp"

namespace ebm::gp {
namespace {

std::vector<double> to_double(std::span<const float> v, const char* what, const char* who) {
  std::vector<double> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) throw Error("{}: {} element {} is {}; expected finite values", who, what, i, v[i]);
    out[i] = v[i];
  }
  return out;
}

std::vector<double> row_norms(const std::vector<double>& f, int64_t n, int64_t d) {
  std::vector<double> s(static_cast<size_t>(n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < d; ++k) s[static_cast<size_t>(i)] += f[static_cast<size_t>(i * d + k)] * f[static_cast<size_t>(i * d + k)];
  return s;
}

int checked_int(int64_t n) {
  if (n < 1 || n > 1'000'000) throw Error("gp: {} training points; expected 1 to 1,000,000", n);
  return static_cast<int>(n);
}

}  // namespace

std::vector<double> squared_distances(std::span<const float> features, int64_t n, int64_t d, const char* who) {
  if (static_cast<int64_t>(features.size()) != n * d)
    throw Error("{}: {} feature values for {} rows of {}", who, features.size(), n, d);
  const std::vector<double> f = to_double(features, "feature", who);
  const std::vector<double> norms = row_norms(f, n, d);
  std::vector<double> out(static_cast<size_t>(n * n), 0.0);
  // out = F F' (upper triangle, row-major), then |fi|^2 + |fj|^2 - 2 fi.fj
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, static_cast<int>(n), static_cast<int>(d), 1.0, f.data(),
              static_cast<int>(d), 0.0, out.data(), static_cast<int>(n));
  for (int64_t i = 0; i < n; ++i) {
    out[static_cast<size_t>(i * n + i)] = 0.0;
    for (int64_t j = i + 1; j < n; ++j) {
      const double v = std::max(0.0, norms[static_cast<size_t>(i)] + norms[static_cast<size_t>(j)] -
                                         2.0 * out[static_cast<size_t>(i * n + j)]);
      out[static_cast<size_t>(i * n + j)] = out[static_cast<size_t>(j * n + i)] = v;
    }
  }
  return out;
}

std::vector<double> cross_squared_distances(std::span<const float> a, int64_t m, std::span<const float> b, int64_t n,
                                            int64_t d) {
  if (static_cast<int64_t>(a.size()) != m * d || static_cast<int64_t>(b.size()) != n * d)
    throw Error("gp: {} and {} feature values for {} and {} rows of {}", a.size(), b.size(), m, n, d);
  const std::vector<double> fa = to_double(a, "feature", "gp"), fb = to_double(b, "feature", "gp");
  const std::vector<double> na = row_norms(fa, m, d), nb = row_norms(fb, n, d);
  std::vector<double> out(static_cast<size_t>(m * n), 0.0);
  if (m > 0 && n > 0)
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n),
                static_cast<int>(d), -2.0, fa.data(), static_cast<int>(d), fb.data(), static_cast<int>(d),
                0.0, out.data(), static_cast<int>(n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double& v = out[static_cast<size_t>(i * n + j)];
      v = std::max(0.0, v + na[static_cast<size_t>(i)] + nb[static_cast<size_t>(j)]);
    }
  return out;
}

std::vector<double> se_kernel(std::span<const double> sq_dists, double log_length, double log_signal) {
  const double sf2 = std::exp(2.0 * log_signal), inv_2l2 = 0.5 * std::exp(-2.0 * log_length);
  std::vector<double> k(sq_dists.size());
  for (size_t i = 0; i < sq_dists.size(); ++i) k[i] = sf2 * std::exp(-sq_dists[i] * inv_2l2);
  return k;
}

Posterior condition(std::span<const double> sq_dists, int64_t n, std::span<const float> y, Hyper h, const char* who) {
  const int bn = checked_int(n);
  if (static_cast<int64_t>(sq_dists.size()) != n * n || static_cast<int64_t>(y.size()) != n)
    throw Error("{}: {} distances and {} targets for {} points; expected n^2 and n", who, sq_dists.size(), y.size(), n);
  for (double v : {h.log_length, h.log_signal, h.log_noise})
    if (!std::isfinite(v))
      throw Error("{}: hyper-parameters (log l, log sf, log sn) = ({}, {}, {}); expected finite values", who,
                  h.log_length, h.log_signal, h.log_noise);
  Posterior p;
  p.n = n;
  p.hyper = h;
  const double sf2 = std::exp(2.0 * h.log_signal), sn2 = std::exp(2.0 * h.log_noise);
  const double inv_2l2 = 0.5 * std::exp(-2.0 * h.log_length);
  if (!(sf2 > 0 && std::isfinite(sf2) && std::isfinite(sn2) && std::isfinite(inv_2l2)))
    throw Error("{}: hyper-parameters (log l, log sf, log sn) = ({}, {}, {}) give the variances sf^2 = {:.3g}, "
                "sn^2 = {:.3g} and 1 / l^2 = {:.3g}; expected finite, positive ones in double precision",
                who, h.log_length, h.log_signal, h.log_noise, sf2, sn2, 2 * inv_2l2);
  p.signal = se_kernel(sq_dists, h.log_length, h.log_signal);
  p.chol = p.signal;
  for (int64_t i = 0; i < n; ++i) p.chol[static_cast<size_t>(i * n + i)] += sn2 + kJitter * sf2;
  int info = 0;
  dpotrf_("L", &bn, p.chol.data(), &bn, &info, 1);
  for (int64_t i = 0; i < n && info == 0; ++i)
    if (!std::isfinite(p.chol[static_cast<size_t>(i * n + i)])) info = static_cast<int>(i + 1);
  if (info != 0)
    throw Error("{}: the {} x {} kernel matrix is not positive definite (LAPACK dpotrf info {}; length scale {:.3g}, "
                "signal sd {:.3g}, noise sd {:.3g}); expected a noise variance that is not negligible beside the "
                "signal's in double precision",
                who, n, n, info, std::exp(h.log_length), std::sqrt(sf2), std::sqrt(sn2));
  p.alpha = to_double(y, "target", who);
  const std::vector<double> yd = p.alpha;
  const int one = 1;
  dpotrs_("L", &bn, &one, p.chol.data(), &bn, p.alpha.data(), &bn, &info, 1);
  double quad = 0.0, logdet = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    quad += yd[static_cast<size_t>(i)] * p.alpha[static_cast<size_t>(i)];
    logdet += 2.0 * std::log(p.chol[static_cast<size_t>(i * n + i)]);
  }
  p.nll = 0.5 * quad + 0.5 * logdet + 0.5 * static_cast<double>(n) * std::log(2.0 * std::numbers::pi);
  return p;
}

std::vector<double> gradient_matrix(const Posterior& p) {
  const int64_t n = p.n;
  const int bn = checked_int(n);
  std::vector<double> q = p.chol;
  int info = 0;
  dpotri_("L", &bn, q.data(), &bn, &info, 1);
  if (info != 0) throw Error("gp: inverting the kernel matrix failed (LAPACK dpotri info {})", info);
  // dpotri left K^-1 in the lower triangle (column-major): element (i, j), i >= j, at j n + i.
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = j; i < n; ++i) {
      const double v = q[static_cast<size_t>(j * n + i)];
      const double aa = p.alpha[static_cast<size_t>(i)] * p.alpha[static_cast<size_t>(j)];
      q[static_cast<size_t>(j * n + i)] = q[static_cast<size_t>(i * n + j)] = v - aa;
    }
  return q;
}

std::array<double, 3> hyper_gradient(const Posterior& p, std::span<const double> q, std::span<const double> sq_dists) {
  // d K / d log l = signal o D / l^2;  d K / d log sf = 2 (signal + j sf^2 I);  d K / d log sn = 2 sn^2 I
  const double inv_l2 = std::exp(-2.0 * p.hyper.log_length), sn2 = std::exp(2.0 * p.hyper.log_noise);
  const double sf2 = std::exp(2.0 * p.hyper.log_signal);
  double dl = 0.0, dsf = 0.0, trace = 0.0;
  for (size_t i = 0; i < q.size(); ++i) {
    const double w = q[i] * p.signal[i];
    dl += w * sq_dists[i];
    dsf += w;
  }
  for (int64_t i = 0; i < p.n; ++i) trace += q[static_cast<size_t>(i * p.n + i)];
  return {0.5 * dl * inv_l2, dsf + kJitter * sf2 * trace, sn2 * trace};
}

std::vector<double> feature_gradient(const Posterior& p, std::span<const double> q, std::span<const float> features,
                                     int64_t d) {
  return feature_gradient(p.signal, p.hyper.log_length, q, features, d);
}

std::vector<double> feature_gradient(std::span<const double> signal, double log_length, std::span<const double> q,
                                     std::span<const float> features, int64_t d) {
  const int64_t n = static_cast<int64_t>(features.size()) / d;
  const std::vector<double> f = to_double(features, "feature", "gp");
  std::vector<double> w(q.size());
  for (size_t i = 0; i < q.size(); ++i) w[i] = q[i] * signal[i];
  std::vector<double> g(static_cast<size_t>(n * d), 0.0);
  // g = W F, then g_i = -(1 / l^2) (rowsum(W)_i f_i - g_i)
  cblas_dsymm(CblasRowMajor, CblasLeft, CblasUpper, static_cast<int>(n), static_cast<int>(d), 1.0, w.data(),
              static_cast<int>(n), f.data(), static_cast<int>(d), 0.0, g.data(), static_cast<int>(d));
  const double inv_l2 = std::exp(-2.0 * log_length);
  for (int64_t i = 0; i < n; ++i) {
    double rs = 0.0;
    for (int64_t j = 0; j < n; ++j) rs += w[static_cast<size_t>(i * n + j)];
    for (int64_t k = 0; k < d; ++k) {
      double& gi = g[static_cast<size_t>(i * d + k)];
      gi = -inv_l2 * (rs * f[static_cast<size_t>(i * d + k)] - gi);
    }
  }
  return g;
}

std::vector<double> predict(const Posterior& p, std::span<const double> cross_sq_dists, int64_t m,
                            std::vector<double>* variance) {
  const int64_t n = p.n;
  if (static_cast<int64_t>(cross_sq_dists.size()) != m * n)
    throw Error("gp: {} cross distances for {} new points and {} training points", cross_sq_dists.size(), m, n);
  const double sf2 = std::exp(2.0 * p.hyper.log_signal);
  std::vector<double> ks = se_kernel(cross_sq_dists, p.hyper.log_length, p.hyper.log_signal);
  std::vector<double> mean(static_cast<size_t>(m), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) mean[static_cast<size_t>(i)] += ks[static_cast<size_t>(i * n + j)] * p.alpha[static_cast<size_t>(j)];
  if (variance != nullptr && m > 0) {
    // V = L^-1 K*' (n x m): column i is v for point i. K*' in column-major n x m is ks as stored (row-major m x n).
    cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, static_cast<int>(n),
                static_cast<int>(m), 1.0, p.chol.data(), static_cast<int>(n), ks.data(), static_cast<int>(n));
    variance->assign(static_cast<size_t>(m), sf2);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) (*variance)[static_cast<size_t>(i)] -= ks[static_cast<size_t>(i * n + j)] * ks[static_cast<size_t>(i * n + j)];
  }
  return mean;
}

}  // namespace ebm::gp

// ---- the ops ------------------------------------------------------------------

namespace ebm {
namespace {

struct GpInputs {
  int64_t n, d;
  std::span<const float> f, y;
  gp::Hyper h;
};
GpInputs gp_inputs(const Kernel& k) {
  const Shape fs = k.in_shape[0];
  return {fs.rows, fs.cols, {k.in[0], static_cast<size_t>(fs.size())}, {k.in[1], static_cast<size_t>(fs.rows)},
          gp::hyper_from({k.in[2], 3})};
}

}  // namespace

Shape GpNll::shape(std::span<const Shape> in) const {
  if (in[1] != Shape{in[0].rows, 1})
    throw ShapeError{fmt::format("targets [{}, 1] for features [{}, {}]", in[0].rows, in[0].rows, in[0].cols)};
  if (in[2] != Shape{1, 3}) throw ShapeError{"hyper-parameters [1, 3] (log length scale, log signal sd, log noise sd)"};
  return {1, 1};
}
void GpNll::forward(const Kernel& k) const {
  const GpInputs in = gp_inputs(k);
  const gp::Posterior p =
      gp::condition(gp::squared_distances(in.f, in.n, in.d, "gp_nll"), in.n, in.y, in.h, "gp_nll");
  k.out[0] = static_cast<float>(p.nll / static_cast<double>(in.n));
}
void GpNll::vjp(VjpBuilder& b) const {
  const Val f = b.x(0), y = b.x(1), t = b.x(2), g = b.gy();
  if (b.wants(0) && b.wants(2)) {  // the usual case (a net below, theta learned): one factorization for both
    const Shape fs = b.shape(f);
    const Val both = b.emit(GpNllGrad{3}, {f, y, t, g});
    b.give(0, b.emit(Slice{0, fs.rows, 0, fs.cols}, {both}));
    b.give(2, b.emit(Slice{fs.rows, fs.rows + 1, 0, 3}, {both}));
  } else {
    for (int i : {0, 2})
      if (b.wants(i)) b.give(i, b.emit(GpNllGrad{i}, {f, y, t, g}));
  }
  if (b.wants(1)) b.give(1, b.emit(GpNllGrad{1}, {f, y, t, g}));
}

Shape GpNllGrad::shape(std::span<const Shape> in) const {
  if (wrt < 0 || wrt > 3)
    throw ShapeError{fmt::format("wrt 0 (features), 1 (targets), 2 (hyper-parameters) or 3 (features and "
                                 "hyper-parameters), not {}", wrt)};
  (void)GpNll{}.shape(in.first(3));
  if (!in[3].is_scalar()) throw ShapeError{"a scalar upstream gradient [1, 1]"};
  if (wrt == 3) return {in[0].rows + 1, std::max<int64_t>(in[0].cols, 3)};
  return in[static_cast<size_t>(wrt)];
}
void GpNllGrad::forward(const Kernel& k) const {
  const GpInputs in = gp_inputs(k);
  const std::vector<double> dists = gp::squared_distances(in.f, in.n, in.d, "gp_nll");
  const gp::Posterior p = gp::condition(dists, in.n, in.y, in.h, "gp_nll");
  const double g = static_cast<double>(k.in[3][0]) / static_cast<double>(in.n);
  if (wrt == 1) {  // d nll / d y = K^-1 y
    for (int64_t i = 0; i < in.n; ++i) k.out[i] = static_cast<float>(g * p.alpha[static_cast<size_t>(i)]);
    return;
  }
  const std::vector<double> q = gp::gradient_matrix(p);
  if (wrt == 2 || wrt == 3) {
    const std::array<double, 3> dh = gp::hyper_gradient(p, q, dists);
    float* at = wrt == 2 ? k.out : k.out + in.n * k.out_shape.cols;  // packed: the last row
    if (wrt == 3) std::fill(at, at + k.out_shape.cols, 0.0f);
    for (int i = 0; i < 3; ++i) at[i] = static_cast<float>(g * dh[static_cast<size_t>(i)]);
    if (wrt == 2) return;
  }
  const std::vector<double> df = gp::feature_gradient(p, q, in.f, in.d);
  const int64_t ld = k.out_shape.cols;  // d, or max(d, 3) when packed
  for (int64_t r = 0; r < in.n; ++r) {
    for (int64_t c = 0; c < in.d; ++c)
      k.out[r * ld + c] = static_cast<float>(g * df[static_cast<size_t>(r * in.d + c)]);
    std::fill(k.out + r * ld + in.d, k.out + (r + 1) * ld, 0.0f);
  }
}

}  // namespace ebm
