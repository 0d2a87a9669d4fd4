#pragma once
// The variational lower bound on log p(v) of a DBN whose top RBM is rbms[k]:
//
//   log p(v) >= B(v) = E_Q [ sum_{l<k} ( log p(h_l | h_{l+1}) + H(Q(h_{l+1} | h_l)) ) ] + E_Q[ log p_k(h_k) ]
//
// with h_0 = v, Q the factorial recognition distributions, p(h_l | h_{l+1})
// the directed generative layers and p_k(h_k) = exp(-F_k(h_k)) / Z_k the top
// RBM's marginal over its visible layer. For k = 0 the bound is log p(v) of
// the first RBM. The entropies are exact; the expectations are estimated
// with samples h ~ Q (dbn_bound_rows), or summed exactly over h_1 for a
// two-layer DBN small enough to enumerate (dbn_exact).

#include <cmath>
#include <span>
#include <vector>

#include "graph/executor.hpp"
#include "models/ais.hpp"
#include "models/dbn.hpp"

namespace ebm {

struct DbnExact {
  double log_p = 0;  // log sum_h1 p(v | h1) p_1(h1)
  double bound = 0;  // B(v) with Q(h1 | v) = sigmoid(v W_0 + b_0)
};

// Two-layer DBNs of binary units only; v holds whole rows of binary visible
// vectors, every value 0 or 1 (an ebm::Error says which is wrong otherwise:
// a grey value, 2 or NaN would give a number that means nothing).
std::vector<DbnExact> dbn_exact(const Dbn& dbn, std::span<const float> v);

// Per row of `data`: a Monte Carlo estimate of B(v) + log Z_k (one chain of
// samples h ~ Q per row and repeat, averaged over `samples` repeats), with
// top RBM rbms[k]. Subtract log Z_k (exact or AIS) to get the bound. The
// data must be binary (0 or 1: an ebm::Error names a row that is not), its
// rows as wide as the DBN's visible layer and batch at least 1 (both checked
// before anything is built).
std::vector<double> dbn_bound_rows(const Dbn& dbn, int k, Executor& ex, const DataSource& data, int64_t batch,
                                   int samples);

struct DbnBoundConfig {
  AisConfig ais = {};              // AIS for the top RBM's log Z (its on_progress sees the temperatures go by)
  int64_t batch = 100;             // rows a run
  int samples = 1;                 // Q samples of each row, averaged (dbn_bound_rows)
  int64_t base_rows = 5000;        // training rows whose means at the top RBM give AIS's base rates
  ExecutorOptions executor = {};   // the bound's own executor (threads, seed of the Q samples)
};

struct DbnBound {
  double nats = 0;                 // the mean bound over the rows, log Z_k subtracted
  double log_z = 0, log_z_low = 0, log_z_high = 0;  // the top RBM's, from AIS, with its interval
  double err = 0;                  // half the interval's width: the bound's error bar (inf when open below)
  // AIS's runs spread too widely for a lower end of log Z: the bound then
  // has no upper end, and AIS tends to put log Z low and the bound high.
  bool open_above() const { return !std::isfinite(log_z_low); }
};

// The bound on the mean log p(v) of the (binary) rows of `images` with
// rbms[k] on top, as a caller of dbn_bound_rows would assemble it: on a
// copy of the stack in a graph and executor of its own (Dbn::clone), so
// measuring it leaves the caller's graph and its draws as they were; log
// Z_k by AIS from the base rates of `train_images` (pixel rows, the data
// layer's) passed up through the layers below. dbn_mnist --bound prints it
// per layer.
DbnBound dbn_bound(const Dbn& dbn, int k, const DataSource& images, const DataSource& train_images,
                   const DbnBoundConfig& config = {});

}  // namespace ebm
