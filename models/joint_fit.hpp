#pragma once
// Training the joint image-label DBN: the labelled top RBM by CD on
// (Q(pen | image), label) pairs, then up-down fine-tuning epochs, then
// optionally a refit on all images; the error of classification by free
// energy after each epoch; checkpoints (parameters and velocities) per epoch.

#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "graph/executor.hpp"
#include "io/idx.hpp"
#include "models/best_params.hpp"
#include "models/checkpoint.hpp"
#include "models/joint.hpp"

namespace ebm {

struct JointFitConfig {
  int top_epochs = 10;
  int updown_epochs = 10;
  int top_k = 1;           // CD-k in the top RBM's pretraining
  // CD-k in the top RBM during up-down: the epochs are cut into as many equal
  // phases as there are values (Hinton et al. 2006 used 3, 6, 10 over 300).
  std::vector<int> updown_top_k = {1};
  ChainLabels chain_labels = ChainLabels::sampled;  // the top chain's labels, in pretraining and up-down
  int64_t batch = 100;
  float lr = 0.05f;        // top RBM pretraining
  float top_weight_decay = 2e-4f;  // top RBM pretraining: L2 penalty on its weights and biases
  float updown_lr = 0.01f;
  // Up-down and its refit: momentum (the paper's pseudo-code has none: 0) and
  // an L2 penalty on every parameter, weights and biases, as top_weight_decay.
  float updown_momentum = 0.9f;
  float updown_weight_decay = 0.0f;
  // Up-down ends with the parameters of its epoch of lowest validation
  // error (the earliest, on a tie), their velocities zeroed when that epoch
  // was not the last; false: with the last epoch's.
  bool updown_keep_best = true;
  uint64_t data_seed = 1;
  // Batches of the top RBM's pretraining, up-down and the refit: false,
  // shuffled; true, balanced, each digit in proportion to its share of the
  // images (Hinton et al. 2006 used 10 of each digit per batch of 100).
  bool balanced_batches = false;
  int64_t eval_batch = 1000;
  // The refit after up-down, as Hinton et al. (2006) finished: this many more
  // epochs on all the images, training and validation split together, at the
  // schedule's last chain length. 0: none.
  int refit_epochs = 0;
  // The refit starts at refit_lr (0: updown_lr) and, with refit_anneal, falls
  // linearly towards zero (lr (E - e) / E in refit epoch e of E), so the
  // model settles.
  float refit_lr = 0.0f;
  bool refit_anneal = true;
  // The refit's error on all its images (JointEpoch::train_error), measured
  // every this many epochs and after the last; NaN in the others. Skipping
  // a measurement changes nothing else: the step counter, which keys the
  // training's random draws, moves on as the measurement would have moved
  // it. (On 60,000 images each measurement costs about two seconds.)
  int refit_error_every = 1;
  std::filesystem::path checkpoint;  // empty: none
  bool resume = false;
  // The program's flags that shape the model's data (dbn_mnist: {"--validation",
  // "10000"}), saved with each checkpoint; a resume with another value is
  // refused, naming the flag (as RbmFitConfig::run_settings).
  std::map<std::string, std::string> run_settings = {};
};

struct JointEpoch {
  const char* phase = "";  // "top", "updown" or "refit"
  int epoch = 0;
  double seconds = 0;
  double valid_error = 0;  // top, updown: % of the validation split misclassified by free energy
  // refit: % of all the images (which it trains on) misclassified; NaN when
  // not measured (every epoch of the top RBM and up-down phases)
  double train_error = std::numeric_limits<double>::quiet_NaN();
  bool best = false;       // updown: the lowest validation error so far (its parameters kept)
};

struct JointRefit {
  int epochs = 0;          // refit epochs done
  double all_error = 0;    // % of all the images misclassified after them
};

class JointTrainer {
 public:
  // lower: the pretrained DBN below the top (its last layer is the penultimate one).
  JointTrainer(Dbn& lower, LabelledRbm& top, Executor& ex, JointFitConfig config);

  // Both refuse, before their first epoch, images of another size than the
  // DBN takes, a label missing or not below top.labels, and an empty
  // validation set. up_down runs once per trainer, after train_top (which
  // trains the top RBM or resumes its checkpoint; top_epochs = 0 keeps it as
  // it is), and train_top not after it: otherwise an ebm::Error says so.
  void train_top(const io::ImageSet& train, const io::ImageSet& valid, const std::function<void(const JointEpoch&)>& on_epoch);
  void up_down(const io::ImageSet& train, const io::ImageSet& valid, const std::function<void(const JointEpoch&)>& on_epoch);
  // After up_down: refit_epochs more epochs on `all` (see JointFitConfig).
  JointRefit refit(const io::ImageSet& all, const std::function<void(const JointEpoch&)>& on_epoch);
  // The up-down epoch whose parameters up_down() ended with (0: none kept,
  // or updown_keep_best off), and its validation error.
  int updown_best_epoch() const { return ud_best_.at(); }
  double updown_best_error() const { return ud_best_.error(); }
  // The up-down network as last built (its step has the current chain length).
  const UpDown& updown_model() const { return ud_; }
  // % of `set` misclassified: greedy model (recognition = the DBN's W) or up-down's R;
  // the pixels scaled to [0, 1], or with binarizations > 0 each image classified by
  // the mean of p(y | b) over that many sampled binarizations b of it (keyed by
  // ~data_seed; see classification_error_over_views), as the model trains on
  // sampled binary pixels.
  double error(const io::ImageSet& set, bool after_up_down, std::vector<int64_t>* wrong = nullptr,
               int binarizations = 0, std::vector<int>* given = nullptr);
  // Each image's label probabilities, images x labels, by the same model and
  // reading as error() (for images without labels: predicted_classes in
  // models/evaluate.hpp gives their classes).
  std::vector<float> probabilities(const io::ImageSet& set, bool after_up_down, int binarizations = 0);
  // The epochs of `phase` ("top", "updown", "refit") a resume would start
  // from: 0 without its checkpoint, after an earlier phase trained in this
  // run, or when the phase's schedule depends on its length (up-down's CD-k
  // phases, the refit's annealed rate) and that length changed.
  int saved_epoch(const char* phase) const;
  // What the resumes so far changed that a run may change (a phase's
  // learning rate), one line each; cleared by the call.
  std::vector<std::string> take_resume_notes() { return std::exchange(notes_, {}); }

 private:
  template <typename Step>
  double train_epoch(const io::ImageSet& train, uint64_t shuffle_seed, int e, Step step);
  template <typename Step>
  // Returns the epochs the phase's model then holds.
  int epochs(const char* phase, int total, bool after_up_down, const io::ImageSet& train, const io::ImageSet& valid,
             Step step, const std::function<void(const JointEpoch&)>& on_epoch);
  SgdOptions updown_sgd() const {
    return {.lr = cfg_.updown_lr, .momentum = cfg_.updown_momentum, .weight_decay = cfg_.updown_weight_decay};
  }
  // The executor runs one classification of `set` takes (one per batch of
  // eval_batch images): error() leaves the step counter that far on.
  uint64_t eval_runs(const io::ImageSet& set) const {
    return static_cast<uint64_t>((set.count + cfg_.eval_batch - 1) / cfg_.eval_batch);
  }
  const char* chain_labels_name() const {
    return cfg_.chain_labels == ChainLabels::probabilities ? "probabilities" : "sampled";
  }
  void check_sets(const char* call, const io::ImageSet& train, const io::ImageSet& valid, const char* valid_use) const;
  int top_k_at(int epoch) const;  // up-down's chain length in that epoch (0-based)
  void set_top_k(int k);          // rebuilds ud_'s step for a new chain length
  // The parameters and the phase's velocities (and up-down's best copies, unless with_best is false).
  std::vector<NamedTensor> state(const char* phase, bool with_best = true) const;
  void save(const char* phase, int epoch) const;
  int planned(const char* phase) const;  // the epochs the config asks of `phase`
  std::vector<int> chain_lengths(const char* phase) const;  // its CD-k values (up-down: the schedule)
  float phase_lr(const char* phase) const;                   // its starting learning rate
  int load(const char* phase);           // the epochs done
  // saved_epoch's answer, and the length the phase's checkpoint was planned
  // for when that length differs from this run's and matters (else 0).
  struct SavedPhase {
    int epoch = 0, other_plan = 0;
  };
  SavedPhase saved_phase(const char* phase) const;

  Dbn& lower_;
  LabelledRbm& top_;
  Executor& ex_;
  JointFitConfig cfg_;
  LabelledCd cd_;
  UpDown ud_;
  BestParams ud_best_;  // up-down's parameters at its best validation error so far
  int ud_k_ = 0;  // the chain length ud_ was built with
  bool trained_ = false;  // a phase trained an epoch in this run: later phases do not resume
  bool top_ran_ = false;  // train_top has run to its end (trained, resumed, or 0 epochs asked)
  Tensor eval_x_, greedy_scores_, updown_scores_;
  std::vector<std::string> notes_;
  template <typename Read>
  auto read_images(const io::ImageSet& set, bool after_up_down, int binarizations, const char* what, Read read);
  std::string lower_fingerprint() const;  // a phase's checkpoint records it, and resumes only on the same
};

}  // namespace ebm
