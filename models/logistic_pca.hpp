#pragma once
// Logistic PCA (Collins, Dasgupta & Schapire 2001; Schein, Saul & Ungar
// 2003), the second baseline of the deep-autoencoder experiments (Hinton &
// Salakhutdinov 2006): PCA for data in [0, 1], with the logistic function
// between the linear code and the reconstruction:
//
//   x^ = sigmoid(u V + b)      u [k] the row's code, V [k, dim], b [dim]
//
// fitted to minimise the cross-entropy  sum_j softplus(t_j) - x_j t_j,
// t = u V + b, over the training rows. The loss is convex in the codes with
// V and b fixed, and in (V, b) with the codes fixed, so the fit alternates
// Newton steps on the two: each row's code (k unknowns) and each pixel's
// column (V[:, j], b_j: k + 1 unknowns) is a small logistic regression.
// Their Hessians come from GEMMs: row i's is sum_j w_ij v_j v_j', w =
// x^ (1 - x^), i.e. W P with P[j] the upper triangle of v_j v_j'. A code's
// step is halved until its row's loss falls (up to 30 times, and only while
// the decrease it predicts is above the loss's float rounding, 1e-7 of
// |loss| + dim; else the code stays: a row so near its optimum has
// converged); the columns' steps try the fractions 1, 1/2, 1/4, 1/8, 1/32
// and 1/128 in one pass over the rows and keep the one with the least loss
// (none, if none lowers it). So the loss never rises, beyond its float
// rounding (a sweep can end about 1e-8 of the loss higher). A new row's code is
// its own Newton fit with V and b fixed.
//
// The model is invariant to u -> u A, V -> A^-1 V; the fit starts from PCA
// (codes and components) with b the logit of the pixels' means.

#include <functional>
#include <span>
#include <vector>

#include "models/data_source.hpp"

namespace ebm {

inline constexpr int64_t kMaxComponents = 64;  // fit_logistic_pca's limit

struct LogisticPca {
  int64_t dim = 0;
  std::vector<float> components;  // V, [k, dim]
  std::vector<float> bias;        // b, [dim]

  int64_t k() const { return dim > 0 ? static_cast<int64_t>(components.size()) / dim : 0; }
  // The codes minimising each row's cross-entropy: rows x [rows, dim] ->
  // codes [rows, k], after `steps` (>= 1) Newton steps from u = 0. Values
  // in [0, 1], as in fitting: an ebm::Error names a row and unit otherwise.
  void encode(std::span<const float> x, std::span<float> codes, int steps = 30) const;
  // codes [rows, k] -> reconstructions sigmoid(u V + b) [rows, dim]
  void decode(std::span<const float> codes, std::span<float> out) const;
};

struct LogisticPcaOptions {
  int sweeps = 30;  // alternations: a Newton step on every code, then on every column
  // Called after each sweep with its number and the mean cross-entropy per row.
  std::function<void(int sweep, double loss)> progress = {};
};

// Fits k components to every row of `src` (epoch 0, held in memory while
// fitting); 1 <= components <= min(src.dim, kMaxComponents), values in [0, 1].
LogisticPca fit_logistic_pca(const DataSource& src, int64_t components, const LogisticPcaOptions& options = {});

// Mean squared reconstruction error per row of `src` (epoch 0): |x^ - x|^2
// summed over the units, each row coded by encode.
double logistic_pca_error(const LogisticPca& p, const DataSource& src, int64_t batch = 1000);

// The mean cross-entropy per row of `src` (epoch 0) under p, each row coded
// by encode.
double logistic_pca_loss(const LogisticPca& p, const DataSource& src, int64_t batch = 1000);

}  // namespace ebm
