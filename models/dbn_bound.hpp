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

#include <span>
#include <vector>

#include "models/dbn.hpp"

namespace ebm {

class Executor;

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

}  // namespace ebm
