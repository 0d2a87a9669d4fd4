#include "models/units.hpp"

#include <cmath>
#include <iterator>
#include <limits>

#include "graph/functions.hpp"

namespace ebm {

std::string_view to_string(Unit u) {
  switch (u) {
    case Unit::binary: return "binary";
    case Unit::gaussian: return "gaussian";
    case Unit::softmax: return "softmax";
    case Unit::rectified: return "rectified";
    case Unit::count: return "count";
    case Unit::poisson: return "poisson";
  }
  return "?";
}

int64_t first_out_of_range(Unit u, std::span<const float> x) {
  switch (data_kind(u)) {
    case DataKind::real: return -1;
    case DataKind::count:  // a word count: its samples are whole, so a fraction in the data biases CD
      for (size_t k = 0; k < x.size(); ++k)
        if (x[k] < 0.0f || x[k] != std::floor(x[k])) return static_cast<int64_t>(k);
      return -1;
    case DataKind::probability:
      for (size_t k = 0; k < x.size(); ++k)
        if (x[k] < 0.0f || x[k] > 1.0f) return static_cast<int64_t>(k);
      return -1;
  }
  return -1;
}

int64_t first_non_finite(std::span<const float> x) {
  for (size_t k = 0; k < x.size(); ++k)
    if (!std::isfinite(x[k])) return static_cast<int64_t>(k);
  return -1;
}

std::string_view data_range(Unit u) {
  switch (data_kind(u)) {
    case DataKind::real: return "any value";
    case DataKind::count: return "whole counts of 0 or more";
    case DataKind::probability: return "values in [0, 1]";
  }
  return "?";
}

Unit parse_unit(std::string_view s) {
  std::string names;
  for (size_t i = 0; i < std::size(kUnits); ++i) {
    if (s == to_string(kUnits[i])) return kUnits[i];
    names += fmt::format("{}{}", i == 0 ? "" : i + 1 == std::size(kUnits) ? " or " : ", ", to_string(kUnits[i]));
  }
  throw Error("unknown unit type '{}'; expected {}", s, names);
}

namespace {
void need_trials(Unit u, Tensor x, Tensor trials, std::string_view what) {
  if (!trials.valid())
    throw Error("{} of {} units from '{}': no number of words given; {} units need each row's D (a DBN's down pass "
                "and p_v(h) without trials have none: give them the documents' lengths)",
                what, to_string(u), x.graph->label(x.id), to_string(u));
  if (trials.shape() != Shape{x.shape().rows, 1})
    throw Error("{} of {} units from '{}': trials of shape {}; expected [{}, 1]", what, to_string(u),
                x.graph->label(x.id), trials.shape(), x.shape().rows);
}
}  // namespace

Tensor unit_mean(Unit u, Tensor x, Tensor trials) {
  switch (u) {
    case Unit::binary: return sigmoid(x);
    case Unit::gaussian: return x;
    case Unit::softmax: return softmax(x);
    case Unit::rectified: return relu(x);
    case Unit::count:
    case Unit::poisson: need_trials(u, x, trials, "the mean"); return softmax(x) * trials;
  }
  throw Error("unit_mean: bad unit type");
}

Tensor unit_sample(Unit u, Tensor x, Tensor trials) {
  switch (u) {
    case Unit::count: need_trials(u, x, trials, "a sample"); return multinomial(softmax(x), trials);
    case Unit::poisson: need_trials(u, x, trials, "a sample"); return poisson(softmax(x) * trials);
    case Unit::binary: return sigmoid_bernoulli(x);
    case Unit::gaussian: return gaussian(x, 1.0f);
    case Unit::softmax: return categorical(softmax(x));
    case Unit::rectified: {
      // sqrt(sigmoid(x)) = exp(-softplus(-x) / 2)
      Tensor sd = ebm::exp(softplus(-x) * -0.5f);
      return relu(x + gaussian(x * 0.0f, 1.0f) * sd);
    }
  }
  throw Error("unit_sample: bad unit type");
}

Tensor hidden_free_energy(Unit u, Tensor x) {
  switch (u) {
    case Unit::binary: return -sum(softplus(x), 1);
    case Unit::gaussian: return sum(square(x), 1) * -0.5f;
    case Unit::softmax:  // -log sum_k exp(x_k): every entry of x - log_softmax(x) equals it
      return -mean(x - log_softmax(x), 1);
    case Unit::rectified: return sum(square(relu(x)), 1) * -0.5f;
    case Unit::count:
    case Unit::poisson:
      throw Error("{} units are visible only: they have no hidden free-energy term", to_string(u));
  }
  throw Error("hidden_free_energy: bad unit type");
}

Tensor visible_energy(Unit u, Tensor v, Tensor c) {
  switch (u) {
    case Unit::binary:
    case Unit::softmax:
    case Unit::count:
    case Unit::poisson: return -matmul(v, c, {.tb = true});  // v c' as a GEMM: its gradient c' is one too
    case Unit::gaussian:
    case Unit::rectified: return sum(square(v - c), 1) * 0.5f;
  }
  throw Error("visible_energy: bad unit type");
}

}  // namespace ebm
