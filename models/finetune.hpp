#pragma once
// Backprop fine-tuning of a Classifier on labelled images (or any labelled
// rows): shuffled
// mini-batches, a learning-rate schedule, the validation error after every
// epoch, the best epoch's weights kept (the validation set chooses, never the
// test set), and a checkpoint per epoch from which a run resumes exactly.

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "graph/executor.hpp"
#include "io/idx.hpp"
#include "models/best_params.hpp"
#include "models/checkpoint.hpp"
#include "models/classifier.hpp"
#include "models/data_source.hpp"

namespace ebm {

using FinetuneConfig = EpochFitConfig;

struct FinetuneEpoch {
  int epoch = 0;
  double seconds = 0;
  double train_loss = 0;    // mean cross-entropy over the epoch's batches
  double valid_error = 0;   // % of the validation images misclassified
  bool best = false;        // the lowest validation error so far
  // train_loss is over 10 times a uniform guess's (10 ln classes): the
  // weights have run away, most often from too large a learning rate.
  bool diverging = false;
};

// What a Finetuner trains: a net whose logits over `classes` feed a softmax
// cross-entropy `loss` on a batch `x` with one-hot targets `t`, updated by
// `opt` (handles into the graph). Classifier::net() gives one; so can any
// model, such as a convolutional DBN unrolled into a convnet.
struct SoftmaxNet {
  Graph* graph = nullptr;
  std::string name;
  Tensor x, t, loss;
  Optimizer opt;
  std::vector<Tensor> params;              // what opt updates, in its order
  std::function<Tensor(Tensor)> predict;  // the logits of another input [rows, x's columns]
  int64_t classes = 0;
  float lr = 0;                   // the starting learning rate
  std::vector<int64_t> layers;    // saved with the checkpoint
};

// A resume loads the checkpoint as the Finetuner is made: set the net's
// start (Classifier::init_from) before making it. The checkpoint records
// the fingerprint of the weights its run started from, and a resume whose
// net starts elsewhere (a stack trained further or another one, or weights
// set after the Finetuner was made) is refused, naming both.
class Finetuner {
 public:
  Finetuner(Classifier& c, Executor& ex, FinetuneConfig config);
  Finetuner(SoftmaxNet net, Executor& ex, FinetuneConfig config);

  // Trains to config.epochs; keeps the best validation epoch's weights in
  // the classifier when it returns. An ebm::Error names a training or
  // validation row holding NaN or inf.
  std::vector<FinetuneEpoch> fit(const io::ImageSet& train, const io::ImageSet& valid,
                                 const std::function<void(const FinetuneEpoch&)>& on_epoch = {});
  // The same on any labelled rows (features, say): the training rows as
  // seen in each epoch, the validation rows as in epoch 0.
  std::vector<FinetuneEpoch> fit(const LabelledRows& train, const LabelledRows& valid,
                                 const std::function<void(const FinetuneEpoch&)>& on_epoch = {});
  // % of `set` misclassified (images scaled to [0, 1]); the indices of the
  // misclassified images go to `wrong` when given.
  double error(const io::ImageSet& set, std::vector<int64_t>* wrong = nullptr, std::vector<int>* given = nullptr);
  double error(const LabelledRows& set, std::vector<int64_t>* wrong = nullptr, std::vector<int>* given = nullptr);
  // Each row's class probabilities (softmax of the net's logits), rows x
  // classes, for rows without labels: predicted_classes (models/evaluate.hpp)
  // gives their classes.
  std::vector<float> probabilities(const DataSource& rows);
  int epochs_done() const { return epochs_done_; }
  int best_epoch() const { return best_.at(); }
  // What a resume changed that the run may change (the learning rate and
  // its decay, say after a divergence), one line each; empty otherwise.
  const std::vector<std::string>& resume_notes() const { return notes_; }

 private:
  std::vector<NamedTensor> state() const;
  void save() const;
  void load(const std::string& before);

  SoftmaxNet c_;
  Executor& ex_;
  FinetuneConfig cfg_;
  Tensor eval_x_, eval_logits_;
  BestParams best_;  // the parameters at the best epoch, and its validation error
  int epochs_done_ = 0;
  std::vector<std::string> notes_;
  StartRecord start_;
};

}  // namespace ebm
