#include "models/logistic_pca.hpp"

#include <cblas.h>
#include <tbb/parallel_for.h>
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>
#include <type_traits>

#include "models/pca.hpp"
#include "ops/error.hpp"

namespace ebm {
namespace {

// The fractions of a Newton step a column's step tries at once (the loss is
// kept only if it falls); a code's step halves its own until the loss falls.
constexpr std::array<float, 6> kFractions{1.0f, 0.5f, 0.25f, 0.125f, 1.0f / 32, 1.0f / 128};
constexpr int kHalvings = 30;
// A code's step predicted to lower its row's loss by less than this fraction of (|loss| + dim) is not tried: the
// float sum of dim cross-entropies rounds by about that much.
constexpr double kLossResolution = 1e-7;
constexpr int64_t kBlock = 1000;  // rows held at once beside the data: four [kBlock, dim] buffers

using B = xsimd::batch<float>;
constexpr int64_t W = static_cast<int64_t>(B::size);

// The cross-entropy of pixel value x under logit t: softplus(t) - x t (for
// float and for B).
constexpr auto xent = [](auto t, auto x) {
  using std::abs, std::exp, std::log1p, std::max;
  using T = decltype(t);
  return max(t, T(0.0f)) + log1p(exp(-abs(t))) - x * t;
};

// sum_j xent(t_j - f s_j, x_j) over n values, vectorised.
double xent_sum(const float* t, const float* s, const float* x, float f, int64_t n) {
  B acc(0.0f);
  int64_t j = 0;
  for (; j + W <= n; j += W)
    acc += xent(B::load_unaligned(t + j) - f * B::load_unaligned(s + j), B::load_unaligned(x + j));
  double sum = xsimd::hadd(acc);
  for (; j < n; ++j) sum += xent(t[j] - f * s[j], x[j]);
  return sum;
}

// acc[j] += xent(t_j - f s_j, x_j) for j < n, vectorised.
void add_xent(const float* t, const float* s, const float* x, float f, int64_t n, float* acc) {
  int64_t j = 0;
  for (; j + W <= n; j += W)
    (B::load_unaligned(acc + j) + xent(B::load_unaligned(t + j) - f * B::load_unaligned(s + j), B::load_unaligned(x + j)))
        .store_unaligned(acc + j);
  for (; j < n; ++j) acc[j] += xent(t[j] - f * s[j], x[j]);
}

// C [m, n] = alpha op(A) op(B) + beta C, row-major.
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float beta, float* c) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), 1.0f, a, static_cast<int>(ta ? m : k), b,
              static_cast<int>(tb ? k : n), beta, c, static_cast<int>(n));
}

int64_t pairs(int64_t k) { return k * (k + 1) / 2; }

// out[r] = the upper triangle of m_r m_r' (row by row: (0,0), (0,1) ..), for
// rows m_r of `rows` x k values with stride ld.
void outer_pairs(const float* m, int64_t rows, int64_t k, int64_t ld, float* out) {
  const int64_t kk = pairs(k);
  for (int64_t r = 0; r < rows; ++r) {
    const float* v = m + r * ld;
    float* o = out + r * kk;
    for (int64_t a = 0; a < k; ++a)
      for (int64_t b = a; b < k; ++b) *o++ = v[a] * v[b];
  }
}

// Solves H d = g, H given as a packed upper triangle (outer_pairs' order)
// and made safely positive definite by a ridge of 1e-6 of its mean
// diagonal, by Cholesky in double. d = 0 if H is zero or not finite.
// k <= kMaxSolve.
constexpr int64_t kMaxSolve = kMaxComponents + 1;  // a column's unknowns: k components and a bias
void solve_packed(const float* h, const float* g, int64_t k, double* d) {
  std::array<double, kMaxSolve * kMaxSolve> l;  // only its lower triangle is written and read
  double trace = 0;
  for (int64_t a = 0, p = 0; a < k; ++a)
    for (int64_t b = a; b < k; ++b, ++p) {
      l[static_cast<size_t>(b * k + a)] = h[p];  // lower triangle, row-major
      if (a == b) trace += h[p];
    }
  if (!(trace > 0.0) || !std::isfinite(trace)) {
    std::fill(d, d + k, 0.0);
    return;
  }
  const double ridge = 1e-6 * trace / static_cast<double>(k) + 1e-12;
  for (int64_t a = 0; a < k; ++a) l[static_cast<size_t>(a * k + a)] += ridge;
  for (int64_t j = 0; j < k; ++j) {
    double s = l[static_cast<size_t>(j * k + j)];
    for (int64_t p = 0; p < j; ++p) s -= l[static_cast<size_t>(j * k + p)] * l[static_cast<size_t>(j * k + p)];
    if (!(s > 0.0) || !std::isfinite(s)) {
      std::fill(d, d + k, 0.0);
      return;
    }
    const double djj = std::sqrt(s);
    l[static_cast<size_t>(j * k + j)] = djj;
    for (int64_t i = j + 1; i < k; ++i) {
      double t = l[static_cast<size_t>(i * k + j)];
      for (int64_t p = 0; p < j; ++p) t -= l[static_cast<size_t>(i * k + p)] * l[static_cast<size_t>(j * k + p)];
      l[static_cast<size_t>(i * k + j)] = t / djj;
    }
  }
  for (int64_t i = 0; i < k; ++i) {  // L y = g
    double s = g[i];
    for (int64_t p = 0; p < i; ++p) s -= l[static_cast<size_t>(i * k + p)] * d[p];
    d[i] = s / l[static_cast<size_t>(i * k + i)];
  }
  for (int64_t i = k; i-- > 0;) {  // L' d = y
    double s = d[i];
    for (int64_t p = i + 1; p < k; ++p) s -= l[static_cast<size_t>(p * k + i)] * d[p];
    d[i] = s / l[static_cast<size_t>(i * k + i)];
  }
}

// The buffers of one block of rows.
struct Block {
  std::vector<float> t, r, w, step;  // logits, residuals x^ - x, weights x^ (1 - x^), a step's change of the logits
  std::vector<float> g, h;           // gradients and packed Hessians
  explicit Block(int64_t dim) {
    for (auto* v : {&t, &r, &w, &step}) v->resize(static_cast<size_t>(kBlock * dim));
  }
};

// t [rows, dim] = u V + b, and with `residuals` r = sigmoid(t) - x and w = sigmoid(t) (1 - sigmoid(t)).
void logits(const LogisticPca& p, const float* u, const float* x, int64_t rows, Block& s, bool residuals) {
  const int64_t dim = p.dim, k = p.k();
  gemm(false, false, rows, dim, k, u, p.components.data(), 0.0f, s.t.data());
  // From e = exp(-|t|), y = sigmoid(t) is 1 / (1 + e) or e / (1 + e), and y (1 - y) = e / (1 + e)^2: no 1 - y
  // rounding to 0 for large t (for float and for B).
  auto residual = [](auto t, auto x, auto& r, auto& w) {
    using std::abs, std::exp;
    using T = decltype(t);
    const T e = exp(-abs(t)), inv = T(1.0f) / (T(1.0f) + e);
    if constexpr (std::is_same_v<T, float>) r = (t >= 0.0f ? inv : e * inv) - x;
    else r = xsimd::select(t >= T(0.0f), inv, e * inv) - x;
    w = e * inv * inv;
  };
  tbb::parallel_for(int64_t{0}, rows, [&](int64_t i) {
    float* t = s.t.data() + i * dim;
    const float* bias = p.bias.data();
    const float* xi = x + i * dim;
    float *r = s.r.data() + i * dim, *w = s.w.data() + i * dim;
    int64_t j = 0;
    for (; j + W <= dim; j += W) {
      const B tj = B::load_unaligned(t + j) + B::load_unaligned(bias + j);
      tj.store_unaligned(t + j);
      if (!residuals) continue;
      B rj, wj;
      residual(tj, B::load_unaligned(xi + j), rj, wj);
      rj.store_unaligned(r + j);
      wj.store_unaligned(w + j);
    }
    for (; j < dim; ++j) {
      t[j] += bias[j];
      if (residuals) residual(t[j], xi[j], r[j], w[j]);
    }
  });
}

// One Newton step on the codes u [rows, k] of rows x, V and b fixed (P
// [dim, pairs(k)] the packed v_j v_j').
void code_step(const LogisticPca& p, const std::vector<float>& packed, const float* x, float* u, int64_t rows,
                 Block& s) {
  const int64_t dim = p.dim, k = p.k(), kk = pairs(k);
  logits(p, u, x, rows, s, true);
  s.g.resize(static_cast<size_t>(rows * k));
  s.h.resize(static_cast<size_t>(rows * kk));
  gemm(false, true, rows, k, dim, s.r.data(), p.components.data(), 0.0f, s.g.data());  // r V'
  gemm(false, false, rows, kk, dim, s.w.data(), packed.data(), 0.0f, s.h.data());      // w P
  std::vector<float> d(static_cast<size_t>(rows * k));
  tbb::parallel_for(int64_t{0}, rows, [&](int64_t i) {
    std::array<double, kMaxComponents> di{};
    solve_packed(s.h.data() + i * kk, s.g.data() + i * k, k, di.data());
    for (int64_t a = 0; a < k; ++a) d[static_cast<size_t>(i * k + a)] = static_cast<float>(di[static_cast<size_t>(a)]);
  });
  gemm(false, false, rows, dim, k, d.data(), p.components.data(), 0.0f, s.step.data());  // d V
  tbb::parallel_for(int64_t{0}, rows, [&](int64_t i) {
    const float *t = s.t.data() + i * dim, *dt = s.step.data() + i * dim, *xi = x + i * dim;
    // The Newton decrement g'd: a fraction f of the step lowers the loss by about f (1 - f/2) g'd. Once that is
    // below the rounding of the loss's float sum, no comparison can tell a decrease from noise: the row has
    // converged (or, for smaller f, the halving goes no further).
    double decrement = 0;
    for (int64_t a = 0; a < k; ++a) decrement += double{s.g[static_cast<size_t>(i * k + a)]} * d[static_cast<size_t>(i * k + a)];
    if (!(decrement > 0.0)) return;
    auto loss = [&](float f) { return xent_sum(t, dt, xi, f, dim); };
    const double now = xent_sum(t, t, xi, 0.0f, dim);
    const double resolution = kLossResolution * (std::abs(now) + static_cast<double>(dim));
    float f = 1.0f;
    for (int h = 0; h < kHalvings && f * (1.0 - 0.5 * f) * decrement > resolution; ++h, f *= 0.5f)
      if (loss(f) < now) {
        for (int64_t a = 0; a < k; ++a) u[i * k + a] -= f * d[static_cast<size_t>(i * k + a)];
        break;
      }
  });
}

// P [dim, pairs(k)]: row j the packed v_j v_j' of column j of V.
std::vector<float> packed_columns(const LogisticPca& p) {
  const int64_t dim = p.dim, k = p.k();
  std::vector<float> vt(static_cast<size_t>(dim * k)), packed(static_cast<size_t>(dim * pairs(k)));
  for (int64_t a = 0; a < k; ++a)
    for (int64_t j = 0; j < dim; ++j) vt[static_cast<size_t>(j * k + a)] = p.components[static_cast<size_t>(a * dim + j)];
  outer_pairs(vt.data(), dim, k, k, packed.data());
  return packed;
}

// Codes of n rows of x (u [n, k], improved in place) after `steps` Newton
// steps each, V and b fixed.
void code_steps(const LogisticPca& p, const float* x, float* u, int64_t n, int steps) {
  const std::vector<float> packed = packed_columns(p);
  Block s(p.dim);
  for (int64_t first = 0; first < n; first += kBlock)
    for (int step = 0; step < steps; ++step)
      code_step(p, packed, x + first * p.dim, u + first * p.k(), std::min(kBlock, n - first), s);
}

// One Newton step on every column (V[:, j], b_j) of p, the codes u [n, k]
// of x fixed. Returns the summed loss after it.
double column_step(LogisticPca& p, const float* x, const float* u, int64_t n, Block& s) {
  const int64_t dim = p.dim, k = p.k(), k1 = k + 1, kk = pairs(k1);
  std::vector<float> ext(static_cast<size_t>(kBlock * k1)), q(static_cast<size_t>(kBlock * kk));
  std::vector<float> g(static_cast<size_t>(dim * k1)), h(static_cast<size_t>(dim * kk));
  std::vector<double> now(static_cast<size_t>(dim));
  std::vector<float> acc(static_cast<size_t>(dim) * kFractions.size());  // per-block sums, in float
  auto extend = [&](int64_t first, int64_t rows) {  // [u, 1] of the block's rows
    for (int64_t i = 0; i < rows; ++i) {
      std::copy_n(u + (first + i) * k, k, ext.begin() + i * k1);
      ext[static_cast<size_t>(i * k1 + k)] = 1.0f;
    }
  };
  for (int64_t first = 0; first < n; first += kBlock) {
    const int64_t rows = std::min(kBlock, n - first);
    const float* xb = x + first * dim;
    logits(p, u + first * k, xb, rows, s, true);
    extend(first, rows);
    outer_pairs(ext.data(), rows, k1, k1, q.data());
    const float beta = first == 0 ? 0.0f : 1.0f;
    gemm(true, false, dim, k1, rows, s.r.data(), ext.data(), beta, g.data());  // r' [u, 1]
    gemm(true, false, dim, kk, rows, s.w.data(), q.data(), beta, h.data());    // w' Q
    std::fill(acc.begin(), acc.begin() + dim, 0.0f);
    for (int64_t i = 0; i < rows; ++i) add_xent(s.t.data() + i * dim, s.t.data() + i * dim, xb + i * dim, 0.0f, dim, acc.data());
    for (int64_t j = 0; j < dim; ++j) now[static_cast<size_t>(j)] += acc[static_cast<size_t>(j)];
  }
  std::vector<float> d(static_cast<size_t>(dim * k1));
  tbb::parallel_for(int64_t{0}, dim, [&](int64_t j) {
    std::array<double, kMaxSolve> dj{};
    solve_packed(h.data() + j * kk, g.data() + j * k1, k1, dj.data());
    for (int64_t a = 0; a < k1; ++a) d[static_cast<size_t>(j * k1 + a)] = static_cast<float>(dj[static_cast<size_t>(a)]);
  });
  std::vector<std::array<double, kFractions.size()>> tried(static_cast<size_t>(dim));
  for (int64_t first = 0; first < n; first += kBlock) {
    const int64_t rows = std::min(kBlock, n - first);
    const float* xb = x + first * dim;
    logits(p, u + first * k, xb, rows, s, false);
    extend(first, rows);
    gemm(false, true, rows, dim, k1, ext.data(), d.data(), 0.0f, s.step.data());  // [u, 1] d'
    tbb::parallel_for(size_t{0}, kFractions.size(), [&](size_t f) {  // one accumulator row per fraction
      float* a = acc.data() + static_cast<int64_t>(f) * dim;
      std::fill(a, a + dim, 0.0f);
      for (int64_t i = 0; i < rows; ++i)
        add_xent(s.t.data() + i * dim, s.step.data() + i * dim, xb + i * dim, kFractions[f], dim, a);
      for (int64_t j = 0; j < dim; ++j) tried[static_cast<size_t>(j)][f] += a[j];
    });
  }
  double sum = 0;
  for (int64_t j = 0; j < dim; ++j) {
    const auto& tj = tried[static_cast<size_t>(j)];
    const size_t best = static_cast<size_t>(std::min_element(tj.begin(), tj.end()) - tj.begin());
    double loss = now[static_cast<size_t>(j)];
    if (tj[best] < loss) {
      const float f = kFractions[best];
      for (int64_t a = 0; a < k; ++a) p.components[static_cast<size_t>(a * dim + j)] -= f * d[static_cast<size_t>(j * k1 + a)];
      p.bias[static_cast<size_t>(j)] -= f * d[static_cast<size_t>(j * k1 + k)];
      loss = tj[best];
    }
    sum += loss;
  }
  return sum;
}

void check_rows(const LogisticPca& p, size_t values, const char* what) {
  if (p.k() == 0) throw Error("logistic pca: {} with no components (fit_logistic_pca makes them)", what);
  if (values % static_cast<size_t>(p.dim) != 0)
    throw Error("logistic pca: {} got {} values; expected whole rows of {}", what, values, p.dim);
}

// Throws, naming the row and the unit, unless every value of the rows of
// dim units in x lies in [0, 1] (NaN does not): the cross-entropy's data.
void check_unit_values(std::span<const float> x, int64_t dim, std::string_view where) {
  for (size_t i = 0; i < x.size(); ++i)
    if (!(x[i] >= 0.0f && x[i] <= 1.0f))
      throw Error("logistic pca: {}row {} unit {} is {}; expected values in [0, 1]", where, i / static_cast<size_t>(dim),
                  i % static_cast<size_t>(dim), x[i]);
}

}  // namespace

void LogisticPca::encode(std::span<const float> x, std::span<float> codes, int steps) const {
  check_rows(*this, x.size(), "encode");
  if (steps < 1) throw Error("logistic pca: encode with {} Newton steps; expected at least 1", steps);
  const size_t rows = x.size() / static_cast<size_t>(dim);
  if (codes.size() != rows * static_cast<size_t>(k()))
    throw Error("logistic pca: encode has room for {} codes; expected {} ({} rows x {})", codes.size(),
                rows * static_cast<size_t>(k()), rows, k());
  check_unit_values(x, dim, "encode: ");
  std::fill(codes.begin(), codes.end(), 0.0f);
  code_steps(*this, x.data(), codes.data(), static_cast<int64_t>(rows), steps);
}

void LogisticPca::decode(std::span<const float> codes, std::span<float> out) const {
  if (k() == 0) throw Error("logistic pca: decode with no components (fit_logistic_pca makes them)");
  const size_t rows = codes.size() / static_cast<size_t>(k());
  if (codes.size() % static_cast<size_t>(k()) != 0 || out.size() != rows * static_cast<size_t>(dim))
    throw Error("logistic pca: decode got {} codes and room for {}; expected rows of {} codes and of {} units",
                codes.size(), out.size(), k(), dim);
  gemm(false, false, static_cast<int64_t>(rows), dim, k(), codes.data(), components.data(), 0.0f, out.data());
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = 1.0f / (1.0f + std::exp(-(out[i] + bias[i % static_cast<size_t>(dim)])));
}

LogisticPca fit_logistic_pca(const DataSource& src, int64_t components, const LogisticPcaOptions& o) {
  const int64_t dim = src.dim, n = src.count;
  if (components < 1 || components > std::min(dim, kMaxComponents))
    throw Error("logistic pca: {} components of rows of {} units; expected 1 .. {}", components, dim,
                std::min(dim, kMaxComponents));
  if (n < 1) throw Error("logistic pca: no rows to fit; expected at least one");
  if (o.sweeps < 0) throw Error("logistic pca: {} sweeps; expected 0 or more", o.sweeps);
  const std::vector<float> x = all_rows(src);
  check_unit_values(x, dim, "");
  // The start: PCA's components and codes, b the logit of each unit's mean.
  const Pca pca = fit_pca(src, components);
  LogisticPca p{dim, pca.components, std::vector<float>(static_cast<size_t>(dim))};
  for (int64_t j = 0; j < dim; ++j) {
    const float m = std::clamp(pca.mean[static_cast<size_t>(j)], 1e-3f, 1.0f - 1e-3f);
    p.bias[static_cast<size_t>(j)] = std::log(m / (1.0f - m));
  }
  std::vector<float> u(static_cast<size_t>(n * components));
  pca.encode(x, u);
  Block s(dim);
  for (int sweep = 1; sweep <= o.sweeps; ++sweep) {
    code_steps(p, x.data(), u.data(), n, 1);
    const double loss = column_step(p, x.data(), u.data(), n, s);
    if (o.progress) o.progress(sweep, loss / static_cast<double>(n));
  }
  return p;
}

namespace {

// Calls body(rows, x, codes) for each batch of `src` (epoch 0), its rows
// coded by encode.
template <typename Body>
void for_each_coded_batch(const LogisticPca& p, const DataSource& src, int64_t batch, Body body) {
  if (src.dim != p.dim)
    throw Error("logistic pca: rows of {} units; expected rows of {} (the model's)", src.dim, p.dim);
  std::vector<float> buf, codes;
  for_each_batch(src, std::clamp<int64_t>(batch, 1, std::max<int64_t>(src.count, 1)), 0, buf, [&](int64_t, int64_t rows) {
    const std::span<const float> real(buf.data(), static_cast<size_t>(rows * p.dim));
    codes.resize(static_cast<size_t>(rows * p.k()));
    p.encode(real, codes);
    body(rows, real, std::span<const float>(codes));
  });
}

}  // namespace

double logistic_pca_error(const LogisticPca& p, const DataSource& src, int64_t batch) {
  std::vector<float> out;
  double sum = 0;
  for_each_coded_batch(p, src, batch, [&](int64_t, std::span<const float> x, std::span<const float> codes) {
    out.resize(x.size());
    p.decode(codes, out);
    for (size_t i = 0; i < x.size(); ++i) sum += (double{out[i]} - x[i]) * (double{out[i]} - x[i]);
  });
  return sum / static_cast<double>(std::max<int64_t>(src.count, 1));
}

double logistic_pca_loss(const LogisticPca& p, const DataSource& src, int64_t batch) {
  Block s(p.dim);
  double sum = 0;
  for_each_coded_batch(p, src, batch, [&](int64_t rows, std::span<const float> x, std::span<const float> codes) {
    for (int64_t first = 0; first < rows; first += kBlock) {
      const int64_t r = std::min(kBlock, rows - first);
      logits(p, codes.data() + first * p.k(), x.data() + first * p.dim, r, s, false);
      sum += xent_sum(s.t.data(), s.t.data(), x.data() + first * p.dim, 0.0f, r * p.dim);
    }
  });
  return sum / static_cast<double>(std::max<int64_t>(src.count, 1));
}

}  // namespace ebm
