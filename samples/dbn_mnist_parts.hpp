#pragma once
// dbn_mnist's options, presets, data split and pictures.

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "io/batch.hpp"
#include "io/png.hpp"
#include "models/cd.hpp"
#include "models/classifier.hpp"
#include "graph/init.hpp"
#include "models/dbn.hpp"
#include "models/dbn_sampling.hpp"
#include "models/joint.hpp"
#include "samples/common.hpp"
#include "samples/csv.hpp"
#include "samples/pretrain.hpp"
#include "samples/progress.hpp"

namespace ebm::samples {

// The presets' values, read where a preset is applied and printed by --help.
struct PresetValues {
  int pretrain_epochs, finetune_epochs;
};
inline constexpr PresetValues kQuick{3, 10}, kPaper{50, 60};
// The paper preset's backprop rate (and its baseline's). Chosen on the
// validation split: over 60 epochs from the same three pretrained stacks,
// the chosen epochs' validation errors averaged 1.20% at 0.1, 1.18% at 0.2,
// 1.17% at 0.3 and 1.19% at 0.5 (README, Results).
inline constexpr float kPaperFinetuneLr = 0.3f;
inline constexpr PresetValues kPaperUpdown{30, 120};  // the joint model's best measured settings, with these:
inline constexpr int kPaperAisRuns = 500, kUpdownRefitEpochs = 120, kUpdownTestBinarizations = 20;
inline constexpr float kUpdownRefitLr = 0.02f;
inline const std::vector<int> kUpdownTopK{3, 6, 10, 20};

struct Options {
  std::string data, output = "out/dbn_mnist", preset = "quick", finetune = "backprop", profile;
  int64_t profile_events = static_cast<int64_t>(ExecutorOptions::kDefaultProfileEvents);
  std::vector<std::string> method{"cd1"};  // pretraining: one method, or one per layer
  std::string pixels = "scaled";
  std::string top_labels = "sampled";  // up-down: how the top chain carries the labels
  bool mean_field = true, sample_up = false, transpose_init = false;
  std::vector<int64_t> hidden{500, 500, 2000};
  std::vector<int> pretrain_epochs{3};
  int finetune_epochs = 10, threads = 0, ais_runs = 100, bound_samples = 10;
  int refit_epochs = 0;  // up-down's refit; 0: as many as the schedule's last phase
  int refit_error_every = 10;  // up-down's refit: its error on all 60,000 every N epochs and after the last
  int64_t batch = 100, validation = 10000, bound_images = 10000;
  bool bound_images_given = false;  // else the default, cut to the test set's size
  std::vector<float> pretrain_lr{0.1f};  // one rate, or one per layer
  float finetune_lr = 0.1f, finetune_lr_decay = 0.97f, momentum = 0.5f;
  float weight_decay = 2e-4f, ais_scale = 1.0f, updown_lr = 0.01f, refit_lr = 0.0f;
  float top_lr = 0.05f, top_weight_decay = 2e-4f;  // the labelled top RBM's pretraining (up-down)
  float updown_momentum = 0.9f, updown_weight_decay = 0.0f;  // up-down and its refit
  std::vector<int> top_k = {1};  // up-down's schedule; the first also pretrains the top RBM
  uint64_t seed = 1, data_seed = 1;
  bool resume = false, baseline = false, bound = false, refit = false;
  bool balanced_batches = false;  // up-down: the joint model's batches
  int test_binarizations = 0;     // up-down: test images classified by the mean over this many binarizations
  float finetune_weight_decay = 0.0f, baseline_init_scale = 4.0f;

  std::vector<int64_t> layers() const {
    std::vector<int64_t> l{784};
    l.insert(l.end(), hidden.begin(), hidden.end());
    return l;
  }
  std::string layer_string() const {
    std::string s;
    for (int64_t n : layers()) s += (s.empty() ? "" : "-") + std::to_string(n);
    return s;
  }
  io::Pixels pixel_mode() const {
    if (pixels == "sampled") return io::Pixels::sampled;
    if (pixels == "scaled") return io::Pixels::scaled;
    throw Error("--pixels '{}': expected sampled (binarized per epoch) or scaled (intensities as probabilities)", pixels);
  }
  // The flag that chooses the training and validation images, saved with
  // every checkpoint (layers, fine-tuning, the joint model), so that a
  // resume with another split is refused.
  std::pair<std::string, std::string> split_flag() const { return {"--validation", std::to_string(validation)}; }
  ClassifierConfig classifier_config() const {
    return {.layers = layers(), .batch = batch,
            .sgd = {.lr = finetune_lr, .momentum = 0.9f, .weight_decay = finetune_weight_decay}, .seed = seed + 100};
  }

  // A preset fills every option the command line did not set (kQuick, kPaper
  // and kPaperUpdown above).
  void apply_preset(const CLI::App& app) {
    auto unset = [&](const char* flag) { return app.count(flag) == 0; };
    if (preset == "quick") {
      if (unset("--pretrain-epochs")) pretrain_epochs = {kQuick.pretrain_epochs};
      if (unset("--finetune-epochs")) finetune_epochs = kQuick.finetune_epochs;
    } else if (preset == "paper" && finetune == "updown") {
      if (unset("--pretrain-epochs")) pretrain_epochs = {kPaperUpdown.pretrain_epochs};
      if (unset("--pixels")) pixels = "sampled";
      if (unset("--mean-field")) mean_field = false;
      if (unset("--top-k")) top_k = kUpdownTopK;
      if (unset("--finetune-epochs")) finetune_epochs = kPaperUpdown.finetune_epochs;
      if (unset("--refit")) refit = true;
      if (unset("--refit-epochs") && refit) refit_epochs = kUpdownRefitEpochs;
      if (unset("--refit-lr") && refit) refit_lr = kUpdownRefitLr;
      if (unset("--test-binarizations")) test_binarizations = kUpdownTestBinarizations;
    } else if (preset == "paper") {
      if (unset("--pretrain-epochs")) pretrain_epochs = {kPaper.pretrain_epochs};
      if (unset("--finetune-epochs")) finetune_epochs = kPaper.finetune_epochs;
      if (unset("--finetune-lr") && finetune == "backprop") finetune_lr = kPaperFinetuneLr;
      if (unset("--baseline")) baseline = finetune == "backprop";
      if (unset("--bound")) bound = true;
      if (unset("--refit")) refit = finetune == "backprop";
      if (unset("--ais-runs") && bound) ais_runs = kPaperAisRuns;
    } else {
      throw Error("--preset '{}': expected quick or paper", preset);
    }
    samples::one_per_layer(pretrain_epochs, hidden.size(), "--pretrain-epochs");
    samples::check_pretraining_given(app, pretrain_epochs);
    bound_images_given = !unset("--bound-images");
    if (finetune != "backprop" && finetune != "updown" && finetune != "none")
      throw Error("--finetune '{}': expected backprop, updown or none", finetune);
    if ((refit_epochs > 0 || refit_lr > 0.0f) && finetune != "updown")
      throw Error("--refit-epochs, --refit-lr: only up-down's refit takes them (backprop's refit repeats the epoch "
                  "count and rates validation chose)");
    if (finetune == "updown" && hidden.size() < 2)
      throw Error("--finetune updown: needs at least two hidden layers (the top one joins the labels)");
    // The DBN's own RBMs: with up-down the top size is the labelled RBM's,
    // trained by --top-k, never transposed.
    const size_t depth = finetune == "updown" ? hidden.size() - 1 : hidden.size();
    const bool labelled_top = depth < hidden.size();
    samples::one_per_layer(method, depth, "--method", labelled_top ? " (the labelled top RBM's CD-k is --top-k)" : "");
    samples::one_per_layer(pretrain_lr, depth, "--pretrain-lr", labelled_top ? " (the labelled top RBM's is --top-lr)" : "");
    if (transpose_init && depth < 2)
      throw Error("--transpose-init: the DBN has {} layer; expected at least two, the second to start as the first's "
                  "transpose",
                  depth);
    if (transpose_init)  // layer l (l >= 1) can start as layer l - 1's transpose only if it is l - 1 turned around
      for (size_t l = 1; l < depth; ++l)
        if (hidden[l] != layers()[l - 1])
          throw Error("--transpose-init: layer {} is {}-{}, not the transpose of layer {} ({}-{}); expected hidden "
                      "sizes that alternate, such as 500,784,500",
                      l + 1, hidden[l - 1], hidden[l], l, layers()[l - 1], hidden[l - 1]);
    // Flags that would be ignored are refused, so that no run quietly does less than asked.
    if (baseline && finetune != "backprop")
      throw Error("--baseline: the random-start baseline is trained by backprop; expected --finetune backprop");
    if (refit && finetune == "none") throw Error("--refit: there is no fine-tuning to refit; expected --finetune backprop or updown");
    if (app.count("--finetune-epochs") > 0 && finetune == "none")
      throw Error("--finetune-epochs: there is no fine-tuning to run; expected --finetune backprop or updown");
    if (const std::string f = samples::given_flags(app, {"--finetune-lr", "--finetune-lr-decay",
                                                         "--finetune-weight-decay", "--baseline"});
        finetune_epochs == 0 && !f.empty())
      throw Error("{}: they set the fine-tuning, which --finetune-epochs 0 skips; expected one or the other", f);
    if ((refit_epochs > 0 || refit_lr > 0.0f) && !refit)
      throw Error("--refit-epochs, --refit-lr: they set up-down's refit; expected --refit too");
    if (!unset("--refit-error-every") && !(refit && finetune == "updown"))
      throw Error("--refit-error-every: it sets how often up-down's refit measures its error on all 60,000 images; "
                  "expected --finetune updown with --refit");
    if (const std::string f = samples::given_flags(app, {"--ais-runs", "--ais-scale", "--bound-images"});
        !bound && !f.empty())
      throw Error("{}: for the bound's AIS, which runs only with --bound; expected --bound too", f);
    if (const std::string f = samples::given_flags(
            app, {"--top-k", "--top-labels", "--top-lr", "--top-weight-decay", "--updown-lr", "--updown-momentum",
                  "--updown-weight-decay", "--balanced-batches", "--test-binarizations"});
        finetune != "updown" && !f.empty())
      throw Error("{}: for up-down fine-tuning; expected --finetune updown", f);
    if (const std::string f = samples::given_flags(
            app, {"--finetune-lr", "--finetune-lr-decay", "--finetune-weight-decay"});
        finetune != "backprop" && !f.empty())
      throw Error("{}: for backprop fine-tuning (up-down has --updown-lr, --updown-momentum, --updown-weight-decay, "
                  "--top-lr, --top-weight-decay); expected --finetune backprop",
                  f);
    if (const std::string f = samples::given_flags(app, {"--updown-lr", "--updown-momentum", "--updown-weight-decay"});
        finetune == "updown" && finetune_epochs == 0 && !f.empty())
      throw Error("{}: they set up-down, which --finetune-epochs 0 skips; expected one or the other", f);
    if (finetune == "backprop" && finetune_epochs == 0)
      throw Error("--finetune-epochs 0: backprop would train nothing, and the net's softmax layer, untrained, "
                  "classifies at chance; expected at least 1 epoch, or --finetune none to skip fine-tuning");
    if (refit && finetune_epochs == 0)
      throw Error("--refit: it refits up-down, which --finetune-epochs 0 skips; expected one or the other");
    // Up-down's epochs are cut into as many equal phases as --top-k has lengths: more lengths than epochs would skip some.
    if (finetune == "updown" && finetune_epochs > 0 && top_k.size() > static_cast<size_t>(finetune_epochs))
      throw Error("--top-k: {} chain lengths{} for {} up-down epochs (--finetune-epochs); expected at most one length "
                  "per epoch, since each runs an equal share of the epochs",
                  top_k.size(), unset("--top-k") ? fmt::format(" (the {} preset's)", preset) : "", finetune_epochs);
    for (size_t l = 0; l < method.size(); ++l) {  // here, before any work, rather than at the layer
      CdConfig method_check;
      try {
        parse_cd_method(method[l], method_check);
      } catch (const Error& e) {
        throw Error("--method{}: {}", method.size() > 1 ? fmt::format(", layer {}", l + 1) : "", e.what());
      }
    }
    (void)pixel_mode();
    (void)chain_labels();
  }
  ChainLabels chain_labels() const {
    if (top_labels == "sampled") return ChainLabels::sampled;
    if (top_labels == "probabilities") return ChainLabels::probabilities;
    throw Error("--top-labels '{}': expected sampled (one-hot draws) or probabilities (the softmax itself)",
                top_labels);
  }
};

inline void add_options(CLI::App& app, Options& o) {
  app.add_option("--preset", o.preset,
                 fmt::format("quick (minutes: {} pretraining epochs per layer, {} of fine-tuning) or paper (the full "
                             "reproduction: {} and {}, --finetune-lr {}, with --baseline, --bound and {} AIS runs, and --refit; with "
                             "--finetune updown {} and {}, --pixels sampled, --mean-field 0, --top-k {}, --refit of "
                             "{} epochs from --refit-lr {}, --test-binarizations {}). Flags given keep their values",
                             kQuick.pretrain_epochs, kQuick.finetune_epochs, kPaper.pretrain_epochs,
                             kPaper.finetune_epochs, kPaperFinetuneLr, kPaperAisRuns, kPaperUpdown.pretrain_epochs,
                             kPaperUpdown.finetune_epochs, fmt::join(kUpdownTopK, ","), kUpdownRefitEpochs,
                             kUpdownRefitLr, kUpdownTestBinarizations))
      ->capture_default_str();
  app.add_option("--data", o.data, "folder with the MNIST IDX files (default: data/mnist)");
  app.add_option("--output", o.output, "folder for checkpoints, pictures and metrics")->capture_default_str();
  app.add_option("--hidden", o.hidden, "hidden layer sizes, bottom up")->capture_default_str()->delimiter(',')
      ->check(samples::kPositive);
  app.add_option("--pretrain-epochs", o.pretrain_epochs, fmt::format("CD epochs per layer (one value, or one per layer) (the preset's: "
                                                                 "quick {}, paper {}, paper with --finetune updown {})",
                                                                 kQuick.pretrain_epochs, kPaper.pretrain_epochs,
                                                                 kPaperUpdown.pretrain_epochs))
      ->delimiter(',')
      ->check(samples::kNonNegative);
  app.add_option("--method", o.method, "pretraining: cd1, cdK (e.g. cd3), pcd or pcdK; one value, or one per layer")
      ->capture_default_str()->delimiter(',');
  app.add_option("--sample-up", o.sample_up,
                 "each layer above the first learns from sampled binary states of the one below (true) or from its "
                 "probabilities Q(h|v) (false)")
      ->capture_default_str();
  app.add_flag("--transpose-init", o.transpose_init,
               "each layer above the first starts as the transpose of the one below (hidden sizes must alternate, "
               "such as 500,784): adding it then leaves the bound where it was");
  app.add_option("--pretrain-lr", o.pretrain_lr,
                 "pretraining learning rate (the DBN's RBMs; see --top-lr); one value, or one per layer")
      ->capture_default_str()
      ->delimiter(',')
      ->check(samples::kPositive);
  app.add_option("--pixels", o.pixels, "pretraining data: scaled (intensities as probabilities) or sampled (binarized each epoch)")
      ->capture_default_str();
  app.add_option("--mean-field", o.mean_field, "CD's last visible step uses E[v|h] (true) or a sample (false)")
      ->capture_default_str();
  app.add_option("--weight-decay", o.weight_decay,
                 "pretraining L2 penalty on W (the DBN's RBMs; see --top-weight-decay)")
      ->capture_default_str()
      ->check(samples::kNonNegative);
  app.add_option("--finetune", o.finetune, "backprop, updown (the joint image-label model) or none")->capture_default_str();
  app.add_option("--updown-lr", o.updown_lr, "up-down learning rate")->capture_default_str()
      ->check(samples::kPositive);
  app.add_option("--updown-momentum", o.updown_momentum, "up-down's momentum, in its refit too (0: plain SGD)")
      ->capture_default_str()->check(samples::kFraction);
  app.add_option("--updown-weight-decay", o.updown_weight_decay,
                 "up-down's L2 penalty on all its weights and biases, in its refit too")
      ->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--top-lr", o.top_lr, "up-down: the labelled top RBM's pretraining learning rate")
      ->capture_default_str()->check(samples::kPositive);
  app.add_option("--top-weight-decay", o.top_weight_decay,
                 "up-down: the labelled top RBM's pretraining L2 penalty on its weights and biases")
      ->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--top-k", o.top_k,
                 "CD steps in the labelled top RBM: one value, or a schedule such as 3,6,10 that cuts the up-down "
                 "epochs into equal phases (the first value also pretrains the top RBM)")
      ->capture_default_str()->delimiter(',')->check(samples::kPositive);
  app.add_flag("--balanced-batches", o.balanced_batches,
               "up-down: the joint model's batches (top RBM, up-down, refit) hold each digit in proportion to its "
               "share of the images, as the paper's 10 per digit, instead of shuffled at random");
  app.add_option("--test-binarizations", o.test_binarizations,
                 "up-down: classify each test image by the mean of p(label | b) over N sampled binarizations b of it "
                 "(the pixels the model trains on); 0: by its intensities scaled to [0, 1]. The validation split "
                 "that chooses epochs is read scaled either way")
      ->capture_default_str()
      ->check(samples::number_check([](double v) { return v >= 0.0 && v <= 1000.0 && v == static_cast<int>(v); },
                                    "0 to 1000 binarizations (each a pass over the test set)", "[0,1000]"));
  app.add_option("--top-labels", o.top_labels,
                 "up-down: the top chain's label units from step to step: sampled (one-hot draws) or probabilities "
                 "(the softmax itself, as in the paper's code); in the top RBM's pretraining too")
      ->capture_default_str();
  app.add_option("--finetune-epochs", o.finetune_epochs,
                 fmt::format("fine-tuning epochs, at least 1 unless --finetune none (the preset's: quick {}, paper {}, "
                             "paper with --finetune updown {})",
                             kQuick.finetune_epochs, kPaper.finetune_epochs, kPaperUpdown.finetune_epochs))->check(samples::kNonNegative);
  app.add_option("--finetune-lr", o.finetune_lr,
                 fmt::format("fine-tuning learning rate, the baseline's too (the paper preset's: {})", kPaperFinetuneLr))
      ->capture_default_str()
      ->check(samples::kPositive);
  app.add_option("--finetune-lr-decay", o.finetune_lr_decay, "fine-tuning lr multiplier per epoch")->capture_default_str()
      ->check(samples::kDecay);
  app.add_option("--batch", o.batch, "mini-batch size")->capture_default_str()->check(samples::kPositive);
  app.add_option("--validation", o.validation, "last N training images held out to choose the epoch")->capture_default_str()
      ->check(samples::kPositive);
  app.add_flag("--baseline", o.baseline, "also train the same net from a random start, same budget");
  app.add_flag("--refit", o.refit,
               "then train on all 60,000 images: backprop retrains for the epoch count validation chose; up-down goes on "
               "with its last CD-k phase (--refit-epochs, --refit-lr)");
  app.add_option("--refit-epochs", o.refit_epochs,
                 "up-down's refit length in epochs on all 60,000 images (0: as many as the last CD-k phase)")
      ->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--refit-lr", o.refit_lr,
                 "up-down refit's starting learning rate, falling linearly to zero (0: --updown-lr)")
      ->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--refit-error-every", o.refit_error_every,
                 "up-down's refit: its error on all 60,000 images (updown_refit.csv; about 2 s each) every N epochs "
                 "and after the last; the model is the same whatever N")
      ->capture_default_str()->check(samples::kPositive);
  app.add_option("--finetune-weight-decay", o.finetune_weight_decay, "fine-tuning L2 penalty")->capture_default_str()
      ->check(samples::kNonNegative);
  app.add_flag("--bound", o.bound, "report the variational bound on the test log-likelihood per layer (AIS)");
  app.add_option("--bound-images", o.bound_images, "test images for the bound")->capture_default_str()
      ->check(samples::kPositive);
  app.add_option("--ais-runs", o.ais_runs, "AIS runs (at least 2: the error bar needs their spread)")
      ->capture_default_str()
      ->check(samples::number_check([](double v) { return v >= 2.0; }, "2 or more (AIS's error bar needs two runs)",
                                    ">=2"));
  app.add_option("--ais-scale", o.ais_scale, "multiplies the 14,500 AIS temperatures")->capture_default_str()
      ->check(samples::kAisScale);
  app.add_option("--seed", o.seed, "seed of every random draw of the models")->capture_default_str()
      ->check(samples::kNonNegative);
  app.add_option("--data-seed", o.data_seed, "seed of shuffles and binarisation")->capture_default_str()
      ->check(samples::kNonNegative);
  app.add_option("--threads", o.threads, "worker threads (0: all cores)")->capture_default_str()
      ->check(samples::kThreads);
  app.add_flag("--resume", o.resume, "continue from the checkpoints in --output");
  app.add_option("--profile", o.profile, "write a Chrome trace of the whole run to FILE, and a timeline of the last steps beside it (FILE with the extension .timeline.svg)");
  add_profile_events(app, o.profile_events);
}

inline CdConfig layer_cd(const Options& o, int l) {
  CdConfig c{.batch = o.batch, .lr = o.pretrain_lr[static_cast<size_t>(l)], .momentum = o.momentum, .weight_decay = o.weight_decay,
             .mean_field_last = o.mean_field};
  parse_cd_method(o.method[static_cast<size_t>(l)], c);
  return c;
}

struct Data {
  io::ImageSet train, valid, test, all;  // all: train and valid together (the refit)
};

inline Data load_data(const Options& o) {
  const auto dir = find_data(o.data);
  const io::ImageSet all = io::load_mnist(dir, "train");
  if (o.validation <= 0 || o.validation >= all.count)
    throw Error("--validation {}: expected 1 .. {}", o.validation, all.count - 1);
  return {io::slice(all, 0, all.count - o.validation), io::slice(all, all.count - o.validation, o.validation),
          io::load_mnist(dir, "t10k"), all};
}

// Columns j of `w` [rows, cols] as tiles; with `below` [784, rows], each
// column is first drawn through it (a second-layer feature as the weighted
// sum of first-layer filters).
inline std::vector<float> weight_tiles(std::span<const float> w, int64_t rows, int64_t cols, int64_t n,
                                       std::span<const float> below = {}) {
  std::vector<float> t;
  for (int64_t j = 0; j < n; ++j) {
    std::vector<float> col(static_cast<size_t>(rows));
    for (int64_t i = 0; i < rows; ++i) col[static_cast<size_t>(i)] = w[static_cast<size_t>(i * cols + j)];
    if (below.empty()) {
      t.insert(t.end(), col.begin(), col.end());
      continue;
    }
    for (int64_t p = 0; p < 784; ++p) {
      double s = 0;
      for (int64_t i = 0; i < rows; ++i) s += double(below[static_cast<size_t>(p * rows + i)]) * col[static_cast<size_t>(i)];
      t.push_back(static_cast<float>(s));
    }
  }
  return t;
}

inline void write_filters(const Dbn& dbn, const std::string& filters, const std::string& features) {
  const Graph& g = *dbn.graph;
  const Rbm& r0 = dbn.rbms[0];
  const int64_t h0 = r0.config.hidden;
  io::write_png_grid(filters, weight_tiles(g.value(r0.w), 784, h0, std::min<int64_t>(h0, 100)), std::min<int64_t>(h0, 100),
                     28, 28, {.columns = 10, .upscale = 2});
  if (dbn.depth() < 2) return;
  const Rbm& r1 = dbn.rbms[1];
  const int64_t n = std::min<int64_t>(r1.config.hidden, 100);
  io::write_png_grid(features, weight_tiles(g.value(r1.w), h0, r1.config.hidden, n, g.value(r0.w)), n, 28, 28,
                     {.columns = 10, .upscale = 2});
}

// Ten chains in the top RBM, started from ten test digits' top-level codes
// (the first row shows the digits);
// every 100 Gibbs steps each chain's state is drawn down to pixels.
inline void write_samples(const Dbn& dbn, Executor& ex, const io::ImageSet& test, const std::string& path) {
  const DbnChains c = make_dbn_chains(dbn, 10, "samples");
  const std::vector<int64_t> idx = samples::first_of_each_digit(test);
  std::vector<float> xs(10 * 784);
  io::fill_batch(test, idx, xs, {.mode = io::Pixels::scaled});
  ex.run({c.start}, {{c.x, xs}});
  std::vector<float> tiles(xs);  // the first row: the digit each chain starts from
  for (int s = 1; s <= 1000; ++s) {  // the pixels made only when drawn: the chains' draws are the same either way
    if (s % 100 != 0) {
      ex.run({c.step});
      continue;
    }
    ex.run({c.visible, c.step});
    tiles.insert(tiles.end(), ex.value(c.visible).begin(), ex.value(c.visible).end());
  }
  io::write_png_grid(path, tiles, 110, 28, 28, {.columns = 10, .upscale = 2, .contrast = io::GridOptions::Contrast::fixed01});
}

// With the label clamped to each digit in turn: ten chains per digit in the
// top RBM, started from random states, drawn down to pixels after 1000 steps
// by `down` (the penultimate layer's probabilities to pixels: the greedy
// DBN's tied weights, or up-down's generative ones).
inline void write_label_samples(const LabelledRbm& top, Executor& ex, const std::string& path,
                                const std::function<Tensor(Tensor)>& down) {
  Graph& g = *top.w.graph;
  std::vector<int> labels(100);
  for (int r = 0; r < 100; ++r) labels[static_cast<size_t>(r)] = r / 10;
  const LabelledChains c = make_labelled_chains(top, labels, fmt::format("label_samples{}", g.size()), down);  // each call its own chains
  fill_uniform(g.value(c.state), 0.0f, 1.0f, 5, 5);
  for (int s = 0; s < 1000; ++s) ex.run({c.step});
  ex.run({c.visible});
  io::write_png_grid(path, ex.value(c.visible), 100, 28, 28, {.columns = 10, .upscale = 2, .contrast = io::GridOptions::Contrast::fixed01});
}

// misclassified.png: the first 100 misclassified test digits, row by row;
// misclassified.csv: every one of them, in the same order, with its true
// class and the class the model gave it.
inline void write_misclassified(const io::ImageSet& test, const std::vector<int64_t>& wrong,
                                const std::vector<int>& given, const std::string& output, Summary& sum) {
  Csv csv(output + "/misclassified.csv", "test_index,label,given", false);
  for (size_t i = 0; i < wrong.size(); ++i)
    csv.row("{},{},{}", wrong[i], test.labels[static_cast<size_t>(wrong[i])], i < given.size() ? given[i] : -1);
  if (wrong.empty()) return;
  const auto n = std::min<size_t>(wrong.size(), 100);
  std::vector<float> tiles(n * 784);
  io::fill_batch(test, std::span(wrong).first(n), tiles, {.mode = io::Pixels::scaled});
  std::vector<std::string> captions(n);  // "4>9": a 4 taken for a 9
  for (size_t i = 0; i < n; ++i)
    captions[i] = i < given.size() ? fmt::format("{}>{}", test.labels[static_cast<size_t>(wrong[i])], given[i])
                                   : fmt::format("{}", test.labels[static_cast<size_t>(wrong[i])]);
  io::write_png_grid(output + "/misclassified.png", tiles, static_cast<int64_t>(n), 28, 28,
                     {.columns = 10, .upscale = 2, .contrast = io::GridOptions::Contrast::fixed01, .captions = captions});
  sum.note(fmt::format("misclassified.png: the first {} of {} wrong test digits, each captioned with its class and the "
                       "one given (4>9: a 4 taken for a 9); misclassified.csv lists them all", n, wrong.size()));
}

}  // namespace ebm::samples
