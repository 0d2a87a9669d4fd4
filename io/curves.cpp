#include "io/curves.hpp"

#include <algorithm>
#include <cmath>

#include "ops/error.hpp"
#include "ops/rng.hpp"

namespace ebm::io {
namespace {

// The spline's second derivative at the middle point (0 at both ends).
double middle_curvature(const CurvePoints& p) {
  const double h0 = p.x[1] - p.x[0], h1 = p.x[2] - p.x[1];
  return 3.0 * ((p.y[2] - p.y[1]) / h1 - (p.y[1] - p.y[0]) / h0) / (h0 + h1);
}

}  // namespace

// On [x0, x1], with h = x1 - x0 and M the middle curvature:
//   f(x) = M (x - x0)^3 / (6h) + y0 (x1 - x) / h + (y1 / h - M h / 6) (x - x0);
// on [x1, x2], mirrored: f(x) = M (x2 - x)^3 / (6h) + (y1 / h - M h / 6) (x2 - x) + y2 (x - x1) / h.
double spline_value(const CurvePoints& p, double x) {
  const double m = middle_curvature(p);
  if (x <= p.x[1]) {
    const double h = p.x[1] - p.x[0], t = x - p.x[0];
    return m * t * t * t / (6.0 * h) + p.y[0] * (p.x[1] - x) / h + (p.y[1] / h - m * h / 6.0) * t;
  }
  const double h = p.x[2] - p.x[1], t = p.x[2] - x;
  return m * t * t * t / (6.0 * h) + (p.y[1] / h - m * h / 6.0) * t + p.y[2] * (x - p.x[1]) / h;
}

double spline_slope(const CurvePoints& p, double x) {
  const double m = middle_curvature(p);
  if (x <= p.x[1]) {
    const double h = p.x[1] - p.x[0], t = x - p.x[0];
    return m * t * t / (2.0 * h) - p.y[0] / h + (p.y[1] / h - m * h / 6.0);
  }
  const double h = p.x[2] - p.x[1], t = p.x[2] - x;
  return -m * t * t / (2.0 * h) - (p.y[1] / h - m * h / 6.0) + p.y[2] / h;
}

Curves::Curves(int64_t count, CurveConfig cfg) : count_(count), cfg_(cfg) {
  if (count < 0) throw Error("curves: {} images; expected a count of at least 0", count);
  if (cfg.side < 4 || cfg.side > 4096)
    throw Error("curves: images of side {}; expected 4 to 4096 (the paper's are 28)", cfg.side);
  const double range = static_cast<double>(cfg.side - 1) - 2.0 * cfg.margin;
  if (!(cfg.margin >= 0.0) || !(cfg.min_gap > 0.0) || !(range >= 2.0 * cfg.min_gap))
    throw Error("curves: margin {} and gap {} on images of side {}; expected margin >= 0, gap > 0 and room for three "
                "points two gaps apart (side - 1 - 2 margin >= 2 gap)",
                cfg.margin, cfg.min_gap, cfg.side);
}

CurvePoints Curves::points(int64_t i) const {
  if (i < 0 || i >= count_) throw Error("curves: image {} of a set of {}; expected an index in [0, {})", i, count_, count_);
  const RngKey key = make_rng_key(cfg_.seed, cfg_.stream, static_cast<uint64_t>(i));
  const double lo = cfg_.margin, range = static_cast<double>(cfg_.side - 1) - 2.0 * cfg_.margin;
  std::array<double, 3> u{};
  for (uint32_t k = 0; k < 3; ++k) u[k] = uniform01(key, k);
  std::sort(u.begin(), u.end());
  CurvePoints p;
  for (uint32_t k = 0; k < 3; ++k) {
    p.x[k] = lo + u[k] * (range - 2.0 * cfg_.min_gap) + k * cfg_.min_gap;
    p.y[k] = lo + uniform01(key, 3 + k) * range;
  }
  return p;
}

void Curves::image(int64_t i, std::span<float> out) const {
  if (static_cast<int64_t>(out.size()) != dim())
    throw Error("curves: room for {} floats; an image has {}", out.size(), dim());
  draw_curve(points(i), cfg_.side, out);
}

void draw_curve(const CurvePoints& p, int64_t n, std::span<float> out) {
  if (n < 1) throw Error("draw_curve: images of side {}; expected at least 1", n);
  if (static_cast<int64_t>(out.size()) != n * n)
    throw Error("draw_curve: room for {} floats; expected side x side = {}", out.size(), n * n);
  if (!(p.x[0] < p.x[1] && p.x[1] < p.x[2]) || !std::isfinite(p.x[0]) || !std::isfinite(p.x[2]))
    throw Error("draw_curve: points at x = {}, {}, {}; expected them finite and increasing", p.x[0], p.x[1], p.x[2]);
  for (double y : p.y)
    if (!std::isfinite(y)) throw Error("draw_curve: a point at y = {}; expected finite coordinates", y);
  // Ink off the image is dropped, and the arc is walked a quarter pixel at
  // a time: points far outside would walk for hours to ink nothing.
  const double lo = -static_cast<double>(n), hi = 2.0 * static_cast<double>(n);
  for (int i = 0; i < 3; ++i)
    if (p.x[i] < lo || p.x[i] > hi || p.y[i] < lo || p.y[i] > hi)
      throw Error("draw_curve: a point at ({}, {}); expected coordinates within [{}, {}] for an image of side {}",
                  p.x[i], p.y[i], lo, hi, n);
  std::vector<double> ink(static_cast<size_t>(n * n), 0.0);
  auto deposit = [&](double x, double y, double amount) {
    const double fx = std::floor(x), fy = std::floor(y), wx = x - fx, wy = y - fy;
    const auto c = static_cast<int64_t>(fx), r = static_cast<int64_t>(fy);
    auto add = [&](int64_t rr, int64_t cc, double w) {
      if (rr >= 0 && rr < n && cc >= 0 && cc < n) ink[static_cast<size_t>(rr * n + cc)] += w * amount;
    };
    add(r, c, (1 - wy) * (1 - wx));
    add(r, c + 1, (1 - wy) * wx);
    add(r + 1, c, wy * (1 - wx));
    add(r + 1, c + 1, wy * wx);
  };
  constexpr double step = 0.25;  // pixels of arc per deposit
  const double most_steps = 64.0 * 4.0 * static_cast<double>(n) / step;  // an arc of 256 sides
  double steps = 0;
  for (double x = p.x[0]; x < p.x[2]; ++steps) {
    if (steps > most_steps)
      throw Error("draw_curve: the curve through x = {}, {}, {} is longer than {} pixels of arc; expected a curve a "
                  "few image sides long",
                  p.x[0], p.x[1], p.x[2], most_steps * step);
    deposit(x, spline_value(p, x), step);
    const double s = spline_slope(p, x);
    x += step / std::sqrt(1.0 + s * s);
  }
  deposit(p.x[2], p.y[2], step);
  constexpr double kernel[3][3] = {{0.1, 0.3, 0.1}, {0.3, 0.8, 0.3}, {0.1, 0.3, 0.1}};
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < n; ++c) {
      double v = 0.0;
      for (int64_t dr = -1; dr <= 1; ++dr)
        for (int64_t dc = -1; dc <= 1; ++dc)
          if (r + dr >= 0 && r + dr < n && c + dc >= 0 && c + dc < n)
            v += kernel[dr + 1][dc + 1] * ink[static_cast<size_t>((r + dr) * n + c + dc)];
      out[static_cast<size_t>(r * n + c)] = static_cast<float>(std::min(1.0, v));
    }
}

std::vector<float> Curves::images(int64_t first, int64_t n) const {
  if (first < 0 || n < 0 || first + n > count_)
    throw Error("curves: images {} .. {} of {}; expected a range within the set", first, first + n - 1, count_);
  std::vector<float> out(static_cast<size_t>(n * dim()));
  for (int64_t i = 0; i < n; ++i)
    image(first + i, std::span<float>(out).subspan(static_cast<size_t>(i * dim()), static_cast<size_t>(dim())));
  return out;
}

}  // namespace ebm::io
