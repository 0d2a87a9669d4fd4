#pragma once
// Greedy layer-wise training of a Dbn (Hinton, Osindero & Teh 2006) as the
// library gives it: each RBM learns by CD from the layer below's
// representation of the data (the recognition pass Q(h|v), probabilities or
// binary states drawn from it), the layers below it frozen, with
// RbmFitter's schedule, monitoring, checkpoints and exact resume.
//
//   ebm::Dbn dbn = ebm::Dbn::make(g, "dbn", {.layers = {784, 500, 500, 2000}});
//   std::vector<ebm::DbnLayerConfig> layers(3);
//   for (size_t l = 0; l < layers.size(); ++l)
//     layers[l].fit = {.epochs = 10, .checkpoint = fmt::format("out/dbn/layer{}", l), .resume = true};
//   ebm::fit_greedy(dbn, ex, train, valid, ebm::io::pixel_means(train_set), layers,
//                   [](int l, const ebm::EpochStats& s) { fmt::print("layer {} epoch {}\n", l + 1, s.epoch); });
//
// DbnLayerFit is one layer of it, for callers that show or check each layer
// their own way (the samples: a progress line, a CSV, a summary row).

#include <functional>
#include <span>
#include <vector>

#include "models/cd.hpp"
#include "models/dbn.hpp"
#include "models/rbm_fit.hpp"

namespace ebm {

struct DbnLayerConfig {
  CdConfig cd;       // the layer's CD: method, k, batch, rate, momentum, decay, sparsity
  RbmFitConfig fit;  // epochs, schedule, monitoring, checkpoint folder and resume; data_seed also keys
                     // sample_up's draws and where PCD's chains start
  // Layers above the first: learn from binary states drawn from the layer
  // below's Q(h|v) (true, what the bound's argument assumes) or from its
  // probabilities (false: less sampling noise).
  bool sample_up = false;
  // Layers above the first: start as the transpose of the layer below
  // (Dbn::init_from_below, which refuses a layer of another shape), which
  // leaves the bound where the layer below left it.
  bool transpose_init = false;
  // Layers above the first with binary visible units, not started as a
  // transpose: visible biases start at the log-odds of the layer below's
  // mean activations over the first 5,000 training rows, as the first
  // layer's do from the data (Hinton's practical guide); false: at 0.
  bool visible_bias_from_below = false;
};

// Layer l of `dbn` made ready to train: its CD trainer and fitter (which
// resumes from config.fit.checkpoint when asked and one was saved), and its
// training and validation rows, `images` and `valid_images` passed up
// through the frozen layers 0 .. l-1 in batches of config.cd.batch
// (layer_source). When nothing was resumed it also sets the layer's start:
//  - layer 0 of binary or count visible units: visible biases from
//    `data_means` (the data's column means; empty: left as they are; a
//    gaussian layer's stay: standardise its data instead);
//  - above it, transpose_init or visible_bias_from_below as configured;
//  - PCD: the chains start at the first batch of a shuffle of the training
//    rows of their own (chain_start_rows).
// Above the first layer, sample_up and the fingerprint of the frozen layers
// below join config.fit.run_settings, so a resume with another sample_up,
// or on layers below that changed since its checkpoint (trained further,
// another stack), is refused, naming it.
// The sources run on `ex`, so `images`, `valid_images`, `dbn` and `ex` must
// outlive the object.
class DbnLayerFit {
 public:
  DbnLayerFit(Dbn& dbn, int l, Executor& ex, const DataSource& images, const DataSource& valid_images,
              std::span<const float> data_means, const DbnLayerConfig& config);
  DbnLayerFit(const DbnLayerFit&) = delete;
  DbnLayerFit& operator=(const DbnLayerFit&) = delete;

  // RbmFitter::fit on the layer's rows: trains up to config.fit.epochs
  // (counting those resumed).
  std::vector<EpochStats> fit(const std::function<void(const EpochStats&)>& on_epoch = {}) {
    return fitter_.fit(train_, valid_, on_epoch);
  }
  RbmFitter& fitter() { return fitter_; }
  CdTrainer& trainer() { return trainer_; }
  const DataSource& train() const { return train_; }
  const DataSource& valid() const { return valid_; }

 private:
  CdTrainer trainer_;
  RbmFitter fitter_;
  DataSource train_, valid_;
};

// Trains the whole stack greedily, layer 0 first, one DbnLayerConfig per
// RBM, and returns each layer's epochs as fit returned them (none for a
// layer resumed with all its epochs done). A layer resumes only while every
// layer below it was resumed whole: one that trains any epoch feeds new
// features to those above, whose checkpoints then no longer match them, so
// they start afresh (and overwrite their checkpoints). Two layers given one
// checkpoint folder are refused before any trains. on_epoch sees the
// layer's index and each epoch's statistics as the epoch ends.
std::vector<std::vector<EpochStats>> fit_greedy(Dbn& dbn, Executor& ex, const DataSource& images,
                                                const DataSource& valid_images, std::span<const float> data_means,
                                                std::span<const DbnLayerConfig> layers,
                                                const std::function<void(int, const EpochStats&)>& on_epoch = {});

}  // namespace ebm
