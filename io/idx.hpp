#pragma once
// IDX files (the MNIST format) with a uint8 payload, and labelled image sets.
//
// IDX layout: magic = [0, 0, type, ndims], then ndims big-endian uint32 sizes,
// then prod(sizes) elements in row-major order. Only type 0x08 (uint8) is
// read. Every malformed file is an ebm::Error naming the file and what was
// expected.

#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

namespace ebm::io {

struct IdxArray {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> data;  // prod(dims) elements
};

// `rank`, when given, is the number of dimensions the caller expects
// (with `what` it says: "an image array [count, height, width]"); a header
// that declares another is named as such before the payload is checked
// (a damaged dimension count would otherwise read as trailing bytes).
IdxArray read_idx(const std::filesystem::path& file, uint32_t rank = 0, std::string_view what = {});

// `count` images of height x width uint8 pixels, row-major one after another,
// and one label per image (labels may be empty for an unlabelled set).
struct ImageSet {
  int64_t count = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;  // count * dim()
  std::vector<uint8_t> labels;  // count, or empty

  int64_t dim() const { return height * width; }
};

// A 3-D IDX image file [count, height, width] and a 1-D IDX label file
// [count]; with `classes` > 0, every label must be below it (an
// ebm::Error naming the label file, the image and the label otherwise).
// An empty `labels` path loads an unlabelled set (labels empty).
ImageSet load_idx_images(const std::filesystem::path& images, const std::filesystem::path& labels, int classes = 0);

// "<dir>/<split>-images-idx3-ubyte" and "<dir>/<split>-labels-idx1-ubyte";
// split is "train" (60000 images) or "t10k" (10000 images); labels 0-9.
// Any count of at least one image is read (a subset for a quick test), but
// only 28 x 28 images: anything else is an ebm::Error naming the file.
ImageSet load_mnist(const std::filesystem::path& dir, std::string_view split);

// Images [first, first + count) of `set` (a train/validation split).
ImageSet slice(const ImageSet& set, int64_t first, int64_t count);

}  // namespace ebm::io
