#pragma once
// Unit types of an RBM layer, as runtime choices. Each supplies, from a
// unit's total input x (bias plus weighted input from the other layer):
//
//   type       mean E[u|x] (*)   sample                        hidden free-energy term f(x)
//   binary     sigmoid(x)        Bernoulli(sigmoid(x))         -softplus(x)
//   gaussian   x                 x + N(0, 1)                   -x^2 / 2
//   softmax    softmax(x) (row)  one-hot draw (one group/row)  -log sum_k exp(x_k)
//   rectified  max(0, x)         max(0, x + N(0, sigmoid(x)))  -max(0, x)^2 / 2
//   count      D softmax(x)      D draws from softmax(x)       (visible only)
//   poisson    D softmax(x)      Poisson(D softmax(x)) each    (visible only)
//
// f is -log of the integral (or sum) of exp(x u) over the unit's states, so
// F(v) = E_visible(v) + sum_j f(x_j) and E[h|v] = -df/dx.
// (*) For rectified units (Nair & Hinton's noisy ReLU) max(0, x) is not the
// sampler's mean but Nair & Hinton's approximation of it: the mean of
// max(0, x + N(0, sigmoid(x))) is larger (about 0.28 at x = 0, where max(0, x) is
// 0; the gap shrinks as |x| grows). f is chosen so that -df/dx is that
// approximation, max(0, x); the sampler is theirs.
// The visible energy term of a layer with bias c:
//   binary, softmax, count, poisson: -c.v    gaussian, rectified: |v - c|^2 / 2   (unit variance)
//
// Count units are the replicated softmax of Salakhutdinov & Hinton (2009),
// for bags of words: the visible layer holds a document's word counts v_i,
// D = sum_i v_i of them, as D draws from one softmax over the vocabulary
// that share their weights. The model is conditional on D: the hidden biases
// are scaled by it (the RBM's hidden input is v W + D b), and the visible
// conditional draws D words, so the mean and the sampler take D as
// `trials` ([rows, 1]). The energy is that of one ordering of the words;
// the probability of the counts adds log(D! / prod_i v_i!).
//
// Poisson units are the constrained Poisson model of Salakhutdinov & Hinton
// (semantic hashing, 2009), the first layer of their document models: word
// i's count is drawn from Poisson(D softmax_i(x)), each word on its own, so
// the rates sum to the document's length D (the mean and the sampler take D
// as `trials`, as for count units), but the hidden input is v W + b, not
// scaled by D. The counts of a draw sum to D only on average, so these
// conditionals belong to no joint distribution: there is no log Z to compute
// (exact or by AIS). The free energy is the Poisson RBM's, -c.v - sum_j
// f(x_j), without its sum of log v_i!, which no parameter touches; CD's
// gradient of it is the paper's update.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "graph/graph.hpp"

namespace ebm {

// A new type goes into kUnits too, and the compiler (-Wswitch, no default
// branches) names every place that must say what it does.
enum class Unit { binary, gaussian, softmax, rectified, count, poisson };
inline constexpr Unit kUnits[] = {Unit::binary,    Unit::gaussian, Unit::softmax,
                                  Unit::rectified, Unit::count,    Unit::poisson};

// What a unit type takes as data: a probability or a state in [0, 1]
// (binary, softmax), any real value (gaussian, rectified), or a whole word
// count (count, poisson).
enum class DataKind { probability, real, count };
constexpr DataKind data_kind(Unit u) {
  switch (u) {
    case Unit::binary:
    case Unit::softmax: return DataKind::probability;
    case Unit::gaussian:
    case Unit::rectified: return DataKind::real;
    case Unit::count:
    case Unit::poisson: return DataKind::count;
  }
  return DataKind::real;  // (not reached: the switch names every type)
}

std::string_view to_string(Unit u);
// Parses "binary", "gaussian", "softmax", "rectified", "count" or "poisson"; an ebm::Error lists them otherwise.
Unit parse_unit(std::string_view s);

// Units over a document's word counts (count and poisson): visible only, and
// their mean and sampler need each row's number of words.
constexpr bool counts_words(Unit u) { return data_kind(u) == DataKind::count; }

// `trials` (the row's number of draws or words, [rows, 1]) is for count and
// poisson units only, which need it; the others ignore it.
Tensor unit_mean(Unit u, Tensor x, Tensor trials = {});
Tensor unit_sample(Unit u, Tensor x, Tensor trials = {});
// sum over the row of f(x_j): [B, n] -> [B, 1] (not for count or poisson units)
Tensor hidden_free_energy(Unit u, Tensor x);
// E_visible(v) per row: [B, n] -> [B, 1]
Tensor visible_energy(Unit u, Tensor v, Tensor c);

// The index of the first of `x`'s values that units of type `u` cannot
// take as data, or -1: outside [0, 1] for binary and softmax units (a
// probability or a state), below 0 or not whole for count and poisson
// units (their samples are whole counts); gaussian
// and rectified units take any value here. NaN passes (first_non_finite
// finds it).
int64_t first_out_of_range(Unit u, std::span<const float> x);
// What units of type `u` take as data, for messages ("values in [0, 1]").
std::string_view data_range(Unit u);
// The index of x's first NaN or infinity, or -1.
int64_t first_non_finite(std::span<const float> x);
// Throws "<who>: <set> row R holds X at column C; expected finite data"
// ("<who>: row R ..." with no set) when x (rows of dim values; row_of(i) is
// the i-th row's number in its source) holds a NaN or an infinity.
template <class RowOf>
void check_finite_rows(std::span<const float> x, int64_t dim, std::string_view who, std::string_view set,
                       RowOf row_of) {
  if (const int64_t k = first_non_finite(x); k >= 0)
    throw Error("{}: {}{}row {} holds {} at column {}; expected finite data", who, set, set.empty() ? "" : " ",
                row_of(k / dim), x[static_cast<size_t>(k)], k % dim);
}
// check_finite_rows, then "...; expected <data_range> for <flag> <unit>"
// when x holds a value units of type u cannot take.
template <class RowOf>
void check_data_rows(Unit u, std::span<const float> x, int64_t dim, std::string_view who, std::string_view set,
                     std::string_view flag, RowOf row_of) {
  check_finite_rows(x, dim, who, set, row_of);
  if (const int64_t k = first_out_of_range(u, x); k >= 0)
    throw Error("{}: {} row {} holds {} at column {}; expected {} for {} {}", who, set, row_of(k / dim),
                x[static_cast<size_t>(k)], k % dim, data_range(u), flag, to_string(u));
}

}  // namespace ebm
