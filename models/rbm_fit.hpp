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
//                flipped, averaged over the training subset (binary visibles)
//   diverging    from the second epoch on, recon_error above 1.5 times
//                recon_baseline, the error of predicting every unit by its
//                mean (the sum of the units' variances over the training
//                subset in epoch 0; no verdict when it is 0): the weights
//                have run away, most often from too large a learning rate.
//                The first epoch's error averages over the starting model,
//                which may predict worse than the means (a DBN layer's
//                visible biases start at 0), so it is not judged.

#include <filesystem>
#include <functional>
#include <string>
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
  std::filesystem::path checkpoint;         // empty: no checkpoints
  bool resume = false;                      // continue from `checkpoint` if one was saved
};

struct EpochStats {
  int epoch = 0;
  double seconds = 0;
  double recon_error = 0;
  double fe_train = 0, fe_valid = 0, fe_gap = 0;
  double pseudo_ll = 0;
  double recon_baseline = 0;
  bool diverging = false;
};

struct CrbmTrainer;

class RbmFitter {
 public:
  RbmFitter(CdTrainer& trainer, Executor& ex, RbmFitConfig config);
  // A convolutional RBM (models/crbm.hpp), fitted and monitored the same way.
  RbmFitter(CrbmTrainer& trainer, Executor& ex, RbmFitConfig config);

  // Trains up to config.epochs (counting epochs done before a resume);
  // on_epoch sees each epoch's statistics as it ends.
  std::vector<EpochStats> fit(const DataSource& train, const DataSource& valid,
                              const std::function<void(const EpochStats&)>& on_epoch = {});

  // F(v) of every row of `src` as seen in `epoch`, and their mean.
  std::vector<double> free_energies(const DataSource& src, uint64_t epoch);
  double mean_free_energy(const DataSource& src, uint64_t epoch);
  // V log sigmoid(F(v~) - F(v)) averaged over the rows of `src`.
  double pseudo_likelihood(const DataSource& src, uint64_t epoch);
  // The error of predicting each unit by its mean over the monitoring
  // subset of `train` as seen in epoch 0 (EpochStats::recon_baseline).
  // Leaves the executor's step as it found it, but not its last run's
  // values.
  double recon_baseline(const DataSource& train);

  int epochs_done() const { return epochs_done_; }
  void save(int epoch) const;
  void load();

 private:
  std::vector<NamedTensor> state() const;
  // The free energies' gap and the pseudo-likelihood of `epoch` into s.
  void monitor(EpochStats& s, const DataSource& train, const DataSource& valid, uint64_t epoch);

  // What the fitter needs of the model behind the trainer.
  struct Model {
    std::string name, kind;  // kind: the checkpoint's model kind
    Tensor w, b, c;
    bool binary_visible = false;  // the pseudo-likelihood flips bits
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
  std::vector<float> batch_, next_;  // next_: the batch prepared beside a step
};

}  // namespace ebm
