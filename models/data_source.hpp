#pragma once
// Rows of visible vectors a model trains on: images converted per batch, or
// the representations a lower layer computes from them. A source is a
// function of (row indices, epoch), so sampled binarisation and sampled
// hidden states are reproducible and a resumed run sees the same data.

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "io/batch.hpp"
#include "io/idx.hpp"

namespace ebm {

struct DataSource {
  int64_t count = 0;  // rows
  int64_t dim = 0;    // floats per row
  // Writes rows `indices` (indices.size() x dim floats) as seen in `epoch`.
  std::function<void(std::span<const int64_t> indices, std::span<float> out, uint64_t epoch)> fill;
  // fill uses no executor, so a trainer may run it beside a step (the next
  // batch while this one trains: Executor::run's `alongside`).
  bool concurrent = false;
};

// Images of `set` (kept by reference: it must outlive the source), converted
// with `mode`; sampled binarisation is keyed by (seed, epoch, image).
inline DataSource image_source(const io::ImageSet& set, io::Pixels mode, uint64_t seed) {
  return {set.count, set.dim(), [&set, mode, seed](std::span<const int64_t> idx, std::span<float> out, uint64_t epoch) {
            io::fill_batch(set, idx, out, {.mode = mode, .seed = seed, .epoch = epoch});
          },
          true};
}

// Rows first .. first + batch - 1 of a set of `count` rows, the last row
// repeated past the end so every batch has the same shape (callers ignore
// the padding).
inline void padded_rows(int64_t first, int64_t batch, int64_t count, std::vector<int64_t>& idx) {
  idx.clear();
  for (int64_t i = first; i < first + batch; ++i) idx.push_back(std::min(i, count - 1));
}

// The first n rows of a source.
inline DataSource head(const DataSource& s, int64_t n) { return {std::min(n, s.count), s.dim, s.fill, s.concurrent}; }

}  // namespace ebm
