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

#include <filesystem>
#include <functional>
#include <vector>

#include "graph/executor.hpp"
#include "io/batch.hpp"
#include "io/idx.hpp"
#include "models/cd.hpp"
#include "models/checkpoint.hpp"

namespace ebm {

struct RbmFitConfig {
  int epochs = 10;
  io::Pixels pixels = io::Pixels::sampled;  // how training images become visible vectors
  uint64_t data_seed = 1;                   // shuffles and sampled binarisation
  float lr_decay = 1.0f;                    // lr of epoch e = lr * lr_decay^e
  float final_momentum = 0.9f;
  int momentum_switch_epoch = 5;            // initial momentum before, final after
  int64_t monitor_images = 1000;            // subset size for fe_gap and pseudo_ll
  std::filesystem::path checkpoint;         // empty: no checkpoints
  bool resume = false;                      // continue from `checkpoint`
};

struct EpochStats {
  int epoch = 0;
  double seconds = 0;
  double recon_error = 0;
  double fe_train = 0, fe_valid = 0, fe_gap = 0;
  double pseudo_ll = 0;
};

class RbmFitter {
 public:
  RbmFitter(CdTrainer& trainer, Executor& ex, RbmFitConfig config);

  // Trains up to config.epochs (counting epochs done before a resume);
  // on_epoch sees each epoch's statistics as it ends.
  std::vector<EpochStats> fit(const io::ImageSet& train, const io::ImageSet& valid,
                              const std::function<void(const EpochStats&)>& on_epoch = {});

  // Mean free energy of images [first, first + count) of `set`, converted as for training.
  double mean_free_energy(const io::ImageSet& set, int64_t first, int64_t count, uint64_t epoch);
  // F(v) of every image of `set` (Pixels as configured, epoch 0 for sampled binarisation).
  std::vector<double> free_energies(const io::ImageSet& set, io::BatchOptions conversion);
  double pseudo_likelihood(const io::ImageSet& set, int64_t count, uint64_t epoch);

  int epochs_done() const { return epochs_done_; }
  void save(int epoch) const;
  void load();

 private:
  std::vector<NamedTensor> state() const;
  io::BatchOptions conversion(uint64_t epoch) const;

  CdTrainer& t_;
  Executor& ex_;
  RbmFitConfig cfg_;
  Tensor v_eval_, f_eval_;  // a batch of visible vectors and their free energies
  int epochs_done_ = 0;
  std::vector<float> batch_;
};

}  // namespace ebm
