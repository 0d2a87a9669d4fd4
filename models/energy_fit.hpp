#pragma once
// The training loop a user's own energy model gets from the library: epochs
// of CD or PCD (contrastive_divergence, models/energy_model.hpp) over a
// DataSource, as RbmFitter gives the RBMs the library ships. Each epoch
// shuffles the rows (keyed by the data seed and the epoch), trains on every
// whole batch, averages the training batches' free energy and the caller's
// own scalars (a reconstruction error, say), measures the mean free energy
// of a training and a validation subset (their gap the overfitting
// signal), checks the parameters for NaN (naming the rate that usually
// cures it), and saves a checkpoint that a run resumes from exactly: the
// parameters, their velocities and PCD's chains, with the settings that
// must not change.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "graph/executor.hpp"
#include "models/checkpoint.hpp"
#include "models/data_source.hpp"
#include "models/energy_model.hpp"

namespace ebm {

struct EnergyFitConfig {
  std::string name = "energy model";  // names the fit in its messages
  int epochs = 10;
  uint64_t data_seed = 1;             // the shuffles (and the rows' own draws, if their source keys any by epoch)
  float lr_decay = 1.0f;              // lr of epoch e (from 0) = the optimizer's lr at construction * lr_decay^e
  int64_t monitor_rows = 1000;        // rows of each set whose mean free energy is compared; 0: none
  std::filesystem::path checkpoint = {};  // empty: none
  bool resume = false;                    // continue from `checkpoint` if one was saved
  // The caller's settings that shape the data (a program's flags, such as
  // {"--pixels", "scaled"}): saved, and a resume with another value refused.
  std::map<std::string, std::string> run_settings = {};
  // The flag that sets the rate ("--lr"), named in a NaN error's cure and in
  // a resume's note; empty: "learning rate". Not saved.
  std::string lr_name = {};
};

struct EnergyEpoch {
  int epoch = 0;  // 1 for the first
  double seconds = 0;
  double free_energy = 0;  // mean F(v) of the epoch's training batches, each before its step
  // Mean F(v) of the first monitor_rows rows of the training and the
  // validation rows (as seen in epoch 0), and valid - train, which grows
  // as the model overfits; NaN when not measured (monitor_rows 0, or no
  // validation rows).
  double fe_train = 0, fe_valid = 0, fe_gap = 0;
  std::vector<double> monitors;  // the caller's scalars, each averaged over the epoch's batches
};

class EnergyFitter {
 public:
  // `cd` is contrastive_divergence(m, v, ...) with `v` the data input
  // [batch, visible] it was built on; `monitors` are [1, 1] values of the
  // same graph computed from v (and the parameters), run beside each step.
  // With persistent chains, a fresh run starts them at its first batch. An
  // ebm::Error names what does not fit together, before anything trains.
  EnergyFitter(const EnergyModel& m, const ContrastiveDivergence& cd, Tensor v, Executor& ex, EnergyFitConfig config,
               std::vector<Tensor> monitors = {});

  // Trains up to config.epochs (counting epochs done before a resume);
  // on_epoch sees each epoch as it ends, before its checkpoint is saved (a
  // run killed between the two redoes that epoch when resumed). An
  // ebm::Error names a training or validation row holding NaN or inf, rows
  // of another width, fewer training rows than a batch, and parameters that
  // went NaN or inf (after the epoch, before its checkpoint, so the last
  // checkpoint is the last finite one).
  std::vector<EnergyEpoch> fit(const DataSource& train, const DataSource& valid,
                               const std::function<void(const EnergyEpoch&)>& on_epoch = {});

  // The mean F(v) of the first `rows` rows of `src` (as seen in epoch 0;
  // NaN when it has none); a row holding NaN or inf is an ebm::Error naming
  // `set` ("validation") and the row. Leaves the executor's step as it
  // found it.
  double mean_free_energy(const DataSource& src, int64_t rows, std::string_view set = {});

  int epochs_done() const { return epochs_done_; }
  // What a resume changed that it may (the rate, the momentum, the decay),
  // and what the checkpoint did not record. Empty for a fresh run.
  const std::vector<std::string>& resume_notes() const { return notes_; }

 private:
  std::vector<NamedTensor> state() const;
  void save() const;
  void load();

  std::vector<Tensor> params_;
  ContrastiveDivergence cd_;
  Tensor v_, eval_f_;
  Executor& ex_;
  EnergyFitConfig cfg_;
  std::vector<Tensor> monitors_;
  float base_lr_ = 0;
  int epochs_done_ = 0;
  std::vector<std::string> notes_;
};

}  // namespace ebm
