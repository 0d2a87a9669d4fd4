#pragma once
// Rows of visible vectors a model trains on: images converted per batch, or
// the representations a lower layer computes from them. A source is a
// function of (row indices, epoch), so sampled binarisation and sampled
// hidden states are reproducible and a resumed run sees the same data.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "io/batch.hpp"
#include "io/idx.hpp"
#include "ops/error.hpp"

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

// Rows of a source with a class label each (labels[i] is row i's; kept by
// reference, like the rows): what a classifier trains and is judged on.
struct LabelledRows {
  DataSource rows;
  std::span<const uint8_t> labels;
};

// A set's images scaled to [0, 1], with its labels.
inline LabelledRows labelled_images(const io::ImageSet& set) {
  return {image_source(set, io::Pixels::scaled, 0), set.labels};
}

// Rows held in memory: `values` holds rows of `stride` floats (kept by
// reference); the source's rows are their columns [first, first + dim).
inline DataSource matrix_source(std::span<const float> values, int64_t dim, int64_t stride = 0, int64_t first = 0) {
  if (stride == 0) stride = dim;
  if (dim < 1 || first < 0 || first + dim > stride || values.size() % static_cast<size_t>(stride) != 0)
    throw Error("matrix source: columns {} .. {} of rows of {} in {} floats; expected columns within whole rows",
                first, first + dim - 1, stride, values.size());
  const auto count = static_cast<int64_t>(values.size()) / stride;
  return {count, dim, [values, dim, stride, first, count](std::span<const int64_t> idx, std::span<float> out, uint64_t) {
            if (out.size() != idx.size() * static_cast<size_t>(dim))
              throw Error("matrix source: out has {} floats; expected {} ({} rows x {} columns)", out.size(),
                          idx.size() * static_cast<size_t>(dim), idx.size(), dim);
            for (size_t r = 0; r < idx.size(); ++r) {
              if (idx[r] < 0 || idx[r] >= count)
                throw Error("matrix source: row {} asks for row {}; expected an index in [0, {})", r, idx[r], count);
              std::copy_n(values.begin() + idx[r] * stride + first, dim, out.begin() + static_cast<int64_t>(r) * dim);
            }
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

// Calls body(first, rows) for each batch of b rows of `src` as seen in
// `epoch`, written into `batch` (b rows; the last batch padded by repeating
// its last row, `rows` of them real).
template <typename Body>
void for_each_batch(const DataSource& src, int64_t b, uint64_t epoch, std::vector<float>& batch, Body body) {
  if (!src.fill) throw Error("data source of {} rows: no fill function; expected one that writes the rows", src.count);
  std::vector<int64_t> idx;
  batch.resize(static_cast<size_t>(b * src.dim));
  for (int64_t first = 0; first < src.count; first += b) {
    padded_rows(first, b, src.count, idx);
    src.fill(idx, batch, epoch);
    body(first, std::min(b, src.count - first));
  }
}

// Throws, naming `who`, the row and the column, when a row of `src` as
// seen in `epoch` holds NaN or inf; returns when none does, or when the
// source fails to give them (read in whole padded batches of b rows, the
// only ones a lower layer's source computes). A fitter calls it when its
// parameters turned non-finite, so that NaN data is named as such rather
// than blamed on the learning rate, and when a validation error is not
// finite: `set` names the rows ("training", "validation") and `why` what
// was seen (empty: the parameters turned non-finite in `epoch`).
inline void name_bad_row(const DataSource& src, int64_t b, uint64_t epoch, std::string_view who,
                         std::string_view set = "training", std::string_view why = {}) {
  int64_t row = -1, column = 0;
  float value = 0.0f;
  try {
    std::vector<float> batch;
    for_each_batch(src, b, epoch, batch, [&](int64_t first, int64_t rows) {
      const auto real = std::span<const float>(batch).first(static_cast<size_t>(rows * src.dim));
      if (const auto bad = std::ranges::find_if(real, [](float x) { return !std::isfinite(x); });
          bad != real.end() && row < 0) {
        const int64_t at = bad - real.begin();
        row = first + at / src.dim, column = at % src.dim, value = *bad;
      }
    });
  } catch (const Error&) {
    return;
  }
  if (row >= 0 && why.empty())
    throw Error("{}: {} row {} holds {} at column {}; expected finite data (the parameters turned non-finite in "
                "epoch {})",
                who, set, row, value, column, epoch + 1);
  if (row >= 0)
    throw Error("{}: {} row {} holds {} at column {}; expected finite data ({})", who, set, row, value, column, why);
}

// The squared error of predicting every row of `src` (as seen in epoch 0)
// by the mean row: the sum over units of their variances. Read in padded
// batches of b rows, as a DBN layer's source computes them.
inline double mean_row_error(const DataSource& src, int64_t b, std::vector<float>& batch) {
  const auto d = static_cast<size_t>(src.dim);
  std::vector<double> sum(d), squares(d);
  for_each_batch(src, b, 0, batch, [&](int64_t, int64_t rows) {
    for (size_t k = 0; k < static_cast<size_t>(rows) * d; ++k) {
      sum[k % d] += batch[k];
      squares[k % d] += double{batch[k]} * batch[k];
    }
  });
  double v = 0;
  const auto n = static_cast<double>(std::max<int64_t>(src.count, 1));
  for (size_t i = 0; i < d; ++i) v += std::max(0.0, squares[i] / n - (sum[i] / n) * (sum[i] / n));
  return v;
}

// The rows `idx` of a source as seen in epoch 0, row-major.
inline std::vector<float> rows_of(const DataSource& s, std::span<const int64_t> idx) {
  std::vector<float> out(idx.size() * static_cast<size_t>(s.dim));
  s.fill(idx, out, 0);
  return out;
}

// Every row of a source as seen in epoch 0, row-major (read 500 at a time).
inline std::vector<float> all_rows(const DataSource& s) {
  std::vector<float> out, batch;
  for_each_batch(s, 500, 0, batch, [&](int64_t, int64_t rows) {
    out.insert(out.end(), batch.begin(), batch.begin() + rows * s.dim);
  });
  return out;
}

// The first n rows of a source.
inline DataSource head(const DataSource& s, int64_t n) { return {std::min(n, s.count), s.dim, s.fill, s.concurrent}; }

// Per-column means of the first n rows of a source as seen in epoch 0, read
// in padded batches of `batch` rows (a DBN layer's source computes only
// those).
inline std::vector<float> source_means(const DataSource& s, int64_t n, int64_t batch) {
  std::vector<double> acc(static_cast<size_t>(s.dim), 0.0);
  std::vector<float> buf;
  const DataSource first = head(s, n);
  for_each_batch(first, batch, 0, buf, [&](int64_t, int64_t rows) {  // the real rows only
    for (size_t i = 0; i < static_cast<size_t>(rows * s.dim); ++i) acc[i % acc.size()] += buf[i];
  });
  std::vector<float> m;
  for (double a : acc) m.push_back(static_cast<float>(a / static_cast<double>(std::max<int64_t>(first.count, 1))));
  return m;
}

// The training rows persistent chains start at: the first batch of a
// shuffle of the `rows` rows of their own (not an epoch's), keyed by the
// run's data seed.
inline std::vector<int64_t> chain_start_rows(int64_t rows, int64_t batch, uint64_t data_seed) {
  std::vector<int64_t> order = io::shuffled_indices(rows, data_seed, 999);
  order.resize(static_cast<size_t>(batch));
  return order;
}

}  // namespace ebm
