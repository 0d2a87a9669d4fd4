#include "io/batch.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "io/files.hpp"
#include "ops/error.hpp"
#include "ops/rng.hpp"

namespace ebm::io {
namespace {

// The RNG step of the shuffle's first draw round; image indices (the step of
// a sampled pixel) never come near it.
constexpr uint64_t shuffle_step = ~uint64_t{0};

void check_set(std::string_view who, const ImageSet& set) {
  uint64_t dim = 0, pixels = 0;  // count x height x width, unless it overflows
  const bool fits = set.count >= 0 && set.height >= 0 && set.width >= 0 &&
                    checked_mul(static_cast<uint64_t>(set.height), static_cast<uint64_t>(set.width), dim) &&
                    checked_mul(static_cast<uint64_t>(set.count), dim, pixels);
  if (!fits || set.pixels.size() != pixels)
    throw Error("{}: the set has {} pixels for {} images of {} x {}; expected count x height x width pixels", who,
                set.pixels.size(), set.count, set.height, set.width);
}

void check_out_size(std::string_view who, std::size_t got, int64_t rows, int64_t cols) {
  if (got != static_cast<std::size_t>(rows * cols))
    throw Error("{}: out has {} floats; expected {} ({} rows x {} columns)", who, got, rows * cols, rows, cols);
}

void check_index(std::string_view who, const ImageSet& set, int64_t index, std::size_t row) {
  if (index < 0 || index >= set.count)
    throw Error("{}: row {} asks for image {}; expected an index in [0, {})", who, row, index, set.count);
}

// The three conversions are plain loops over the row, which GCC compiles to
// one pass of widening SIMD conversions (xsimd 8.1's uint8 loads convert
// element by element, so it is not used here).
void scaled_row(const uint8_t* p, float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(p[i]) / 255.0f;
}

void threshold_row(const uint8_t* p, float* x, int64_t n, float threshold) {
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(p[i]) / 255.0f > threshold ? 1.0f : 0.0f;
}

// [u < p / 255] with u = b 2^-24 (b the 24 high random bits), decided
// exactly in integers: 255 b < 2^24 p (both sides below 2^32).
void sampled_row(const uint8_t* p, float* x, int64_t n, RngKey key) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t b = random_bits<uint32_t>(key, static_cast<uint32_t>(i)) >> 8;
    x[i] = 255u * b < (uint32_t{p[i]} << 24) ? 1.0f : 0.0f;
  }
}

// Uniform integer in [0, bound), bound >= 1: the high half of bits * bound,
// redrawn (with the next round's key) while the low half is below
// 2^32 mod bound, the zone that would bias it (Lemire 2019).
uint32_t draw_below(uint32_t bound, uint32_t counter, uint64_t seed, uint64_t epoch) {
  const uint32_t biased = static_cast<uint32_t>(-bound) % bound;
  for (uint64_t round = 0;; ++round) {
    const RngKey key = make_rng_key(seed, epoch, shuffle_step - round);
    const uint64_t m = uint64_t{random_bits<uint32_t>(key, counter)} * bound;
    if (static_cast<uint32_t>(m) >= biased) return static_cast<uint32_t>(m >> 32);
  }
}

}  // namespace

void fill_batch(const ImageSet& set, std::span<const int64_t> indices, std::span<float> out, BatchOptions o) {
  check_set("fill_batch", set);
  const int64_t d = set.dim();
  check_out_size("fill_batch", out.size(), static_cast<int64_t>(indices.size()), d);
  if (o.mode != Pixels::scaled && o.mode != Pixels::threshold && o.mode != Pixels::sampled)
    throw Error("fill_batch: pixel mode {}; expected Pixels::scaled, threshold or sampled", static_cast<int>(o.mode));
  if (o.mode == Pixels::threshold && !(o.threshold >= 0.0f && o.threshold < 1.0f))
    throw Error("fill_batch: threshold {}; expected a value in [0, 1) (pixels p / 255 above it are 1)", o.threshold);
  for (std::size_t r = 0; r < indices.size(); ++r) {
    const int64_t index = indices[r];
    check_index("fill_batch", set, index, r);
    const uint8_t* p = set.pixels.data() + index * d;
    if (r + 2 < indices.size() && indices[r + 2] >= 0 && indices[r + 2] < set.count)  // images are scattered:
      for (int64_t b = 0; b < d; b += 64) __builtin_prefetch(set.pixels.data() + indices[r + 2] * d + b);  // fetch ahead
    float* x = out.data() + static_cast<int64_t>(r) * d;
    switch (o.mode) {
      case Pixels::scaled: scaled_row(p, x, d); break;
      case Pixels::threshold: threshold_row(p, x, d, o.threshold); break;
      case Pixels::sampled:
        sampled_row(p, x, d, make_rng_key(o.seed, o.epoch, static_cast<uint64_t>(index)));
        break;
    }
  }
}

void fill_one_hot(const ImageSet& set, std::span<const int64_t> indices, int classes, std::span<float> out) {
  if (set.labels.size() != static_cast<std::size_t>(set.count))
    throw Error("fill_one_hot: the set has {} labels for {} images; expected one label per image",
                set.labels.size(), set.count);
  fill_one_hot(set.labels, indices, classes, out);
}

void fill_one_hot(std::span<const uint8_t> labels, std::span<const int64_t> indices, int classes,
                  std::span<float> out) {
  if (classes < 1) throw Error("fill_one_hot: {} classes; expected at least 1", classes);
  check_out_size("fill_one_hot", out.size(), static_cast<int64_t>(indices.size()), classes);
  std::fill(out.begin(), out.end(), 0.0f);
  const auto n = static_cast<int64_t>(labels.size());
  for (std::size_t r = 0; r < indices.size(); ++r) {
    if (indices[r] < 0 || indices[r] >= n)
      throw Error("fill_one_hot: row {} asks for image {}; expected an index in [0, {})", r, indices[r], n);
    const int label = labels[static_cast<std::size_t>(indices[r])];
    if (label >= classes)
      throw Error("fill_one_hot: image {} has label {}; expected a label below {} classes", indices[r], label,
                  classes);
    out[r * static_cast<std::size_t>(classes) + static_cast<std::size_t>(label)] = 1.0f;
  }
}

std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed, uint64_t epoch) {
  if (n < 0 || n > int64_t{UINT32_MAX})
    throw Error("shuffled_indices: n = {}; expected 0 <= n <= {}", n, UINT32_MAX);
  std::vector<int64_t> order(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    const uint32_t j = draw_below(static_cast<uint32_t>(i + 1), static_cast<uint32_t>(i), seed, epoch);
    std::swap(order[static_cast<std::size_t>(i)], order[j]);
  }
  return order;
}

Batcher::Batcher(int64_t n, int64_t batch_size, uint64_t seed, Tail tail)
    : Batcher(n, batch_size, seed, tail, {}) {}

Batcher::Batcher(std::span<const uint8_t> strata, int64_t batch_size, uint64_t seed, Tail tail)
    : Batcher(static_cast<int64_t>(strata.size()), batch_size, seed, tail, strata) {}

Batcher::Batcher(int64_t n, int64_t batch_size, uint64_t seed, Tail tail, std::span<const uint8_t> strata)
    : n_(n), batch_size_(batch_size), seed_(seed), tail_(tail), strata_(strata.begin(), strata.end()) {
  if (batch_size < 1) throw Error("Batcher: batch size {}; expected at least 1", batch_size);
  if (tail == Tail::drop && n < batch_size)  // an epoch would hold no batch and train nothing
    throw Error("Batcher: batches of {} from {} items would leave an epoch with no batch; expected {}", batch_size, n,
                n > 0 ? fmt::format("a batch size of at most {}", n) : std::string("at least one item"));
  start_epoch(0);
}

void Batcher::start_epoch(uint64_t epoch) {
  epoch_ = epoch;
  order_ = shuffled_indices(n_, seed_, epoch);
  if (strata_.empty()) return;
  // The r-th item (in the shuffled order) of a stratum of n_c items sits at
  // (r + 1/2) / n_c of the epoch; a stable sort on that place keeps the
  // shuffle's order among ties, so equally large strata take turns.
  std::array<int64_t, 256> size{}, seen{};
  for (uint8_t c : strata_) ++size[c];
  std::vector<std::pair<double, int64_t>> placed;
  placed.reserve(order_.size());
  for (int64_t i : order_) {
    const uint8_t c = strata_[static_cast<size_t>(i)];
    placed.emplace_back((static_cast<double>(seen[c]++) + 0.5) / static_cast<double>(size[c]), i);
  }
  std::ranges::stable_sort(placed, {}, &std::pair<double, int64_t>::first);
  for (size_t k = 0; k < placed.size(); ++k) order_[k] = placed[k].second;
}

int64_t Batcher::batches() const {
  return tail_ == Tail::drop ? n_ / batch_size_ : (n_ + batch_size_ - 1) / batch_size_;
}

std::span<const int64_t> Batcher::batch(int64_t b) const {
  if (b < 0 || b >= batches()) throw Error("Batcher: batch {}; expected an index in [0, {})", b, batches());
  const int64_t first = b * batch_size_;
  const int64_t size = std::min(batch_size_, n_ - first);
  return std::span<const int64_t>(order_).subspan(static_cast<std::size_t>(first), static_cast<std::size_t>(size));
}

std::vector<float> pixel_means(const ImageSet& set) {
  std::vector<double> acc(static_cast<size_t>(set.dim()), 0.0);
  for (int64_t i = 0; i < set.count; ++i)
    for (int64_t p = 0; p < set.dim(); ++p) acc[static_cast<size_t>(p)] += set.pixels[static_cast<size_t>(i * set.dim() + p)];
  std::vector<float> m;
  for (double a : acc) m.push_back(static_cast<float>(a / (255.0 * static_cast<double>(std::max<int64_t>(set.count, 1)))));
  return m;
}

}  // namespace ebm::io
