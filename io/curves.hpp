#pragma once
// The synthetic curves of the deep-autoencoder experiment (Hinton &
// Salakhutdinov 2006): small grey images, each of one smooth curve. The
// paper says only that each image is "generated from three randomly chosen
// points in two dimensions", with intensities between 0 and 1; its data
// file is not public here, so the recipe below is ours, and errors on these
// images are not the paper's figures (README, Results):
//
//   image i of stream s draws, keyed by (seed, s, i), three points whose
//   x (column) coordinates are increasing, at least min_gap apart, and whose
//   x and y (row) coordinates lie in [margin, side - 1 - margin] (pixel
//   centres at integers; 2 .. 25 on 28 x 28 images);
//   the curve is the natural cubic spline y = f(x) through them, from the
//   first point to the last (it may overshoot between them; ink outside the
//   image is dropped);
//   it is inked by walking it in steps of 1/4 pixel of arc length, each
//   step leaving 1/4 of ink split bilinearly among the four nearest pixel
//   centres (one unit of ink per pixel of length), then blurred by the 3 x 3
//   kernel [0.1 0.3 0.1; 0.3 0.8 0.3; 0.1 0.3 0.1] and clipped at 1: a
//   stroke about two pixels wide, 1 on its centre line, grey at its edges.
//
// x uniform under the gaps: three sorted uniforms on the range shortened by
// 2 min_gap, plus 0, min_gap and 2 min_gap. Images are pure functions of
// (seed, stream, i); nothing is stored.

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace ebm::io {

struct CurveConfig {
  int64_t side = 28;      // images are side x side
  double margin = 2.0;    // the points keep this far from the edges (pixels)
  double min_gap = 2.0;   // the points' x coordinates are at least this far apart
  uint64_t seed = 1;
  uint64_t stream = 0;    // sets drawn with one seed but different streams are independent
};

// The three points of a curve, x increasing.
struct CurvePoints {
  std::array<double, 3> x{}, y{};
};

// The natural cubic spline through the three points (second derivative 0
// at the first and last), its value and slope at x in [x0, x2].
double spline_value(const CurvePoints& p, double x);
double spline_slope(const CurvePoints& p, double x);

// The curve through p inked on a side x side image, as above, into `out`
// (side * side floats).
void draw_curve(const CurvePoints& p, int64_t side, std::span<float> out);

class Curves {
 public:
  Curves(int64_t count, CurveConfig config);

  int64_t count() const { return count_; }
  int64_t dim() const { return cfg_.side * cfg_.side; }
  const CurveConfig& config() const { return cfg_; }
  CurvePoints points(int64_t i) const;
  // Image i, row-major, values in [0, 1], into `out` (dim() floats).
  void image(int64_t i, std::span<float> out) const;
  // Images first .. first + n - 1, row-major.
  std::vector<float> images(int64_t first, int64_t n) const;

 private:
  int64_t count_;
  CurveConfig cfg_;
};

}  // namespace ebm::io
