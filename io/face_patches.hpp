#pragma once
// The face patches of the deep-autoencoder experiment (Hinton &
// Salakhutdinov 2006): each of a set of face images turned into many small
// patches by a random rotation, a random zoom, a crop around the centre and
// subsampling. The paper's recipe ("rotating (-90 to +90 degrees), scaling
// (1.4 to 2.0), cropping, and subsampling" the 64 x 64 Olivetti faces to
// 25 x 25) leaves the details open; ours, fixed here:
//
//   variant v of image p draws, keyed by (seed, p, v), an angle a uniform in
//   [-max_angle, max_angle] degrees and a zoom s uniform in [min_zoom, max_zoom];
//   patch pixel (r, c) samples the image, bilinearly (edges clamped), at
//   centre + R(a) ((c + 1/2 - n/2), (r + 1/2 - n/2)) (side / s) / n,
//
// with n the patch size and side the image's width: the patch covers a
// square of side / s image pixels about the centre (32 to 46 of 64 at the
// paper's zooms), turned by a. Patches are pure functions of (p, v), made
// as they are asked for: nothing is stored.

#include <cstdint>
#include <span>
#include <vector>

#include "io/idx.hpp"

namespace ebm::io {

struct PatchConfig {
  int64_t size = 25;       // patches are size x size
  int64_t per_image = 414;  // 400 x 414 = the paper's 165,600 patches
  float max_angle = 90.0f;  // degrees
  float min_zoom = 1.4f, max_zoom = 2.0f;
  uint64_t seed = 1;
};

class FacePatches {
 public:
  // `faces` (square images) is kept by reference; `images` are the indices
  // of the faces to cut patches from.
  FacePatches(const ImageSet& faces, std::vector<int64_t> images, PatchConfig config);
  FacePatches(const ImageSet&& faces, std::vector<int64_t> images, PatchConfig config) = delete;  // would dangle

  int64_t count() const { return static_cast<int64_t>(images_.size()) * cfg_.per_image; }
  int64_t dim() const { return cfg_.size * cfg_.size; }
  // Patch i (variant i % per_image of image images[i / per_image]), grey
  // levels scaled to [0, 1], into `out` (dim() floats).
  void patch(int64_t i, std::span<float> out) const;
  // The angle patch i was turned by, in degrees: the face in it appears
  // turned counter-clockwise by that much (clockwise when negative), as
  // drawn with rows top to bottom. The target of the face-orientation
  // regression (Salakhutdinov & Hinton 2007).
  double angle(int64_t i) const;
  // The face image patch i is cut from.
  int64_t image(int64_t i) const;

 private:
  struct Draw {
    int64_t image;
    double angle, zoom;  // radians; zoom as in PatchConfig
  };
  Draw draw(int64_t i) const;

  const ImageSet& faces_;
  std::vector<int64_t> images_;
  PatchConfig cfg_;
};

// The indices of the images whose label is in [first, last) (the Olivetti
// labels are people: a split by person).
std::vector<int64_t> images_with_labels(const ImageSet& set, int first, int last);

}  // namespace ebm::io
