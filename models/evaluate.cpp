#include "models/evaluate.hpp"

#include <algorithm>

#include "io/batch.hpp"
#include "models/data_source.hpp"

namespace ebm {

double classification_error(Executor& ex, Tensor input, Tensor scores, const io::ImageSet& set,
                            std::vector<int64_t>* wrong) {
  const int64_t b = input.shape().rows, k = scores.shape().cols;
  if (input.shape().cols != set.dim())
    throw Error("classification_error: images have {} pixels; the input '{}' takes {}", set.dim(), input.name(),
                input.shape().cols);
  std::vector<float> x(static_cast<size_t>(b * set.dim()));
  std::vector<int64_t> idx;
  int64_t errors = 0;
  for (int64_t first = 0; first < set.count; first += b) {
    padded_rows(first, b, set.count, idx);
    io::fill_batch(set, idx, x, {.mode = io::Pixels::scaled});
    ex.run({scores}, {{input, x}});
    const auto y = ex.value(scores);
    for (int64_t i = 0; i < b && first + i < set.count; ++i) {
      const auto row = y.subspan(static_cast<size_t>(i * k), static_cast<size_t>(k));
      if (std::max_element(row.begin(), row.end()) - row.begin() != set.labels[static_cast<size_t>(first + i)]) {
        ++errors;
        if (wrong) wrong->push_back(first + i);
      }
    }
  }
  return 100.0 * static_cast<double>(errors) / static_cast<double>(set.count);
}

}  // namespace ebm
