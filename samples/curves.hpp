#pragma once
// Learning curves drawn from the samples' own CSV files (so a resumed run's
// earlier epochs are in them too): curves.svg beside the metrics.

#include <cmath>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "io/plot.hpp"
#include "samples/csv.hpp"

namespace ebm::samples {

// Column `y` against column `x` (an empty series when either is missing),
// each y divided by the same row's `per` when given; a row whose divisor is
// zero (or a rounding's worth of its y, under 1e-12 of it: a layer whose
// units are constant, its baseline 3e-15, drew a ratio of 1e11 that flattened
// every other curve) or no number is left out, and the label says so.
inline io::Series csv_series(const CsvColumns& c, const std::string& x, const std::string& y, std::string label,
                             const std::string& per = {}) {
  io::Series s{.label = std::move(label)};
  const auto xs = c.find(x), ys = c.find(y), ps = per.empty() ? c.end() : c.find(per);
  if (xs == c.end() || ys == c.end() || (!per.empty() && ps == c.end())) return s;
  s.x = xs->second;
  s.y = ys->second;
  size_t undivided = 0;
  if (ps != c.end())
    for (size_t i = 0; i < s.y.size(); ++i) {
      const double d = i < ps->second.size() ? ps->second[i] : std::nan("");
      const bool none = !std::isfinite(d) || std::abs(d) <= 1e-12 * std::abs(s.y[i]) || d == 0.0;
      undivided += none;
      s.y[i] = none ? std::nan("") : s.y[i] / d;
    }
  if (undivided > 0)
    s.label += undivided == s.y.size() ? fmt::format(" (not drawn: {} 0 or missing)", per)
                                       : fmt::format(" ({} of {} not drawn: {} 0 or missing)", undivided, s.y.size(), per);
  return s;
}

// The epoch (or step: column `x`) a run kept, chosen on validation: the
// last row whose `best` column is 1. NaN when none is.
inline double kept_at(const CsvColumns& c, const std::string& x = "epoch") {
  double kept = std::nan("");
  const auto best = c.find("best"), at = c.find(x);
  if (best == c.end() || at == c.end()) return kept;
  for (size_t i = 0; i < best->second.size() && i < at->second.size(); ++i)
    if (best->second[i] == 1.0) kept = at->second[i];
  return kept;
}

// `s` with the point `c` kept (by kept_at) ringed, when one was kept.
inline io::Series ringed(io::Series s, const CsvColumns& c, const std::string& x = "epoch") {
  if (const double kept = kept_at(c, x); std::isfinite(kept)) s.rings_x = {kept};
  return s;
}
inline constexpr const char* kKeptLabel = "kept (chosen on validation)";

// rbm_mnist's curves.svg from its metrics.csv: the reconstruction error
// against the pixel-mean baseline, the free energy of the training and
// validation subsets (their gap the overfitting signal; valid_label names
// the second), and the pseudo-likelihood.
inline void write_rbm_curves(const std::filesystem::path& csv, const std::filesystem::path& svg,
                             const std::string& title, const std::string& valid_label = "validation subset") {
  const CsvColumns c = read_csv_columns(csv);
  io::Series baseline = csv_series(c, "epoch", "recon_baseline", "predicting by the mean");
  baseline.dashed = true;
  const io::Panel panels[] = {
      {"Reconstruction error", "epoch", "squared error per image",
       {csv_series(c, "epoch", "recon_error", "after one Gibbs step"), baseline}},
      {"Free energy", "epoch", "mean F(v)",
       {csv_series(c, "epoch", "fe_train", "training subset"), csv_series(c, "epoch", "fe_valid", valid_label)}},
      {"Pseudo-likelihood", "epoch", "nats per image", {csv_series(c, "epoch", "pseudo_ll", "training subset")}},
  };
  io::write_svg_plot(svg, panels, title);
}

// Runs draw() (which writes curves) and turns a failure into a warning: the
// curves are drawn from files already written, and must not cost a run the
// results it has yet to print.
template <typename Draw>
void draw_curves(const std::string& who, Draw draw) {
  try {
    draw();
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: warning: no learning curves: {}\n", who, e.what());
  }
}

}  // namespace ebm::samples
