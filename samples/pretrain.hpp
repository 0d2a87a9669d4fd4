#pragma once
// Greedy pretraining of one layer of a DBN as the samples run it: its RBM
// trained by CD on the layer below's features, with a progress line, a
// checkpoint per epoch (<output>/pretrain/layerL), the per-epoch CSV
// (<output>/pretrain_layer{L+1}.csv), a warning when it diverges, and a row
// of the summary table.

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "io/batch.hpp"
#include "models/dbn.hpp"
#include "models/dbn_fit.hpp"
#include "models/rbm_fit.hpp"
#include "samples/common.hpp"
#include "samples/lineage.hpp"
#include "samples/progress.hpp"
#include "samples/rbm_metrics.hpp"

namespace ebm::samples {

// Refuses pretraining flags beside --pretrain-epochs 0 for every layer:
// they would set a pretraining that never runs. (Each sample has its own
// subset of these flags; the others are skipped.)
inline void check_pretraining_given(const CLI::App& app, const std::vector<int>& epochs) {
  if (!std::all_of(epochs.begin(), epochs.end(), [](int e) { return e == 0; })) return;
  std::string f;
  for (const char* flag : {"--method", "--pretrain-lr", "--data-lr", "--code-lr", "--momentum", "--final-momentum",
                           "--weight-decay", "--mean-field", "--sample-up", "--sparsity-cost", "--sparsity-target"})
    if (const CLI::Option* o = app.get_option_no_throw(flag); o != nullptr && o->count() > 0)
      f += (f.empty() ? "" : ", ") + std::string(flag);
  if (!f.empty())
    throw Error("{}: {} the pretraining, which --pretrain-epochs 0 skips; expected one or the other", f,
                f.find(',') == std::string::npos ? "it sets" : "they set");
}

// The first flagged epoch of a fit (warned: one was already): a key line
// for scripts, `<who>_diverging_epoch=N`, and the warning, both printed
// above the live progress line.
inline void flag_diverging(const Progress& p, const std::string& who, int epoch, const std::string& warning,
                           bool& warned) {
  if (std::exchange(warned, true)) return;
  p.print_above(stdout, fmt::format("{}_diverging_epoch={}", who, epoch));
  p.warn(warning);
}

// How one layer's fit is shown: its progress bar, summary row, messages,
// key line and CSV.
struct LayerFit {
  std::string bar;    // the progress bar's title
  std::string row;    // the summary table's phase
  std::string label;  // names the layer in messages ("layer 2", "hash: layer 2")
  std::string key;    // <key>_diverging_epoch=N
  std::string csv;    // the per-epoch CSV
  int epochs = 0;
  bool built_on = true;  // later phases learn from this layer (said on a partial resume)
  std::string lr_flag;   // named in the divergence warning
  float lr = 0;
};

// Runs `fit` (an RBM's or a convolutional RBM's) with a progress line, a
// CSV row per epoch, a warning when it diverges and a row of the summary
// table. Returns whether it trained any epoch (a layer resumed with every
// epoch done did not): the layers above it then learn from new features.
inline bool fit_layer(RbmFitter& fit, const DataSource& train, const DataSource& valid, const LayerFit& p,
                      Summary& sum) {
  const int resumed = fit.epochs_done();
  for (const std::string& n : fit.resume_notes()) fmt::print("{}: {}\n", p.label, n);
  if (resumed > 0 && resumed < p.epochs && p.built_on)
    fmt::print("{}: resumed at epoch {} of {}; the phases built on it start afresh\n", p.label, resumed, p.epochs);
  if (resumed > p.epochs)
    fmt::print("{}: its checkpoint holds {} epochs, more than the {} asked; it is used as it is\n", p.label, resumed,
               p.epochs);
  Progress bar(p.bar, std::max(p.epochs, resumed));
  if (resumed > 0) bar.resumed(resumed);
  double recon = 0;
  bool warned = false, still_said = false;
  RbmEpochCsv csv(p.csv, resumed > 0);
  if (const std::string note = csv.missing_rows(resumed); !note.empty()) fmt::print(stderr, "{}: note: {}\n", p.label, note);
  csv.keep_rows_through(resumed);
  fit.fit(train, valid, [&](const EpochStats& s) {
    recon = s.recon_error;
    csv.row(s);
    bar.update(s.epoch, fmt::format("recon {:.3f}  F gap {:.2f}", s.recon_error, s.fe_gap));
    if (inputs_barely_vary(s) && !std::exchange(still_said, true))
      bar.warn(fmt::format("{}: warning: its input rows barely vary (predicting each unit by its mean errs by "
                           "{:.3g}): the data, or the layer below, give nearly the same values for every row, as a "
                           "layer whose weights ran away does", p.label, s.recon_baseline));
    if (s.diverging)
      flag_diverging(bar, p.key, s.epoch,
                     fmt::format("{}: warning: training is diverging: reconstruction error {:.4g} in epoch {}, "
                                 "{}; a smaller {} (now {:g}) usually cures it",
                                 p.label, s.recon_error, s.epoch, diverging_reason(s), p.lr_flag, p.lr),
                     warned);
  });
  sum.add(p.row, bar.seconds(),
          p.epochs == 0          ? std::string("not trained (0 epochs)")
          : resumed >= p.epochs ? std::string("resumed from the checkpoint (all epochs done)")
                                : fmt::format("recon error {:.3f}", recon));
  return resumed < p.epochs;
}

struct LayerPlan {
  int epochs = 10;
  CdConfig cd;
  uint64_t data_seed = 1;
  std::string output;                      // the run's --output folder
  bool built_on = true;                    // later phases learn from this layer (said on a partial resume)
  std::string lr_flag = "--pretrain-lr";   // named in the divergence warning
  // DbnLayerConfig's visible_bias_from_below, sample_up and transpose_init
  // (models/dbn_fit.hpp).
  bool upper_visible_bias = false;
  bool sample_up = false;
  bool transpose_init = false;
  // The program's flags that shape this layer's data, checked on resume
  // (RbmFitConfig::run_settings).
  std::map<std::string, std::string> run_settings = {};
  // The flags that set this layer's model settings ({"hidden", "--hidden"}),
  // named beside the setting when a resume is refused (with the samples'
  // common training flags: RbmFitConfig::setting_flags).
  std::map<std::string, std::string> setting_flags = {};
  std::string stack = {};  // names the stack in the progress line and the summary when a run has two ("hash")
  // The checkpoints under `output` that learn from this stack (fine-tuning,
  // ...): removed with those of the layers above before a layer trains
  // (Lineage::layer_trains).
  std::vector<std::string> built_on_stack = {};
};

// Layer l as DbnLayerFit makes it ready (models/dbn_fit.hpp: it learns from
// `images` passed up through the layers below, and monitors on
// `valid_images`; `data_means` start the first layer's biases), shown and
// checkpointed as fit_layer does, under <output>/pretrain/layer<l>.
// Returns whether it trained any epoch (a layer resumed with every epoch done
// did not): the layers above it then learn from new features.
// The flags a refused resume of the layer names: those every sample that
// pretrains has, then the layer's own (LayerPlan::setting_flags).
inline std::map<std::string, std::string> layer_setting_flags(const LayerPlan& p) {
  std::map<std::string, std::string> f{{"seed", "--seed"},         {"data_seed", "--data-seed"},
                                       {"method", "--method"},     {"k", "--method"},
                                       {"batch", "--batch"},       {"mean_field_last", "--mean-field"},
                                       {"weight_decay", "--weight-decay"}};
  for (const auto& [key, flag] : p.setting_flags) f[key] = flag;
  return f;
}

inline bool pretrain_layer(Dbn& dbn, int l, Executor& ex, const DataSource& images, const DataSource& valid_images,
                           std::span<const float> data_means, const LayerPlan& p, bool resume, Summary& sum) {
  DbnLayerFit layer(dbn, l, ex, images, valid_images, data_means,
                    {.cd = p.cd,
                     .fit = {.epochs = p.epochs, .data_seed = p.data_seed, .monitor_images = 1000,
                             .checkpoint = fmt::format("{}/pretrain/layer{}", p.output, l), .resume = resume,
                             .run_settings = p.run_settings, .lr_name = p.lr_flag,
                             // (the flags every sample that pretrains has)
                             .setting_flags = layer_setting_flags(p)},
                     .sample_up = p.sample_up,
                     .transpose_init = p.transpose_init,
                     .visible_bias_from_below = p.upper_visible_bias});
  if (layer.fitter().epochs_done() < p.epochs)
    Lineage{.output = p.output, .built_on = p.built_on_stack}.layer_trains(l);
  const Rbm& r = dbn.rbms[static_cast<size_t>(l)];
  const std::string prefix = p.stack.empty() ? "" : p.stack + ": ";
  return fit_layer(layer.fitter(), layer.train(), layer.valid(),
                   {.bar = fmt::format("{}pretrain layer {} ({}-{})", prefix, l + 1, r.config.visible, r.config.hidden),
                    .row = fmt::format("{}pretrain layer {} {}-{}", prefix, l + 1, r.config.visible, r.config.hidden),
                    .label = fmt::format("{}layer {}", prefix, l + 1),
                    .key = fmt::format("{}pretrain_layer{}", p.stack.empty() ? "" : p.stack + "_", l + 1),
                    .csv = fmt::format("{}/pretrain_layer{}.csv", p.output, l + 1),
                    .epochs = p.epochs,
                    .built_on = l + 1 < dbn.depth() || p.built_on,
                    .lr_flag = p.lr_flag,
                    .lr = p.cd.lr},
                   sum);
}

}  // namespace ebm::samples
