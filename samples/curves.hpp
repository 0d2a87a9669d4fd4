#pragma once
// Learning curves drawn from the samples' own CSV files (so a resumed run's
// earlier epochs are in them too): curves.svg beside the metrics.

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "io/plot.hpp"

namespace ebm::samples {

using CsvColumns = std::map<std::string, std::vector<double>>;

// The columns of a CSV file with a header line, by name; a cell that is not
// a number reads as NaN. No file: no columns.
inline CsvColumns read_csv_columns(const std::filesystem::path& path) {
  CsvColumns out;
  std::ifstream in(path);
  std::string line, cell;
  if (!std::getline(in, line)) return out;
  std::vector<std::string> names;
  for (std::stringstream s(line); std::getline(s, cell, ',');) names.push_back(cell);
  while (std::getline(in, line)) {
    std::stringstream s(line);
    for (const std::string& name : names) {
      if (!std::getline(s, cell, ',')) cell.clear();
      char* end = nullptr;
      const double v = std::strtod(cell.c_str(), &end);
      out[name].push_back(end != cell.c_str() ? v : std::nan(""));
    }
  }
  return out;
}

// Column `y` against column `x` (an empty series when either is missing),
// each y divided by the same row's `per` when given.
inline io::Series csv_series(const CsvColumns& c, const std::string& x, const std::string& y, std::string label,
                             const std::string& per = {}) {
  io::Series s{.label = std::move(label)};
  const auto xs = c.find(x), ys = c.find(y), ps = per.empty() ? c.end() : c.find(per);
  if (xs == c.end() || ys == c.end() || (!per.empty() && ps == c.end())) return s;
  s.x = xs->second;
  s.y = ys->second;
  if (ps != c.end())
    for (size_t i = 0; i < s.y.size(); ++i) s.y[i] /= ps->second[i];
  return s;
}

// rbm_mnist's curves.svg from its metrics.csv: the reconstruction error
// against the pixel-mean baseline, the free energy of the training and
// validation subsets (their gap the overfitting signal), and the
// pseudo-likelihood.
inline void write_rbm_curves(const std::filesystem::path& csv, const std::filesystem::path& svg,
                             const std::string& title) {
  const CsvColumns c = read_csv_columns(csv);
  io::Series baseline = csv_series(c, "epoch", "recon_baseline", "predicting by the mean");
  baseline.dashed = true;
  const io::Panel panels[] = {
      {"Reconstruction error", "epoch", "squared error per image",
       {csv_series(c, "epoch", "recon_error", "after one Gibbs step"), baseline}},
      {"Free energy", "epoch", "mean F(v)",
       {csv_series(c, "epoch", "fe_train", "training subset"), csv_series(c, "epoch", "fe_valid", "validation subset")}},
      {"Pseudo-likelihood", "epoch", "nats per image", {csv_series(c, "epoch", "pseudo_ll", "training subset")}},
  };
  io::write_svg_plot(svg, panels, title);
}

}  // namespace ebm::samples
