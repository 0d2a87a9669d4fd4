#pragma once
// A tiny labelled image set for training tests: 4x4 images of three classes
// (class c lights the pixels p with p % 3 == c), each pixel flipped with
// probability 1/10 by a counter-based draw, so a seed fixes the set.

#include "io/idx.hpp"
#include "ops/rng.hpp"

namespace ebm::testing {

inline io::ImageSet tiny_digits(int64_t count, uint32_t seed) {
  io::ImageSet s{count, 4, 4, {}, {}};
  for (int64_t i = 0; i < count; ++i) {
    const auto label = static_cast<uint8_t>(i % 3);
    for (int64_t p = 0; p < 16; ++p) {
      const bool flip = random_bits<uint32_t>(make_rng_key(seed, static_cast<uint64_t>(i), 1), static_cast<uint32_t>(p)) % 10 == 0;
      s.pixels.push_back((p % 3 == label) ^ flip ? 220 : 20);
    }
    s.labels.push_back(label);
  }
  return s;
}

}  // namespace ebm::testing
