#pragma once
// Principal component analysis, the linear baseline of the deep autoencoder
// experiments (Hinton & Salakhutdinov 2006): the k leading eigenvectors of
// the rows' covariance, computed in double precision (the mean in a first
// pass over the rows, the centred rows' covariance accumulated batch by batch
// with BLAS in a second, so data far from zero keeps its variance; the
// eigenvectors by LAPACK's dsyevd, which OpenBLAS ships).
//
//   code = (x - mean) U'      reconstruction = mean + code U
//
// U [k, dim] has orthonormal rows in order of decreasing variance. On the
// rows it was fitted to, the mean squared reconstruction error per row is
// total_variance - sum(variances): what the k components leave out.

#include <span>
#include <vector>

#include "models/data_source.hpp"

namespace ebm {

struct Pca {
  int64_t dim = 0;
  std::vector<float> mean;        // [dim]
  std::vector<float> components;  // U, [k, dim]
  std::vector<double> variances;  // [k], the covariance's leading eigenvalues, decreasing
  double total_variance = 0;      // the covariance's trace

  int64_t k() const { return static_cast<int64_t>(variances.size()); }
  // rows x [rows, dim] -> codes [rows, k]
  void encode(std::span<const float> x, std::span<float> codes) const;
  // codes [rows, k] -> reconstructions [rows, dim]
  void decode(std::span<const float> codes, std::span<float> out) const;
};

// The covariance of every row of `src` as seen in epoch 0 (1/n, not
// 1/(n-1)), read `batch` rows at a time, twice; 1 <= components <= src.dim.
// An empty source, or a NaN or infinity (named by row and column), is an
// ebm::Error.
Pca fit_pca(const DataSource& src, int64_t components, int64_t batch = 1000);

// Mean squared reconstruction error per row of `src` (epoch 0): |x^ - x|^2
// summed over the units. An empty source or a non-finite value is an
// ebm::Error.
double pca_error(const Pca& p, const DataSource& src, int64_t batch = 1000);

}  // namespace ebm
