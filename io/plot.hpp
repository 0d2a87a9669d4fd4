#pragma once
// Learning curves as SVG: panels of line charts (or scatter plots) side by
// side, each with its title, labelled axes on round ticks, and a legend.
// Text, so any browser shows it sharp at any size, and no library is
// needed to write it.

#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ebm::io {

struct Series {
  std::string label = {};
  std::vector<double> x = {}, y = {};  // the same length; a point with a non-finite coordinate is left out
  bool dashed = false;
  bool points_only = false;  // a scatter: every point a dot, no line (its legend entry a dot too)
  std::vector<double> rings_x = {};  // its points at these x ringed (such as the epoch a run kept)
};

struct Panel {
  std::string title = {}, x_label = {}, y_label = {};
  std::vector<Series> series = {};
  bool log_y = false;                // a log scale (points at or below zero are left out)
  std::vector<double> marks_x = {};  // vertical dotted lines across the frame at these x
  bool log_x = false;                // x on a log scale (points at or below zero are left out)
  std::string rings_label = {};      // the legend's entry for the series' rings, when any is drawn
};

// Writes `panels` left to right under `title` to "<path>.tmp" and renames it
// onto `path`. A legend longer than two rows makes the plot taller (every
// panel's frame moves down by the same, so that they line up). A panel without a point to draw says so in its frame. An
// ebm::Error names the path when it cannot be written, and the series when
// its x and y differ in length or a finite coordinate (as drawn: a log
// axis's log) is beyond +-1e300, too far out to place.
void write_svg_plot(const std::filesystem::path& path, std::span<const Panel> panels, std::string_view title = {});

// About `target` round tick values (steps of 1, 2 or 5 times a power of
// ten) from the first multiple of the step at or above lo to the last at
// or below hi; lo == hi gives that one value.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

}  // namespace ebm::io
