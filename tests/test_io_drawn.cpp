// The io/ layer's drawn images: face patches cut from turned and zoomed
// faces (io/face_patches.hpp) and the synthetic curves
// (io/curves.hpp), each against the formula it draws and its error paths.

#include <doctest/doctest.h>

#include "io/curves.hpp"
#include "io/face_patches.hpp"
#include "ops/rng.hpp"
#include "io_test_util.hpp"

using namespace ebm::io_test;

TEST_CASE("io/face_patches: unturned at a zoom of side / size, a patch is the centre crop") {
  ebm::io::ImageSet set{2, 8, 8, {}, {0, 1}};
  for (int i = 0; i < 2; ++i)
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x) set.pixels.push_back(static_cast<uint8_t>(100 * i + 10 * y + x));
  const ebm::io::FacePatches p(set, {1}, {.size = 4, .per_image = 3, .max_angle = 0.0f, .min_zoom = 2.0f, .max_zoom = 2.0f});
  REQUIRE(p.count() == 3);
  std::vector<float> out(16);
  for (int64_t v = 0; v < 3; ++v) {
    p.patch(v, out);
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 4; ++c) CHECK(out[static_cast<size_t>(r * 4 + c)] == doctest::Approx((100 + 10 * (2 + r) + 2 + c) / 255.0));
  }
  CHECK_THROWS_WITH_AS(p.patch(3, out), doctest::Contains("patch 3 of 3"), ebm::Error);
  CHECK(ebm::io::images_with_labels(set, 1, 2) == std::vector<int64_t>{1});
}

TEST_CASE("io/face_patches: turning a round blob changes nothing, the draws are the seed's") {
  ebm::io::ImageSet set{1, 64, 64, {}, {0}};
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) {
      const double r2 = (y + 0.5 - 32) * (y + 0.5 - 32) + (x + 0.5 - 32) * (x + 0.5 - 32);
      set.pixels.push_back(static_cast<uint8_t>(std::lround(240 * std::exp(-r2 / 200.0))));
    }
  const ebm::io::PatchConfig turned{.per_image = 8, .min_zoom = 1.6f, .max_zoom = 1.6f, .seed = 3};
  const ebm::io::FacePatches p(set, {0}, turned);
  std::vector<float> first(625), other(625);
  p.patch(0, first);
  double worst = 0, spread = 0;
  for (int64_t v = 1; v < 8; ++v) {
    p.patch(v, other);
    for (size_t k = 0; k < 625; ++k) worst = std::max(worst, std::abs(double{other[k]} - first[k]));
  }
  for (float f : first) spread = std::max(spread, double{f});
  CHECK(spread > 0.9);   // the blob is in the patch ...
  CHECK(worst < 0.02);   // ... and looks the same at every angle
  // An off-centre image: different variants differ, the same seed repeats them.
  ebm::io::ImageSet stripes{1, 64, 64, {}, {0}};
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) stripes.pixels.push_back(static_cast<uint8_t>(x < 32 ? 200 : 10));
  const ebm::io::FacePatches a(stripes, {0}, turned), b(stripes, {0}, turned);
  const ebm::io::FacePatches c(stripes, {0}, {.per_image = 8, .min_zoom = 1.6f, .max_zoom = 1.6f, .seed = 4});
  std::vector<float> pa(625), pb(625), pc(625), pa1(625);
  a.patch(0, pa), b.patch(0, pb), c.patch(0, pc), a.patch(1, pa1);
  CHECK(pa == pb);
  CHECK(pa != pc);
  CHECK(pa != pa1);
  const ebm::io::ImageSet oblong{1, 4, 6, std::vector<uint8_t>(24), {}};
  CHECK_THROWS_WITH_AS(ebm::io::FacePatches(oblong, {0}, {}), doctest::Contains("expected square ones"), ebm::Error);
  CHECK_THROWS_WITH_AS(ebm::io::FacePatches(stripes, {1}, {}), doctest::Contains("image 1 of a set of 1"), ebm::Error);
  CHECK_THROWS_WITH_AS(ebm::io::images_with_labels(ebm::io::ImageSet{1, 4, 4, std::vector<uint8_t>(16), {}}, 0, 1),
                       doctest::Contains("0 labels for 1 images"), ebm::Error);
}

TEST_CASE("io/face_patches: on a linear image every patch is the formula's, at the angle and zoom drawn for it") {
  // Image value x + 2y at pixel (y, x): bilinear sampling reproduces it
  // exactly between pixel centres, so each patch pixel must equal the value
  // at the point the documented geometry maps it to (no clamping: the
  // rotated patch stays inside). Two equal images get different draws.
  ebm::io::ImageSet set{2, 64, 64, {}, {0, 0}};
  for (int i = 0; i < 2; ++i)
    for (int y = 0; y < 64; ++y)
      for (int x = 0; x < 64; ++x) set.pixels.push_back(static_cast<uint8_t>(x + 2 * y));
  const ebm::io::PatchConfig cfg{.size = 5, .per_image = 40, .max_angle = 90.0f, .min_zoom = 1.5f, .max_zoom = 2.5f, .seed = 9};
  const ebm::io::FacePatches p(set, {0, 1}, cfg), swapped(set, {1, 0}, cfg);
  std::vector<float> out(25), twin(25);
  double lo = 1e9, hi = -1e9, worst = 0;
  for (int64_t v = 0; v < 40; ++v) {
    p.patch(v, out);
    const ebm::RngKey key = ebm::make_rng_key(9, 0, static_cast<uint64_t>(v));
    const double a = (2.0 * ebm::uniform01(key, 0) - 1.0) * 90.0 * 3.14159265358979 / 180.0;
    const double step = 64.0 / (1.5 + 1.0 * ebm::uniform01(key, 1)) / 5.0;
    lo = std::min(lo, a), hi = std::max(hi, a);
    CHECK(p.angle(v) == doctest::Approx(a * 180.0 / 3.14159265358979).epsilon(1e-12));
    CHECK(p.image(v) == 0);
    CHECK(p.image(40 + v) == 1);
    CHECK(swapped.image(v) == 1);  // the image's index, not its place in the list
    CHECK(swapped.angle(40 + v) == p.angle(v));
    for (int r = 0; r < 5; ++r)
      for (int c = 0; c < 5; ++c) {
        const double u = c + 0.5 - 2.5, w = r + 0.5 - 2.5;
        const double x = 32 + step * (std::cos(a) * u - std::sin(a) * w) - 0.5;
        const double y = 32 + step * (std::sin(a) * u + std::cos(a) * w) - 0.5;
        worst = std::max(worst, std::abs(out[static_cast<size_t>(r * 5 + c)] - (x + 2 * y) / 255.0));
      }
    p.patch(40 + v, twin);  // the same variant of the second, equal, image
    CHECK(twin != out);
  }
  CHECK(worst < 1e-5);
  CHECK(lo < -1.0);  // the angles cover both turns
  CHECK(hi > 1.0);
}

TEST_CASE("io/face_patches: angle() is how far the face in the patch is turned, counter-clockwise as drawn") {
  // The top half of the image is bright: in each patch, the bright pixels'
  // centroid, seen from the centre, points "up" turned by angle() degrees
  // counter-clockwise on screen (rows run downwards).
  ebm::io::ImageSet set{1, 64, 64, {}, {0}};
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) set.pixels.push_back(static_cast<uint8_t>(y < 32 ? 250 : 0));
  const ebm::io::FacePatches p(set, {0}, {.size = 28, .per_image = 30, .min_zoom = 1.5f, .max_zoom = 1.5f, .seed = 5});
  std::vector<float> out(28 * 28);
  double worst = 0;
  for (int64_t v = 0; v < 30; ++v) {
    p.patch(v, out);
    double cx = 0, cy = 0;
    for (int r = 0; r < 28; ++r)
      for (int c = 0; c < 28; ++c) {
        const double dx = c + 0.5 - 14, dy = r + 0.5 - 14;
        if (dx * dx + dy * dy > 14 * 14) continue;  // a disc: a square's corners would pull the centroid aside
        cx += out[static_cast<size_t>(r * 28 + c)] * dx;
        cy += out[static_cast<size_t>(r * 28 + c)] * dy;
      }
    const double a = p.angle(v) * 3.14159265358979 / 180.0;  // up (0, -1) turned counter-clockwise: (-sin a, -cos a)
    const double seen = std::atan2(-cx, -cy);
    worst = std::max(worst, std::abs(std::remainder(seen - a, 2 * 3.14159265358979)));
  }
  CHECK(worst < 0.02);  // radians
}

TEST_CASE("io/curves: the spline passes through its three points, straight at both ends, smooth at the middle one") {
  const ebm::io::Curves set(200, {.seed = 4});
  for (int64_t i = 0; i < set.count(); ++i) {
    const ebm::io::CurvePoints p = set.points(i);
    for (size_t k = 0; k < 3; ++k) CHECK(ebm::io::spline_value(p, p.x[k]) == doctest::Approx(p.y[k]).epsilon(1e-9));
    constexpr double h = 1e-4;
    auto fd_slope = [&](double x) { return (ebm::io::spline_value(p, x + h) - ebm::io::spline_value(p, x - h)) / (2 * h); };
    for (double x : {p.x[0] + 0.3, (p.x[0] + p.x[1]) / 2, (p.x[1] + p.x[2]) / 2, p.x[2] - 0.3})
      CHECK(ebm::io::spline_slope(p, x) == doctest::Approx(fd_slope(x)).epsilon(1e-5));
    // slope and curvature continuous at x1; curvature 0 at x0 and x2 (natural ends)
    CHECK(ebm::io::spline_slope(p, p.x[1] - 1e-9) == doctest::Approx(ebm::io::spline_slope(p, p.x[1] + 1e-9)).epsilon(1e-6));
    auto curvature = [&](double x) { return (ebm::io::spline_slope(p, x + h) - ebm::io::spline_slope(p, x - h)) / (2 * h); };
    CHECK(curvature(p.x[1] - 1e-3) == doctest::Approx(curvature(p.x[1] + 1e-3)).epsilon(1e-2).scale(1.0));
    CHECK(std::abs((ebm::io::spline_slope(p, p.x[0] + h) - ebm::io::spline_slope(p, p.x[0])) / h) < 1e-3);
    CHECK(std::abs((ebm::io::spline_slope(p, p.x[2]) - ebm::io::spline_slope(p, p.x[2] - h)) / h) < 1e-3);
  }
}

TEST_CASE("io/curves: points keep the margin and the gaps, x increasing, images are the seed's and the stream's") {
  const ebm::io::Curves a(2000, {.seed = 7}), b(2000, {.seed = 7}), other_stream(2000, {.seed = 7, .stream = 1});
  double min_x = 1e9, max_x = -1e9, min_y = 1e9, max_y = -1e9;
  for (int64_t i = 0; i < a.count(); ++i) {
    const ebm::io::CurvePoints p = a.points(i);
    CHECK(p.x[1] - p.x[0] >= 2.0 - 1e-9);
    CHECK(p.x[2] - p.x[1] >= 2.0 - 1e-9);
    for (size_t k = 0; k < 3; ++k) {
      min_x = std::min(min_x, p.x[k]), max_x = std::max(max_x, p.x[k]);
      min_y = std::min(min_y, p.y[k]), max_y = std::max(max_y, p.y[k]);
    }
  }
  // within [2, 25], and spread over it
  CHECK(min_x >= 2.0);
  CHECK(max_x <= 25.0);
  CHECK(min_y >= 2.0);
  CHECK(max_y <= 25.0);
  CHECK(min_x < 2.1);
  CHECK(max_x > 24.9);
  CHECK(min_y < 2.1);
  CHECK(max_y > 24.9);
  CHECK(a.images(10, 20) == b.images(10, 20));
  CHECK(a.images(10, 20) != other_stream.images(10, 20));
  CHECK(a.images(10, 20) != ebm::io::Curves(2000, {.seed = 8}).images(10, 20));
  const std::vector<float> one = a.images(13, 1), block = a.images(10, 20);
  CHECK(std::equal(one.begin(), one.end(), block.begin() + 3 * 784));
}

TEST_CASE("io/curves: a straight curve is one unit of ink per pixel, blurred by the kernel and clipped at 1") {
  // Points on row 10 from column 2 to 20: every column's centre gets one
  // unit of ink; blurred, row 10 has 0.3 + 0.8 + 0.3 (clipped to 1), rows 9
  // and 11 have 0.1 + 0.3 + 0.1, rows further away none.
  const ebm::io::CurvePoints flat{{2.0, 10.0, 20.0}, {10.0, 10.0, 10.0}};
  std::vector<float> img(28 * 28);
  ebm::io::draw_curve(flat, 28, img);
  for (int c = 4; c <= 18; ++c) {
    CAPTURE(c);
    CHECK(img[size_t(10 * 28 + c)] == 1.0f);
    CHECK(img[size_t(9 * 28 + c)] == doctest::Approx(0.5).epsilon(1e-6));
    CHECK(img[size_t(11 * 28 + c)] == doctest::Approx(0.5).epsilon(1e-6));
    for (int r : {0, 5, 8, 12, 20, 27}) CHECK(img[size_t(r * 28 + c)] == 0.0f);
  }
  for (int r = 0; r < 28; ++r)
    for (int c : {0, 22, 27}) CHECK(img[size_t(r * 28 + c)] == 0.0f);
}

TEST_CASE("io/curves: every image is ink on its curve, in [0, 1], and none away from it") {
  const ebm::io::Curves set(100, {.seed = 2});
  std::vector<float> img(784);
  for (int64_t i = 0; i < set.count(); ++i) {
    CAPTURE(i);
    const ebm::io::CurvePoints p = set.points(i);
    set.image(i, img);
    // the curve, walked by plain loops in steps of at most 0.01 pixel of arc
    std::vector<std::pair<double, double>> walk;
    for (double x = p.x[0]; x <= p.x[2];) {
      walk.emplace_back(x, ebm::io::spline_value(p, x));
      const double s = ebm::io::spline_slope(p, x);
      x += 0.01 / std::sqrt(1.0 + s * s);
    }
    walk.emplace_back(p.x[2], p.y[2]);
    int bad_range = 0, ink_far = 0;
    for (int r = 0; r < 28; ++r)
      for (int c = 0; c < 28; ++c) {
        const float v = img[size_t(r * 28 + c)];
        bad_range += !(v >= 0.0f && v <= 1.0f);
        double d2 = 1e9;
        for (auto [x, y] : walk) d2 = std::min(d2, (x - c) * (x - c) + (y - r) * (y - r));
        // ink reaches at most one pixel (bilinear) plus one (the blur) from the curve in each axis:
        // within a distance of 2 sqrt(2)
        if (d2 > 8.0) ink_far += v != 0.0f;
      }
    CHECK(bad_range == 0);
    CHECK(ink_far == 0);
    for (size_t k = 0; k < 3; ++k) {  // the pixels next to each point are well inked
      const auto r = static_cast<int>(std::lround(p.y[k])), c = static_cast<int>(std::lround(p.x[k]));
      float most = 0.0f;
      for (int dr = -1; dr <= 1; ++dr)
        for (int dc = -1; dc <= 1; ++dc) most = std::max(most, img[size_t((r + dr) * 28 + c + dc)]);
      CHECK(most >= 0.5f);
    }
  }
}

TEST_CASE("io/curves: bad sizes, margins, indices and buffers are refused, naming what was expected") {
  using ebm::io::Curves;
  CHECK_THROWS_WITH_AS(Curves(-1, {}), doctest::Contains("expected a count of at least 0"), ebm::Error);
  CHECK_THROWS_WITH_AS(Curves(1, {.side = 3}), doctest::Contains("expected 4 to 4096"), ebm::Error);
  CHECK_THROWS_WITH_AS(Curves(1, {.side = 10, .margin = 3.0}), doctest::Contains("room for three points"), ebm::Error);
  CHECK_THROWS_WITH_AS(Curves(1, {.min_gap = 0.0}), doctest::Contains("gap > 0"), ebm::Error);
  const Curves set(5, {});
  std::vector<float> small(10);
  CHECK_THROWS_WITH_AS(set.points(5), doctest::Contains("image 5 of a set of 5; expected an index in [0, 5)"), ebm::Error);
  CHECK_THROWS_WITH_AS(set.image(0, small), doctest::Contains("an image has 784"), ebm::Error);
  CHECK_THROWS_WITH_AS(set.images(3, 3), doctest::Contains("expected a range within the set"), ebm::Error);
  const ebm::io::CurvePoints backwards{{5.0, 4.0, 9.0}, {1.0, 2.0, 3.0}};
  std::vector<float> img(784);
  CHECK_THROWS_WITH_AS(ebm::io::draw_curve(backwards, 28, img), doctest::Contains("expected them finite and increasing"),
                       ebm::Error);
  const ebm::io::CurvePoints nan_y{{1.0, 4.0, 9.0}, {1.0, std::nan(""), 3.0}};
  CHECK_THROWS_WITH_AS(ebm::io::draw_curve(nan_y, 28, img), doctest::Contains("expected finite coordinates"), ebm::Error);
}
