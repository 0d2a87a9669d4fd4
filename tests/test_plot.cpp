// io/plot: round ticks, and SVG learning curves that draw exactly the
// finite points given, with escaped text and named errors.

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "io/plot.hpp"
#include "ops/xml.hpp"
#include "io_test_util.hpp"

using namespace ebm;

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The points of the k-th polyline, as "x,y" pairs (none if there is no k-th).
std::vector<std::string> polyline_points(const std::string& svg, int k) {
  size_t at = 0;
  for (int i = 0; i <= k; ++i) {
    at = svg.find("<polyline points=\"", i == 0 ? 0 : at + 1);
    if (at == std::string::npos) return {};
  }
  const size_t begin = at + 18, end = svg.find('"', begin);
  std::vector<std::string> out;
  std::stringstream s(svg.substr(begin, end - begin));
  for (std::string p; s >> p;) out.push_back(p);
  return out;
}

}  // namespace

TEST_CASE("io/nice_ticks: steps of 1, 2 or 5 times a power of ten, inside the range") {
  CHECK(io::nice_ticks(0, 10, 5) == std::vector<double>{0, 2, 4, 6, 8, 10});
  CHECK(io::nice_ticks(1, 3, 6) == std::vector<double>{1, 1.5, 2, 2.5, 3});
  CHECK(io::nice_ticks(-3, 47, 5) == std::vector<double>{0, 10, 20, 30, 40});
  const std::vector<double> small = io::nice_ticks(0.13, 0.37, 5);
  REQUIRE(small.size() == 5);
  for (size_t i = 0; i < small.size(); ++i) CHECK(small[i] == doctest::Approx(0.15 + 0.05 * static_cast<double>(i)));
  CHECK(io::nice_ticks(5, 5) == std::vector<double>{5});
  CHECK(io::nice_ticks(0, std::nan("")).empty());
  // Ranges a few ulps wide, whose step cannot be counted in doubles: their ends, not an endless loop.
  CHECK(io::nice_ticks(0.1, std::nextafter(0.1, 1.0)).size() <= 2);
  CHECK(io::nice_ticks(-1e15, -1e15 + 0.5).size() <= 2);
  CHECK(io::nice_ticks(0, 1e300, 5).size() <= 7);
}

namespace {

// The tick labels of an SVG (the text of the axis ticks, font-size 11).
std::vector<std::string> tick_labels(const std::string& svg) {
  std::vector<std::string> out;
  const std::string open = R"(font-size="11" text-anchor="end">)";
  for (size_t at = svg.find(open); at != std::string::npos; at = svg.find(open, at + 1)) {
    const size_t b = at + open.size();
    out.push_back(svg.substr(b, svg.find('<', b) - b));
  }
  return out;
}

std::string plot_one(const io_test::TempDir& dir, io::Series s, bool log_y = false) {
  const io::Panel panel[] = {{"T", "x", "y", {std::move(s)}, log_y}};
  io::write_svg_plot(dir / "one.svg", panel);
  return slurp(dir / "one.svg");
}

}  // namespace

TEST_CASE("io/write_svg_plot: y ticks are round and tell neighbours apart, on any scale") {
  const io_test::TempDir dir("plot_ticks");
  // a loss falling from 0.3 to 0.05 on a log scale: 1, 2 and 5 times powers of ten
  CHECK(tick_labels(plot_one(dir, {"loss", {1, 2, 3}, {0.3, 0.1, 0.05}}, true)) ==
        std::vector<std::string>{"0.05", "0.1", "0.2"});
  CHECK(tick_labels(plot_one(dir, {"loss", {1, 2, 3}, {20, 1, 0.01}}, true)) ==
        std::vector<std::string>{"0.01", "0.1", "1", "10"});
  const std::vector<std::string> big = tick_labels(plot_one(dir, {"big", {1, 2, 3}, {100000, 100200, 100400}}));
  REQUIRE(big.size() >= 3);
  for (size_t i = 1; i < big.size(); ++i) CHECK(big[i] != big[i - 1]);
  // one point, a flat series, and two values one ulp apart all draw
  CHECK(polyline_points(plot_one(dir, {"one", {1}, {2}}), 0).empty());
  CHECK(polyline_points(plot_one(dir, {"flat", {1, 2, 3}, {7, 7, 7}}), 0).size() == 3);
  const double third = 1.0 / 3.0;
  CHECK(polyline_points(plot_one(dir, {"ulp", {1, 2}, {third, std::nextafter(third, 1.0)}}), 0).size() == 2);
  // whole-number x (epochs): whole-number ticks
  const std::string epochs = plot_one(dir, {"e", {1, 2, 3}, {3, 2, 1}});
  CHECK(epochs.find(R"(text-anchor="middle">1.5<)") == std::string::npos);
  CHECK(epochs.find(R"(text-anchor="middle">2<)") != std::string::npos);
  // a wide label on the right edge's tick ends there instead of running out of the picture (cdbn_mnist's
  // error.svg cut "50000" in half); the others stay centred
  const std::string wide = plot_one(dir, {"n", {1000, 50000}, {1, 2}});
  CHECK(wide.find(R"(text-anchor="end">50000<)") != std::string::npos);
  CHECK(wide.find(R"(text-anchor="middle">50000<)") == std::string::npos);
  CHECK(wide.find(R"(text-anchor="middle">20000<)") != std::string::npos);
}

TEST_CASE("io/write_svg_plot: every finite point drawn, the rest left out, text escaped, errors named") {
  const io_test::TempDir dir("plot");
  const auto path = dir / "curves.svg";
  const double nan = std::nan("");
  const io::Panel panels[] = {
      {"Loss <train & valid>", "epoch", "nats",
       {{"a", {1, 2, 3, 4}, {4, 3, nan, 1}}, {"b", {1, 2, 3}, {5, 4, 3}, true}}, false, {3}},
      {"Log scale", "epoch", "loss", {{"c", {1, 2, 3}, {1, -1, 0.01}}}, true},
      {"Empty", "x", "y", {{"d", {1}, {nan}}}},
  };
  io::write_svg_plot(path, panels, "A title");
  const std::string svg = slurp(path);
  CHECK(svg.rfind("<svg ", 0) == 0);
  CHECK(svg.find("</svg>") != std::string::npos);
  CHECK(svg.find("Loss &lt;train &amp; valid&gt;") != std::string::npos);
  CHECK(xml_escaped("a \"b\"\t<c>\x01 & d") == "a &quot;b&quot;&lt;c&gt; &amp; d");  // no control characters
  CHECK(polyline_points(svg, 0).size() == 3);  // a: its NaN left out
  CHECK(polyline_points(svg, 1).size() == 3);  // b
  CHECK(polyline_points(svg, 2).size() == 2);  // c: -1 has no log
  CHECK(count(svg, "<polyline") == 3);
  CHECK(count(svg, "stroke-dasharray=\"5,3\"") == 2);  // b's line and its legend entry
  CHECK(count(svg, "stroke-dasharray=\"2,3\"") == 1);  // the mark at x = 3
  CHECK(count(svg, "<circle") == 3 + 3 + 2);
  CHECK(svg.find("no data") != std::string::npos);
  CHECK(svg.find("(log scale)") != std::string::npos);
  CHECK(!std::filesystem::exists(dir / "curves.svg.tmp"));

  const io::Panel bad[] = {{"P", "x", "y", {{"short", {1, 2}, {1}}}}};
  CHECK_THROWS_WITH_AS(io::write_svg_plot(dir / "bad.svg", bad), doctest::Contains("series 'short'"), Error);
  CHECK_THROWS_AS(io::write_svg_plot(dir / "no_folder" / "x.svg", panels), Error);
}

TEST_CASE("io/write_svg_plot: a legend of many rows pushes the frame down instead of covering it") {
  const io_test::TempDir dir("plot_legend");
  std::vector<double> tops;
  for (int n : {2, 8}) {
    io::Panel p{"P", "x", "y"};
    for (int k = 0; k < n; ++k)
      p.series.push_back({"a rather long series label " + std::to_string(k), {0, 1}, {0, 1}});
    const auto path = dir / fmt::format("legend{}.svg", n);
    io::write_svg_plot(path, std::span(&p, 1));
    const std::string svg = slurp(path);
    const size_t r = svg.find("<rect x=\"");
    REQUIRE(r != std::string::npos);
    const double frame_top = std::stod(svg.substr(svg.find("y=\"", r) + 3));
    double lowest_label = 0;  // the legend's text baselines
    for (size_t at = svg.find("a rather long"); at != std::string::npos; at = svg.find("a rather long", at + 1)) {
      const size_t tag = svg.rfind("<text", at);
      lowest_label = std::max(lowest_label, std::stod(svg.substr(svg.find("y=\"", tag) + 3)));
    }
    CAPTURE(n);
    CHECK(lowest_label + 4 <= frame_top);  // a baseline at least 4 px above the frame
    tops.push_back(frame_top);
  }
  CHECK(tops[1] == tops[0] + 6 * 14);  // two rows fit above the frame; eight labels this long take a row each
  // Far more rows: the frame keeps its height, and the plot grows; beside
  // it, a panel with a short legend has its frame at the same height.
  io::Panel many{"P", "x", "y"}, few{"Q", "x", "y", {{"one", {0, 1}, {0, 1}}}};
  for (int k = 0; k < 40; ++k) many.series.push_back({"a rather long series label " + std::to_string(k), {0, 1}, {0, 1}});
  const io::Panel both[] = {many, few};
  io::write_svg_plot(dir / "many.svg", both);
  const std::string svg = slurp(dir / "many.svg");
  const size_t r = svg.find("<rect x=\""), r2 = svg.find("<rect x=\"", r + 1);
  REQUIRE(r2 != std::string::npos);
  CHECK(std::stod(svg.substr(svg.find("height=\"", r) + 8)) == 192);  // 300 less the margins
  CHECK(std::stod(svg.substr(svg.find("y=\"", r) + 3)) == std::stod(svg.substr(svg.find("y=\"", r2) + 3)));
  CHECK(std::stod(svg.substr(svg.find("height=\"") + 8)) == 300 + 38 * 14);  // the plot: 38 more legend rows
}

TEST_CASE("io/write_svg_plot: a scatter series draws a dot for every point and no line") {
  const io_test::TempDir dir("plot_scatter");
  io::Series cloud{"cloud"};
  for (int i = 0; i < 100; ++i) cloud.x.push_back(std::sin(i)), cloud.y.push_back(std::cos(3.0 * i));
  cloud.x.push_back(std::nan(""));  // left out
  cloud.y.push_back(1.0);
  cloud.points_only = true;
  const io::Panel p{"Map", "x", "y", {cloud, {"line", {0, 1}, {0, 1}}}};
  io::write_svg_plot(dir / "map.svg", std::span(&p, 1));
  const std::string svg = slurp(dir / "map.svg");
  CHECK(count(svg, "fill-opacity=\"0.6\"") == 100);  // the cloud's dots
  CHECK(count(svg, "<circle") == 100 + 1 + 2);      // its legend dot, the line's two points
  CHECK(count(svg, "<polyline") == 1);              // the line's only
}

TEST_CASE("io/write_svg_plot: a ringed point is ringed in its series' colour, the rings have a legend entry") {
  const io_test::TempDir dir("plot_rings");
  io::Series a{"pretrained", {1, 2, 3, 4}, {4, 3, 2, 2.5}};
  a.rings_x = {3};
  io::Series b{"random start", {1, 2, 3, 4}, {5, 4, 3.5, 3}};
  b.rings_x = {4};  // the last epoch: on the frame's right edge
  io::Panel p{"Fine-tuning", "epoch", "error", {a, b}};
  p.rings_label = "kept";
  io::write_svg_plot(dir / "rings.svg", std::span(&p, 1));
  const std::string svg = slurp(dir / "rings.svg");
  CHECK(count(svg, "r=\"5.5\"") == 3);  // two rings, and the legend's
  CHECK(count(svg, ">kept</text>") == 1);
  const std::vector<std::string> line = polyline_points(svg, 1);  // b's: its ring about its last point
  REQUIRE(line.size() == 4);
  const std::string xy = line.back(), cx = xy.substr(0, xy.find(',')), cy = xy.substr(xy.find(',') + 1);
  CHECK(svg.find("cx=\"" + cx + "\" cy=\"" + cy + "\" r=\"5.5\"") != std::string::npos);
  p.rings_label.clear();  // no label: the rings, no legend entry
  io::write_svg_plot(dir / "rings.svg", std::span(&p, 1));
  CHECK(count(slurp(dir / "rings.svg"), "r=\"5.5\"") == 2);
  // Rings at no drawn point (an epoch not in the data, a point with no finite y): no ring, and no legend entry.
  p.rings_label = "kept";
  p.series[0].rings_x = {7};
  p.series[1].y[3] = std::nan("");
  io::write_svg_plot(dir / "rings.svg", std::span(&p, 1));
  const std::string none = slurp(dir / "rings.svg");
  CHECK(count(none, "r=\"5.5\"") == 0);
  CHECK(count(none, ">kept</text>") == 0);
}

TEST_CASE("io/write_svg_plot: a log x axis spaces equal ratios equally and ticks its decades") {
  const io_test::TempDir dir("plot_log_x");
  io::Panel panel{"Error", "labels", "%", {{"f", {1000, 2000, 5000, 10000, -1}, {9, 7, 4, 2, 1}}}};
  panel.log_x = true;
  io::write_svg_plot(dir / "x.svg", std::span(&panel, 1));
  const std::string svg = slurp(dir / "x.svg");
  const auto pts = polyline_points(svg, 0);  // -1 has no log: left out
  REQUIRE(pts.size() == 4);
  // "x,y" pairs: 1000 -> 2000 and 5000 -> 10000 are both a doubling
  const auto x = [&](size_t i) { return std::stod(pts[i].substr(0, pts[i].find(','))); };
  CHECK(x(1) - x(0) == doctest::Approx(x(3) - x(2)).epsilon(0.01));
  CHECK(svg.find(R"(text-anchor="middle">1000<)") != std::string::npos);
  CHECK(svg.find(R"(text-anchor="end">10000<)") != std::string::npos);  // at the right edge: ends there
  CHECK(svg.find("labels (log scale)") != std::string::npos);
}
