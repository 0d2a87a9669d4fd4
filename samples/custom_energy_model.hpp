#pragma once
// A model the library does not ship, written from ops alone: a
// Gaussian-binary RBM whose visible variances are learned parameters
// (the parametrisation of Cho, Ilin & Raiko 2011), with s_i = sigma_i^2:
//
//   E(v, h) = sum_i (v_i - c_i)^2 / (2 s_i) - b.h - sum_ij (v_i / s_i) W_ij h_j
//   F(v)    = sum_i (v_i - c_i)^2 / (2 s_i) - sum_j softplus(b_j + sum_i (v_i / s_i) W_ij)
//   h | v   ~ Bernoulli(sigmoid(b + (v / s) W))
//   v | h   ~ N(c + W h, s)
//
// s = exp(z) + s_min keeps every variance away from zero; z is learned by
// the same CD gradient as W, b and c.

#include <string>

#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "models/energy_model.hpp"

namespace custom {

using ebm::Tensor;

struct LearnedVarianceRbm final : ebm::EnergyModel {
  Tensor w, b, c, z;
  float s_min;
  Tensor variance_, precision_, sd_;  // s, 1 / s, sqrt(s): [1, V], built once (nodes of the graph)

  LearnedVarianceRbm(ebm::Graph& g, const std::string& name, int64_t visible, int64_t hidden, uint64_t seed,
                     float s_min = 0.01f)
      : w(g.param(name + ".W", {visible, hidden})),
        b(g.param(name + ".b", {1, hidden})),
        c(g.param(name + ".c", {1, visible})),
        z(g.param(name + ".z", {1, visible})),
        s_min(s_min),
        variance_(ebm::exp(z) + s_min),
        precision_(1.0f / variance_),
        sd_(ebm::exp(ebm::log(variance_) * 0.5f)) {
    ebm::fill_normal(g.value(w), 0.01f, seed, 1);
  }

  Tensor variance() const { return variance_; }
  Tensor precision() const { return precision_; }
  Tensor stddev() const { return sd_; }
  Tensor hidden_input(Tensor v) const { return matmul(v * precision(), w) + b; }

  Tensor free_energy(Tensor v) const override {
    return sum(square(v - c) * precision(), 1) * 0.5f - sum(softplus(hidden_input(v)), 1);
  }
  Tensor energy(Tensor v, Tensor h) const {
    return sum(square(v - c) * precision(), 1) * 0.5f - sum(hidden_input(v) * h, 1);
  }
  Tensor sample_h(Tensor v) const override { return sigmoid_bernoulli(hidden_input(v)); }
  Tensor sample_v(Tensor h) const override {
    const Tensor mean = matmul(h, w, {.tb = true}) + c;
    return mean + gaussian(mean * 0.0f, 1.0f) * sd_;
  }
  std::vector<Tensor> params() const override { return {w, b, c, z}; }
};

}  // namespace custom
