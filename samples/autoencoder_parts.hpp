#pragma once
// What the deep-autoencoder samples share (autoencoder_mnist,
// autoencoder_faces, and docs_reuters's stacks): their options, greedy
// pretraining of an RBM stack (pretrain_stack), the fine-tuned net's
// configuration and its fine-tuning, and the image samples' whole run:
// PCA with as many components as the code (and, for data in [0, 1],
// logistic PCA), the stack with a linear code,
// the unrolled net before and after backprop fine-tuning, an optional
// random-start baseline, the pictures, the curves and the summary. A
// sample supplies its data as a task.

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "io/png.hpp"
#include "models/autoencoder_fit.hpp"
#include "models/logistic_pca.hpp"
#include "models/pca.hpp"
#include "samples/common.hpp"
#include "samples/lineage.hpp"
#include "samples/curves.hpp"
#include "samples/pretrain.hpp"

namespace ebm::samples {

struct AeOptions {
  std::string data, output, preset = "quick", profile, method = "cd1", optimizer = "sgd";
  int64_t profile_events = static_cast<int64_t>(ExecutorOptions::kDefaultProfileEvents);
  std::vector<int64_t> hidden;
  std::vector<int> pretrain_epochs{2};
  int finetune_epochs = 5, threads = 0, logistic_pca_sweeps = 10;
  int64_t batch = 100, cg_batch = 1000;
  int cg_line_searches = 3;
  float pretrain_lr = 0.1f, data_lr = 0.0f, code_lr = 0.001f, momentum = 0.5f, weight_decay = 2e-4f;
  float finetune_lr = 0.0f, finetune_momentum = 0.9f, finetune_lr_decay = 1.0f;  // finetune_lr 0: the task's default
  float finetune_weight_decay = 0.0f;
  uint64_t seed = 1, data_seed = 1;
  bool resume = false, baseline = false, mean_field = true;

  AeOptimizer ae_optimizer() const {
    if (optimizer == "sgd") return AeOptimizer::sgd;
    if (optimizer == "adam") return AeOptimizer::adam;
    if (optimizer == "cg") return AeOptimizer::cg;
    throw Error("--optimizer '{}': expected sgd (with momentum), adam or cg (conjugate gradients)", optimizer);
  }
};

// The options every autoencoder sample takes; `what` names its data in the
// help (empty: the sample makes its data and takes no --data),
// `lr_defaults` the fine-tuning rates it uses unless given one, `data` its
// data's units (the help of --data-lr and --method says what they mean for them).
inline void add_autoencoder_options(CLI::App& app, AeOptions& o, const std::string& what,
                                    const std::string& lr_defaults, Unit data) {
  app.add_option("--preset", o.preset, "quick (minutes) or paper (the full reproduction)")->capture_default_str();
  if (!what.empty()) app.add_option("--data", o.data, "folder with the " + what)->capture_default_str();
  app.add_option("--output", o.output, "folder for checkpoints, pictures and metrics")->capture_default_str();
  app.add_option("--hidden", o.hidden, "hidden layer sizes, bottom up; the last is the linear code")
      ->capture_default_str()->delimiter(',')->check(samples::kPositive);
  app.add_option("--pretrain-epochs", o.pretrain_epochs, "CD epochs per layer (one value, or one per layer)")
      ->delimiter(',')->check(samples::kNonNegative);
  const bool words = data == Unit::count || data == Unit::poisson;
  app.add_option("--method", o.method,
                 words ? "pretraining: cd1 or cdK (e.g. cd3); pcd is not for word counts"
                       : "pretraining: cd1, cdK (e.g. cd3), pcd or pcdK")
      ->capture_default_str();
  app.add_option("--pretrain-lr", o.pretrain_lr,
                 "pretraining learning rate of the RBMs below the code's (but the first on data that are not binary)")
      ->capture_default_str()->check(samples::kPositive);
  app.add_option("--data-lr", o.data_lr,
                 data == Unit::binary
                     ? "not for these data, which are binary: their first RBM takes --pretrain-lr (the rate of a "
                       "first RBM on gaussian or count data, in autoencoder_faces and docs_reuters)"
                     : "pretraining learning rate of the first RBM, on these data that are not binary (default: 0.001)")
      ->check(samples::kPositive);
  app.add_option("--code-lr", o.code_lr, "pretraining learning rate of the top RBM, whose hidden units are linear")
      ->capture_default_str()->check(samples::kPositive);
  app.add_option("--weight-decay", o.weight_decay, "pretraining L2 penalty on W")->capture_default_str()
      ->check(samples::kNonNegative);
  app.add_option("--mean-field", o.mean_field, "CD's last visible step uses E[v|h] (true) or a sample (false)")
      ->capture_default_str();
  app.add_option("--optimizer", o.optimizer,
                 "fine-tuning: sgd (with momentum), adam, or cg (conjugate gradients, a few line searches per "
                 "mini-batch of --cg-batch rows, as the paper fine-tuned)")
      ->capture_default_str();
  app.add_option("--cg-batch", o.cg_batch, "cg: rows per mini-batch")->capture_default_str()->check(samples::kPositive);
  app.add_option("--cg-line-searches", o.cg_line_searches, "cg: line searches per mini-batch")
      ->capture_default_str()->check(samples::kPositive);
  app.add_option("--finetune-epochs", o.finetune_epochs, "fine-tuning epochs")->check(samples::kNonNegative);
  app.add_option("--finetune-lr", o.finetune_lr, "fine-tuning learning rate (default: " + lr_defaults + ")")
      ->check(samples::kPositive);
  app.add_option("--finetune-momentum", o.finetune_momentum, "sgd's momentum")->capture_default_str()
      ->check(samples::kFraction);
  app.add_option("--finetune-lr-decay", o.finetune_lr_decay, "fine-tuning lr multiplier per epoch")
      ->check(samples::kDecay);
  app.add_option("--finetune-weight-decay", o.finetune_weight_decay, "fine-tuning L2 penalty on every weight and bias")
      ->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--batch", o.batch, "mini-batch size (pretraining, and sgd or adam's fine-tuning)")
      ->capture_default_str()->check(samples::kPositive);
  app.add_flag("--baseline", o.baseline, "also fine-tune the same net from a random start, same budget");
  app.add_option("--seed", o.seed, "seed of every random draw of the models")->capture_default_str()
      ->check(samples::kNonNegative);
  app.add_option("--data-seed", o.data_seed,
                 "seed of the shuffles, and of the data's own random preparation (faces: the patches; curves: the "
                 "images)")
      ->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--threads", o.threads, "worker threads (0: all cores)")->capture_default_str()
      ->check(samples::kThreads);
  app.add_flag("--resume", o.resume, "continue from the checkpoints in --output");
  app.add_option("--profile", o.profile,
                 "write a Chrome trace of the whole run to FILE, and a timeline of the last steps beside it");
  add_profile_events(app, o.profile_events);
}

// What a preset gives the options every autoencoder sample shares, unless
// the command line gives them.
struct AePreset {
  int pretrain_epochs, finetune_epochs;
  float finetune_lr_decay;
};

inline void apply_ae_preset(const CLI::App& app, AeOptions& o, const AePreset& p) {
  if (app.count("--pretrain-epochs") == 0) o.pretrain_epochs = {p.pretrain_epochs};
  if (app.count("--finetune-epochs") == 0) o.finetune_epochs = p.finetune_epochs;
  if (app.count("--finetune-lr-decay") == 0) o.finetune_lr_decay = p.finetune_lr_decay;
}

inline void show_ae_presets(CLI::App& app, const AePreset& quick, const AePreset& paper) {
  show_preset_default(app, "--pretrain-epochs", std::to_string(quick.pretrain_epochs),
                      std::to_string(paper.pretrain_epochs));
  show_preset_default(app, "--finetune-epochs", std::to_string(quick.finetune_epochs),
                      std::to_string(paper.finetune_epochs));
  show_preset_default(app, "--finetune-lr-decay", fmt::format("{}", quick.finetune_lr_decay),
                      fmt::format("{}", paper.finetune_lr_decay));
}

// The option of the samples whose data are in [0, 1], which have logistic
// PCA beside PCA; `paper` is the paper preset's number of sweeps.
inline void add_logistic_pca_option(CLI::App& app, AeOptions& o, int paper) {
  app.add_option("--logistic-pca-sweeps", o.logistic_pca_sweeps,
                 fmt::format("alternations of the logistic PCA baseline's fit, at most {} components (0: no logistic "
                             "PCA; default: {} in the quick preset, {} in the paper preset)",
                             kMaxComponents, o.logistic_pca_sweeps, paper))
      ->check(samples::kNonNegative);
}

// Checks after a preset has filled the options (`input` units per row,
// binary, gaussian or count).
// `input_flag`: the flag that sets the inputs' number, if one does ("--vocabulary").
inline void check_autoencoder_options(const CLI::App& app, AeOptions& o, int64_t input, Unit data,
                                      std::string_view input_flag = "") {
  if (o.hidden.empty()) throw Error("--hidden: no layers; expected at least the code size");
  if (o.hidden.back() > input)  // before logistic PCA's limit, whose way out would only meet this
    throw Error("--hidden: a code of {} units; expected at most {} (PCA's components, like the code, are fewer than "
                "the inputs{})",
                o.hidden.back(), input,
                input_flag.empty() ? std::string() : fmt::format(", the {} {} words", input_flag, input));
  if (data == Unit::binary && o.logistic_pca_sweeps > 0 && !o.hidden.empty() && o.hidden.back() > kMaxComponents)
    throw Error("--hidden: a code of {} units, and logistic PCA fits at most {} components; expected a smaller code, "
                "or --logistic-pca-sweeps 0", o.hidden.back(), kMaxComponents);
  if (app.count("--data-lr") > 0 && data == Unit::binary)
    throw Error("--data-lr: for data that are not binary; these are, and their first RBM takes --pretrain-lr");
  // Each RBM takes one rate: the top one (the code) --code-lr, even when it
  // is also the first; else the first on data that are not binary --data-lr; the
  // others --pretrain-lr.
  const auto layers = static_cast<int64_t>(o.hidden.size());
  if (app.count("--data-lr") > 0 && layers < 2)
    throw Error("--data-lr: the only RBM is the code's, which takes --code-lr; expected two or more --hidden layers");
  if (app.count("--pretrain-lr") > 0 && layers < (data == Unit::binary ? 2 : 3))
    throw Error("--pretrain-lr: no RBM here takes it (the code's takes --code-lr{}); expected more --hidden layers",
                data == Unit::binary ? "" : ", the first --data-lr");
  one_per_layer(o.pretrain_epochs, o.hidden.size(), "--pretrain-epochs");
  check_pretraining_given(app, o.pretrain_epochs);
  CdConfig method_check;
  parse_cd_method(o.method, method_check);  // here, before any work
  (void)o.ae_optimizer();
  if (app.count("--finetune-momentum") > 0 && o.optimizer != "sgd")
    throw Error("--finetune-momentum: for sgd; {}", o.optimizer == "adam" ? "adam keeps its own moments"
                                                                           : "cg's directions are conjugate gradients");
  for (const char* flag : {"--finetune-lr", "--finetune-lr-decay"})
    if (app.count(flag) > 0 && o.optimizer == "cg")
      throw Error("{}: for sgd and adam; cg's line searches choose their own steps", flag);
  for (const char* flag : {"--cg-batch", "--cg-line-searches"})
    if (app.count(flag) > 0 && o.optimizer != "cg") throw Error("{}: for --optimizer cg; this run uses {}", flag, o.optimizer);
  if (const std::string f = samples::given_flags(
          app, {"--optimizer", "--finetune-lr", "--finetune-momentum", "--finetune-lr-decay", "--finetune-weight-decay",
                "--cg-batch", "--cg-line-searches", "--baseline"});
      o.finetune_epochs == 0 && !f.empty())
    throw Error("{}: they set the fine-tuning, which --finetune-epochs 0 skips; expected one or the other", f);
}

// The presets of the samples whose rows are 784 pixels in [0, 1]
// (autoencoder_mnist, autoencoder_curves), then the checks; `paper_sweeps`
// is logistic PCA's in the paper preset.
inline void apply_pixel_presets(const CLI::App& app, AeOptions& o, const AePreset& quick, const AePreset& paper,
                                int paper_sweeps) {
  if (o.preset == "quick") {
    apply_ae_preset(app, o, quick);
  } else if (o.preset == "paper") {
    apply_ae_preset(app, o, paper);
    if (app.count("--logistic-pca-sweeps") == 0) o.logistic_pca_sweeps = paper_sweeps;
  } else {
    throw Error("--preset '{}': expected quick or paper", o.preset);
  }
  check_autoencoder_options(app, o, 784, Unit::binary);
}

struct AeTask;
inline void check_batches(const AeOptions& o, const AeTask& t);

// A sample's data and how to show it.
struct AeTask {
  std::string program;              // names the run in its messages
  std::string data_name;            // "images", "patches"
  DataSource train, valid, test;    // rows as the net sees them (epoch 0: no random draws)
  Unit data_unit = Unit::binary;    // binary (values in [0, 1]), gaussian (standardized), count or poisson (words)
  std::vector<float> data_means;    // the first RBM's visible biases start from these (binary or word data)
  float data_lr = 0.001f;           // the first RBM's pretraining rate on data that are not binary
  float finetune_lr_sgd = 0.01f, finetune_lr_adam = 1e-3f;
  int64_t side = 28;                // rows pictured as side x side tiles
  std::vector<int64_t> shown;       // the test rows pictured
  std::vector<int64_t> more_pca;    // PCA with these numbers of components too (reported, not pictured)
  // Logistic PCA with these numbers of components (binary data; pictured
  // and drawn in the curves when it has as many as the code).
  std::vector<int64_t> logistic_pca;
  io::GridOptions::Contrast contrast = io::GridOptions::Contrast::fixed01;
  // The program's flags that shape the training data (e.g. {"--per-image",
  // "50"}): saved with each pretrained layer, and a resume with another
  // value is refused, naming the flag (RbmFitConfig::run_settings).
  std::map<std::string, std::string> run_settings = {};
  // The flags that set the data's width and unit type, named when a resume
  // is refused for them (docs_reuters: --vocabulary, --word-units); empty
  // for data of a fixed width and kind.
  std::string width_flag = {}, unit_flag = {};
};

// Refuses a --batch (or, for cg, a --cg-batch) larger than the training set.
inline void check_batches(const AeOptions& o, const AeTask& t) {
  samples::check_batch(o.batch, t.train.count, t.data_name);
  if (o.optimizer == "cg" && o.cg_batch > t.train.count)
    throw Error("--cg-batch {}: more than the {} training {}; expected at most {}", o.cg_batch, t.train.count,
                t.data_name, t.train.count);
}

namespace detail {

inline std::string layer_string(const std::vector<int64_t>& layers) {
  std::string s;
  for (int64_t n : layers) s += (s.empty() ? "" : "-") + std::to_string(n);
  return s;
}

struct FitResult {
  double test_error = 0;
  std::vector<float> pictures;  // reconstructions of the pictured test rows
};

// Fine-tunes `a` on the training rows, the validation rows choosing the
// epoch; returns its test error and its reconstructions of the pictured rows.
inline FitResult finetune(Autoencoder& a, Executor& ex, const AeTask& t, const AeOptions& o, float lr, bool resume,
                          const std::string& what, Summary& sum) {
  AutoencoderFitter fit(a, ex, {.epochs = o.finetune_epochs, .data_seed = o.data_seed, .lr_decay = o.finetune_lr_decay,
                                .checkpoint = o.output + "/" + what, .resume = resume,
                                .run_settings = t.run_settings, .lr_name = "--finetune-lr"});
  const int resumed = fit.epochs_done();
  for (const std::string& n : fit.resume_notes()) fmt::print("{}: {}\n", what, n);
  if (resumed > o.finetune_epochs)
    fmt::print("{}: its checkpoint holds {} epochs, more than the {} asked; it is used as it is\n", what, resumed,
               o.finetune_epochs);
  Progress bar(what, std::max(o.finetune_epochs, resumed));
  if (resumed > 0) bar.resumed(resumed);
  const bool cg = a.config.optimizer == AeOptimizer::cg;
  Csv csv(o.output + "/" + what + ".csv",
          "epoch,seconds,train_loss,valid_error,baseline,best,diverging,evaluations,failed_searches", resumed > 0);
  csv.keep_rows_through(resumed);  // rows past the checkpoint are written again
  bool warned = false;
  fit.fit(t.train, t.valid, [&](const AutoencoderEpoch& e) {
    bar.update(e.epoch, fmt::format("loss {:.4g}  valid {:.3f}{}{}", e.train_loss, e.valid_error, e.best ? " *" : "",
                                    cg ? fmt::format("  ({} evaluations)", e.evaluations) : std::string()));
    csv.row("{},{:.3f},{:.5f},{:.4f},{:.4f},{:d},{:d},{},{}", e.epoch, e.seconds, e.train_loss, e.valid_error,
            e.baseline, static_cast<int>(e.best), static_cast<int>(e.diverging), e.evaluations, e.failures);
    if (e.diverging)
      flag_diverging(bar, what, e.epoch,
                     fmt::format("{}: warning: training is diverging: validation error {:.4g} in epoch {}, over 1.5 "
                                 "times that of the training {}' mean ({:.4g}); {}",
                                 what, e.valid_error, e.epoch, t.data_name, e.baseline,
                                 cg ? std::string("conjugate gradients overfit their mini-batches: more --cg-batch rows "
                                                  "or fewer --cg-line-searches")
                                    : fmt::format("a smaller --finetune-lr (this run starts at {:g}) usually cures it",
                                                  lr)),
                     warned);
  });
  // A net that rebuilds the validation rows no better than one mean row for
  // all learned nothing of them, whatever its loss did: say so.
  if (const double mean_row = fit.baseline(t.train, t.valid);
      fit.best_epoch() > 0 && fit.best_valid_error() >= mean_row)
    bar.warn(fmt::format("{}: warning: its best validation error ({:.4g}, epoch {}) is no lower than that of "
                         "rebuilding every row as the training {}' mean ({:.4g}): the code carries nothing of the "
                         "input. A layer whose input rows barely vary (warned of in pretraining) or too high a rate "
                         "(--pretrain-lr, --finetune-lr) is the usual cause",
                         what, fit.best_valid_error(), fit.best_epoch(), t.data_name, mean_row));
  FitResult r{fit.error(t.test), fit.reconstruct(t.test, t.shown)};
  sum.add(what, bar.seconds(),
          fit.best_epoch() > 0
              ? fmt::format("test squared error {:.2f} (epoch {} chosen on validation)", r.test_error, fit.best_epoch())
              : fmt::format("test squared error {:.2f} (no epoch trained)", r.test_error));
  return r;
}

// `logistic_valid` < 0: no logistic PCA with as many components as the code.
inline void write_curves(const AeOptions& o, const std::string& title, double pca_valid, double logistic_valid) {
  std::vector<io::Panel> panels;
  io::Panel pre{"Greedy pretraining", "epoch", "reconstruction error / baseline"};
  for (size_t l = 1; l <= o.hidden.size(); ++l)
    pre.series.push_back(csv_series(read_csv_columns(fmt::format("{}/pretrain_layer{}.csv", o.output, l)), "epoch",
                                    "recon_error", fmt::format("layer {}", l), "recon_baseline"));
  panels.push_back(std::move(pre));
  const CsvColumns ft = read_csv_columns(o.output + "/finetune.csv");
  io::Panel err{"Backprop fine-tuning", "epoch", "validation squared error per row",
                {ringed(csv_series(ft, "epoch", "valid_error", "pretrained"), ft)}, true};
  err.rings_label = kKeptLabel;
  if (o.baseline) {
    const CsvColumns bl = read_csv_columns(o.output + "/baseline.csv");
    err.series.push_back(ringed(csv_series(bl, "epoch", "valid_error", "random start"), bl));
  }
  if (const auto e = ft.find("epoch"); e != ft.end() && !e->second.empty()) {

    io::Series pca{fmt::format("PCA, {} components", o.hidden.back()), {e->second.front(), e->second.back()},
                   {pca_valid, pca_valid}};
    pca.dashed = true;
    err.series.push_back(std::move(pca));
    if (logistic_valid >= 0) {
      io::Series logistic{fmt::format("logistic PCA, {} components", o.hidden.back()),
                          {e->second.front(), e->second.back()}, {logistic_valid, logistic_valid}};
      logistic.dashed = true;
      err.series.push_back(std::move(logistic));
    }
  }
  panels.push_back(std::move(err));
  io::write_svg_plot(o.output + "/curves.svg", panels, title);
}

}  // namespace detail

// Greedy pretraining of the whole stack, each layer at its rate (a linear
// code's --code-lr, the first on data that are not binary --data-lr, the
// others --pretrain-lr). Returns whether the phases after it resume: a
// layer that trained any epoch starts them afresh. `stack` names it when a
// run has two. A fresh run first removes the checkpoints in --output of the
// stack, of its fine-tuned net (<stack>_finetune, or finetune) and of the
// random-start baseline; a layer that trains removes those above it and
// the fine-tuned net's (Lineage).
inline bool pretrain_stack(Dbn& dbn, Executor& ex, const AeOptions& o, const AeTask& t, Summary& sum,
                           const std::string& stack = {}, const std::string& hidden_flag = "--hidden") {
  // The fine-tuned net learns from the stack; the random-start baseline does not.
  const Lineage lineage{.output = o.output, .built_on = {stack.empty() ? "finetune" : stack + "_finetune"},
                        .own = {"baseline"}};
  if (!o.resume) lineage.fresh();  // before anything trains
  bool resume = o.resume;
  for (int l = 0; l < dbn.depth(); ++l) {
    const bool top = l + 1 == dbn.depth() && dbn.rbms.back().config.hidden_unit == Unit::gaussian,
               bottom = l == 0 && t.data_unit != Unit::binary;  // (see check_autoencoder_options)
    CdConfig cd{.batch = o.batch, .lr = top ? o.code_lr : bottom ? (o.data_lr > 0 ? o.data_lr : t.data_lr) : o.pretrain_lr,
                .momentum = o.momentum, .weight_decay = o.weight_decay, .mean_field_last = o.mean_field};
    parse_cd_method(o.method, cd);
    const LayerPlan plan{.epochs = o.pretrain_epochs[static_cast<size_t>(l)], .cd = cd, .data_seed = o.data_seed,
                         .output = o.output,
                         .lr_flag = top ? "--code-lr" : bottom ? "--data-lr" : "--pretrain-lr",
                         .upper_visible_bias = true,
                         .run_settings = t.run_settings,
                         .setting_flags = {{"hidden", hidden_flag},
                                           {"visible", l == 0 ? t.width_flag : hidden_flag},
                                           {"visible_unit", l == 0 ? t.unit_flag : std::string()}},
                         .stack = stack,
                         .built_on_stack = lineage.built_on};
    if (pretrain_layer(dbn, l, ex, t.train, t.valid, t.data_means, plan, resume, sum)) resume = false;
  }
  return resume;
}

// The fine-tuned net's configuration from the options (the task's rates
// unless --finetune-lr is given).
inline AutoencoderConfig autoencoder_config(const AeOptions& o, const AeTask& t, const std::vector<int64_t>& layers) {
  AutoencoderConfig cfg{.layers = layers, .data_unit = t.data_unit, .batch = o.batch, .optimizer = o.ae_optimizer(),
                        .seed = o.seed + 100};
  cfg.sgd.lr = o.finetune_lr > 0 ? o.finetune_lr : t.finetune_lr_sgd;
  cfg.adam.lr = o.finetune_lr > 0 ? o.finetune_lr : t.finetune_lr_adam;
  cfg.sgd.momentum = o.finetune_momentum;
  cfg.sgd.weight_decay = cfg.adam.weight_decay = cfg.cg_weight_decay = o.finetune_weight_decay;
  if (cfg.optimizer == AeOptimizer::cg) {
    cfg.batch = o.cg_batch;
    cfg.cg.line_searches = o.cg_line_searches;
  }
  return cfg;
}

inline int run_autoencoder(const AeOptions& o, const AeTask& t) {
  const int64_t input = t.train.dim;
  std::vector<int64_t> layers{input};
  layers.insert(layers.end(), o.hidden.begin(), o.hidden.end());
  const std::string title = fmt::format("{}: {} autoencoder, preset {}", t.program, detail::layer_string(layers), o.preset);
  check_batches(o, t);
  samples::make_output_dir(o.output);
  samples::check_file_folder("--profile", o.profile);
  Graph g;
  Dbn dbn = Dbn::make(g, "dbn", {.layers = layers, .seed = o.seed, .visible_unit = t.data_unit,
                                 .top_hidden_unit = Unit::gaussian});
  Executor ex(g, {.threads = o.threads, .seed = o.seed, .profile = !o.profile.empty(),
                  .profile_events = static_cast<size_t>(o.profile_events)});
  Summary sum;
  fmt::print("{}, {} training / {} validation / {} test {}\n", title, t.train.count, t.valid.count, t.test.count,
             t.data_name);
  samples::say_if_nothing_to_resume(t.program, o.resume, o.output);

  // PCA with as many components as the code (seconds).
  const std::string pca_name = fmt::format("PCA, {} components", o.hidden.back());
  Progress pbar(pca_name, 1);
  const Pca pca = fit_pca(t.train, o.hidden.back());
  const double pca_test = pca_error(pca, t.test), pca_valid = pca_error(pca, t.valid);
  pbar.update(1, fmt::format("test squared error {:.2f}", pca_test));
  sum.add(pca_name, pbar.seconds(), fmt::format("test squared error {:.2f}", pca_test));
  result("pca_test_squared_error", fmt::format("{:.2f}", pca_test));
  result("pca_valid_squared_error", fmt::format("{:.2f}", pca_valid));
  for (int64_t k : t.more_pca) {
    Progress more(fmt::format("PCA, {} components", k), 1);
    const double e = pca_error(fit_pca(t.train, k), t.test);
    more.update(1, fmt::format("test squared error {:.2f}", e));
    sum.add(fmt::format("PCA, {} components", k), more.seconds(), fmt::format("test squared error {:.2f}", e));
    result(fmt::format("pca{}_test_squared_error", k).c_str(), fmt::format("{:.2f}", e));
  }
  bool resume = pretrain_stack(dbn, ex, o, t, sum);

  // The pictured rows: as given, then each method's reconstructions.
  const auto shown = static_cast<int64_t>(t.shown.size());
  std::vector<float> originals(static_cast<size_t>(shown * input)), pca_pictures(originals.size()),
      codes(static_cast<size_t>(shown * pca.k()));
  t.test.fill(t.shown, originals, 0);
  pca.encode(originals, codes);
  pca.decode(codes, pca_pictures);

  AutoencoderConfig cfg = autoencoder_config(o, t, layers);
  const float lr = cfg.optimizer == AeOptimizer::adam ? cfg.adam.lr : cfg.sgd.lr;
  Autoencoder net = Autoencoder::make(g, "ae", cfg);
  net.init_from(dbn);
  {  // the unrolled stack before fine-tuning: the DBN's up-down pass
    const Tensor x = g.input("unrolled.x", {1000, input});
    const double e = reconstruction_error(ex, x, net.reconstruct(x), t.test);
    result("unrolled_test_squared_error", fmt::format("{:.2f}", e));
    sum.add("unrolled, before fine-tuning", 0.0, fmt::format("test squared error {:.2f}", e));
    // A stack that starts 100 times off PCA's was broken in pretraining (autoencoder_faces --pretrain-lr 0.1, a
    // layer dead, starts 5.5 times off; --data-lr 0.1 on its quick preset, 1e51 times): fine-tuning's own
    // failures would then point at the wrong rate.
    if (!(e <= 100 * pca_test))
      fmt::print(stderr, "{}: warning: the unrolled stack's test error ({:.3g}) is over 100 times PCA's ({:.4g}): its "
                 "pretraining went wrong (see the warnings above), and fine-tuning starts from there; a smaller "
                 "pretraining rate (--data-lr, --pretrain-lr, --code-lr) is the cure\n",
                 t.program, e, pca_test);
  }
  const detail::FitResult tuned = detail::finetune(net, ex, t, o, lr, resume, "finetune", sum);
  result("test_squared_error", fmt::format("{:.2f}", tuned.test_error));
  std::vector<float> tiles = originals;
  tiles.insert(tiles.end(), tuned.pictures.begin(), tuned.pictures.end());
  if (o.baseline) {
    cfg.seed = o.seed + 200;
    Autoencoder random_start = Autoencoder::make(g, "baseline", cfg);
    const detail::FitResult scratch = detail::finetune(random_start, ex, t, o, lr, o.resume, "baseline", sum);
    result("baseline_test_squared_error", fmt::format("{:.2f}", scratch.test_error));
    tiles.insert(tiles.end(), scratch.pictures.begin(), scratch.pictures.end());
  }
  // Logistic PCA (seconds to minutes; refitted on --resume, as PCA is),
  // after the training, so that a resume the checkpoints refuse is refused
  // before it (PCA, seconds, comes first: the unrolled stack is measured
  // against it).
  std::optional<LogisticPca> logistic;  // the one with as many components as the code
  double logistic_valid = -1;
  for (int64_t k : o.logistic_pca_sweeps > 0 ? t.logistic_pca : std::vector<int64_t>{}) {
    const std::string name = fmt::format("logistic PCA, {} components", k);
    Progress bar(name, o.logistic_pca_sweeps);
    LogisticPca lp = fit_logistic_pca(t.train, k, {.sweeps = o.logistic_pca_sweeps, .progress = [&](int s, double loss) {
      bar.update(s, fmt::format("cross-entropy {:.3f}", loss));
    }});
    const double e = logistic_pca_error(lp, t.test);
    sum.add(name, bar.seconds(), fmt::format("test squared error {:.2f}", e));
    result(fmt::format("logistic_pca{}_test_squared_error", k).c_str(), fmt::format("{:.2f}", e));
    if (k == o.hidden.back()) {
      logistic_valid = logistic_pca_error(lp, t.valid);
      logistic = std::move(lp);
    }
  }

  std::vector<float> logistic_pictures;
  if (logistic) {
    logistic_pictures.resize(originals.size());
    logistic->encode(originals, codes);
    logistic->decode(codes, logistic_pictures);
  }
  tiles.insert(tiles.end(), pca_pictures.begin(), pca_pictures.end());
  tiles.insert(tiles.end(), logistic_pictures.begin(), logistic_pictures.end());
  io::write_png_grid(o.output + "/reconstructions.png", tiles, static_cast<int64_t>(tiles.size()) / input, t.side,
                     t.side, {.columns = static_cast<int>(shown), .upscale = 2, .contrast = t.contrast});
  sum.note(fmt::format("reconstructions.png, rows: the test {}; the fine-tuned autoencoder's{}; PCA's{}", t.data_name,
                       o.baseline ? "; the random start's" : "", logistic ? "; logistic PCA's" : ""));
  draw_curves(t.program, [&] { detail::write_curves(o, title, pca_valid, logistic_valid); });
  return finish(sum, ex, o.profile);
}

}  // namespace ebm::samples
