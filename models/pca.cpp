#include "models/pca.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "ops/error.hpp"
#include "models/units.hpp"
#include "ops/lapack.hpp"

namespace ebm {

Pca fit_pca(const DataSource& src, int64_t components, int64_t batch) {
  const int64_t d = src.dim;
  if (components < 1 || components > d)
    throw Error("pca: {} components of rows of {} units; expected 1 .. {}", components, d, d);
  if (src.count < 1) throw Error("pca: no rows to fit");
  if (d > 46340) throw Error("pca: rows of {} units; the covariance would need over 2^31 entries", d);
  batch = std::clamp<int64_t>(batch, 1, src.count);
  const auto du = static_cast<size_t>(d);
  std::vector<float> buf;
  // Two passes: the mean first, then the centred rows' products. One pass
  // (E[x x'] - m m') cancels away the variance of data far from zero: 40%
  // off in an eigenvalue for columns near 1e6 with a spread of 0.6.
  std::vector<double> sum(du);
  for_each_batch(src, batch, 0, buf, [&](int64_t first, int64_t rows) {
    // (LAPACK would fail on a NaN later, naming nothing)
    check_finite_rows(std::span<const float>(buf).first(static_cast<size_t>(rows) * du), d, "pca", "",
                      [first](int64_t i) { return first + i; });
    for (size_t k = 0; k < static_cast<size_t>(rows) * du; ++k) sum[k % du] += buf[k];
  });
  const auto n = static_cast<double>(src.count);
  std::vector<double> mean(du), xd(static_cast<size_t>(batch) * du), cov(du * du);
  for (size_t i = 0; i < du; ++i) mean[i] = sum[i] / n;
  for_each_batch(src, batch, 0, buf, [&](int64_t, int64_t rows) {
    for (size_t k = 0; k < static_cast<size_t>(rows) * du; ++k) xd[k] = double{buf[k]} - mean[k % du];
    // cov (lower triangle, row-major) += x' x over the batch's real rows
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, static_cast<int>(d), static_cast<int>(rows), 1.0, xd.data(),
                static_cast<int>(d), 1.0, cov.data(), static_cast<int>(d));
  });
  Pca p;
  p.dim = d;
  p.mean.resize(du);
  for (size_t i = 0; i < du; ++i) p.mean[i] = static_cast<float>(mean[i]);
  for (size_t i = 0; i < du; ++i)
    for (size_t j = 0; j <= i; ++j) cov[i * du + j] /= n;
  for (size_t i = 0; i < du; ++i) p.total_variance += cov[i * du + i];
  // Row-major lower = column-major upper: LAPACK reads the same triangle.
  const int nd = static_cast<int>(d);
  int info = 0, lwork = -1, liwork = -1, iwork_size = 0;
  double work_size = 0;
  std::vector<double> w(du);
  dsyevd_("V", "U", &nd, cov.data(), &nd, w.data(), &work_size, &lwork, &iwork_size, &liwork, &info, 1, 1);
  lwork = static_cast<int>(work_size);
  liwork = iwork_size;
  std::vector<double> work(static_cast<size_t>(std::max(lwork, 1)));
  std::vector<int> iwork(static_cast<size_t>(std::max(liwork, 1)));
  dsyevd_("V", "U", &nd, cov.data(), &nd, w.data(), work.data(), &lwork, iwork.data(), &liwork, &info, 1, 1);
  if (info != 0) throw Error("pca: LAPACK dsyevd failed (info {}) on a {} x {} covariance", info, d, d);
  // Eigenvalues ascend; eigenvector j is column j in column-major order,
  // i.e. the contiguous run cov[j d .. j d + d).
  for (int64_t c = 0; c < components; ++c) {
    const size_t j = du - 1 - static_cast<size_t>(c);
    p.variances.push_back(std::max(0.0, w[j]));
    for (size_t i = 0; i < du; ++i) p.components.push_back(static_cast<float>(cov[j * du + i]));
  }
  return p;
}

void Pca::encode(std::span<const float> x, std::span<float> codes) const {
  if (k() == 0) throw Error("pca: encode with no components (fit_pca makes them)");
  const auto du = static_cast<size_t>(dim), ku = static_cast<size_t>(k());
  if (x.size() % du != 0 || codes.size() != x.size() / du * ku)
    throw Error("pca: encode got {} inputs and room for {} codes; expected rows of {} and {} codes per row", x.size(),
                codes.size(), dim, k());
  const size_t rows = x.size() / du;
  std::vector<float> centred(x.begin(), x.end());
  for (size_t k = 0; k < centred.size(); ++k) centred[k] -= mean[k % du];
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows), static_cast<int>(ku),
              static_cast<int>(du), 1.0f, centred.data(), static_cast<int>(du), components.data(), static_cast<int>(du),
              0.0f, codes.data(), static_cast<int>(ku));
}

void Pca::decode(std::span<const float> codes, std::span<float> out) const {
  if (k() == 0) throw Error("pca: decode with no components (fit_pca makes them)");
  const auto du = static_cast<size_t>(dim), ku = static_cast<size_t>(k());
  if (codes.size() % ku != 0 || out.size() != codes.size() / ku * du)
    throw Error("pca: decode got {} codes and room for {} outputs; expected {} codes and {} outputs per row",
                codes.size(), out.size(), k(), dim);
  const size_t rows = codes.size() / ku;
  for (size_t k = 0; k < out.size(); ++k) out[k] = mean[k % du];
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows), static_cast<int>(du),
              static_cast<int>(ku), 1.0f, codes.data(), static_cast<int>(ku), components.data(), static_cast<int>(du),
              1.0f, out.data(), static_cast<int>(du));
}

double pca_error(const Pca& p, const DataSource& src, int64_t batch) {
  if (src.dim != p.dim) throw Error("pca: rows of {} units; it was fitted to rows of {}", src.dim, p.dim);
  if (src.count < 1) throw Error("pca: no rows to measure the error on");
  batch = std::clamp<int64_t>(batch, 1, src.count);
  std::vector<float> buf, codes(static_cast<size_t>(batch * p.k())), out(static_cast<size_t>(batch * p.dim));
  double total = 0;
  for_each_batch(src, batch, 0, buf, [&](int64_t first, int64_t rows) {
    check_finite_rows(std::span<const float>(buf).first(static_cast<size_t>(rows * p.dim)), p.dim, "pca error", "",
                      [first](int64_t i) { return first + i; });
    p.encode(buf, codes);
    p.decode(codes, out);
    for (size_t k = 0; k < static_cast<size_t>(rows * p.dim); ++k) {
      const double e = double{out[k]} - buf[k];
      total += e * e;
    }
  });
  return total / static_cast<double>(src.count);
}

}  // namespace ebm
