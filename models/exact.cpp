#include "models/exact.hpp"
#include "ops/scalar_math.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>

#include <tbb/parallel_for.h>

namespace ebm {
namespace {

// Running log-sum-exp.
struct Lse {
  double m = -std::numeric_limits<double>::infinity(), s = 0.0;
  void add(double x) {
    if (x <= m) {
      s += std::exp(x - m);
    } else {
      s = s * std::exp(m - x) + 1.0;
      m = x;
    }
  }
  void merge(const Lse& o) {
    if (o.s > 0) add(o.m + std::log(o.s));
  }
  double value() const { return m + std::log(s); }
};

// The parameters in double, with W viewed from the enumerated side:
// rows = enumerated units (n), cols = the other side (m). a = the
// enumerated side's bias, d = the other side's bias.
struct View {
  int64_t n = 0, m = 0;
  std::vector<double> w, a, d;
};

View make_view(const Rbm& r, bool enumerate_hidden) {
  const Graph& g = *r.graph;
  auto w = g.value(r.w), b = g.value(r.b), c = g.value(r.c);
  const int64_t nv = r.config.visible, nh = r.config.hidden;
  View v;
  v.n = enumerate_hidden ? nh : nv;
  v.m = enumerate_hidden ? nv : nh;
  v.w.resize(static_cast<size_t>(v.n * v.m));
  for (int64_t i = 0; i < nv; ++i)
    for (int64_t j = 0; j < nh; ++j)
      v.w[static_cast<size_t>(enumerate_hidden ? j * nv + i : i * nh + j)] = w[static_cast<size_t>(i * nh + j)];
  v.a.assign((enumerate_hidden ? b : c).begin(), (enumerate_hidden ? b : c).end());
  v.d.assign((enumerate_hidden ? c : b).begin(), (enumerate_hidden ? c : b).end());
  return v;
}

// The log-weight of one enumerated configuration, given the other side's total input x.
using Term = double (*)(std::span<const double> x, std::span<const double> d);

double binary_other(std::span<const double> x, std::span<const double>) {
  double s = 0;
  for (double xi : x) s += softplus(xi);
  return s;
}
double gaussian_visible_other(std::span<const double> x, std::span<const double> c) {
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += 0.5 * (x[i] * x[i] - c[i] * c[i]);
  return s;
}
double gaussian_hidden_other(std::span<const double> x, std::span<const double>) {
  double s = 0;
  for (double xi : x) s += 0.5 * xi * xi;
  return s;
}
double softmax_hidden_other(std::span<const double> x, std::span<const double>) {
  Lse l;
  for (double xi : x) l.add(xi);
  return l.value();
}

template <typename Fn>
double enumerate(const View& v, Fn term) {
  const int64_t split = std::min<int64_t>(v.n, 6), low = v.n - split;
  std::vector<Lse> parts(size_t{1} << split);
  tbb::parallel_for(size_t{0}, parts.size(), [&](size_t hi) {
    std::vector<double> x(v.d), state(static_cast<size_t>(v.n), 0.0);
    double lin = 0.0;
    auto flip = [&](int64_t u) {
      const double s = state[static_cast<size_t>(u)] == 0.0 ? 1.0 : -1.0;
      state[static_cast<size_t>(u)] += s;
      lin += s * v.a[static_cast<size_t>(u)];
      for (int64_t k = 0; k < v.m; ++k) x[static_cast<size_t>(k)] += s * v.w[static_cast<size_t>(u * v.m + k)];
    };
    for (int64_t u = 0; u < split; ++u)
      if (hi >> u & 1) flip(low + u);
    for (uint64_t i = 0; i < (uint64_t{1} << low); ++i) {
      if (i) flip(std::countr_zero(i));  // Gray code: bit i's lowest set bit flips
      parts[hi].add(lin + term(x, v.d));
    }
  });
  Lse total;
  for (const Lse& p : parts) total.merge(p);
  return total.value();
}

}  // namespace

double exact_log_z(const Rbm& r) {
  check_finite_params(r, "exact_log_z");
  const Unit vu = r.config.visible_unit, hu = r.config.hidden_unit;
  const int64_t nv = r.config.visible, nh = r.config.hidden;
  const double half_log_2pi = 0.5 * std::log(2.0 * std::numbers::pi);
  const bool hidden_ok = hu == Unit::binary && (vu == Unit::binary || vu == Unit::gaussian);
  const bool visible_ok = vu == Unit::binary && hu != Unit::rectified;
  if (vu == Unit::count)
    throw Error("exact_log_z '{}': count visible units are conditional on the number of words; call "
                "exact_log_z(rbm, words)", r.name);
  if (vu == Unit::poisson)
    throw Error("exact_log_z '{}': poisson visible units (the constrained Poisson model) belong to no joint "
                "distribution, so there is no log Z; count units (the replicated softmax) have one per length",
                r.name);
  const bool by_hidden = hidden_ok && (!visible_ok || nh <= nv);
  if (!(by_hidden ? hidden_ok : visible_ok))
    throw Error("exact_log_z '{}': no exact form for {} visible and {} hidden units", r.name, to_string(vu),
                to_string(hu));
  const int64_t n = by_hidden ? nh : nv;
  if (n > 32) throw Error("exact_log_z '{}': enumerating {} units is too many; expected at most 32", r.name, n);
  const View v = make_view(r, by_hidden);
  if (by_hidden)
    return vu == Unit::binary ? enumerate(v, binary_other)
                              : enumerate(v, gaussian_visible_other) + static_cast<double>(nv) * half_log_2pi;
  switch (hu) {  // the hidden layer summed out in closed form
    case Unit::binary: return enumerate(v, binary_other);
    case Unit::gaussian: return enumerate(v, gaussian_hidden_other);
    case Unit::softmax: return enumerate(v, softmax_hidden_other);
    case Unit::rectified:
    case Unit::count:
    case Unit::poisson: break;
  }
  throw Error("exact_log_z '{}': no exact form for {} visible and {} hidden units", r.name, to_string(vu),
              to_string(hu));
}

double exact_log_z(const Rbm& r, int64_t words) {
  check_finite_params(r, "exact_log_z");
  if (r.config.visible_unit != Unit::count)
    throw Error("exact_log_z '{}': a number of words is for count visible units; these are {}", r.name,
                to_string(r.config.visible_unit));
  if (r.config.hidden_unit != Unit::binary)
    throw Error("exact_log_z '{}': no exact form for count visible and {} hidden units", r.name,
                to_string(r.config.hidden_unit));
  if (words < 0) throw Error("exact_log_z '{}': {} words; expected a count of at least 0", r.name, words);
  const int64_t nh = r.config.hidden;
  if (nh > 32) throw Error("exact_log_z '{}': enumerating {} units is too many; expected at most 32", r.name, nh);
  View v = make_view(r, true);
  const auto d = static_cast<double>(words);
  for (double& a : v.a) a *= d;  // the hidden biases count once per word
  return enumerate(v, [d](std::span<const double> x, std::span<const double> c) {
    return d * softmax_hidden_other(x, c);  // each word: log sum_i exp(c_i + (W h)_i)
  });
}

std::vector<double> free_energy_exact(const Rbm& r, std::span<const float> vis) {
  const Graph& g = *r.graph;
  auto w = g.value(r.w), b = g.value(r.b), c = g.value(r.c);
  const int64_t nv = r.config.visible, nh = r.config.hidden;
  if (static_cast<int64_t>(vis.size()) % nv != 0)
    throw Error("free_energy_exact '{}': {} values is not a whole number of rows of {}", r.name, vis.size(), nv);
  std::vector<double> out;
  for (size_t row = 0; row < vis.size() / static_cast<size_t>(nv); ++row) {
    const float* v = vis.data() + row * static_cast<size_t>(nv);
    double e = 0;
    // visible_energy (models/units.hpp): |v - c|^2 / 2 for gaussian and rectified units, -c.v for the others
    const bool quadratic = data_kind(r.config.visible_unit) == DataKind::real;
    for (int64_t i = 0; i < nv; ++i)
      e += quadratic ? 0.5 * (double(v[i]) - c[i]) * (double(v[i]) - c[i]) : -double(c[i]) * v[i];
    double words = 1;  // count units: the hidden biases count once per word
    if (r.config.visible_unit == Unit::count) words = std::accumulate(v, v + nv, 0.0);
    std::vector<double> x(b.begin(), b.end());
    for (double& xj : x) xj *= words;
    for (int64_t i = 0; i < nv; ++i)
      for (int64_t j = 0; j < nh; ++j) x[static_cast<size_t>(j)] += double(v[i]) * w[static_cast<size_t>(i * nh + j)];
    switch (r.config.hidden_unit) {
      case Unit::binary: e -= binary_other(x, {}); break;
      case Unit::gaussian: e -= gaussian_hidden_other(x, {}); break;
      case Unit::softmax: e -= softmax_hidden_other(x, {}); break;
      case Unit::count:
      case Unit::poisson:
        throw Error("free_energy_exact '{}': {} hidden units do not exist", r.name, to_string(r.config.hidden_unit));
      case Unit::rectified:
        for (double xi : x) e -= 0.5 * std::max(xi, 0.0) * std::max(xi, 0.0);
        break;
    }
    out.push_back(e);
  }
  return out;
}

}  // namespace ebm
