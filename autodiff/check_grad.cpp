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
  double worst_excess = -1.0;
  for (size_t p = 0; p < wrt.size(); ++p) {
    std::span<float> w = g.value(wrt[p]);
    const size_t n = w.size(), stride = std::max<size_t>(1, n / static_cast<size_t>(o.max_entries));
    for (size_t i = 0; i < n; i += stride) {
      const float w0 = w[i];
      w[i] = static_cast<float>(w0 + o.eps);
      const double up = eval();
      w[i] = static_cast<float>(w0 - o.eps);
      const double down = eval();
      w[i] = w0;
      const double num = (up - down) / (2.0 * o.eps), ad = analytic[p][i];
      const double err = std::abs(num - ad), allowed = o.atol + o.rtol * std::max(std::abs(num), std::abs(ad));
      auto entry = [&] { return fmt::format("{}[{}]: autodiff {:.6g}, numeric {:.6g}", g.label(wrt[p].id), i, ad, num); };
      // a NaN or an infinity on either side fails too (inf <= atol + rtol inf would hold)
      if (!std::isfinite(num) || !std::isfinite(ad) || !(err <= allowed)) r.ok = false;
      if (std::isnan(err)) {  // no comparison with a NaN holds: keep the first such entry as both
        if (!std::isnan(r.max_abs_err)) r.max_abs_err = err, r.largest = entry(), worst_excess = err, r.worst = entry();
        continue;
      }
      if (std::isnan(r.max_abs_err)) continue;
      if (err > r.max_abs_err || r.largest.empty()) r.max_abs_err = err, r.largest = entry();
      if (err - allowed > worst_excess || r.worst.empty()) worst_excess = err - allowed, r.worst = entry();
    }
  }
  return r;
}

}  // namespace ebm
