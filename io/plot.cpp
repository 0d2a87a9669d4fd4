// SVG line charts (io/plot.hpp): each panel maps its finite points onto a
// frame with round ticks; text is escaped; the file is written whole.

#include "io/plot.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "io/files.hpp"
#include "ops/error.hpp"
#include "ops/xml.hpp"

namespace ebm::io {
namespace {

constexpr double kPanelW = 380, kPanelH = 300;
constexpr double kLeft = 62, kRight = 14, kTop = 62, kBottom = 46;  // the frame inside a panel
constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"};

// v as a tick label: as many digits as tell it from its neighbours `step` away.
std::string tick_label(double v, double step) {
  if (v == 0.0) return "0";
  const double a = std::abs(v);
  if (a >= 1e5 || a < 1e-3) {
    const int digits = std::clamp(static_cast<int>(std::floor(std::log10(a / step) + 1e-9)) + 1, 1, 15);
    return fmt::format("{:.{}g}", v, digits);
  }
  const int decimals = std::clamp(static_cast<int>(-std::floor(std::log10(step) + 1e-9)), 0, 12);
  return fmt::format("{:.{}f}", v, decimals);
}

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v) { lo = std::min(lo, v), hi = std::max(hi, v); }
  bool empty() const { return !(lo <= hi); }
  // Widened so a flat series is drawn mid-frame and no point sits on the frame.
  bool flat() const { return hi - lo <= 1e-9 * std::max(std::abs(lo), std::abs(hi)); }  // to within rounding
  Range padded(double pad) const {
    if (flat()) return {lo - std::max(1.0, std::abs(lo) * 0.1), hi + std::max(1.0, std::abs(hi) * 0.1)};
    return {lo - (hi - lo) * pad, hi + (hi - lo) * pad};
  }
};

struct Point {
  double x, y;
};

// v, or its log on a log scale (NaN at or below zero).
double scaled(double v, bool log) { return !log ? v : v > 0 ? std::log10(v) : std::nan(""); }

// The points of `s` as drawn: finite ones only, x and y as their logs when
// the panel asks (points at or below zero left out).
std::vector<Point> drawn_points(const Panel& p, const Series& s) {
  std::vector<Point> out;
  for (size_t i = 0; i < s.x.size(); ++i) {
    const double x = scaled(s.x[i], p.log_x), y = scaled(s.y[i], p.log_y);
    if (std::isfinite(x) && std::isfinite(y)) out.push_back({x, y});
  }
  return out;
}

// Ticks of a log axis spanning logs lo .. hi, in the axis's own units:
// whole decades when it spans three or more (every second, third, ... when
// over ten), else 1, 2 and 5 times them when three fit, else two decades;
// empty otherwise (the caller keeps its linear ticks). The ends are widened
// by 1e-9 so that a decade at an end is not lost to log10's rounding.
std::vector<double> log_ticks(double lo, double hi) {
  lo -= 1e-9, hi += 1e-9;
  std::vector<double> decades, one_two_five;
  for (double k = std::floor(lo); k <= std::ceil(hi) && decades.size() < 400; k += 1.0) {
    const double d = std::pow(10.0, k);
    if (k >= lo && k <= hi) decades.push_back(d);
    for (double m : {1.0, 2.0, 5.0})
      if (std::log10(m * d) >= lo && std::log10(m * d) <= hi) one_two_five.push_back(m * d);
  }
  if (decades.size() > 10) {
    const size_t every = (decades.size() + 9) / 10;
    std::vector<double> thinned;
    for (size_t i = 0; i < decades.size(); i += every) thinned.push_back(decades[i]);
    decades = std::move(thinned);
  }
  std::vector<double> t = decades.size() >= 3       ? decades
                          : one_two_five.size() >= 3 ? one_two_five
                          : decades.size() >= 2      ? decades
                                                     : std::vector<double>{};
  std::erase_if(t, [](double v) { return !(v > 0); });
  return t;
}

// The legend's entries: a row of them, wrapped where the next would pass
// the frame's right edge.
constexpr double kLegendRow = 14;

double legend_entry(const Series& s) { return 34 + 6.0 * static_cast<double>(s.label.size()); }

// Whether a ring is drawn: some series has a point at one of its rings_x
// (a ring whose point is missing or not finite draws nothing, and then
// neither does its legend entry).
bool has_rings(const Panel& p) {
  if (p.rings_label.empty()) return false;
  for (const Series& s : p.series)
    for (double r : s.rings_x)
      for (const Point& q : drawn_points(p, s))
        if (q.x == scaled(r, p.log_x)) return true;
  return false;
}

// The legend's entry for the rings, after the series'.
Series rings_entry(const Panel& p) { return {.label = p.rings_label}; }

int legend_rows(const Panel& p, double w) {
  int rows = p.series.empty() ? 0 : 1;
  double lx = 0;
  auto place = [&](double entry) {
    if (lx > 0 && lx + entry > w) lx = 0, ++rows;
    lx += entry;
  };
  for (const Series& s : p.series) place(legend_entry(s));
  if (has_rings(p)) place(legend_entry(rings_entry(p)));
  return rows;
}

// The room a panel's legend needs above the frame beyond its two rows.
double legend_extra(const Panel& p) {
  return kLegendRow * std::max(0, legend_rows(p, kPanelW - kLeft - kRight) - 2);
}

// A panel whose frame starts `extra` below the usual (room for the longest
// legend of the plot's panels, so that their frames line up) and keeps its
// height: a long legend makes the plot taller, never the frame smaller.
void draw_panel(std::string& svg, const Panel& p, double ox, double oy, double extra) {
  const double w = kPanelW - kLeft - kRight;
  const double h = kPanelH - kTop - kBottom;
  const double fx = ox + kLeft, fy = oy + kTop + extra;  // the frame's top left corner
  svg += fmt::format(R"~(<text x="{:.1f}" y="{:.1f}" font-size="14" text-anchor="middle">{}</text>)~" "\n",
                     ox + kLeft + w / 2, oy + 20, xml_escaped(p.title));
  svg += fmt::format(R"~(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="none" stroke="#444"/>)~" "\n",
                     fx, fy, w, h);
  svg += fmt::format(R"~(<text x="{:.1f}" y="{:.1f}" font-size="12" text-anchor="middle">{}</text>)~" "\n",
                     fx + w / 2, oy + extra + kPanelH - 8, xml_escaped(p.x_label + (p.log_x ? " (log scale)" : "")));
  svg += fmt::format(R"~(<text transform="translate({:.1f},{:.1f}) rotate(-90)" font-size="12" text-anchor="middle">{}</text>)~" "\n",
                     ox + 14, fy + h / 2, xml_escaped(p.y_label + (p.log_y ? " (log scale)" : "")));
  std::vector<std::vector<Point>> points;
  Range xr, yr;
  for (const Series& s : p.series) {
    points.push_back(drawn_points(p, s));
    for (const Point& q : points.back()) xr.add(q.x), yr.add(q.y);
  }
  if (xr.empty()) {
    svg += fmt::format(R"~(<text x="{:.1f}" y="{:.1f}" font-size="12" text-anchor="middle" fill="#888">no data</text>)~" "\n",
                       fx + w / 2, fy + h / 2);
    return;
  }
  bool scatter = false;  // dots need room at the frame's sides, line ends do not
  for (const Series& s : p.series) scatter = scatter || s.points_only;
  const Range x = xr.flat() ? xr.padded(0) : scatter ? xr.padded(0.03) : xr;
  const Range y = yr.padded(0.06);
  auto px = [&](double v) { return fx + (v - x.lo) / (x.hi - x.lo) * w; };
  auto py = [&](double v) { return fy + h - (v - y.lo) / (y.hi - y.lo) * h; };
  bool whole_x = true;  // epochs, say: ticks on whole numbers only
  for (const Series& s : p.series)
    for (double v : s.x) whole_x = whole_x && (!std::isfinite(v) || v == std::round(v));
  // x's ticks in its own units (on a log scale as y's below), placed at their logs
  std::vector<double> xt = p.log_x ? log_ticks(x.lo, x.hi) : std::vector<double>{};
  const bool log_x_labels = !xt.empty();
  if (xt.empty()) xt = nice_ticks(p.log_x ? std::pow(10.0, x.lo) : x.lo, p.log_x ? std::pow(10.0, x.hi) : x.hi, 6);
  if (!p.log_x && whole_x && xt.size() > 1 && xt[1] - xt[0] < 1.0)
    xt = nice_ticks(x.lo, x.hi, static_cast<int>(x.hi - x.lo));
  if (p.log_x) std::erase_if(xt, [](double v) { return !(v > 0); });
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1.0;
  for (double t : xt) {
    const std::string label = log_x_labels ? fmt::format("{:g}", t) : tick_label(t, xstep);
    const double at = px(scaled(t, p.log_x));
    // A label centred on a tick near the panel's right edge would run past
    // it (and past the picture's, for the last panel): it ends there instead.
    const double half = 0.3 * 11 * static_cast<double>(label.size()), edge = ox + kPanelW - 2;
    const bool ends = at + half > edge;
    svg += fmt::format(R"~(<line x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}" stroke="#444"/><text x="{3:.1f}" y="{4:.1f}" font-size="11" text-anchor="{5}">{6}</text>)~" "\n",
                       at, fy + h, fy + h + 4, ends ? std::min(at, edge) : at, fy + h + 16, ends ? "end" : "middle",
                       label);
  }
  // Ticks in y's own units: on a log scale, whole decades when the range
  // spans two or more, else round values in between, placed at their logs.
  std::vector<double> yt = nice_ticks(p.log_y ? std::pow(10.0, y.lo) : y.lo, p.log_y ? std::pow(10.0, y.hi) : y.hi, 5);
  const double ystep = yt.size() > 1 ? yt[1] - yt[0] : 1.0;
  bool log_labels = false;  // labelled by {:g}: decades, or 1, 2 and 5 times them
  if (p.log_y) {
    if (std::vector<double> t = log_ticks(y.lo, y.hi); !t.empty()) yt = std::move(t), log_labels = true;
    std::erase_if(yt, [](double v) { return !(v > 0); });
  }
  for (double v : yt) {
    const double t = p.log_y ? std::log10(v) : v;
    const std::string label = log_labels ? fmt::format("{:g}", v) : tick_label(v, ystep);
    svg += fmt::format(R"~(<line x1="{0:.1f}" y1="{1:.1f}" x2="{2:.1f}" y2="{1:.1f}" stroke="#ddd"/><text x="{3:.1f}" y="{4:.1f}" font-size="11" text-anchor="end">{5}</text>)~" "\n",
                       fx, py(t), fx + w, fx - 4, py(t) + 4, label);
  }
  for (double mark : p.marks_x)
    if (const double m = scaled(mark, p.log_x); std::isfinite(m) && m >= x.lo && m <= x.hi)
      svg += fmt::format(R"~(<line x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}" stroke="#888" stroke-dasharray="2,3"/>)~" "\n",
                         px(m), fy, fy + h);
  // The legend: rows of entries between the title and the frame.
  double lx = fx, ly = oy + 40;
  for (size_t k = 0; k < p.series.size(); ++k) {
    const Series& s = p.series[k];
    const char* color = kColors[k % std::size(kColors)];
    const std::vector<Point>& pts = points[k];
    if (s.points_only) {
      for (const Point& q : pts)
        svg += fmt::format(R"~(<circle cx="{:.1f}" cy="{:.1f}" r="1.6" fill="{}" fill-opacity="0.6"/>)~" "\n", px(q.x),
                           py(q.y), color);
    } else if (pts.size() > 1) {
      std::string line;
      for (const Point& q : pts) line += fmt::format("{:.1f},{:.1f} ", px(q.x), py(q.y));
      svg += fmt::format(R"~(<polyline points="{}" fill="none" stroke="{}" stroke-width="1.6"{}/>)~" "\n", line, color,
                         s.dashed ? R"~( stroke-dasharray="5,3")~" : "");
    }
    if (!s.points_only && pts.size() <= 40)  // few points: mark each
      for (const Point& q : pts)
        svg += fmt::format(R"~(<circle cx="{:.1f}" cy="{:.1f}" r="2.2" fill="{}"/>)~" "\n", px(q.x), py(q.y), color);
    for (double r : s.rings_x)  // a ring about the point at x == r (on the frame's edge too)
      for (const Point& q : pts)
        if (q.x == scaled(r, p.log_x))
          svg += fmt::format(R"~(<circle cx="{:.1f}" cy="{:.1f}" r="5.5" fill="none" stroke="{}" stroke-width="1.8"/>)~" "\n",
                             px(q.x), py(q.y), color);
    const double entry = legend_entry(s);
    if (lx > fx && lx + entry > fx + w) lx = fx, ly += kLegendRow;
    if (s.points_only)
      svg += fmt::format(R"~(<circle cx="{:.1f}" cy="{:.1f}" r="3" fill="{}"/><text x="{:.1f}" y="{:.1f}" font-size="11">{}</text>)~" "\n",
                         lx + 10, ly, color, lx + 25, ly + 4, xml_escaped(s.label));
    else
      svg += fmt::format(R"~(<line x1="{0:.1f}" y1="{1:.1f}" x2="{2:.1f}" y2="{1:.1f}" stroke="{3}" stroke-width="2"{4}/><text x="{5:.1f}" y="{6:.1f}" font-size="11">{7}</text>)~" "\n",
                         lx, ly, lx + 20, color, s.dashed ? R"~( stroke-dasharray="5,3")~" : "", lx + 25, ly + 4,
                         xml_escaped(s.label));
    lx += entry;
  }
  if (has_rings(p)) {
    const Series ring = rings_entry(p);
    if (lx > fx && lx + legend_entry(ring) > fx + w) lx = fx, ly += kLegendRow;
    svg += fmt::format(R"~(<circle cx="{:.1f}" cy="{:.1f}" r="5.5" fill="none" stroke="#444" stroke-width="1.8"/><text x="{:.1f}" y="{:.1f}" font-size="11">{}</text>)~" "\n",
                       lx + 10, ly, lx + 25, ly + 4, xml_escaped(ring.label));
  }
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / std::max(1, target), mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double step = (norm < 1.5 ? 1.0 : norm < 3.0 ? 2.0 : norm < 7.0 ? 5.0 : 10.0) * mag;
  // A range a few ulps wide has a step too fine to count in doubles: its ends.
  if (!(step > 0) || !std::isfinite(step) || std::max(std::abs(lo), std::abs(hi)) / step > 1e12) return {lo, hi};
  const auto first = static_cast<int64_t>(std::ceil(lo / step - 1e-9)), last = static_cast<int64_t>(std::floor(hi / step + 1e-9));
  std::vector<double> out;
  for (int64_t k = first; k <= last && out.size() < 1000; ++k) out.push_back(static_cast<double>(k) * step + 0.0);
  return out;
}

void write_svg_plot(const std::filesystem::path& path, std::span<const Panel> panels, std::string_view title) {
  // A frame spans its points plus a margin: beyond this (as drawn, a log
  // axis's logs) the span overflows a double and every point lands at NaN.
  constexpr double kMaxCoordinate = 1e300;
  for (const Panel& p : panels)
    for (const Series& s : p.series) {
      if (s.x.size() != s.y.size())
        throw Error("{}: series '{}' of panel '{}' has {} x values and {} y values; expected as many of each",
                    path.string(), s.label, p.title, s.x.size(), s.y.size());
      for (size_t i = 0; i < s.x.size(); ++i)
        for (const auto& [v, log, axis] : {std::tuple{s.x[i], p.log_x, "x"}, std::tuple{s.y[i], p.log_y, "y"}})
          if (const double d = scaled(v, log); std::isfinite(d) && std::abs(d) > kMaxCoordinate)
            throw Error("{}: series '{}' of panel '{}' has {} = {} at point {}; expected values within +-{:g} (or "
                        "non-finite ones, which are left out)",
                        path.string(), s.label, p.title, axis, v, i, kMaxCoordinate);
    }
  const double top = title.empty() ? 0.0 : 30.0;
  double extra = 0;  // the longest legend's rows beyond two, above every frame
  for (const Panel& p : panels) extra = std::max(extra, legend_extra(p));
  const double width = kPanelW * static_cast<double>(std::max<size_t>(panels.size(), 1)),
               height = kPanelH + extra + top;
  std::string svg = fmt::format(
      R"~(<svg xmlns="http://www.w3.org/2000/svg" width="{0:.0f}" height="{1:.0f}" viewBox="0 0 {0:.0f} {1:.0f}" font-family="Helvetica, Arial, sans-serif">)~"
      "\n"
      R"~(<rect width="100%" height="100%" fill="white"/>)~" "\n",
      width, height);
  if (!title.empty())
    svg += fmt::format(R"~(<text x="{:.1f}" y="22" font-size="16" font-weight="bold" text-anchor="middle">{}</text>)~" "\n",
                       width / 2, xml_escaped(title));
  for (size_t i = 0; i < panels.size(); ++i) draw_panel(svg, panels[i], kPanelW * static_cast<double>(i), top, extra);
  svg += "</svg>\n";
  write_atomically(path, {std::span<const char>(svg.data(), svg.size())});
}

}  // namespace ebm::io
