#pragma once
// Training the joint image-label DBN: the labelled top RBM by CD on
// (Q(pen | image), label) pairs, then up-down fine-tuning epochs; the error
// of classification by free energy after each; checkpoints per epoch.

#include <filesystem>
#include <functional>
#include <vector>

#include "graph/executor.hpp"
#include "io/idx.hpp"
#include "models/joint.hpp"

namespace ebm {

struct JointFitConfig {
  int top_epochs = 10;
  int updown_epochs = 10;
  int top_k = 1;           // CD-k in the top RBM's pretraining
  // CD-k in the top RBM during up-down: the epochs are cut into as many equal
  // phases as there are values (Hinton et al. 2006 used 3, 6, 10 over 300).
  std::vector<int> updown_top_k = {1};
  int64_t batch = 100;
  float lr = 0.05f;        // top RBM pretraining
  float updown_lr = 0.01f;
  uint64_t data_seed = 1;
  int64_t eval_batch = 1000;
  std::filesystem::path checkpoint;  // empty: none
  bool resume = false;
};

struct JointEpoch {
  const char* phase = "";  // "top" or "updown"
  int epoch = 0;
  double seconds = 0;
  double valid_error = 0;  // % misclassified by free energy
};

class JointTrainer {
 public:
  // lower: the pretrained DBN below the top (its last layer is the penultimate one).
  JointTrainer(Dbn& lower, LabelledRbm& top, Executor& ex, JointFitConfig config);

  void train_top(const io::ImageSet& train, const io::ImageSet& valid, const std::function<void(const JointEpoch&)>& on_epoch);
  void up_down(const io::ImageSet& train, const io::ImageSet& valid, const std::function<void(const JointEpoch&)>& on_epoch);
  // % of `set` misclassified: greedy model (recognition = the DBN's W) or up-down's R.
  double error(const io::ImageSet& set, bool after_up_down, std::vector<int64_t>* wrong = nullptr);

 private:
  template <typename Step>
  void epochs(const char* phase, int total, bool after_up_down, const io::ImageSet& train, const io::ImageSet& valid,
              Step step, const std::function<void(const JointEpoch&)>& on_epoch);
  void save(const char* phase, int epoch) const;
  int load(const char* phase);

  Dbn& lower_;
  LabelledRbm& top_;
  Executor& ex_;
  JointFitConfig cfg_;
  LabelledCd cd_;
  UpDown ud_;
  int ud_k_ = 0;  // the chain length ud_ was built with
  Tensor eval_x_, greedy_scores_, updown_scores_;
};

}  // namespace ebm
