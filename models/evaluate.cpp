#include "models/evaluate.hpp"

#include <algorithm>

#include "io/batch.hpp"
#include "models/data_source.hpp"

namespace ebm {

double classification_error(Executor& ex, Tensor input, Tensor scores, const io::ImageSet& set,
                            std::vector<int64_t>* wrong) {
  if (input.shape().cols != set.dim())
    throw Error("classification_error: images have {} pixels; the input '{}' takes {}", set.dim(), input.name(),
                input.shape().cols);
  return classification_error(ex, input, scores, labelled_images(set), wrong);
}

double classification_error(Executor& ex, Tensor input, Tensor scores, const LabelledRows& set,
                            std::vector<int64_t>* wrong) {
  const int64_t b = input.shape().rows, k = scores.shape().cols, n = set.rows.count;
  if (input.shape().cols != set.rows.dim)
    throw Error("classification_error: rows have {} values; the input '{}' takes {}", set.rows.dim, input.name(),
                input.shape().cols);
  if (static_cast<int64_t>(set.labels.size()) != n)
    throw Error("classification_error: {} labels for {} rows; expected one label per row", set.labels.size(), n);
  std::vector<float> x;
  int64_t errors = 0;
  for_each_batch(set.rows, b, 0, x, [&](int64_t first, int64_t rows) {
    ex.run({scores}, {{input, x}});
    const auto y = ex.value(scores);
    for (int64_t i = 0; i < rows; ++i) {
      const auto row = y.subspan(static_cast<size_t>(i * k), static_cast<size_t>(k));
      if (std::max_element(row.begin(), row.end()) - row.begin() != set.labels[static_cast<size_t>(first + i)]) {
        ++errors;
        if (wrong) wrong->push_back(first + i);
      }
    }
  });
  return n > 0 ? 100.0 * static_cast<double>(errors) / static_cast<double>(n) : 0.0;
}

}  // namespace ebm
