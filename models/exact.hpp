#pragma once
// Exact partition functions of small RBMs, by enumerating the smaller layer
// in double precision (Gray-code order: each configuration updates the other
// layer's m inputs for the one unit that flips, then sums m terms). The cost
// is about 2^n x m for n enumerated units: 20 hidden units of a 784-pixel
// RBM took 15 s, so 25 take minutes (about 8) and each further unit doubles
// the time. At most 32 enumerated units (an ebm::Error beyond).
//
// Enumerating binary hidden h (binary or gaussian visible units):
//   binary visible:    log Z = lse_h [ b.h + sum_i softplus(c_i + (W h)_i) ]
//   gaussian visible:  log Z = lse_h [ b.h + |c + W h|^2/2 - |c|^2/2 ] + (V/2) log 2 pi
// Enumerating binary visible v (binary, gaussian or softmax hidden units):
//   log Z = lse_v [ c.v - sum_j f(b_j + (v W)_j) ]   (f from models/units.hpp)
// Z is always the normaliser of exp(-F(v)) with F exactly as Rbm::free_energy
// computes it, so log p(v) = -F(v) - log Z.

#include <span>
#include <vector>

#include "models/rbm.hpp"

namespace ebm {

double exact_log_z(const Rbm& rbm);

// Count visible units (a replicated softmax, models/units.hpp) with binary
// hidden units: the model is conditional on the number of words D, and
//   log Z_D = lse_h [ D b.h + D log sum_i exp(c_i + (W h)_i) ]
// normalises exp(-F(v)) over the ordered sequences of D words, so
//   log p(counts | D) = -F(v) - log Z_D + log(D! / prod_i v_i!).
double exact_log_z(const Rbm& rbm, int64_t words);

// F(v) for each row of v ([rows, visible], row-major), in double.
std::vector<double> free_energy_exact(const Rbm& rbm, std::span<const float> v);

}  // namespace ebm
