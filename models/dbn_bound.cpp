#include "models/dbn_bound.hpp"

#include <cmath>
#include <limits>

#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "models/data_source.hpp"
#include "models/exact.hpp"
#include "ops/scalar_math.hpp"

namespace ebm {
namespace {

// log prod_i Bernoulli(x_i; sigmoid(a_i)) = -sum_i (softplus(a_i) - x_i a_i)
double log_bernoulli(std::span<const double> a, const float* x) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s -= softplus(a[i]) - x[i] * a[i];
  return s;
}

// a = x W + bias (x a row of n, W [n, m]) or, transposed, a = W x + bias (x a row of m)
std::vector<double> affine(std::span<const float> w, std::span<const float> bias, const float* x, int64_t n, int64_t m,
                           bool transposed) {
  std::vector<double> a(bias.begin(), bias.end());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) {
      const double wij = w[static_cast<size_t>(i * m + j)];
      if (transposed) a[static_cast<size_t>(i)] += wij * x[j];
      else a[static_cast<size_t>(j)] += wij * x[i];
    }
  return a;
}

}  // namespace

std::vector<DbnExact> dbn_exact(const Dbn& dbn, std::span<const float> v) {
  if (dbn.depth() != 2) throw Error("dbn_exact '{}': needs exactly two RBMs, has {}", dbn.name, dbn.depth());
  const Rbm &r0 = dbn.rbms[0], &r1 = dbn.rbms[1];
  const Graph& g = *dbn.graph;
  const int64_t nv = r0.config.visible, nh = r0.config.hidden;
  if (nh > 20) throw Error("dbn_exact '{}': {} first-layer hidden units; expected at most 20", dbn.name, nh);
  for (const Rbm* r : {&r0, &r1})  // log p(v | h) and the sums over h are those of binary units
    if (r->config.visible_unit != Unit::binary || r->config.hidden_unit != Unit::binary)
      throw Error("dbn_exact '{}': {} visible and {} hidden units in '{}'; expected binary units (the exact sums are "
                  "written for them)",
                  dbn.name, to_string(r->config.visible_unit), to_string(r->config.hidden_unit), r->name);
  if (v.size() % static_cast<size_t>(nv) != 0)
    throw Error("dbn_exact '{}': {} values; expected whole rows of {} visible units", dbn.name, v.size(), nv);
  // log p(v) of binary vectors: a grey value, 2 or NaN would give a number that means nothing
  for (size_t j = 0; j < v.size(); ++j)
    if (v[j] != 0.0f && v[j] != 1.0f)
      throw Error("dbn_exact '{}': row {} holds {} at column {}; expected binary data, 0 or 1 (binarize the images: "
                  "Pixels::threshold or sampled)",
                  dbn.name, j / static_cast<size_t>(nv), v[j], j % static_cast<size_t>(nv));
  std::vector<float> states;  // every h1 configuration
  for (int64_t s = 0; s < (int64_t{1} << nh); ++s)
    for (int64_t j = 0; j < nh; ++j) states.push_back(static_cast<float>(s >> j & 1));
  const double log_z1 = exact_log_z(r1);
  const std::vector<double> f1 = free_energy_exact(r1, states);
  std::vector<DbnExact> out;
  for (size_t row = 0; row < v.size() / static_cast<size_t>(nv); ++row) {
    const float* x = v.data() + row * static_cast<size_t>(nv);
    const auto q = affine(g.value(r0.w), g.value(r0.b), x, nv, nh, false);
    double mx = -std::numeric_limits<double>::infinity(), sum = 0, bound = 0;
    std::vector<double> joint(states.size() / static_cast<size_t>(nh));
    for (size_t s = 0; s < joint.size(); ++s) {
      const float* h = states.data() + s * static_cast<size_t>(nh);
      const auto a = affine(g.value(r0.w), g.value(r0.c), h, nv, nh, true);
      joint[s] = log_bernoulli(a, x) - f1[s] - log_z1;  // log p(v | h) + log p_1(h)
      const double log_q = log_bernoulli(q, h);
      bound += std::exp(log_q) * (joint[s] - log_q);
      mx = std::max(mx, joint[s]);
    }
    for (double j : joint) sum += std::exp(j - mx);
    out.push_back({mx + std::log(sum), bound});
  }
  return out;
}

std::vector<double> dbn_bound_rows(const Dbn& dbn, int k, Executor& ex, const DataSource& data, int64_t batch,
                                   int samples) {
  if (k < 0 || k >= dbn.depth()) throw Error("dbn bound '{}': no RBM {} (depth {})", dbn.name, k, dbn.depth());
  if (samples < 1) throw Error("dbn bound '{}': {} samples a row; expected at least 1", dbn.name, samples);
  for (const Rbm& r : dbn.rbms)  // the bound's terms are those of binary units
    if (r.config.visible_unit != Unit::binary || r.config.hidden_unit != Unit::binary)
      throw Error("dbn bound '{}': {} visible and {} hidden units in '{}'; expected binary units (the bound is "
                  "written for them)",
                  dbn.name, to_string(r.config.visible_unit), to_string(r.config.hidden_unit), r.name);
  if (data.dim != dbn.rbms.front().config.visible)
    throw Error("dbn bound '{}': data rows of {} values; expected {}, the DBN's visible units", dbn.name, data.dim,
                dbn.rbms.front().config.visible);
  if (batch < 1) throw Error("dbn bound '{}': batch {}; expected at least 1 row", dbn.name, batch);
  for (int l = 0; l <= k; ++l)  // a NaN weight would give NaN rows, not a bound
    check_finite_params(dbn.rbms[static_cast<size_t>(l)], fmt::format("dbn bound '{}': RBM", dbn.name));
  Graph& g = *dbn.graph;
  const Tensor x = g.input(fmt::format("{}.bound{}.in", dbn.name, k), {batch, data.dim});
  Tensor h = x, total;
  for (int l = 0; l < k; ++l) {  // one sample down the recognition path, scoring each layer
    const Rbm& r = dbn.rbms[static_cast<size_t>(l)];
    const Tensor q = r.hidden_input(h);
    const Tensor next = sigmoid_bernoulli(q);
    const Tensor a = r.visible_input(next);
    const Tensor log_p = -sum(softplus(a) - h * a, 1);            // log p(h_l | h_{l+1})
    const Tensor entropy = sum(softplus(q) - sigmoid(q) * q, 1);  // H(Q(h_{l+1} | h_l))
    total = total.valid() ? total + log_p + entropy : log_p + entropy;
    h = next;
  }
  const Tensor top = -dbn.rbms[static_cast<size_t>(k)].free_energy(h);
  total = total.valid() ? total + top : top;
  std::vector<double> out(static_cast<size_t>(data.count), 0.0);
  std::vector<float> buf(static_cast<size_t>(batch * data.dim));
  std::vector<int64_t> idx;
  for (int s = 0; s < samples; ++s)
    for (int64_t first = 0; first < data.count; first += batch) {
      padded_rows(first, batch, data.count, idx);
      data.fill(idx, buf, 0);
      if (s == 0)  // a bound on log p(v) of binary vectors: grey values would give a number that means nothing
        for (size_t j = 0; j < buf.size(); ++j)
          if (buf[j] != 0.0f && buf[j] != 1.0f)
            throw Error("dbn bound '{}': data row {} holds {} at column {}; expected binary data, 0 or 1 (binarize "
                        "the images: Pixels::threshold or sampled)",
                        dbn.name, idx[j / static_cast<size_t>(data.dim)], buf[j], j % static_cast<size_t>(data.dim));
      ex.run({total}, {{x, buf}});
      const auto t = ex.value(total);
      for (int64_t i = 0; i < batch && first + i < data.count; ++i)
        out[static_cast<size_t>(first + i)] += t[static_cast<size_t>(i)] / samples;
    }
  return out;
}

DbnBound dbn_bound(const Dbn& dbn, int k, const DataSource& images, const DataSource& train_images,
                   const DbnBoundConfig& cfg) {
  if (k < 0 || k >= dbn.depth()) throw Error("dbn bound '{}': no RBM {} (depth {})", dbn.name, k, dbn.depth());
  if (cfg.base_rows < 1 || train_images.count < 1)
    throw Error("dbn bound '{}': base rates from {} of {} training rows; expected at least one", dbn.name,
                cfg.base_rows, train_images.count);
  for (int l = 0; l <= k; ++l)  // named here, before a NaN reaches AIS's base rates
    check_finite_params(dbn.rbms[static_cast<size_t>(l)], fmt::format("dbn bound '{}': RBM", dbn.name));
  // A copy of the stack in a graph of its own, run on an executor of its
  // own: the caller's draws are keyed by node and step, so nodes added to
  // its graph or steps taken on its executor would change its training.
  Graph scratch;
  const Dbn copy = dbn.clone(scratch);
  ExecutorOptions eo = cfg.executor;
  eo.profile = false;
  Executor own(scratch, eo);
  // AIS's base rates: the top RBM's visible means over training rows passed up to it.
  const DataSource top_rows = layer_source(copy, k, own, train_images, cfg.batch);
  const std::vector<float> base = base_rate_bias(source_means(top_rows, cfg.base_rows, cfg.batch));
  const AisResult z = ais_log_z(copy.rbms[static_cast<size_t>(k)], base, cfg.ais);
  DbnBound out{.log_z = z.log_z, .log_z_low = z.log_z_low, .log_z_high = z.log_z_high,
               .err = (z.log_z_high - z.log_z_low) / 2};
  for (double b : dbn_bound_rows(copy, k, own, images, cfg.batch, cfg.samples))
    out.nats += b / static_cast<double>(images.count);
  out.nats -= z.log_z;
  return out;
}

}  // namespace ebm
