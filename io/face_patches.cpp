#include "io/face_patches.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "io/files.hpp"
#include "ops/error.hpp"
#include "ops/rng.hpp"

namespace ebm::io {

FacePatches::FacePatches(const ImageSet& faces, std::vector<int64_t> images, PatchConfig cfg)
    : faces_(faces), images_(std::move(images)), cfg_(cfg) {
  if (faces_.height != faces_.width || faces_.height < 2)
    throw Error("face patches: images of {} x {}; expected square ones of at least 2 x 2", faces_.height, faces_.width);
  uint64_t dim = 0, pixels = 0;  // count x height x width, unless it overflows
  if (faces_.count < 0 ||
      !checked_mul(static_cast<uint64_t>(faces_.height), static_cast<uint64_t>(faces_.width), dim) ||
      !checked_mul(static_cast<uint64_t>(faces_.count), dim, pixels) || faces_.pixels.size() != pixels)
    throw Error("face patches: the set has {} pixels for {} images of {} x {}; expected count x height x width",
                faces_.pixels.size(), faces_.count, faces_.height, faces_.width);
  if (cfg_.size < 1 || cfg_.size > 4096 || cfg_.per_image < 1 || cfg_.per_image > (int64_t{1} << 32))
    throw Error("face patches: size {} and {} per image; expected a size of 1 to 4096 and 1 to 2^32 per image",
                cfg_.size, cfg_.per_image);
  if (!(cfg_.min_zoom > 0.0f && cfg_.min_zoom <= cfg_.max_zoom) || !std::isfinite(cfg_.max_zoom) ||
      !(cfg_.max_angle >= 0.0f) || !std::isfinite(cfg_.max_angle))
    throw Error("face patches: zoom [{}, {}] and angle {}; expected finite values, 0 < min_zoom <= max_zoom and "
                "angle >= 0",
                cfg_.min_zoom, cfg_.max_zoom, cfg_.max_angle);
  for (int64_t i : images_)
    if (i < 0 || i >= faces_.count) throw Error("face patches: image {} of a set of {}", i, faces_.count);
}

FacePatches::Draw FacePatches::draw(int64_t i) const {
  if (i < 0 || i >= count()) throw Error("face patches: patch {} of {}", i, count());
  const int64_t p = images_[static_cast<size_t>(i / cfg_.per_image)];
  const RngKey key = make_rng_key(cfg_.seed, static_cast<uint64_t>(p), static_cast<uint64_t>(i % cfg_.per_image));
  return {p, (2.0 * uniform01(key, 0) - 1.0) * cfg_.max_angle * std::numbers::pi / 180.0,
          cfg_.min_zoom + (cfg_.max_zoom - cfg_.min_zoom) * uniform01(key, 1)};
}

double FacePatches::angle(int64_t i) const { return draw(i).angle * 180.0 / std::numbers::pi; }
int64_t FacePatches::image(int64_t i) const { return draw(i).image; }

void FacePatches::patch(int64_t i, std::span<float> out) const {
  const Draw d = draw(i);
  if (static_cast<int64_t>(out.size()) != dim())
    throw Error("face patches: room for {} floats; a patch has {}", out.size(), dim());
  const int64_t p = d.image;
  const double angle = d.angle, zoom = d.zoom;
  const int64_t side = faces_.width, n = cfg_.size;
  const double step = static_cast<double>(side) / zoom / static_cast<double>(n);  // image pixels per patch pixel
  const double ca = std::cos(angle) * step, sa = std::sin(angle) * step, centre = static_cast<double>(side) / 2.0;
  const uint8_t* img = faces_.pixels.data() + p * faces_.dim();
  auto at = [&](int64_t y, int64_t x) {
    return img[std::clamp<int64_t>(y, 0, side - 1) * side + std::clamp<int64_t>(x, 0, side - 1)];
  };
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < n; ++c) {
      const double u = static_cast<double>(c) + 0.5 - static_cast<double>(n) / 2.0;
      const double v = static_cast<double>(r) + 0.5 - static_cast<double>(n) / 2.0;
      // image coordinates of the sample, pixel centres at k + 1/2
      const double x = centre + ca * u - sa * v - 0.5, y = centre + sa * u + ca * v - 0.5;
      const double fx = std::floor(x), fy = std::floor(y), wx = x - fx, wy = y - fy;
      const auto x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
      const double g = (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x0 + 1)) +
                       wy * ((1 - wx) * at(y0 + 1, x0) + wx * at(y0 + 1, x0 + 1));
      out[static_cast<size_t>(r * n + c)] = static_cast<float>(g / 255.0);
    }
}

std::vector<int64_t> images_with_labels(const ImageSet& set, int first, int last) {
  if (set.labels.size() != static_cast<size_t>(set.count))
    throw Error("images_with_labels: {} labels for {} images", set.labels.size(), set.count);
  std::vector<int64_t> out;
  for (int64_t i = 0; i < set.count; ++i)
    if (set.labels[static_cast<size_t>(i)] >= first && set.labels[static_cast<size_t>(i)] < last) out.push_back(i);
  return out;
}

}  // namespace ebm::io
