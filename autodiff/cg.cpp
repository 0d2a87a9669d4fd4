#include "autodiff/cg.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "graph/executor.hpp"
#include "ops/error.hpp"

namespace ebm {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double dot(std::span<const float> a, std::span<const float> b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double{a[i]} * double{b[i]};
  return s;
}

// A point on the line x0 + a s: its step, value and slope (f' along s).
struct Point {
  double a = 0, f = 0, d = 0;
};

// The minimiser of the cubic through p and q (values and slopes), or NaN
// when the cubic has none.
double cubic_min(const Point& p, const Point& q) {
  const double d1 = p.d + q.d - 3 * (p.f - q.f) / (p.a - q.a);
  const double disc = d1 * d1 - p.d * q.d;
  if (!(disc >= 0)) return kNaN;
  const double d2 = std::copysign(std::sqrt(disc), q.a - p.a);
  return q.a - (q.a - p.a) * (q.d + d2 - d1) / (q.d - p.d + 2 * d2);
}

}  // namespace

void check_cg_options(const CgOptions& o) {
  if (o.line_searches < 1 || o.max_evals < 1)
    throw Error("conjugate gradients: line_searches = {} and max_evals = {}; expected both at least 1",
                o.line_searches, o.max_evals);
  if (!(o.c1 > 0 && o.c1 < o.c2 && o.c2 < 1))
    throw Error("conjugate gradients: c1 = {} and c2 = {}; expected 0 < c1 < c2 < 1", o.c1, o.c2);
  if (!(o.max_growth > 1 && std::isfinite(o.max_growth)))
    throw Error("conjugate gradients: max_growth = {}; expected a finite factor over 1", o.max_growth);
}

CgReport minimize_cg(std::span<float> x, const CgObjective& f, const CgOptions& o, CgState* state) {
  check_cg_options(o);
  const size_t n = x.size();
  std::vector<float> x0(x.begin(), x.end()), g0(n), g(n), s(n), g_lo(n);
  CgReport r;
  auto eval = [&](std::span<float> grad) {
    ++r.evaluations;
    try {
      return f(x, grad);
    } catch (...) {  // x back at the best point so far
      std::copy(x0.begin(), x0.end(), x.begin());
      throw;
    }
  };
  double f0 = eval(g0);
  if (!std::isfinite(f0) || !std::isfinite(dot(g0, g0)))
    throw Error("conjugate gradients: the objective is {} at the start, its gradient's squared norm {}; expected "
                "finite values",
                f0, dot(g0, g0));
  r.f_start = r.f_end = r.f_before_last = f0;
  std::transform(g0.begin(), g0.end(), s.begin(), [](float v) { return -v; });
  double d0 = -dot(g0, g0);
  CgState local;
  CgState& st = state ? *state : local;
  int failed_in_row = 0;
  for (int k = 0; k < o.line_searches && d0 < 0; ++k) {
    const double f_start = f0, d_start = d0;
    r.f_before_last = f0;
    auto sufficient = [&](const Point& p) { return p.f <= f_start + o.c1 * p.a * d_start; };
    auto curvature = [&](const Point& p) { return std::abs(p.d) <= -o.c2 * d_start; };
    auto try_at = [&](double a) {
      for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(double{x0[i]} + a * double{s[i]});
      const double fa = eval(g), da = dot(g, s);
      return std::isfinite(fa) && std::isfinite(da) ? Point{a, fa, da} : Point{a, kInf, kNaN};
    };
    // The first trial: the last search's expected decrease, or a move of
    // |g| / (1 + |g|) along -g when there is none.
    double a = st.step > 0 && st.slope < 0 ? st.step * std::min(o.max_growth, st.slope / d0)
                                           : 1.0 / (1.0 + std::sqrt(-d0));
    Point lo{0, f0, d0}, hi, prev = lo, cur;
    bool bracketed = false, accepted = false;
    for (int e = 0; e < o.max_evals && !accepted; ++e) {
      cur = try_at(a);
      if (!bracketed) {
        if (!sufficient(cur) || (prev.a > 0 && cur.f >= prev.f)) {
          bracketed = true, lo = prev, hi = cur;
        } else if (curvature(cur)) {
          accepted = true;
          break;
        } else if (cur.d >= 0) {  // past the minimum, and lower: it becomes the low end
          bracketed = true, hi = prev, lo = cur;
          g_lo = g;
        } else {  // still going down: step further, at most max_growth times
          const double next = cubic_min(prev, cur);
          const double low = cur.a + 0.1 * (cur.a - prev.a), high = o.max_growth * cur.a;
          a = std::isfinite(next) && next > low ? std::min(next, high) : high;
          prev = lo = cur;
          g_lo = g;
          continue;
        }
      } else {
        if (!sufficient(cur) || cur.f >= lo.f) {
          hi = cur;
        } else {
          if (curvature(cur)) {
            accepted = true;
            break;
          }
          if (cur.d * (hi.a - lo.a) >= 0) hi = lo;
          lo = cur;
          g_lo = g;
        }
      }
      // The next trial inside the bracket: the cubic's minimum kept in its
      // middle 80%, the midpoint when the cubic has none.
      const double left = std::min(lo.a, hi.a), width = std::abs(hi.a - lo.a);
      const double next = cubic_min(lo, hi);
      a = std::isfinite(next) ? std::clamp(next, left + 0.1 * width, left + 0.9 * width) : left + 0.5 * width;
    }
    if (!accepted && lo.a > 0) {  // out of evaluations: the lowest point that decreased enough
      cur = lo;
      for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(double{x0[i]} + lo.a * double{s[i]});
      g = g_lo;
      accepted = true;
    }
    if (!accepted) {  // no lower point on this line: back to x0, steepest descent, a fresh first step
      std::copy(x0.begin(), x0.end(), x.begin());
      ++r.failures;
      const bool fresh = st.step <= 0;
      st = {};
      // A second try is steepest descent from the default first step: the
      // same trials again when this one was already that.
      if (++failed_in_row == 2 || (fresh && d_start == -dot(g0, g0))) break;
      std::transform(g0.begin(), g0.end(), s.begin(), [](float v) { return -v; });
      d0 = -dot(g0, g0);
      continue;
    }
    failed_in_row = 0;
    ++r.line_searches;
    st.step = cur.a;
    st.slope = d_start;
    // Polak-Ribiere, clipped at zero; steepest descent when not downhill.
    const double beta = std::max(0.0, (dot(g, g) - dot(g, g0)) / dot(g0, g0));
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<float>(-double{g[i]} + beta * double{s[i]});
    std::copy(x.begin(), x.end(), x0.begin());
    g0.swap(g);
    f0 = cur.f;
    r.f_end = f0;
    d0 = dot(g0, s);
    if (!(d0 < 0)) {
      std::transform(g0.begin(), g0.end(), s.begin(), [](float v) { return -v; });
      d0 = -dot(g0, g0);
    }
  }
  std::copy(x0.begin(), x0.end(), x.begin());
  return r;
}

GraphCgResult minimize_cg(Executor& ex, Tensor loss, std::span<const Tensor> params, std::span<const Tensor> grads,
                          std::span<const Feed> feeds, const CgOptions& options, CgState* state,
                          const GraphCgOptions& go) {
  Graph& g = *loss.graph;
  std::vector<Tensor> targets{loss};
  targets.insert(targets.end(), grads.begin(), grads.end());
  std::vector<float> flat;
  for (Tensor p : params) flat.insert(flat.end(), g.value(p).begin(), g.value(p).end());
  auto scatter = [&](std::span<const float> v) {
    size_t at = 0;
    for (Tensor p : params) {
      const std::span<float> dst = g.value(p);
      std::copy_n(v.begin() + static_cast<std::ptrdiff_t>(at), dst.size(), dst.begin());
      at += dst.size();
    }
  };
  GraphCgResult out;
  bool first = true;
  const CgObjective objective = [&](std::span<const float> at, std::span<float> grad) {
    scatter(at);
    if (go.before_run) go.before_run();
    try {
      ex.run(targets, feeds);
    } catch (const Error&) {
      if (first || !go.failed_run_is_nan) throw;
      return kNaN;
    }
    const double value = ex.scalar(loss);
    if (first) out.first_loss = value;
    first = false;
    size_t k = 0;
    for (Tensor t : grads)
      for (float v : ex.value(t)) grad[k++] = v;
    double f = value;
    if (go.weight_decay > 0) {
      double norm = 0;
      for (size_t j = 0; j < at.size(); ++j) {
        norm += double{at[j]} * at[j];
        grad[j] += static_cast<float>(go.weight_decay) * at[j];
      }
      f += 0.5 * go.weight_decay * norm;
    }
    return f;
  };
  try {
    out.report = minimize_cg(flat, objective, options, state);
  } catch (...) {  // minimize_cg left the best point in flat
    scatter(flat);
    throw;
  }
  scatter(flat);
  return out;
}

}  // namespace ebm
