#pragma once
// Unit types of an RBM layer, as runtime choices. Each supplies, from a
// unit's total input x (bias plus weighted input from the other layer):
//
//   type       mean E[u|x]       sample                        hidden free-energy term f(x)
//   binary     sigmoid(x)        Bernoulli(sigmoid(x))         -softplus(x)
//   gaussian   x                 x + N(0, 1)                   -x^2 / 2
//   softmax    softmax(x) (row)  one-hot draw (one group/row)  -log sum_k exp(x_k)
//   rectified  max(0, x)         max(0, x + N(0, sigmoid(x)))  -max(0, x)^2 / 2
//
// f is -log of the integral (or sum) of exp(x u) over the unit's states, so
// F(v) = E_visible(v) + sum_j f(x_j) and E[h|v] = -df/dx. For rectified units
// (Nair & Hinton's noisy ReLU) f is chosen so that -df/dx is their mean
// max(0, x); the sampler is theirs.
// The visible energy term of a layer with bias c:
//   binary, softmax: -c.v        gaussian, rectified: |v - c|^2 / 2   (unit variance)

#include <string>
#include <string_view>

#include "graph/graph.hpp"

namespace ebm {

enum class Unit { binary, gaussian, softmax, rectified };

std::string_view to_string(Unit u);
// Parses "binary", "gaussian", "softmax" or "rectified"; an ebm::Error lists them otherwise.
Unit parse_unit(std::string_view s);

Tensor unit_mean(Unit u, Tensor x);
Tensor unit_sample(Unit u, Tensor x);
// sum over the row of f(x_j): [B, n] -> [B, 1]
Tensor hidden_free_energy(Unit u, Tensor x);
// E_visible(v) per row: [B, n] -> [B, 1]
Tensor visible_energy(Unit u, Tensor v, Tensor c);

}  // namespace ebm
