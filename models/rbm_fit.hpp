#pragma once
// The RBM training loop: epochs of shuffled mini-batches through a CdTrainer,
// the momentum and learning-rate schedule of Hinton's practical guide,
// per-epoch monitoring, and checkpoints after every epoch from which a run
// resumes exactly as if it had not stopped (same shuffles, same binarisation,
// same random draws: all are keyed by seeds and counters saved with it).
//
// Monitoring, per epoch:
//   recon_error  mean over the epoch's batches of |v0 - E[v|h0]|^2 per image
//   fe_gap       mean F(validation subset) - mean F(training subset): grows
//                when the model starts to overfit (the guide, section 6)
//   pseudo_ll    V log sigmoid(F(v~) - F(v)), v~ = v with one random bit
//                flipped, averaged over the training subset (binary visibles
//                and rows of 0s and 1s; NaN for other rows, such as the
//                probabilities of the layer below or grey pixels, where a
//                flip of p to 1 - p would measure nothing)
//   diverging    from the second epoch on, recon_error above 1.5 times
//                recon_baseline, the error of predicting every unit by its
//                mean (the sum of the units' variances over the training
//                subset in epoch 0); or recon_error over twice the lowest of the
//                epochs before it in the same fit() call and above it by a
//                tenth of recon_baseline at least (a model that
//                collapses, as PCD at lr 0.1 does when its momentum goes
//                from 0.5 to 0.9, yet stays near the means' error; after a
//                resume the epochs before it are not known, so the call's
//                first epoch is judged by the baseline alone). No verdict
//                when the baseline is below 1e-6: inputs that barely vary,
//                such as the features of a layer below that has died. Either way
//                the weights have run away, most often from too large a
//                learning rate. The first epoch's error averages over the
//                starting model, which may predict worse than the means (a
//                DBN layer's visible biases start at 0), so it is not judged.

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "graph/executor.hpp"
#include "models/cd.hpp"
#include "models/checkpoint.hpp"
#include "models/data_source.hpp"

namespace ebm {

struct RbmFitConfig {
  int epochs = 10;
  uint64_t data_seed = 1;                   // shuffles (and saved to check a resume)
  float lr_decay = 1.0f;                    // lr of epoch e = lr * lr_decay^e
  float final_momentum = 0.9f;
  int momentum_switch_epoch = 5;            // initial momentum before, final after
  int64_t monitor_images = 1000;            // subset size for fe_gap, pseudo_ll and recon_baseline
  std::filesystem::path checkpoint = {};    // empty: no checkpoints
  bool resume = false;                      // continue from `checkpoint` if one was saved
  // The caller's settings that shape the training data (a program's flags,
  // e.g. {"--pixels", "sampled"}): saved with each checkpoint, and a resume
  // with another value is refused, naming the key.
  std::map<std::string, std::string> run_settings = {};
  // The rate as its user sets it, named when the weights go NaN ("a
  // smaller --data-lr (now 1) usually cures it"); empty: "learning rate".
  // Not a training setting: not saved, not checked on resume.
  std::string lr_name = {};
  // The flags that set training settings, by the settings' keys ({"k",
  // "--method"}): a refused resume names the flag beside the key. Not saved.
  std::map<std::string, std::string> setting_flags = {};
};

// Resuming: the checkpoint's manifest records the whole training
// configuration (CdConfig's and RbmFitConfig's fields but epochs, the
// model's shape and units, the seeds, the caller's run_settings). A resume
// must continue as an unbroken run with this run's settings would have, so
// any difference is refused with an ebm::Error naming the setting, the
// checkpoint's value and this run's, except two a user changes on purpose:
// more (or fewer) epochs, and the learning rate (from the next epoch on;
// RbmFitter::resume_notes says so). A key the checkpoint lacks (written
// before it was recorded) cannot be checked: the notes name it.

// The visible unit whose bit the pseudo-likelihood flips in row `row` of
// the monitoring subset in `epoch` (of `visible` units), keyed by the run's
// data seed: the same for every model, so epochs and runs compare.
int64_t pseudo_likelihood_bit(uint64_t data_seed, uint64_t epoch, int64_t row, int64_t visible);

struct EpochStats {
  int epoch = 0;  // 1 for the first epoch (RbmFitConfig::lr_decay's e counts from 0: epoch 1 trains at lr)
  double seconds = 0;
  double recon_error = 0;
  double fe_train = 0, fe_valid = 0, fe_gap = 0;
  double pseudo_ll = 0;  // NaN where not measured (visible units that are not binary)
  double recon_baseline = 0;
  double lowest_before = 0;  // the lowest recon_error of the same fit() call's earlier epochs (0: none)
  bool diverging = false;
};

// Why an epoch was flagged as diverging (the rule above that fired), as a
// clause after the epoch's error: "over 1.5 times that of predicting each
// <unit> by its mean (66.16)" or "over twice the lowest of the earlier
// epochs (24.07)"; empty when it was not flagged.
std::string diverging_reason(const EpochStats& s, std::string_view unit = "unit");

// Inputs whose means' error (recon_baseline) is under 1e-6, which get no
// verdict on divergence: rows all but the same, such as the features of a
// layer below whose weights ran away.
constexpr double kStillInputs = 1e-6;
inline bool inputs_barely_vary(const EpochStats& s) { return s.recon_baseline < kStillInputs; }

struct CrbmTrainer;

class RbmFitter {
 public:
  RbmFitter(CdTrainer& trainer, Executor& ex, RbmFitConfig config);
  // A convolutional RBM (models/crbm.hpp), fitted and monitored the same way.
  RbmFitter(CrbmTrainer& trainer, Executor& ex, RbmFitConfig config);

  // Trains up to config.epochs (counting epochs done before a resume);
  // on_epoch sees each epoch's statistics as it ends, before the epoch's
  // checkpoint is saved (a run killed between the two redoes the epoch and
  // its callback when resumed, so a caller's per-epoch file keeps every
  // row: cut it back to epochs_done() on resume). An ebm::Error names
  // a training or validation row holding NaN or inf, or a value the visible
  // units cannot take (first_out_of_range: a binary or softmax unit's
  // outside [0, 1], a count below 0; the training rows are checked in the
  // first epoch each call trains, the monitored validation rows before
  // training and at every epoch's monitoring).
  std::vector<EpochStats> fit(const DataSource& train, const DataSource& valid,
                              const std::function<void(const EpochStats&)>& on_epoch = {});

  // F(v) of every row of `src` as seen in `epoch`, and their mean. With
  // `set` named ("validation"), a row the visible units cannot take is an
  // ebm::Error naming the set, the row and the column.
  std::vector<double> free_energies(const DataSource& src, uint64_t epoch, std::string_view set = {});
  double mean_free_energy(const DataSource& src, uint64_t epoch, std::string_view set = {});
  // V log sigmoid(F(v~) - F(v)) averaged over the rows of `src`.
  double pseudo_likelihood(const DataSource& src, uint64_t epoch);
  // The error of predicting each unit by its mean over the monitoring
  // subset of `train` as seen in epoch 0 (EpochStats::recon_baseline).
  // Leaves the executor's step as it found it, but not its last run's
  // values.
  double recon_baseline(const DataSource& train);

  int epochs_done() const { return epochs_done_; }
  // What a resume from the checkpoint (in the constructor) should tell the
  // user: a changed learning rate, settings the checkpoint did not record.
  // Empty for a fresh run.
  const std::vector<std::string>& resume_notes() const { return notes_; }
  // The checkpoint (RbmFitConfig::checkpoint, models/checkpoint.hpp) of
  // kind "rbm" ("crbm" for a convolutional RBM) holds the tensors "W", "b"
  // and "c" (the model's), "W.velocity", "b.velocity" and "c.velocity"
  // (the momentum's), and "chain" for PCD; load_checkpoint of the first
  // three alone restores a bare Rbm of the same shape.
  void save(int epoch) const;
  // Restores the checkpoint after checking its settings against this run's
  // (above); a refused or damaged checkpoint leaves the model untouched.
  void load();

 private:
  // What a NaN in the weights asks to change: the rate (its flag and value),
  // and a weight decay or L1 cost large enough to run away by itself.
  std::string cure() const;
  std::vector<NamedTensor> state() const;
  // The free energies' gap and the pseudo-likelihood of `epoch` into s.
  void monitor(EpochStats& s, const DataSource& train, const DataSource& valid, uint64_t epoch);

  // What the fitter needs of the model behind the trainer.
  struct Model {
    std::string name, kind;  // kind: the checkpoint's model kind
    Tensor w, b, c;
    Unit visible_unit = Unit::binary;  // the data's range; the pseudo-likelihood (binary units only) flips bits
    std::string meta;             // a JSON object describing it, saved with the checkpoint
    std::function<Tensor(Tensor)> free_energy;
  };
  RbmFitter(CdSteps& trainer, Executor& ex, RbmFitConfig config, Model model);

  CdSteps& t_;
  Model m_;
  Executor& ex_;
  RbmFitConfig cfg_;
  Tensor v_eval_, f_eval_;  // a batch of visible vectors and their free energies
  int epochs_done_ = 0;
  std::vector<std::string> notes_;
  std::vector<float> batch_, next_;  // next_: the batch prepared beside a step
};

}  // namespace ebm
