#include "models/svm.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include <cblas.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "graph/executor.hpp"
#include "ops/error.hpp"
#include "ops/gemm.hpp"

namespace ebm {
namespace {

// C (m x n) = alpha A B', A m x k and B n x k, all row-major and packed: a
// block of rows inside a parallel loop, so one thread. ebm::gemm (single-
// threaded by contract), or CBLAS where the executors use it too
// (default_gemm_backend: EBM_GEMM=cblas, or a CPU without AVX2), whose
// threads an Executor sets to one.
void product_abt(int64_t m, int64_t n, int64_t k, float alpha, const float* a, const float* b, float* c) {
  if (default_gemm_backend() == GemmBackend::ebm)
    return gemm::sgemm(false, true, m, n, k, alpha, a, k, b, k, 0.0f, c, n);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
              alpha, a, static_cast<int>(k), b, static_cast<int>(k), 0.0f, c, static_cast<int>(n));
}

// The first value of v that is not finite is named; a kernel matrix is
// scanned in parallel blocks on the caller's arena.
void check_finite(std::span<const float> v, const char* what) {
  std::atomic<size_t> first{v.size()};
  tbb::parallel_for(tbb::blocked_range<size_t>(0, v.size(), size_t{1} << 20), [&](const tbb::blocked_range<size_t>& r) {
    for (size_t i = r.begin(); i < r.end(); ++i)
      if (!std::isfinite(v[i])) {
        size_t seen = first.load();
        while (i < seen && !first.compare_exchange_weak(seen, i)) {
        }
        return;
      }
  });
  if (const size_t i = first.load(); i < v.size())
    throw Error("svm: {} value {} is {}; expected finite values", what, i, v[i]);
}

void check_points(int64_t n) {
  if (n < 1 || n > kMaxSvmPoints)
    throw Error("svm: {} training points; expected 1 to {} (the kernel matrix is held whole: n^2 floats)", n,
                kMaxSvmPoints);
}

// exp(-gamma d) over x in place, in parallel on the caller's arena.
void exp_in_place(std::span<float> x, double gamma) {
  tbb::parallel_for(tbb::blocked_range<size_t>(0, x.size(), size_t{1} << 16), [&](const tbb::blocked_range<size_t>& r) {
    for (size_t i = r.begin(); i < r.end(); ++i) x[i] = static_cast<float>(std::exp(-gamma * x[i]));
  });
}

std::vector<float> row_norms(std::span<const float> x, int64_t rows, int64_t d) {
  std::vector<float> s(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) {
    double acc = 0.0;
    for (int64_t k = 0; k < d; ++k) acc += double(x[static_cast<size_t>(i * d + k)]) * x[static_cast<size_t>(i * d + k)];
    s[static_cast<size_t>(i)] = static_cast<float>(acc);
  }
  return s;
}

// The SMO solver's state for one problem (kernel rows read in place).
class Smo {
 public:
  Smo(std::span<const float> k, int64_t n, std::span<const int8_t> y, double c) : k_(k), n_(n), y_(y), c_(c) {
    alpha_.assign(static_cast<size_t>(n), 0.0);
    grad_.assign(static_cast<size_t>(n), -1.0);  // Q a - 1 at a = 0
    diag_.resize(static_cast<size_t>(n));
    for (int64_t t = 0; t < n; ++t) diag_[size_t(t)] = row(t)[t];  // read once: a column of K is n strides apart
  }

  // Picks the pair (i, j) to move, or returns false when the largest
  // violation m(a) - M(a) is below tol (Fan, Chen & Lin 2005, WSS 3).
  bool select(double tol, int64_t& i, int64_t& j) const {
    double gmax = -inf, gmax2 = -inf;
    i = -1;
    for (int64_t t = 0; t < n_; ++t) {  // i: the most violating index that may move up (y a grows)
      const double v = -y(t) * grad(t);
      if (up(t) && v >= gmax) gmax = v, i = t;
    }
    j = -1;
    double best = inf;
    const float* ki = i >= 0 ? row(i) : nullptr;
    for (int64_t t = 0; t < n_; ++t) {  // j: of those that may move down, the largest second-order decrease
      if (!down(t)) continue;
      const double v = -y(t) * grad(t);
      gmax2 = std::max(gmax2, -v);
      const double b = gmax - v;
      if (i < 0 || b <= 0) continue;
      double a = diag_[size_t(i)] + diag_[size_t(t)] - 2.0 * double(ki[t]);
      if (a <= 0) a = kTau;
      if (const double decrease = -b * b / a; decrease <= best) best = decrease, j = t;
    }
    return i >= 0 && j >= 0 && gmax + gmax2 >= tol;
  }

  // Moves a_i and a_j along y_i a_i + y_j a_j = const to the pair's
  // optimum, clipped to the box, and updates the gradient.
  void update(int64_t i, int64_t j) {
    const float *ki = row(i), *kj = row(j);
    const double ai = alpha_[size_t(i)], aj = alpha_[size_t(j)];
    double a = diag_[size_t(i)] + diag_[size_t(j)] - 2.0 * double(ki[j]);
    if (a <= 0) a = kTau;
    double& ni = alpha_[size_t(i)];
    double& nj = alpha_[size_t(j)];
    if (y(i) != y(j)) {  // a_i - a_j is kept
      const double delta = (-grad(i) - grad(j)) / a, diff = ai - aj;
      ni += delta, nj += delta;
      if (diff > 0) {
        if (nj < 0) nj = 0, ni = diff;
      } else if (ni < 0) {
        ni = 0, nj = -diff;
      }
      if (diff > 0) {
        if (ni > c_) ni = c_, nj = c_ - diff;
      } else if (nj > c_) {
        nj = c_, ni = c_ + diff;
      }
    } else {  // a_i + a_j is kept
      const double delta = (grad(i) - grad(j)) / a, sum = ai + aj;
      ni -= delta, nj += delta;
      if (sum > c_) {
        if (ni > c_) ni = c_, nj = sum - c_;
      } else if (nj < 0) {
        nj = 0, ni = sum;
      }
      if (sum > c_) {
        if (nj > c_) nj = c_, ni = sum - c_;
      } else if (ni < 0) {
        ni = 0, nj = sum;
      }
    }
    const double di = (ni - ai) * y(i), dj = (nj - aj) * y(j);  // Q_ti d_i = y_t k_ti y_i d_i
    for (int64_t t = 0; t < n_; ++t) grad_[size_t(t)] += y(t) * (double(ki[t]) * di + double(kj[t]) * dj);
  }

  // rho: the mean of y_t G_t over free multipliers (f = 0 margin there), or
  // the middle of the feasible interval when none is free.
  double rho() const {
    double ub = inf, lb = -inf, sum = 0.0;
    int64_t free = 0;
    for (int64_t t = 0; t < n_; ++t) {
      const double yg = y(t) * grad(t), at = alpha_[size_t(t)];
      if (at >= c_) {
        if (y(t) < 0) ub = std::min(ub, yg);
        else lb = std::max(lb, yg);
      } else if (at <= 0) {
        if (y(t) > 0) ub = std::min(ub, yg);
        else lb = std::max(lb, yg);
      } else {
        sum += yg, ++free;
      }
    }
    if (free > 0) return sum / double(free);
    if (!std::isfinite(ub)) return lb;  // one class only: every multiplier stays 0
    if (!std::isfinite(lb)) return ub;
    return 0.5 * (ub + lb);
  }

  double objective() const {  // with G = Qa - 1: 1/2 a'Qa - 1'a = 1/2 a'(G - 1)
    double s = 0.0;
    for (int64_t t = 0; t < n_; ++t) s += alpha_[size_t(t)] * (grad(t) - 1.0);
    return 0.5 * s;
  }

  std::vector<double>& alpha() { return alpha_; }

 private:
  static constexpr double inf = std::numeric_limits<double>::infinity(), kTau = 1e-12;
  double y(int64_t t) const { return y_[size_t(t)]; }
  double grad(int64_t t) const { return grad_[size_t(t)]; }
  const float* row(int64_t t) const { return k_.data() + t * n_; }
  bool up(int64_t t) const { return y_[size_t(t)] > 0 ? alpha_[size_t(t)] < c_ : alpha_[size_t(t)] > 0; }
  bool down(int64_t t) const { return y_[size_t(t)] > 0 ? alpha_[size_t(t)] > 0 : alpha_[size_t(t)] < c_; }

  std::span<const float> k_;
  int64_t n_;
  std::span<const int8_t> y_;
  double c_;
  std::vector<double> alpha_, grad_, diag_;
};

}  // namespace

std::vector<float> svm_squared_distances(std::span<const float> a, int64_t m, std::span<const float> b, int64_t n,
                                         int64_t d) {
  if (m < 0 || n < 0 || d < 1 || static_cast<int64_t>(a.size()) != m * d || static_cast<int64_t>(b.size()) != n * d)
    throw Error("svm: {} and {} feature values for {} and {} rows of {}; expected rows x {} each", a.size(), b.size(),
                m, n, d, d);
  check_finite(a, "feature");
  check_finite(b, "feature");
  check_matrix_fits(m, n, "squared distances");
  std::vector<float> out(static_cast<size_t>(m * n));
  if (m == 0 || n == 0) return out;
  const std::vector<float> na = row_norms(a, m, d), nb = row_norms(b, n, d);
  // Blocks of rows on the caller's arena, one single-threaded product each.
  constexpr int64_t kRows = 256;
  tbb::parallel_for(int64_t{0}, (m + kRows - 1) / kRows, [&](int64_t blk) {
    const int64_t i0 = blk * kRows, rows = std::min(kRows, m - i0);
    float* o = out.data() + i0 * n;
    product_abt(rows, n, d, -2.0f, a.data() + i0 * d, b.data(), o);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < n; ++j) {
        float& v = o[i * n + j];
        v = std::max(0.0f, v + na[static_cast<size_t>(i0 + i)] + nb[static_cast<size_t>(j)]);
      }
  });
  return out;
}

void check_matrix_fits(int64_t m, int64_t n, const char* what) {
  const double bytes = 4.0 * double(m) * double(n), have = double(available_memory_bytes());
  if (have >= 0 && bytes > 0.9 * have)
    throw Error("svm: {} of {} x {} floats need {:.1f} GiB; {:.1f} GiB of memory is available now", what, m, n,
                bytes / double(1 << 30), have / double(1 << 30));
}

void gaussian_kernel_in_place(std::span<float> sq_dists, double gamma) {
  if (!(gamma > 0) || !std::isfinite(gamma)) throw Error("svm: gamma = {}; expected a positive, finite scale", gamma);
  exp_in_place(sq_dists, gamma);
}

double mean_squared_distance(std::span<const float> sq_dists, int64_t n) {
  if (n < 2 || static_cast<int64_t>(sq_dists.size()) != n * n)
    throw Error("svm: {} distances for {} points; expected n x n with n >= 2", sq_dists.size(), n);
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (i != j) s += sq_dists[static_cast<size_t>(i * n + j)];
  return s / (double(n) * double(n - 1));
}

namespace {

void check_config(const SvmConfig& config) {
  if (!(config.c > 0) || !std::isfinite(config.c)) throw Error("svm: C = {}; expected a positive, finite box", config.c);
  if (!(config.tolerance > 0) || !std::isfinite(config.tolerance))
    throw Error("svm: tolerance {}; expected a positive, finite one", config.tolerance);
  if (config.max_iterations < 0)
    throw Error("svm: max_iterations {}; expected 0 (the default, max(10^7, 100 n)) or more", config.max_iterations);
}

// Throws, naming the entry, unless the n x n kernel (`what`) is symmetric
// (to float rounding: products made by BLAS need not be bit-symmetric)
// with finite entries and a diagonal of 0 or more (k(x, x) = |phi(x)|^2),
// or, when `gaussian`, every entry in [0, 1] (exp(-gamma d), d >= 0).
// Read in tiles, each pair of mirrored entries once.
void check_kernel(std::span<const float> k, int64_t n, bool gaussian, const char* what) {
  constexpr int64_t kTile = 64;
  const auto bad = [&](float v, int64_t i, int64_t j) {
    return gaussian ? !(v >= 0.0f && v <= 1.0f) : !std::isfinite(v) || (i == j && v < 0.0f);
  };
  for (int64_t i0 = 0; i0 < n; i0 += kTile)
    for (int64_t j0 = i0; j0 < n; j0 += kTile)
      for (int64_t i = i0; i < std::min(n, i0 + kTile); ++i)
        for (int64_t j = std::max(j0, i); j < std::min(n, j0 + kTile); ++j) {
          const float a = k[size_t(i * n + j)], b = k[size_t(j * n + i)];
          if (bad(a, i, j) || bad(b, j, i))
            throw Error("svm: {} entry ({}, {}) is {}; expected {}", what, bad(a, i, j) ? i : j, bad(a, i, j) ? j : i,
                        bad(a, i, j) ? a : b,
                        gaussian ? "a Gaussian kernel's values, in [0, 1]"
                                 : "finite values, and a diagonal of 0 or more (k(x, x) = |phi(x)|^2)");
          if (std::abs(a - b) > 1e-3f * std::max({1.0f, std::abs(a), std::abs(b)}))
            throw Error("svm: {} entries ({}, {}) = {} and ({}, {}) = {} differ; expected a symmetric kernel", what,
                        i, j, a, j, i, b);
        }
}

// solve_svm_dual on a kernel and settings already checked.
SvmDual solve_checked(std::span<const float> kernel, int64_t n, std::span<const int8_t> y, const SvmConfig& config) {
  const int64_t limit = config.max_iterations > 0 ? config.max_iterations : std::max<int64_t>(10'000'000, 100 * n);
  Smo smo(kernel, n, y, config.c);
  SvmDual out;
  int64_t i = 0, j = 0;
  while (out.iterations < limit && !(out.converged = !smo.select(config.tolerance, i, j))) {
    smo.update(i, j);
    ++out.iterations;
  }
  out.rho = smo.rho();
  out.objective = smo.objective();
  out.alpha = std::move(smo.alpha());
  return out;
}

}  // namespace

SvmDual solve_svm_dual(std::span<const float> kernel, int64_t n, std::span<const int8_t> y, const SvmConfig& config) {
  check_points(n);
  if (static_cast<int64_t>(kernel.size()) != n * n || static_cast<int64_t>(y.size()) != n)
    throw Error("svm: a kernel of {} values and {} labels for {} points; expected n x n and n", kernel.size(),
                y.size(), n);
  check_config(config);
  for (int64_t t = 0; t < n; ++t)
    if (y[size_t(t)] != 1 && y[size_t(t)] != -1) throw Error("svm: label {} is {}; expected +1 or -1", t, int(y[size_t(t)]));
  check_kernel(kernel, n, false, "kernel");
  return solve_checked(kernel, n, y, config);
}

KernelSvm::KernelSvm(std::span<const float> sq_dists, int64_t n, std::span<const uint8_t> labels, int classes,
                     double gamma, const SvmConfig& config) {
  init(static_cast<int64_t>(sq_dists.size()), n, labels, classes, gamma);
  check_finite(sq_dists, "squared distance");
  check_matrix_fits(n, n, "the kernel of the squared distances");  // the distances themselves exist already
  std::vector<float> k(sq_dists.begin(), sq_dists.end());
  exp_in_place(k, gamma);
  check_kernel(k, n, true, "kernel of the squared distances");  // negative or asymmetric distances show here
  train(k, labels, config);
}

KernelSvm KernelSvm::from_kernel(std::span<const float> kernel, int64_t n, std::span<const uint8_t> labels,
                                 int classes, double gamma, const SvmConfig& config) {
  KernelSvm svm;
  svm.init(static_cast<int64_t>(kernel.size()), n, labels, classes, gamma);
  check_finite(kernel, "kernel");
  check_kernel(kernel, n, true, "kernel");
  svm.train(kernel, labels, config);
  return svm;
}

void KernelSvm::init(int64_t entries, int64_t n, std::span<const uint8_t> labels, int classes, double gamma) {
  check_points(n);
  if (entries != n * n || static_cast<int64_t>(labels.size()) != n)
    throw Error("svm: {} distances and {} labels for {} points; expected n x n and n", entries, labels.size(), n);
  if (classes < 2 || classes > 255) throw Error("svm: {} classes; expected 2 to 255", classes);
  if (!(gamma > 0) || !std::isfinite(gamma)) throw Error("svm: gamma = {}; expected a positive, finite scale", gamma);
  for (int64_t t = 0; t < n; ++t)
    if (labels[size_t(t)] >= classes)
      throw Error("svm: label {} is {}; expected 0 to {}", t, int(labels[size_t(t)]), classes - 1);
  if (std::ranges::all_of(labels, [&](uint8_t l) { return l == labels[0]; }))  // n >= 1 (check_points)
    throw Error("svm: all {} training labels are class {}; expected at least two classes (with one, every point is "
                "predicted as it, a training error of 0% that says nothing)",
                n, int(labels[0]));
  n_ = n, classes_ = classes, gamma_ = gamma;
}

// The problems of every class, in parallel (init first).
void KernelSvm::train(std::span<const float> k, std::span<const uint8_t> labels, const SvmConfig& config) {
  check_config(config);  // once here: each problem's solve_checked does not
  const int64_t n = n_;
  duals_.resize(static_cast<size_t>(classes_));
  coef_.assign(static_cast<size_t>(classes_ * n), 0.0f);
  tbb::parallel_for(0, classes_, [&](int c) {
    std::vector<int8_t> y(static_cast<size_t>(n));
    for (int64_t t = 0; t < n; ++t) y[size_t(t)] = labels[size_t(t)] == c ? 1 : -1;
    SvmDual& d = duals_[size_t(c)] = solve_checked(k, n, y, config);
    for (int64_t t = 0; t < n; ++t) coef_[size_t(c * n + t)] = static_cast<float>(d.alpha[size_t(t)] * y[size_t(t)]);
  });
}

std::vector<float> KernelSvm::decisions(std::span<const float> cross_sq_dists, int64_t m) const {
  if (static_cast<int64_t>(cross_sq_dists.size()) != m * n_)
    throw Error("svm: {} distances for {} points and {} training points; expected m x n", cross_sq_dists.size(), m,
                n_);
  check_finite(cross_sq_dists, "squared distance");
  std::vector<float> f(static_cast<size_t>(m * classes_));
  // f = K* coef' - rho: (m x n) (n x classes), K* made a block of rows at a time
  constexpr int64_t kRows = 64;
  tbb::parallel_for(int64_t{0}, (m + kRows - 1) / kRows, [&](int64_t blk) {
    const int64_t i0 = blk * kRows, rows = std::min(kRows, m - i0);
    std::vector<float> k(cross_sq_dists.begin() + i0 * n_, cross_sq_dists.begin() + (i0 + rows) * n_);
    for (float& v : k) v = static_cast<float>(std::exp(-gamma_ * v));
    product_abt(rows, classes_, n_, 1.0f, k.data(), coef_.data(), f.data() + i0 * classes_);
  });
  for (int64_t i = 0; i < m; ++i)
    for (int c = 0; c < classes_; ++c) f[size_t(i * classes_ + c)] -= static_cast<float>(duals_[size_t(c)].rho);
  return f;
}

std::vector<uint8_t> KernelSvm::predict(std::span<const float> cross_sq_dists, int64_t m) const {
  const std::vector<float> f = decisions(cross_sq_dists, m);
  std::vector<uint8_t> out(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) {
    const float* row = f.data() + i * classes_;
    out[size_t(i)] = static_cast<uint8_t>(std::max_element(row, row + classes_) - row);
  }
  return out;
}

int64_t KernelSvm::support_vectors() const {
  int64_t count = 0;
  for (int64_t t = 0; t < n_; ++t) {
    bool any = false;
    for (int c = 0; c < classes_ && !any; ++c) any = coef_[size_t(c * n_ + t)] != 0.0f;
    count += any;
  }
  return count;
}

double error_percent(std::span<const uint8_t> predicted, std::span<const uint8_t> labels) {
  if (predicted.size() != labels.size() || labels.empty())
    throw Error("error_percent: {} predictions for {} labels; expected as many, at least one", predicted.size(),
                labels.size());
  int64_t wrong = 0;
  for (size_t i = 0; i < labels.size(); ++i) wrong += predicted[i] != labels[i];
  return 100.0 * double(wrong) / double(labels.size());
}

std::vector<uint8_t> predict_rows(const KernelSvm& svm, std::span<const float> train, int64_t n,
                                  std::span<const float> rows, int64_t count, int64_t d) {
  constexpr int64_t kBlock = 2'048;  // a multiple of the blocks of svm_squared_distances and decisions: the same bits
  if (count < 0 || static_cast<int64_t>(rows.size()) != count * d)
    throw Error("svm: {} feature values for {} rows of {} to classify", rows.size(), count, d);
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(count));
  for (int64_t i0 = 0; i0 < count; i0 += kBlock) {
    const int64_t m = std::min(kBlock, count - i0);
    const std::vector<uint8_t> p =
        svm.predict(svm_squared_distances(rows.subspan(size_t(i0 * d), size_t(m * d)), m, train, n, d), m);
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

SvmSearch svm_search(std::span<const float> train, int64_t n, std::span<const uint8_t> labels,
                     std::span<const float> valid, int64_t n_valid, std::span<const uint8_t> valid_labels, int64_t d,
                     const SvmSearchConfig& config, const std::function<void(const SvmTrial&)>& on_trial) {
  if (config.c.empty() || config.gamma.empty())
    throw Error("svm search: {} values of C and {} widths; expected at least one of each", config.c.size(),
                config.gamma.size());
  if (n_valid < 1 || static_cast<int64_t>(valid_labels.size()) != n_valid)
    throw Error("svm search: {} labels for {} validation rows; expected at least one row, and a label for each",
                valid_labels.size(), n_valid);
  if (static_cast<int64_t>(valid.size()) != n_valid * d)  // before any training, however the rows are kept
    throw Error("svm search: {} feature values for {} validation rows of {}", valid.size(), n_valid, d);
  const bool keep = config.keep_distances;
  auto distances = [&] { return svm_squared_distances(train, n, train, n, d); };
  std::vector<float> kernel = distances();
  const double mean_sq = mean_squared_distance(kernel, n);
  if (!(mean_sq > 0))
    throw Error("svm search: the {} training rows are all the same; expected rows that tell the classes apart", n);
  const double unit = 1.0 / mean_sq;
  const std::vector<float> sq = keep ? kernel : std::vector<float>{};
  const std::vector<float> sq_valid = keep ? svm_squared_distances(valid, n_valid, train, n, d) : std::vector<float>{};
  std::optional<KernelSvm> best;
  SvmTrial chosen{.valid_error = std::numeric_limits<double>::infinity()};
  for (size_t gi = 0; gi < config.gamma.size(); ++gi) {
    const double gamma = config.gamma[gi] * unit;
    if (gi > 0 && keep) {
      kernel.assign(sq.begin(), sq.end());  // into the same buffer
    } else if (gi > 0) {
      std::vector<float>().swap(kernel);  // freed before the next is made: one n x n matrix at a time
      kernel = distances();
    }
    gaussian_kernel_in_place(kernel, gamma);
    for (double c : config.c) {
      const auto t0 = std::chrono::steady_clock::now();
      SvmConfig solver = config.svm;
      solver.c = c;
      KernelSvm svm = KernelSvm::from_kernel(kernel, n, labels, config.classes, gamma, solver);
      SvmTrial t{.c = c, .gamma_multiple = config.gamma[gi], .gamma = gamma};
      const std::vector<uint8_t> predicted =
          keep ? svm.predict(sq_valid, n_valid) : predict_rows(svm, train, n, valid, n_valid, d);
      t.valid_error = error_percent(predicted, valid_labels);
      t.support_vectors = svm.support_vectors();
      for (int k = 0; k < svm.classes(); ++k) {
        t.iterations += svm.problem(k).iterations;
        t.converged = t.converged && svm.problem(k).converged;
      }
      t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (t.valid_error < chosen.valid_error) chosen = t, best = std::move(svm);
      if (on_trial) on_trial(t);
    }
  }
  return {std::move(*best), chosen, unit};
}

}  // namespace ebm
