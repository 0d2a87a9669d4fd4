#pragma once
// Classification error of a graph: `scores` [B, K] computed from `input`
// [B, pixels] on the executor, images scaled to [0, 1] (or any rows),
// padded to whole batches; the class is the argmax of a row.

#include <span>
#include <vector>

#include "graph/executor.hpp"
#include "io/idx.hpp"
#include "models/data_source.hpp"

namespace ebm {

// % of `set` misclassified; their indices go to `wrong` when given, and the
// class each of them was given to `given`, in the same order. A row whose
// scores hold NaN or +inf (or are all -inf) has no class: an ebm::Error
// names it.
double classification_error(Executor& ex, Tensor input, Tensor scores, const io::ImageSet& set,
                            std::vector<int64_t>* wrong = nullptr, std::vector<int>* given = nullptr);
// The same for any labelled rows (as seen in epoch 0).
double classification_error(Executor& ex, Tensor input, Tensor scores, const LabelledRows& set,
                            std::vector<int64_t>* wrong = nullptr, std::vector<int>* given = nullptr);
// The same with each row's class the argmax of softmax(scores) averaged over
// `views` views of it: the row as its source gives it in epochs 0 .. views - 1.
// With a source that samples, such as sampled binarisation
// (image_source(set, io::Pixels::sampled, seed)), that is the mean of
// p(y | b) over `views` draws of b: a model trained on binary images
// classifies a grey image x by the mean over b ~ Bernoulli(x), not by
// p(y | x) at an input it never saw. Scores are logits (or -F per label).
double classification_error_over_views(Executor& ex, Tensor input, Tensor scores, const LabelledRows& set, int views,
                                       std::vector<int64_t>* wrong = nullptr, std::vector<int>* given = nullptr);

// What a trained classifier says of rows without labels: per row of `rows`
// (as its source gives them in epochs 0 .. views - 1), softmax(scores)
// averaged over the views, rows x K row-major, each row summing to 1. The
// rows' classes are predicted_classes of it (each row's argmax; the first
// of a tie; the means are rounded to float, so a near tie may fall
// otherwise than in classification_error, which compares them in double).
// Finetuner::probabilities and JointTrainer::probabilities call
// it on their nets.
std::vector<float> class_probabilities(Executor& ex, Tensor input, Tensor scores, const DataSource& rows,
                                       int views = 1);
std::vector<int> predicted_classes(std::span<const float> probabilities, int64_t classes);

}  // namespace ebm
