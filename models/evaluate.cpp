#include "models/evaluate.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>

#include "io/batch.hpp"
#include "io/memory.hpp"
#include "models/best_params.hpp"
#include "models/data_source.hpp"

namespace ebm {

void check_eval_batch_fits(std::string_view who, int64_t eval_batch, int64_t floats_per_row) {
  const double bytes = 4.0 * static_cast<double>(eval_batch) * static_cast<double>(floats_per_row);
  const auto have = static_cast<double>(available_memory_bytes());
  if (have >= 0 && bytes > 0.9 * have)
    throw Error("{}: eval_batch {} needs about {:.1f} GiB ({} floats a row through the net); {:.1f} GiB of memory is "
                "available now; expected a smaller eval_batch",
                who, eval_batch, bytes / double(1 << 30), floats_per_row, have / double(1 << 30));
}

double classification_error(Executor& ex, Tensor input, Tensor scores, const io::ImageSet& set,
                            std::vector<int64_t>* wrong, std::vector<int>* given) {
  if (input.shape().cols != set.dim())
    throw Error("classification_error: images have {} pixels; the input '{}' takes {}", set.dim(), input.name(),
                input.shape().cols);
  return classification_error(ex, input, scores, labelled_images(set), wrong, given);
}

double classification_error(Executor& ex, Tensor input, Tensor scores, const LabelledRows& set,
                            std::vector<int64_t>* wrong, std::vector<int>* given) {
  return classification_error_over_views(ex, input, scores, set, 1, wrong, given);  // softmax keeps each row's argmax
}

namespace {

// Each row of `rows` with softmax(scores) averaged over `views` views of it
// (the row as its source gives it in epochs 0 .. views - 1): `use(r, mean)`
// sees row r's K class probabilities, in row order. `call` names the caller
// in the errors.
template <typename Use>
void for_each_class_mean(Executor& ex, Tensor input, Tensor scores, const DataSource& rows, int views,
                         std::string_view call, Use use) {
  const int64_t b = input.shape().rows, k = scores.shape().cols, n = rows.count;
  if (views < 1) throw Error("{}: {} views; expected at least 1", call, views);
  if (input.shape().cols != rows.dim)
    throw Error("{}: rows have {} values; the input '{}' takes {}", call, rows.dim, input.name(), input.shape().cols);
  if (scores.shape().rows != b)
    throw Error("{}: the scores '{}' have {} rows for the input's {}; expected one row of scores per input row", call,
                scores.graph->label(scores.id), scores.shape().rows, b);
  if (!rows.fill) throw Error("{}: the rows' source has no fill function", call);
  std::vector<float> x(static_cast<size_t>(b * rows.dim));
  std::vector<double> mean(static_cast<size_t>(b * k));
  std::vector<int64_t> idx;
  for (int64_t first = 0; first < n; first += b) {
    padded_rows(first, b, n, idx);
    std::ranges::fill(mean, 0.0);
    for (int v = 0; v < views; ++v) {
      rows.fill(idx, x, static_cast<uint64_t>(v));
      ex.run({scores}, {{input, x}});
      const auto y = ex.value(scores);
      for (int64_t i = 0; i < b; ++i) {  // softmax of the row, added to its mean
        const auto row = y.subspan(static_cast<size_t>(i * k), static_cast<size_t>(k));
        const double top = *std::ranges::max_element(row);
        // NaN, +inf or every class at -inf has no softmax: its argmax would be a guess counted as an answer.
        if (const auto bad = std::ranges::find_if(row, [](float s) { return std::isnan(s) || s == HUGE_VALF; });
            bad != row.end() || top == -HUGE_VAL)
          throw Error("{}: the scores of row {} hold {} (class {}); expected finite scores (from finite rows and "
                      "parameters)",
                      call, std::min(first + i, n - 1),
                      bad == row.end() ? "-inf" : std::isnan(*bad) ? "nan" : "inf",  // a sign of NaN says nothing
                      bad != row.end() ? bad - row.begin() : 0);
        double z = 0;
        for (const float s : row) z += std::exp(s - top);
        for (int64_t c = 0; c < k; ++c)
          mean[static_cast<size_t>(i * k + c)] += std::exp(row[static_cast<size_t>(c)] - top) / z;
      }
    }
    for (int64_t i = 0; i < std::min(b, n - first); ++i)
      use(first + i, std::span<const double>(mean).subspan(static_cast<size_t>(i * k), static_cast<size_t>(k)));
  }
}

}  // namespace

double classification_error_over_views(Executor& ex, Tensor input, Tensor scores, const LabelledRows& set, int views,
                                       std::vector<int64_t>* wrong, std::vector<int>* given) {
  const int64_t k = scores.shape().cols, n = set.rows.count;
  if (static_cast<int64_t>(set.labels.size()) != n)
    throw Error("classification_error: {} labels for {} rows; expected one label per row", set.labels.size(), n);
  if (const auto most = std::ranges::max_element(set.labels); most != set.labels.end() && *most >= k)
    throw Error("classification_error: label {} (row {}) for {} classes of scores; expected labels below {}", *most,
                most - set.labels.begin(), k, k);
  int64_t errors = 0;
  for_each_class_mean(ex, input, scores, set.rows, views, "classification_error",
                      [&](int64_t r, std::span<const double> mean) {
                        if (const auto top = std::ranges::max_element(mean) - mean.begin();
                            top != set.labels[static_cast<size_t>(r)]) {
                          ++errors;
                          if (wrong) wrong->push_back(r);
                          if (given) given->push_back(static_cast<int>(top));
                        }
                      });
  return n > 0 ? 100.0 * static_cast<double>(errors) / static_cast<double>(n) : 0.0;
}

std::vector<float> class_probabilities(Executor& ex, Tensor input, Tensor scores, const DataSource& rows, int views) {
  const auto k = static_cast<size_t>(scores.shape().cols);
  std::vector<float> out(static_cast<size_t>(std::max<int64_t>(rows.count, 0)) * k);
  for_each_class_mean(ex, input, scores, rows, views, "class_probabilities",
                      [&](int64_t r, std::span<const double> mean) {
                        for (size_t c = 0; c < k; ++c)
                          out[static_cast<size_t>(r) * k + c] = static_cast<float>(mean[c] / views);
                      });
  return out;
}

std::vector<int> predicted_classes(std::span<const float> probabilities, int64_t classes) {
  if (classes < 1 || probabilities.size() % static_cast<size_t>(classes) != 0)
    throw Error("predicted_classes: {} probabilities in rows of {} classes; expected whole rows", probabilities.size(),
                classes);
  std::vector<int> out(probabilities.size() / static_cast<size_t>(classes));
  for (size_t r = 0; r < out.size(); ++r) {
    const auto row = probabilities.subspan(r * static_cast<size_t>(classes), static_cast<size_t>(classes));
    out[r] = static_cast<int>(std::ranges::max_element(row) - row.begin());
  }
  return out;
}

}  // namespace ebm
