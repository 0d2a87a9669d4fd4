#pragma once
// Classification error of a graph: `scores` [B, K] computed from `input`
// [B, pixels] on the executor, images scaled to [0, 1] (or any rows),
// padded to whole batches; the class is the argmax of a row.

#include <vector>

#include "graph/executor.hpp"
#include "io/idx.hpp"
#include "models/data_source.hpp"

namespace ebm {

// % of `set` misclassified; their indices go to `wrong` when given.
double classification_error(Executor& ex, Tensor input, Tensor scores, const io::ImageSet& set,
                            std::vector<int64_t>* wrong = nullptr);
// The same for any labelled rows (as seen in epoch 0).
double classification_error(Executor& ex, Tensor input, Tensor scores, const LabelledRows& set,
                            std::vector<int64_t>* wrong = nullptr);

}  // namespace ebm
