// Classification error over several views of each row (models/evaluate.hpp):
// the mean of softmax(scores) over sampled binarizations, against a plain
// loop that binarizes, multiplies and averages by itself.

#include <cmath>
#include <vector>

#include <doctest/doctest.h>

#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "io/batch.hpp"
#include "models/evaluate.hpp"
#include "ops/rng.hpp"
#include "tests/tiny_digits.hpp"

using namespace ebm;

namespace {

constexpr int64_t kPixels = 16, kClasses = 3;

// Logits x W of a linear classifier with weights drawn from `seed`: weak
// enough that grey images' binarizations often disagree on the class.
std::vector<float> weights(uint64_t seed) {
  std::vector<float> w(static_cast<size_t>(kPixels * kClasses));
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = 2.0f * uniform01(make_rng_key(seed, 0, 0), static_cast<uint32_t>(i)) - 1.0f;
  return w;
}

// The images of `set` misclassified by the mean over `views` binarizations
// (io::Pixels::sampled, `seed`, epochs 0 .. views - 1), one image at a time;
// the class each was given to `given` when asked.
std::vector<int64_t> wrong_by_loop(const io::ImageSet& set, const std::vector<float>& w, uint64_t seed, int views,
                                   std::vector<int>* given = nullptr) {
  std::vector<int64_t> wrong;
  std::vector<float> x(kPixels);
  for (int64_t i = 0; i < set.count; ++i) {
    std::vector<double> mean(kClasses, 0.0);
    for (int v = 0; v < views; ++v) {
      const int64_t index[] = {i};
      io::fill_batch(set, index, x, {.mode = io::Pixels::sampled, .seed = seed, .epoch = static_cast<uint64_t>(v)});
      std::vector<double> logit(kClasses, 0.0);
      for (int64_t c = 0; c < kClasses; ++c)
        for (int64_t p = 0; p < kPixels; ++p) logit[c] += double{x[p]} * w[p * kClasses + c];
      double z = 0;
      for (double l : logit) z += std::exp(l);
      for (int64_t c = 0; c < kClasses; ++c) mean[c] += std::exp(logit[c]) / z;
    }
    int64_t best = 0;
    for (int64_t c = 1; c < kClasses; ++c)
      if (mean[c] > mean[best]) best = c;
    if (best != set.labels[i]) {
      wrong.push_back(i);
      if (given) given->push_back(static_cast<int>(best));
    }
  }
  return wrong;
}

struct Linear {
  Graph g;
  Tensor x, logits;
  explicit Linear(int64_t batch, const std::vector<float>& w) {
    x = g.input("x", {batch, kPixels});
    logits = matmul(x, g.constant({kPixels, kClasses}, w));
  }
};

}  // namespace

TEST_CASE("evaluate: classification over sampled binarizations equals a plain loop averaging softmax per image") {
  const io::ImageSet set = testing::tiny_digits(90, 7);  // pixels 20 and 220: grey, so binarizations differ
  const std::vector<float> w = weights(11);
  Linear net(40, w);  // 90 images: the last batch padded
  Executor ex(net.g, {.threads = 2, .seed = 1});
  const uint64_t seed = 5;
  const LabelledRows views{image_source(set, io::Pixels::sampled, seed), set.labels};
  for (int n : {1, 4, 25}) {
    CAPTURE(n);
    std::vector<int64_t> wrong;
    std::vector<int> given, expected_given;
    const double err = classification_error_over_views(ex, net.x, net.logits, views, n, &wrong, &given);
    const std::vector<int64_t> expected = wrong_by_loop(set, w, seed, n, &expected_given);
    CHECK(wrong == expected);
    CHECK(given == expected_given);  // the class each wrong image was given, in the same order
    CHECK(err == doctest::Approx(100.0 * static_cast<double>(expected.size()) / 90.0));
  }
  // The views matter: one binarization and the mean over 25 misclassify different images.
  CHECK(wrong_by_loop(set, w, seed, 1) != wrong_by_loop(set, w, seed, 25));
}

TEST_CASE("evaluate: over views of black-and-white images, any number of views reads as the scaled images") {
  io::ImageSet set = testing::tiny_digits(60, 3);
  for (uint8_t& p : set.pixels) p = p > 128 ? 255 : 0;  // every binarization is the image itself
  Linear net(30, weights(2));
  Executor ex(net.g, {.threads = 2, .seed = 1});
  std::vector<int64_t> scaled_wrong, views_wrong;
  const double scaled = classification_error(ex, net.x, net.logits, set, &scaled_wrong);
  const LabelledRows views{image_source(set, io::Pixels::sampled, 9), set.labels};
  CHECK(classification_error_over_views(ex, net.x, net.logits, views, 3, &views_wrong) == scaled);
  CHECK(views_wrong == scaled_wrong);
  CHECK(scaled > 0.0);  // the weights are random: some images are wrong, so the lists compare something
  CHECK_THROWS_WITH_AS(classification_error_over_views(ex, net.x, net.logits, views, 0),
                       doctest::Contains("0 views; expected at least 1"), Error);
}
