#pragma once
// Double-precision references of the ops, by their definitions, for
// tests/test_ops.cpp: plain loops over a broadcasting matrix type, with
// sums in extended precision where central differences divide their
// rounding by a small step.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "ops/op.hpp"

namespace ebm::op_ref {

struct Mat {  // a double-precision reference matrix
  int64_t rows = 0, cols = 0;
  std::vector<double> v;
  double at(int64_t i, int64_t j) const {  // with broadcasting of size-1 axes
    return v[static_cast<size_t>((rows == 1 ? 0 : i) * cols + (cols == 1 ? 0 : j))];
  }
};

inline Mat map(const Mat& a, const std::function<double(double)>& f) {
  Mat y = a;
  for (double& x : y.v) x = f(x);
  return y;
}
inline Mat zip(const Mat& a, const Mat& b, const std::function<double(double, double)>& f) {
  Mat y{std::max(a.rows, b.rows), std::max(a.cols, b.cols), {}};
  for (int64_t i = 0; i < y.rows; ++i)
    for (int64_t j = 0; j < y.cols; ++j) y.v.push_back(f(a.at(i, j), b.at(i, j)));
  return y;
}
inline Mat gemm_ref(const Mat& a, const Mat& b, bool ta, bool tb) {
  const int64_t m = ta ? a.cols : a.rows, k = ta ? a.rows : a.cols, n = tb ? b.rows : b.cols;
  Mat y{m, n, std::vector<double>(static_cast<size_t>(m * n), 0.0)};
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t l = 0; l < k; ++l)
        y.v[static_cast<size_t>(i * n + j)] += (ta ? a.at(l, i) : a.at(i, l)) * (tb ? b.at(j, l) : b.at(l, j));
  return y;
}
inline Mat transposed(const Mat& a) {
  Mat y{a.cols, a.rows, {}};
  for (int64_t j = 0; j < a.cols; ++j)
    for (int64_t i = 0; i < a.rows; ++i) y.v.push_back(a.at(i, j));
  return y;
}
// x[r0:r1, c0:c1]; x at (r0, c0) in rows x cols zeros; xs side by side (axis 1) or stacked (axis 0).
inline Mat window_ref(const Mat& x, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  Mat y{r1 - r0, c1 - c0, {}};
  for (int64_t i = r0; i < r1; ++i)
    for (int64_t j = c0; j < c1; ++j) y.v.push_back(x.at(i, j));
  return y;
}
inline Mat pad_ref(const Mat& x, int64_t rows, int64_t cols, int64_t r0, int64_t c0) {
  Mat y{rows, cols, std::vector<double>(static_cast<size_t>(rows * cols), 0.0)};
  for (int64_t i = 0; i < x.rows; ++i)
    for (int64_t j = 0; j < x.cols; ++j) y.v[static_cast<size_t>((r0 + i) * cols + c0 + j)] = x.at(i, j);
  return y;
}
inline Mat join_ref(const std::vector<Mat>& xs, int axis) {
  Mat y{axis == 1 ? xs[0].rows : 0, axis == 0 ? xs[0].cols : 0, {}};
  for (const Mat& x : xs) (axis == 1 ? y.cols : y.rows) += axis == 1 ? x.cols : x.rows;
  y.v.assign(static_cast<size_t>(y.rows * y.cols), 0.0);
  int64_t at = 0;
  for (const Mat& x : xs) {
    for (int64_t i = 0; i < x.rows; ++i)
      for (int64_t j = 0; j < x.cols; ++j)
        y.v[static_cast<size_t>(axis == 1 ? i * y.cols + at + j : (at + i) * y.cols + j)] = x.at(i, j);
    at += axis == 1 ? x.cols : x.rows;
  }
  return y;
}
inline Mat as_mat(Shape s, const std::vector<float>& v) { return {s.rows, s.cols, {v.begin(), v.end()}}; }
inline Mat reduce(const Mat& a, int axis, double scale) {
  Mat y{axis == 1 ? a.rows : 1, axis == 0 ? a.cols : 1, {}};
  y.v.assign(static_cast<size_t>(y.rows * y.cols), 0.0);
  for (int64_t i = 0; i < a.rows; ++i)
    for (int64_t j = 0; j < a.cols; ++j)
      y.v[static_cast<size_t>((axis == 1 ? i : 0) * y.cols + (axis == 0 ? j : 0))] += a.at(i, j) * scale;
  return y;
}
inline double sigm(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline Mat signs(const Mat& a) { return map(a, [](double x) { return x > 0 ? 1.0 : -1.0; }); }
inline double softplus_ref(double x) { return x > 30 ? x : std::log1p(std::exp(x)); }
inline Mat log_softmax_ref(const Mat& a) {
  Mat y = a;
  for (int64_t i = 0; i < a.rows; ++i) {
    double mx = -1e300;
    long double s = 0;  // extended precision, as in total()
    for (int64_t j = 0; j < a.cols; ++j) mx = std::max(mx, a.at(i, j));
    for (int64_t j = 0; j < a.cols; ++j) s += std::exp(a.at(i, j) - mx);
    const double log_s = static_cast<double>(std::log(s));
    for (int64_t j = 0; j < a.cols; ++j) y.v[static_cast<size_t>(i * a.cols + j)] = a.at(i, j) - mx - log_s;
  }
  return y;
}
inline Mat scalar(double x) { return {1, 1, {x}}; }
inline double total(const Mat& a) {  // in extended precision: central differences divide its rounding by 2h
  long double s = 0;
  for (double x : a.v) s += x;
  return static_cast<double>(s);
}

// -log p(y | F) / n of a GP with a squared-exponential kernel and the
// jitter of ops/gp.hpp (ops/op.hpp's GpNll), by a plain Cholesky loop.
inline double gp_nll_ref(const Mat& f, const Mat& y, const Mat& theta) {
  const int64_t n = f.rows;
  const double l = std::exp(theta.at(0, 0)), sf2 = std::exp(2 * theta.at(0, 1)), sn2 = std::exp(2 * theta.at(0, 2));
  std::vector<double> k(static_cast<size_t>(n * n)), c(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double d2 = 0;
      for (int64_t a = 0; a < f.cols; ++a) d2 += (f.at(i, a) - f.at(j, a)) * (f.at(i, a) - f.at(j, a));
      k[static_cast<size_t>(i * n + j)] = sf2 * std::exp(-d2 / (2 * l * l)) + (i == j ? sn2 + 1e-6 * sf2 : 0.0);
    }
  for (int64_t j = 0; j < n; ++j)  // K = C C'
    for (int64_t i = j; i < n; ++i) {
      double s = k[static_cast<size_t>(i * n + j)];
      for (int64_t a = 0; a < j; ++a) s -= c[static_cast<size_t>(i * n + a)] * c[static_cast<size_t>(j * n + a)];
      c[static_cast<size_t>(i * n + j)] = i == j ? std::sqrt(s) : s / c[static_cast<size_t>(j * n + j)];
    }
  std::vector<double> z(static_cast<size_t>(n));  // C z = y: y' K^-1 y = z'z
  double quad = 0, logdet = 0;
  for (int64_t i = 0; i < n; ++i) {
    double s = y.at(i, 0);
    for (int64_t a = 0; a < i; ++a) s -= c[static_cast<size_t>(i * n + a)] * z[static_cast<size_t>(a)];
    z[static_cast<size_t>(i)] = s / c[static_cast<size_t>(i * n + i)];
    quad += z[static_cast<size_t>(i)] * z[static_cast<size_t>(i)];
    logdet += 2 * std::log(c[static_cast<size_t>(i * n + i)]);
  }
  return (0.5 * quad + 0.5 * logdet + 0.5 * static_cast<double>(n) * std::log(2 * M_PI)) / static_cast<double>(n);
}

// The gradient of a GP loss `ref(F, y, theta)` by central differences in
// double, times the upstream g, for the inputs (F, y, theta, g): wrt 0
// gives F's [n, d], 1 y's [n, 1], 2 theta's, 3 F's and theta's packed as
// the grad ops pack them ([n + 1, max(d, theta's width)]).
inline Mat gp_loss_grad_ref(const std::vector<Mat>& x, int wrt, double (*ref)(const Mat&, const Mat&, const Mat&)) {
  const double h = 1e-6, g = x[3].at(0, 0);
  auto diff = [&](size_t input) {
    Mat d = x[input];
    for (size_t i = 0; i < d.v.size(); ++i) {
      std::vector<Mat> hi(x.begin(), x.begin() + 3), lo = hi;
      hi[input].v[i] += h;
      lo[input].v[i] -= h;
      d.v[i] = g * (ref(hi[0], hi[1], hi[2]) - ref(lo[0], lo[1], lo[2])) / (2 * h);
    }
    return d;
  };
  if (wrt < 3) return diff(static_cast<size_t>(wrt));
  const Mat df = diff(0), dt = diff(2);
  const int64_t cols = std::max<int64_t>(df.cols, dt.cols);
  Mat packed{df.rows + 1, cols, std::vector<double>(static_cast<size_t>((df.rows + 1) * cols), 0.0)};
  for (int64_t i = 0; i < df.rows; ++i)
    for (int64_t j = 0; j < df.cols; ++j) packed.v[static_cast<size_t>(i * cols + j)] = df.at(i, j);
  for (int64_t j = 0; j < dt.cols; ++j) packed.v[static_cast<size_t>(df.rows * cols + j)] = dt.at(0, j);
  return packed;
}
inline Mat gp_nll_grad_ref(const std::vector<Mat>& x, int wrt) { return gp_loss_grad_ref(x, wrt, gp_nll_ref); }

// Laplace's approximation to -log p(y | F) / n of a GP classifier (ops/op.hpp's
// GpClassNll: labels -1 or +1, the logistic likelihood, theta = (log l, log
// sf)), by plain Newton steps f = K (I + W K)^-1 (W f + grad), solved by
// Gauss-Jordan elimination, and log det(I + W K) from its pivots.
inline double gp_class_nll_ref(const Mat& f, const Mat& y, const Mat& theta) {
  const int64_t n = f.rows;
  const double l = std::exp(theta.at(0, 0)), sf2 = std::exp(2 * theta.at(0, 1));
  std::vector<double> k(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double d2 = 0;
      for (int64_t a = 0; a < f.cols; ++a) d2 += (f.at(i, a) - f.at(j, a)) * (f.at(i, a) - f.at(j, a));
      k[static_cast<size_t>(i * n + j)] = sf2 * std::exp(-d2 / (2 * l * l));
    }
  auto kt = [&](const std::vector<double>& v) {
    std::vector<double> out(static_cast<size_t>(n), 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) out[static_cast<size_t>(i)] += k[static_cast<size_t>(i * n + j)] * v[static_cast<size_t>(j)];
    return out;
  };
  std::vector<double> fv(static_cast<size_t>(n), 0.0), x(static_cast<size_t>(n), 0.0), w(static_cast<size_t>(n));
  double logdet = 0;
  for (int iter = 0; iter <= 60; ++iter) {
    std::vector<double> b(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const double pi = sigm(fv[static_cast<size_t>(i)]);
      w[static_cast<size_t>(i)] = pi * (1 - pi);
      b[static_cast<size_t>(i)] = w[static_cast<size_t>(i)] * fv[static_cast<size_t>(i)] + (y.at(i, 0) > 0 ? 1.0 : 0.0) - pi;
    }
    std::vector<double> m(static_cast<size_t>(n * n));  // I + W K
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) m[static_cast<size_t>(i * n + j)] = (i == j) + w[static_cast<size_t>(i)] * k[static_cast<size_t>(i * n + j)];
    logdet = 0;
    for (int64_t c = 0; c < n; ++c) {  // eliminate column c below and above its pivot
      int64_t p = c;
      for (int64_t r = c + 1; r < n; ++r)
        if (std::abs(m[static_cast<size_t>(r * n + c)]) > std::abs(m[static_cast<size_t>(p * n + c)])) p = r;
      for (int64_t j = 0; j < n; ++j) std::swap(m[static_cast<size_t>(c * n + j)], m[static_cast<size_t>(p * n + j)]);
      std::swap(b[static_cast<size_t>(c)], b[static_cast<size_t>(p)]);
      const double piv = m[static_cast<size_t>(c * n + c)];
      logdet += std::log(std::abs(piv));
      for (int64_t r = 0; r < n; ++r) {
        if (r == c) continue;
        const double q = m[static_cast<size_t>(r * n + c)] / piv;
        for (int64_t j = 0; j < n; ++j) m[static_cast<size_t>(r * n + j)] -= q * m[static_cast<size_t>(c * n + j)];
        b[static_cast<size_t>(r)] -= q * b[static_cast<size_t>(c)];
      }
    }
    for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = b[static_cast<size_t>(i)] / m[static_cast<size_t>(i * n + i)];
    if (iter < 60) fv = kt(x);  // the last pass only measures log det at the mode
  }
  double nll = 0;
  for (int64_t i = 0; i < n; ++i)
    nll += 0.5 * x[static_cast<size_t>(i)] * fv[static_cast<size_t>(i)] + std::log1p(std::exp(-y.at(i, 0) * fv[static_cast<size_t>(i)]));
  return (nll + 0.5 * logdet) / static_cast<double>(n);
}

inline Mat gp_class_nll_grad_ref(const std::vector<Mat>& x, int wrt) {
  return gp_loss_grad_ref(x, wrt, gp_class_nll_ref);
}

// The three convolution ops by their definitions (ops/op.hpp), for a
// geometry: kConv, 2 channels of 5 x 6, filters of 3 x 3 (planes 3 x 4), and
// kConv5, 2 channels of 9 x 10 and filters of 5 x 5 (50 taps: the filter
// gradient's taps in more than one block).
inline const ConvGeometry kConv{.channels = 2, .height = 5, .width = 6, .size = 3};
inline const ConvGeometry kConv5{.channels = 2, .height = 9, .width = 10, .size = 5};
inline double conv_term(const ConvGeometry& g, const Mat& x, const Mat& w, int64_t b, int64_t k, int64_t c, int64_t i,
                 int64_t j, int64_t u, int64_t v) {
  return x.at(b, (c * g.height + i + u) * g.width + j + v) * w.at(k, (c * g.size + u) * g.size + v);
}
// Calls f(b, k, c, i, j, u, v) for every term of the correlation of B images with K filters.
template <typename F>
inline void conv_terms(const ConvGeometry& g, int64_t images, int64_t filters, F f) {
  for (int64_t b = 0; b < images; ++b)
    for (int64_t k = 0; k < filters; ++k)
      for (int64_t c = 0; c < g.channels; ++c)
        for (int64_t i = 0; i < g.out_height(); ++i)
          for (int64_t j = 0; j < g.out_width(); ++j)
            for (int64_t u = 0; u < g.size; ++u)
              for (int64_t v = 0; v < g.size; ++v) f(b, k, c, i, j, u, v);
}
inline Mat conv_ref(const Mat& x, const Mat& w, const ConvGeometry& g = kConv) {  // y[b,k,i,j] = sum x[b,c,i+u,j+v] w[k,c,u,v]
  Mat y{x.rows, w.rows * g.plane(), std::vector<double>(static_cast<size_t>(x.rows * w.rows * g.plane()), 0.0)};
  conv_terms(g, x.rows, w.rows, [&](int64_t b, int64_t k, int64_t c, int64_t i, int64_t j, int64_t u, int64_t v) {
    y.v[static_cast<size_t>(b * y.cols + k * g.plane() + i * g.out_width() + j)] += conv_term(g, x, w, b, k, c, i, j, u, v);
  });
  return y;
}
inline Mat conv_t_ref(const Mat& y, const Mat& w, const ConvGeometry& g = kConv) {  // x[b,c,i+u,j+v] += y[b,k,i,j] w[k,c,u,v]
  Mat x{y.rows, g.image(), std::vector<double>(static_cast<size_t>(y.rows * g.image()), 0.0)};
  conv_terms(g, y.rows, w.rows, [&](int64_t b, int64_t k, int64_t c, int64_t i, int64_t j, int64_t u, int64_t v) {
    x.v[static_cast<size_t>(b * x.cols + (c * g.height + i + u) * g.width + j + v)] +=
        y.at(b, k * g.plane() + i * g.out_width() + j) * w.at(k, (c * g.size + u) * g.size + v);
  });
  return x;
}
inline Mat conv_f_ref(const Mat& x, const Mat& y, const ConvGeometry& g = kConv) {  // w[k,c,u,v] = sum_b,i,j x[b,c,i+u,j+v] y[b,k,i,j]
  const int64_t filters = y.cols / g.plane();
  Mat w{filters, g.filter(), std::vector<double>(static_cast<size_t>(filters * g.filter()), 0.0)};
  conv_terms(g, x.rows, filters, [&](int64_t b, int64_t k, int64_t c, int64_t i, int64_t j, int64_t u, int64_t v) {
    w.v[static_cast<size_t>(k * w.cols + (c * g.size + u) * g.size + v)] +=
        x.at(b, (c * g.height + i + u) * g.width + j + v) * y.at(b, k * g.plane() + i * g.out_width() + j);
  });
  return w;
}

// Probabilistic max-pooling by its definition, for kPool: 2 groups of
// 4 x 6 units in 2 x 2 blocks.
inline const PoolGeometry kPool{.groups = 2, .height = 4, .width = 6, .pool = 2};
// f(row, block, units of the block) over every block of every row.
template <typename F>
inline void pool_blocks(int64_t rows, F f) {
  const PoolGeometry& g = kPool;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t q = 0; q < g.groups; ++q)
      for (int64_t bi = 0; bi < g.height / g.pool; ++bi)
        for (int64_t bj = 0; bj < g.width / g.pool; ++bj) {
          std::vector<int64_t> units;
          for (int64_t i = 0; i < g.pool; ++i)
            for (int64_t j = 0; j < g.pool; ++j)
              units.push_back(q * g.plane() + (bi * g.pool + i) * g.width + bj * g.pool + j);
          f(r, q * g.blocks() + bi * (g.width / g.pool) + bj, units);
        }
}
inline double log1p_sum_exp(const Mat& x, int64_t r, const std::vector<int64_t>& units) {
  double m = 0;
  for (int64_t u : units) m = std::max(m, x.at(r, u));
  double s = std::exp(-m);
  for (int64_t u : units) s += std::exp(x.at(r, u) - m);
  return m + std::log(s);
}
inline Mat pool_softplus_ref(const Mat& x) {
  Mat y{x.rows, kPool.groups * kPool.blocks(), {}};
  y.v.resize(static_cast<size_t>(y.rows * y.cols));
  pool_blocks(x.rows, [&](int64_t r, int64_t a, const std::vector<int64_t>& units) {
    y.v[static_cast<size_t>(r * y.cols + a)] = log1p_sum_exp(x, r, units);
  });
  return y;
}
inline Mat pool_probs_ref(const Mat& x) {
  Mat y = x;
  pool_blocks(x.rows, [&](int64_t r, int64_t, const std::vector<int64_t>& units) {
    const double total = log1p_sum_exp(x, r, units);
    for (int64_t u : units) y.v[static_cast<size_t>(r * x.cols + u)] = std::exp(x.at(r, u) - total);
  });
  return y;
}

}  // namespace ebm::op_ref
