#pragma once
// The MNIST training images for the training-step benches, found from the
// repository root or a build directory; without them (scripts/fetch_mnist.sh
// not run), random bytes of the same size, with a comment saying so. Random
// bytes have almost no zero pixels, so zero skipping gains little on them.

#include <cstdint>
#include <filesystem>
#include <system_error>
#include <vector>

#include "bench/timing.hpp"
#include "io/idx.hpp"

namespace bench {

inline ebm::io::ImageSet mnist_training_images() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);  // build/bin/bench_x
  std::vector<std::filesystem::path> dirs{"data/mnist", "../data/mnist", "../../data/mnist"};
  if (!ec) dirs.push_back(exe.parent_path() / "../../data/mnist");  // wherever it is run from
  for (const std::filesystem::path& dir : dirs)
    if (std::filesystem::exists(dir / "train-images-idx3-ubyte", ec)) return ebm::io::load_mnist(dir, "train");
  print_comment("MNIST not found (run scripts/fetch_mnist.sh); timing on random bytes of the same size");
  ebm::io::ImageSet s{60000, 28, 28, std::vector<uint8_t>(60000 * 784), std::vector<uint8_t>(60000, 0)};
  for (size_t i = 0; i < s.pixels.size(); ++i) s.pixels[i] = static_cast<uint8_t>((i * 2654435761u) >> 24);
  for (size_t i = 0; i < s.labels.size(); ++i) s.labels[i] = static_cast<uint8_t>(i % 10);
  return s;
}

// How sparse the benches' inputs are, as key=value lines:
//   pixels_on_sampled_pct  mean intensity: the expected share of pixels on
//                          when each is sampled (binarized) afresh
//   pixels_nonzero_pct     share of pixels not 0 (the zeros that survive
//                          scaling to [0, 1])
inline void print_pixel_sparsity(const ebm::io::ImageSet& s) {
  double sum = 0, nonzero = 0;
  for (uint8_t p : s.pixels) sum += p, nonzero += p != 0;
  const auto n = static_cast<double>(s.pixels.size());
  print_value("pixels_on_sampled_pct", 100.0 * sum / 255.0 / n, 1);
  print_value("pixels_nonzero_pct", 100.0 * nonzero / n, 1);
}

}  // namespace bench
