#pragma once
// Backprop fine-tuning of an Autoencoder: shuffled mini-batches, a
// learning-rate schedule, the validation reconstruction error after every
// epoch, the best epoch's weights kept (the validation rows choose, never
// the test set), and a checkpoint per epoch from which a run resumes
// exactly as if it had not stopped.
//
// With AeOptimizer::cg each mini-batch gets config.cg.line_searches line
// searches of conjugate gradients (autodiff/cg.hpp) on its loss, plus
// cg_weight_decay |w|^2 / 2; every evaluation of one batch draws the same
// random numbers (the executor's step is held for the batch), so a line
// search sees one objective. The step length carries from batch to batch
// and is checkpointed.
//
// The checkpoint (models/checkpoint.hpp: one .npy a tensor) names the net's
// parameters p0, p1, ... in the order of Autoencoder::params(), four a
// layer: We, be, Wd, bd (layer 0's encoder weights are p0, its decoder's
// p2); p<i>.best the best epoch's copy, opt<i> and hyper<i> the optimizer's
// state. Its manifest holds the layers, data units and code type, which a
// resume must match.
//
// Errors are squared reconstruction errors per row, |x^ - x|^2 summed over
// the units (the measure of Hinton & Salakhutdinov 2006). The baseline is
// the validation error of reconstructing every row by the training rows'
// mean, the answer a net stuck at the start gives: an epoch whose
// validation error is over 1.5 times that is flagged as diverging.

#include <filesystem>
#include <functional>
#include <vector>

#include "graph/executor.hpp"
#include "models/autoencoder.hpp"
#include "models/best_params.hpp"
#include "models/checkpoint.hpp"
#include "models/data_source.hpp"

namespace ebm {

using AutoencoderFitConfig = EpochFitConfig;

struct AutoencoderEpoch {
  int epoch = 0;
  double seconds = 0;
  double train_loss = 0;     // mean of the training loss over the epoch's batches
  double valid_error = 0;    // mean squared error per validation row
  double baseline = 0;       // the training mean row's squared error on the validation rows
  bool best = false;         // the lowest validation error so far
  bool diverging = false;    // valid_error over 1.5 times the baseline
  int64_t evaluations = 0;   // cg: loss-and-gradient evaluations over the epoch's batches
  int64_t failures = 0;      // cg: line searches that found no lower point
};

// A resume loads the checkpoint as the fitter is made: set the net's start
// (Autoencoder::init_from) before making it; a resume whose net starts
// elsewhere than the checkpoint's run did is refused (StartRecord).
class AutoencoderFitter {
 public:
  AutoencoderFitter(Autoencoder& a, Executor& ex, AutoencoderFitConfig config);

  // Trains to config.epochs; keeps the best validation epoch's weights in
  // the net when it returns. An ebm::Error names, before it is trained on,
  // a training row holding NaN or inf or a value the data units cannot take
  // (a count below 0, a binary value outside [0, 1]), whatever the
  // optimizer, and a validation row holding one.
  std::vector<AutoencoderEpoch> fit(const DataSource& train, const DataSource& valid,
                                    const std::function<void(const AutoencoderEpoch&)>& on_epoch = {});
  // Mean squared reconstruction error per row of `src` (as seen in epoch 0).
  double error(const DataSource& src);
  // The squared error per row of reconstructing `valid` by the mean row of
  // `train` (both as seen in epoch 0). Leaves the executor's step as it
  // found it.
  double baseline(const DataSource& train, const DataSource& valid);
  // The reconstructions of rows `rows` of `src` (rows.size() x dim floats).
  std::vector<float> reconstruct(const DataSource& src, std::span<const int64_t> rows);
  int epochs_done() const { return epochs_done_; }
  int best_epoch() const { return best_.at(); }
  // The best epoch's validation error (the largest double before any epoch).
  double best_valid_error() const { return best_.error(); }
  // What a resume changed that it may ("resumed with lr 0.02 (the checkpoint's 0.01)").
  const std::vector<std::string>& resume_notes() const { return notes_; }

 private:
  std::vector<NamedTensor> state() const;
  void save() const;
  void load(const std::string& before);
  float base_lr() const;
  float weight_decay() const;
  // cg: the line searches on the batch in x, which is fed to the net; the
  // loss before them.
  double cg_batch(std::span<const float> x, AutoencoderEpoch& s);

  Autoencoder& a_;
  Executor& ex_;
  AutoencoderFitConfig cfg_;
  Tensor eval_x_, eval_out_;
  BestParams best_;  // the parameters at the best epoch, and its validation error
  int epochs_done_ = 0;
  CgState cg_;                 // cg: the step carried between batches
  std::vector<std::string> notes_;
  StartRecord start_;
};

// Mean squared error per row between the rows of `src` (as seen in epoch 0)
// and `output`, computed from them through `input` on the executor in
// padded batches of input's rows.
double reconstruction_error(Executor& ex, Tensor input, Tensor output, const DataSource& src);

// `output` ([rows, n], computed from `input`) for every row of `src` (as
// seen in epoch 0), run in padded batches of input's rows: [src.count, n].
std::vector<float> rows_through(Executor& ex, Tensor input, Tensor output, const DataSource& src);

}  // namespace ebm
