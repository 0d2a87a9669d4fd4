#include "autodiff/check_grad.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "autodiff/grad.hpp"
#include "graph/functions.hpp"

namespace ebm {

GradCheck check_grad(Tensor loss, std::span<const Tensor> wrt, std::span<const Feed> feeds, CheckGradOptions o) {
  if (!(o.eps > 0.0) || !std::isfinite(o.eps) || !(o.rtol >= 0.0) || !(o.atol >= 0.0) || !std::isfinite(o.rtol) ||
      !std::isfinite(o.atol) || o.max_entries < 1)
    throw Error("check_grad: eps {}, rtol {}, atol {}, max_entries {}; expected a finite eps > 0, finite tolerances "
                "of at least 0 and at least one entry a parameter",
                o.eps, o.rtol, o.atol, o.max_entries);
  Graph& g = graph_of(loss, "check_grad (the loss)");
  if (wrt.empty())
    throw Error("check_grad: wrt is empty, so nothing would be checked; expected at least one parameter of the loss's "
                "graph");
  for (size_t p = 0; p < wrt.size(); ++p) {  // before grad() appends anything
    const std::string what = fmt::format("check_grad (wrt[{}])", p);
    const Node& n = checked_node(wrt[p], what);
    if (wrt[p].graph != &g) throw Error("{}: '{}' belongs to another graph than the loss", what, wrt[p].graph->label(wrt[p].id));
    if (!std::holds_alternative<Param>(n.op))
      throw Error("{}: '{}' is {}; expected a parameter (its stored values are nudged and restored)", what,
                  g.label(wrt[p].id), name_with_article(n.op));
  }
  std::vector<Tensor> grads = grad(loss, wrt);
  std::vector<Tensor> targets{loss};
  targets.insert(targets.end(), grads.begin(), grads.end());
  Executor ex(g, {.seed = o.seed, .parallel = false});
  ex.run(targets, feeds);
  std::vector<std::vector<float>> analytic;
  for (Tensor d : grads) analytic.emplace_back(ex.value(d).begin(), ex.value(d).end());
  const Tensor loss_only[] = {loss};
  auto eval = [&] {
    ex.set_step(0);
    ex.run(loss_only, feeds);
    return static_cast<double>(ex.scalar(loss));
  };
  GradCheck r;
  double worst_ratio = -1.0;  // error over allowance: over 1 fails
  for (size_t p = 0; p < wrt.size(); ++p) {
    std::span<float> w = g.value(wrt[p]);
    // min(n, cap) entries, spread evenly: k n / cap for k < cap (all of them when n <= cap)
    const size_t cap = static_cast<size_t>(o.max_entries), n = w.size(), count = std::min(n, cap);
    for (size_t k = 0; k < count; ++k) {
      const size_t i = n <= cap ? k : k * n / cap;
      const float w0 = w[i];
      // The float steps actually taken: near 1e5 a float moves by 1/128, not by an eps of 0.01.
      const float hi = static_cast<float>(w0 + o.eps), lo = static_cast<float>(w0 - o.eps);
      w[i] = hi;
      const double up = eval();
      w[i] = lo;
      const double down = eval();
      w[i] = w0;
      ++r.entries;
      const double step = static_cast<double>(hi) - static_cast<double>(lo);
      const double num = step > 0 ? (up - down) / step : std::nan(""), ad = analytic[p][i];  // (no step: unmeasured)
      const double err = std::abs(num - ad), allowed = o.atol + o.rtol * std::max(std::abs(num), std::abs(ad));
      auto entry = [&] { return fmt::format("{}[{}]: autodiff {:.6g}, numeric {:.6g}", g.label(wrt[p].id), i, ad, num); };
      // a NaN or an infinity on either side fails too (inf <= atol + rtol inf would hold)
      if (!std::isfinite(num) || !std::isfinite(ad) || !(err <= allowed)) r.ok = false;
      if (std::isnan(err)) {  // no comparison with a NaN holds: keep the first such entry as both
        if (!std::isnan(r.max_abs_err)) r.max_abs_err = err, r.largest = entry(), worst_ratio = err, r.worst = entry();
        continue;
      }
      if (std::isnan(r.max_abs_err)) continue;
      if (err > r.max_abs_err || r.largest.empty()) r.max_abs_err = err, r.largest = entry();
      // an infinity on one side fails with the largest ratio (inf / inf would be NaN and never rank)
      const double ratio = !std::isfinite(num) || !std::isfinite(ad) ? HUGE_VAL
                           : allowed > 0                             ? err / allowed
                           : err > 0                                 ? HUGE_VAL
                                                                     : 0.0;
      if (ratio > worst_ratio || r.worst.empty()) worst_ratio = ratio, r.worst = entry();
    }
  }
  return r;
}

}  // namespace ebm
