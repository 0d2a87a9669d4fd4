// Profile::write_svg_timeline: a few runs drawn as lanes of work per
// thread, so the scheduler's idle gaps are seen rather than computed.

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "graph/profile.hpp"
#include "ops/error.hpp"
#include "ops/xml.hpp"

namespace ebm {
namespace {

// The busiest ops' colours; the last is every other op's.
constexpr const char* kColors[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                   "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

// A round step in microseconds for about eight ticks over `span_us`.
double tick_step_us(double span_us) {
  const double raw = span_us / 8, mag = std::pow(10.0, std::floor(std::log10(std::max(raw, 1e-3))));
  const double norm = raw / mag;
  return (norm < 1.5 ? 1.0 : norm < 3.5 ? 2.0 : norm < 7.5 ? 5.0 : 10.0) * mag;
}

}  // namespace

void Profile::write_svg_timeline(const std::string& path, int runs) const {
  if (runs < 1) throw Error("write_svg_timeline: runs = {}; expected at least 1 run to draw", runs);
  // The runs whose events were all kept (a run's are all recorded before it ends).
  size_t complete = 0;
  while (complete < run_spans_.size() && run_spans_[complete].events <= events_.size()) ++complete;
  // The plan that took the most time (a training step, not the forward
  // pass or the monitoring run between steps), and its last `runs` runs,
  // leaving out its first (buffers touched for the first time) when it
  // has more; the other plans' runs between them are drawn too.
  std::map<int32_t, int64_t> time_of;
  for (size_t r = 0; r < complete; ++r) time_of[run_spans_[r].plan] += run_spans_[r].end_ns - run_spans_[r].start_ns;
  int32_t plan = -1;
  int64_t most = -1;
  for (const auto& [p, ns] : time_of)
    if (ns > most) plan = p, most = ns;
  std::vector<size_t> chosen;  // run indices of `plan`, oldest first
  for (size_t r = 0; r < complete; ++r)
    if (run_spans_[r].plan == plan) chosen.push_back(r);
  const size_t want = static_cast<size_t>(runs);
  if (chosen.size() > want) chosen.erase(chosen.begin(), chosen.end() - static_cast<std::ptrdiff_t>(want));
  else if (chosen.size() > 1) chosen.erase(chosen.begin());
  const size_t n = chosen.size();
  size_t others = 0;
  for (size_t r = n ? chosen.front() : 0; n && r <= chosen.back(); ++r) others += run_spans_[r].plan != plan;

  constexpr double kLeft = 90, kRight = 20, kTop = 46, kLane = 30, kWidth = 1200;
  const double plot_w = kWidth - kLeft - kRight;
  std::string svg;
  const auto body_height = [&](size_t legend_rows) { return kTop + kLane * threads_ + 40 + 18.0 * static_cast<double>(legend_rows) + 10; };
  if (n == 0) {
    const std::string why = runs_ == 0 ? "no run recorded" : "no run whose events were all kept (ExecutorOptions::profile_events sets the room)";
    svg = fmt::format(R"~(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="80" viewBox="0 0 {0} 80" font-family="Helvetica, Arial, sans-serif"><rect width="100%" height="100%" fill="white"/><text x="20" y="40" font-size="14">{1}</text>)~" "\n", kWidth, why);
  } else {
    const int64_t t0 = run_spans_[chosen.front()].start_ns, t1 = run_spans_[chosen.back()].end_ns;
    const double span_us = std::max(1e-3, static_cast<double>(t1 - t0) * 1e-3);
    auto x_of = [&](int64_t ns) { return kLeft + static_cast<double>(ns - t0) * 1e-3 / span_us * plot_w; };
    auto shown = [&](const Event& e) {
      return e.work && e.end_ns > t0 && e.start_ns < t1 && e.thread >= 0 && e.thread < threads_;
    };
    // Colours by op, the busiest first; past the palette, grey ("other").
    std::map<std::string, int64_t> ns_of;
    for (const Event& e : recorded())
      if (shown(e)) ns_of[tasks_[static_cast<size_t>(e.task)].label] += std::min(e.end_ns, t1) - std::max(e.start_ns, t0);
    std::vector<std::string> ops;
    for (const auto& [label, ns] : ns_of) ops.push_back(label);
    std::stable_sort(ops.begin(), ops.end(), [&](const std::string& a, const std::string& b) { return ns_of[a] > ns_of[b]; });
    constexpr size_t kNamed = std::size(kColors) - 1;  // the last colour is "other"
    auto color_of = [&](const std::string& label) {
      const size_t i = static_cast<size_t>(std::find(ops.begin(), ops.end(), label) - ops.begin());
      return kColors[std::min(i, kNamed)];
    };
    std::string bars;
    double busy_us = 0;
    for (const Event& e : recorded()) {
      if (!shown(e)) continue;
      const TaskInfo& t = tasks_[static_cast<size_t>(e.task)];
      const int64_t a = std::max(e.start_ns, t0), b = std::min(e.end_ns, t1);
      busy_us += static_cast<double>(b - a) * 1e-3;
      const std::string piece = e.piece ? fmt::format(", rows {}-{}, columns {}-{}", e.i0, e.i1, e.j0, e.j1) : "";
      bars += fmt::format(R"~(<rect x="{:.2f}" y="{:.1f}" width="{:.2f}" height="{:.1f}" fill="{}"><title>{}{}{} ({:.1f} us)</title></rect>)~" "\n",
                          x_of(a), kTop + kLane * e.thread + 3, std::max(0.4, x_of(b) - x_of(a)), kLane - 6,
                          color_of(t.label), xml_escaped(t.label),
                          t.about.empty() ? "" : " on " + xml_escaped(t.about), piece,
                          static_cast<double>(e.end_ns - e.start_ns) * 1e-3);
    }
    if (ops.size() > kNamed + 1) ops.resize(kNamed + 1), ops.back() = "other ops";
    const size_t per_row = 3, legend_rows = (ops.size() + per_row - 1) / per_row;
    const double height = body_height(legend_rows), axis_y = kTop + kLane * threads_;
    svg = fmt::format(R"~(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1:.0f}" viewBox="0 0 {0} {1:.0f}" font-family="Helvetica, Arial, sans-serif">)~" "\n"
                      R"~(<rect width="100%" height="100%" fill="white"/>)~" "\n",
                      kWidth, height);
    svg += fmt::format(R"~(<text x="{:.1f}" y="24" font-size="15" text-anchor="middle">{} run{} of the plan that took the most time{} ({:.0f} us of wall time); the threads busy {:.1f}% of it</text>)~" "\n",
                       kWidth / 2, n, n > 1 ? "s" : "",
                       others ? fmt::format(", {} run{} of others between", others, others > 1 ? "s" : "") : "",
                       span_us, 100.0 * busy_us / (span_us * threads_));
    for (int t = 0; t < threads_; ++t)
      svg += fmt::format(R"~(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="#f4f4f4"/><text x="{:.1f}" y="{:.1f}" font-size="12" text-anchor="end">thread {}</text>)~" "\n",
                         kLeft, kTop + kLane * t + 2, plot_w, kLane - 4, kLeft - 8, kTop + kLane * t + kLane / 2 + 4, t);
    svg += bars;
    for (size_t r : chosen)  // the plan's run boundaries
      for (int64_t at : {run_spans_[r].start_ns, run_spans_[r].end_ns})
        svg += fmt::format(R"~(<line x1="{0:.2f}" y1="{1:.1f}" x2="{0:.2f}" y2="{2:.1f}" stroke="#333" stroke-dasharray="2,3"/>)~" "\n",
                           x_of(at), kTop - 4, axis_y + 2);
    const double step = tick_step_us(span_us);
    for (double us = 0; us <= span_us + 1e-9; us += step)
      svg += fmt::format(R"~(<line x1="{0:.2f}" y1="{1:.1f}" x2="{0:.2f}" y2="{2:.1f}" stroke="#333"/><text x="{0:.2f}" y="{3:.1f}" font-size="11" text-anchor="middle">{4:g}</text>)~" "\n",
                         kLeft + us / span_us * plot_w, axis_y + 2, axis_y + 6, axis_y + 18, us);
    svg += fmt::format(R"~(<text x="{:.1f}" y="{:.1f}" font-size="11" text-anchor="end">us</text>)~" "\n", kLeft - 8,
                       axis_y + 18);
    for (size_t i = 0; i < ops.size(); ++i) {
      const double lx = kLeft + static_cast<double>(i % per_row) * plot_w / per_row;
      const double ly = axis_y + 40 + 18.0 * static_cast<double>(i / per_row);
      svg += fmt::format(R"~(<rect x="{:.1f}" y="{:.1f}" width="14" height="10" fill="{}"/><text x="{:.1f}" y="{:.1f}" font-size="11">{}</text>)~" "\n",
                         lx, ly - 9, kColors[std::min(i, kNamed)], lx + 19, ly, xml_escaped(ops[i]));
    }
  }
  svg += "</svg>\n";
  write_file(path, svg);
}

}  // namespace ebm
