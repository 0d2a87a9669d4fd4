#pragma once
// The safe transcendental forms in double, for code that computes outside
// the graph (exact log Z, AIS, the DBN bound, monitors, the GP's Laplace
// steps): finite for every finite x, as the ops' float kernels are.

#include <algorithm>
#include <cmath>

namespace ebm {

// log(1 + e^x), without overflow for large x or loss for very negative x.
inline double softplus(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }
// log sigmoid(x) = -softplus(-x).
inline double log_sigmoid(double x) { return -softplus(-x); }

}  // namespace ebm
