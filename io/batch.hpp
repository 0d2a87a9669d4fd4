#pragma once
// Mini-batches from an ImageSet. Pixels stay uint8 in memory; a batch is
// converted to float rows in one pass:
//
//   scaled     x = p / 255
//   threshold  x = [p / 255 > threshold]
//   sampled    x = [u < p / 255],  u = uniform01(make_rng_key(seed, epoch, image), pixel),
//              compared exactly: [255 b < 2^24 p] for u = b 2^-24
//
// A sampled image therefore binarizes identically whenever it appears in
// the same epoch, whatever batch holds it. The key has the same form as an
// op's (seed, node, step) key: give the data its own seed, not the model's.

#include <cstdint>
#include <span>
#include <vector>

#include "io/idx.hpp"

namespace ebm::io {

enum class Pixels { scaled, threshold, sampled };

struct BatchOptions {
  Pixels mode = Pixels::scaled;
  float threshold = 0.5f;
  uint64_t seed = 0;
  uint64_t epoch = 0;
};

// Writes indices.size() rows of set.dim() floats into `out`.
void fill_batch(const ImageSet& set, std::span<const int64_t> indices, std::span<float> out, BatchOptions options = {});

// Writes indices.size() rows of `classes` floats: 1 at the image's label, 0 elsewhere.
void fill_one_hot(const ImageSet& set, std::span<const int64_t> indices, int classes, std::span<float> out);
// The same with the labels of a whole set given apart: row r takes
// labels[indices[r]].
void fill_one_hot(std::span<const uint8_t> labels, std::span<const int64_t> indices, int classes,
                  std::span<float> out);

// The mean of each pixel over the set, scaled to [0, 1].
std::vector<float> pixel_means(const ImageSet& set);

// A uniformly random permutation of [0, n), a pure function of (n, seed, epoch)
// (Fisher-Yates over the counter-based RNG).
std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed, uint64_t epoch);

// The batches of one epoch: consecutive runs of batch_size indices of the
// epoch's permutation. With Tail::drop the n % batch_size leftover indices
// are skipped (every batch has the same shape; the next epoch's shuffle
// leaves out different images); with Tail::keep the last batch is shorter.
class Batcher {
 public:
  enum class Tail { drop, keep };

  Batcher(int64_t n, int64_t batch_size, uint64_t seed, Tail tail = Tail::drop);
  // Stratified (balanced) batches over strata.size() items, item i in stratum
  // strata[i] (a class label): each epoch spreads every stratum evenly through
  // its order, the items of a stratum in random order, so a batch holds close
  // to batch_size n_c / n items of stratum c (8 to 12 of each digit per 100
  // on MNIST's first 50,000 training labels; exactly batch_size / K each when
  // the K strata are equally large and K divides batch_size). Hinton et al.
  // (2006) trained on such batches, 10 of each digit.
  Batcher(std::span<const uint8_t> strata, int64_t batch_size, uint64_t seed, Tail tail = Tail::drop);

  // Reshuffles for `epoch`; the constructor starts epoch 0.
  void start_epoch(uint64_t epoch);
  uint64_t epoch() const { return epoch_; }
  int64_t batches() const;
  std::span<const int64_t> batch(int64_t b) const;

 private:
  Batcher(int64_t n, int64_t batch_size, uint64_t seed, Tail tail, std::span<const uint8_t> strata);

  int64_t n_, batch_size_;
  uint64_t seed_, epoch_ = 0;
  Tail tail_;
  std::vector<uint8_t> strata_;  // empty: plain shuffled batches
  std::vector<int64_t> order_;
};

}  // namespace ebm::io
