#pragma once
// cdbn_mnist's options, presets, data split and pictures of filters and pooled maps.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "graph/executor.hpp"
#include "io/idx.hpp"
#include "io/png.hpp"
#include "models/cdbn.hpp"
#include "models/svm.hpp"
#include "samples/common.hpp"
#include "samples/lineage.hpp"

namespace ebm::samples {

struct Options {
  std::string data, output = "out/cdbn_mnist", preset = "quick", profile;
  int64_t profile_events = static_cast<int64_t>(ExecutorOptions::kDefaultProfileEvents);
  std::vector<int64_t> filters{24, 40}, sizes{9, 5}, pools{2, 2}, labelled{1000, 2000, 5000, 50000};
  std::vector<int> epochs{10};  // one value: every layer
  int64_t batch = 100, validation = 10000, train_images = 0;
  // The flags that choose the training and validation images: saved with
  // every checkpoint, so that a resume with others is refused.
  std::map<std::string, std::string> data_flags() const {
    return {{"--train-images", std::to_string(train_images)}, {"--validation", std::to_string(validation)}};
  }
  float lr = 0.001f, momentum = 0.5f, final_momentum = 0.9f, weight_decay = 1e-4f;
  float sparsity_target = 0.03f, sparsity_cost = 1.0f;
  int classifier_epochs = 100, finetune_epochs = 30;
  float classifier_lr = 0.02f, classifier_decay = 1e-4f, finetune_lr = 0.05f;
  std::vector<int64_t> svm_labelled{1000, 2000, 5000};
  std::vector<double> svm_c{1, 10, 100}, svm_gamma{0.5, 1, 2, 4};
  int64_t svm_kept = 20'000;  // SVMs on at most this many labels keep their distances (classify_svm)
  int64_t fill_in_images = 1000, occluded_rows = 14;
  bool fill_in_images_given = false;  // else the default, cut to the test set's size
  int fill_in_sweeps = 200, sample_sweeps = 1000;
  bool baseline = false;
  uint64_t seed = 1, data_seed = 1;
  int threads = 0;
  bool resume = false, check_numerics = false;

  void apply_preset(const CLI::App& app) {
    if (preset != "quick" && preset != "paper") throw Error("--preset '{}': expected quick or paper", preset);
    fill_in_images_given = app.count("--fill-in-images") > 0;
    if (preset != "quick") return;
    auto unset = [&](const char* flag) { return app.count(flag) == 0; };
    if (unset("--pretrain-epochs")) epochs = {2};
    if (unset("--classifier-epochs")) classifier_epochs = 20;
    if (unset("--labelled")) labelled = {1000, 50000};
    if (unset("--finetune-epochs")) finetune_epochs = 3;
    if (unset("--svm-labelled")) svm_labelled = {1000};
    if (unset("--fill-in-images")) fill_in_images = 100;
    if (unset("--fill-in-sweeps")) fill_in_sweeps = 50;
  }

  void check() const {
    const size_t n = filters.size();
    if (sizes.size() != n || pools.size() != n || (epochs.size() != n && epochs.size() != 1))
      throw Error("--filters, --filter-size and --pool have {}, {} and {} values, --pretrain-epochs {}; expected one "
                  "per layer each (--pretrain-epochs may give one for all)",
                  n, sizes.size(), pools.size(), epochs.size());
    for (size_t l = 0, plane = 28; l < n; ++l) {  // each layer's filters must fit the plane below, its pool divide what is left
      const int64_t hidden = static_cast<int64_t>(plane) - sizes[l] + 1;
      if (hidden < 1 || hidden % pools[l] != 0)
        throw Error("--filter-size {} and --pool {} at layer {}: its {} x {} input planes leave hidden planes of {} x "
                    "{}; expected filters no wider than the input, and a pool that divides the hidden planes",
                    sizes[l], pools[l], l + 1, plane, plane, hidden, hidden);
      plane = static_cast<size_t>(hidden / pools[l]);
    }
    if (const auto few = std::find_if(labelled.begin(), labelled.end(), [&](int64_t l) { return l < batch; });
        few != labelled.end())
      throw Error("--labelled {}: fewer than a batch; expected every count at least --batch ({})", *few, batch);
    // Each count once, in increasing order: a repeat trained twice and printed its result lines twice, and the
    // error curve is drawn through the counts as given.
    for (const auto* counts : {&labelled, &svm_labelled})
      for (size_t i = 1; i < counts->size(); ++i)
        if ((*counts)[i] <= (*counts)[i - 1])
          throw Error("{} {}: {} after {}; expected each count once, in increasing order",
                      counts == &labelled ? "--labelled" : "--svm-labelled", fmt::join(*counts, ","), (*counts)[i],
                      (*counts)[i - 1]);
    for (int64_t l : svm_labelled) {
      if (l != 0 && (l < 10 || l > kMaxSvmPoints))
        throw Error("--svm-labelled {}: expected 10 to {} images (the kernel matrix is held whole), or 0 for none", l,
                    kMaxSvmPoints);
      check_matrix_fits(l <= svm_kept ? 2 * l : l, l,  // the distances kept beside the kernel, or not
                        fmt::format("--svm-labelled {}: its kernel matrix", l).c_str());
    }
    if (occluded_rows < 1 || occluded_rows >= 28)
      throw Error("--occluded-rows {}: expected 1 to 27 of MNIST's 28 rows hidden", occluded_rows);
    if (fill_in_images > 0 && fill_in_sweeps < 2)
      throw Error("--fill-in-sweeps {}: expected at least 2 (the estimate averages the last half)", fill_in_sweeps);
    if (svm_c.empty() || svm_gamma.empty()) throw Error("--svm-c and --svm-gamma: expected at least one value each");
    for (double v : svm_c)
      if (!(v > 0) || !std::isfinite(v)) throw Error("--svm-c {}: expected positive, finite boxes", v);
    for (double v : svm_gamma)
      if (!(v > 0) || !std::isfinite(v))
        throw Error("--svm-gamma {}: expected positive, finite multiples of 1 / the mean squared distance", v);
  }
  // Flags the run would ignore are refused, as the other samples do.
  void refuse_ignored_flags(const CLI::App& app) const {
    if (app.count("--sparsity-target") > 0 && sparsity_cost == 0.0f)
      throw Error("--sparsity-target: the sparsity penalty is off; expected --sparsity-cost above 0 too");
    const bool svms = std::any_of(svm_labelled.begin(), svm_labelled.end(), [](int64_t l) { return l > 0; });
    if (const std::string f = samples::given_flags(app, {"--svm-c", "--svm-gamma", "--svm-kept-distances"});
        !svms && !f.empty())
      throw Error("{}: they set the SVMs, which --svm-labelled 0 skips; expected one or the other", f);
    if (const std::string f = samples::given_flags(app, {"--fill-in-sweeps", "--occluded-rows"});
        fill_in_images == 0 && !f.empty())
      throw Error("{}: they set the filling in, which --fill-in-images 0 skips; expected one or the other", f);
    if (const std::string f = samples::given_flags(app, {"--pretrain-lr", "--momentum", "--final-momentum",
                                                          "--weight-decay", "--sparsity-cost", "--sparsity-target"});
        std::all_of(epochs.begin(), epochs.end(), [](int e) { return e == 0; }) && !f.empty())
      throw Error("{}: they set the pretraining, which --pretrain-epochs 0 skips; expected one or the other", f);
    if (const std::string f = samples::given_flags(app, {"--finetune-lr", "--baseline"});
        finetune_epochs == 0 && !f.empty())
      throw Error("{}: they set the convnet's fine-tuning, which --finetune-epochs 0 skips; expected one or the other",
                  f);
  }
  int layer_epochs(size_t l) const { return epochs.size() == 1 ? epochs[0] : epochs[l]; }
  std::string layer_string() const {  // "24 9x9 filters (pool 2), then 40 5x5 filters (pool 2)"
    std::string s;
    for (size_t l = 0; l < filters.size(); ++l)
      s += fmt::format("{}{} {}x{} filters (pool {})", l ? ", then " : "", filters[l], sizes[l], sizes[l], pools[l]);
    return s;
  }
};

struct Data {
  io::ImageSet train, valid, test;
};

inline Data load_data(const Options& o) {
  const auto dir = find_data(o.data);
  const io::ImageSet all = io::load_mnist(dir, "train");
  if (o.validation <= 0 || o.validation >= all.count)
    throw Error("--validation {}: expected 1 .. {}", o.validation, all.count - 1);
  const int64_t available = all.count - o.validation;
  if (o.train_images > available)
    throw Error("--train-images {}: more than the {} images before the validation split", o.train_images, available);
  Data d{io::slice(all, 0, o.train_images > 0 ? o.train_images : available),
         io::slice(all, available, o.validation), io::load_mnist(dir, "t10k")};
  for (int64_t l : o.labelled)
    if (l > d.train.count) throw Error("--labelled {}: more than the {} training images", l, d.train.count);
  for (int64_t l : o.svm_labelled)
    if (l > d.train.count) throw Error("--svm-labelled {}: more than the {} training images", l, d.train.count);
  return d;
}

// The command line: every flag, its default and its check.
inline void add_options(CLI::App& app, Options& o) {
  app.add_option("--data", o.data, "folder with the MNIST IDX files (default: data/mnist)");
  app.add_option("--output", o.output, "folder for pictures, metrics and checkpoints")->capture_default_str();
  app.add_option("--preset", o.preset,
                 "quick (the default: 2 epochs per layer, 20 classifier epochs on 1,000 and 50,000 labels, SVMs on "
                 "1,000, 3 fine-tuning epochs) or paper (each flag it sets says both presets' values)")
      ->capture_default_str();
  app.add_option("--filters", o.filters, "filters per layer")->capture_default_str()->delimiter(',')
      ->check(samples::kPositive);
  app.add_option("--filter-size", o.sizes, "each layer's filter side")->capture_default_str()->delimiter(',')
      ->check(samples::kPositive);
  app.add_option("--pool", o.pools, "each layer's pooling block side (1: no pooling)")->capture_default_str()
      ->delimiter(',')->check(samples::whole_number_check(1, 16));
  // A preset's flags show no default after '=': the two presets differ (show_preset_default).
  app.add_option("--pretrain-epochs,--epochs", o.epochs, "pretraining epochs per layer (one value: every layer)")
      ->delimiter(',')->check(samples::kNonNegative);
  app.add_option("--batch", o.batch, "mini-batch size")->capture_default_str()->check(samples::kPositive);
  app.add_option("--pretrain-lr,--lr", o.lr, "pretraining learning rate")->capture_default_str()
      ->check(samples::kPositive);
  app.add_option("--momentum", o.momentum, "momentum of the first 5 epochs")->capture_default_str()
      ->check(samples::kFraction);
  app.add_option("--final-momentum", o.final_momentum, "momentum after them")->capture_default_str()
      ->check(samples::kFraction);
  app.add_option("--weight-decay", o.weight_decay, "L2 on the filters")->capture_default_str()
      ->check(samples::kNonNegative);
  app.add_option("--sparsity-target", o.sparsity_target, "each group's target mean activation")->capture_default_str()
      ->check(samples::number_check([](double v) { return v > 0.0 && v < 1.0; }, "a value in (0, 1)", "(0,1)"));
  app.add_option("--sparsity-cost", o.sparsity_cost, "weight of the sparsity term (0: none)")->capture_default_str()
      ->check(samples::kNonNegative);
  app.add_option("--labelled", o.labelled, "labelled training images for each classifier run (the first N)")
      ->delimiter(',')->check(samples::kPositive);
  app.add_option("--classifier-epochs", o.classifier_epochs, "softmax regression's epochs")
      ->check(samples::kPositive);
  app.add_option("--classifier-lr", o.classifier_lr, "its learning rate (momentum 0.9)")->capture_default_str()
      ->check(samples::kPositive);
  app.add_option("--classifier-decay", o.classifier_decay, "its L2 weight decay")->capture_default_str()
      ->check(samples::kNonNegative);
  app.add_option("--svm-labelled", o.svm_labelled,
                 "labelled training images for each Gaussian-kernel SVM (the first N, at most 60,000 and what memory "
                 "holds: 4 N^2 bytes, twice that up to 20,000; 0: no SVM)")
      ->delimiter(',')->check(samples::kNonNegative.description(fmt::format("0|[10,{}]", kMaxSvmPoints)));
  app.add_option("--svm-kept-distances", o.svm_kept,
                 "up to this many labels, the SVMs keep the training rows' squared distances beside the kernel; "
                 "beyond, they are made again for each width and the validation split's a block at a time")
      ->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--svm-c", o.svm_c, "the SVMs' boxes C to try")->capture_default_str()->delimiter(',')
      ->check(samples::shown_range("POSITIVE"));
  app.add_option("--svm-gamma", o.svm_gamma,
                 "the kernel widths gamma to try, as multiples of 1 / the mean squared distance between training rows")
      ->capture_default_str()->delimiter(',')->check(samples::shown_range("POSITIVE"));
  app.add_option("--fill-in-images", o.fill_in_images,
                 "test digits whose bottom rows the stack fills in, by Gibbs sampling with the rest clamped (0: none; "
                 "the preset's: quick 100, paper 1000)")
      ->check(samples::kNonNegative);
  app.add_option("--occluded-rows", o.occluded_rows, "the bottom rows hidden for filling in")->capture_default_str()
      ->check(samples::shown_range("[1,27]"));
  app.add_option("--fill-in-sweeps", o.fill_in_sweeps,
                 "Gibbs sweeps per filled-in batch; the estimate averages the last half (the preset's: quick 50, "
                 "paper 200)")
      ->check(samples::kNonNegative.description("AT_LEAST_2"));
  app.add_option("--sample-sweeps", o.sample_sweeps,
                 "Gibbs steps of samples.png's ten top-level chains, a snapshot every tenth of them (0: none)")
      ->capture_default_str()
      ->check(samples::number_check([](double v) { return v >= 0 && v == 10 * std::floor(v / 10); },
                                    "0 (none) or a positive multiple of 10 (samples.png shows a snapshot every tenth "
                                    "of the steps)",
                                    "MULTIPLE_OF_10"));
  app.add_option("--train-images", o.train_images, "pretrain, classify and fine-tune on the first N training images only (0: all)")
      ->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--finetune-epochs", o.finetune_epochs,
                 "backprop epochs of the unrolled convnet on the training split (0: none)")
      ->check(samples::kNonNegative);
  app.add_option("--finetune-lr", o.finetune_lr, "its learning rate (momentum 0.9)")->capture_default_str()
      ->check(samples::kPositive);
  app.add_flag("--baseline", o.baseline, "also fine-tune the same convnet from a random start, with the same budget");
  app.add_option("--validation", o.validation, "the last N training images choose each classifier's epoch")
      ->capture_default_str()->check(samples::shown_range("[1,59999]"));
  app.add_option("--seed", o.seed, "seed of the weights and the Gibbs draws")->capture_default_str()
      ->check(samples::kNonNegative);
  app.add_option("--data-seed", o.data_seed, "seed of the shuffles and binarisation")->capture_default_str()
      ->check(samples::kNonNegative);
  app.add_option("--threads", o.threads, "worker threads (0: all cores)")->capture_default_str()
      ->check(samples::kThreads);
  app.add_flag("--resume", o.resume, "continue from the checkpoints in --output");
  app.add_flag("--check-numerics", o.check_numerics, "stop at the first node that produces NaN or Inf");
  app.add_option("--profile", o.profile, "write a Chrome trace of pretraining to FILE and a timeline beside it");
  add_profile_events(app, o.profile_events);
}

// An earlier run's checkpoints and files would outlive this run: a later
// --resume would take them up (a fine-tuning checkpoint of other layers
// fails on its shapes; one of the same shapes, or a classifier's, would
// resume on features that are gone, and the resume checks compare only
// the data flags). So a fresh run removes every checkpoint before it
// trains (a run killed before its first save leaves none of the earlier
// run's behind); a resume that trained a layer again (`layers_afresh`)
// those built on the layers (upper layers' pretraining, classifiers on
// features, fine-tuning); and any run the tables and pictures of phases it
// skips. Only names this program writes are removed, and a checkpoint
// folder only when it holds nothing a save does not write
// (remove_checkpoint).
inline void remove_skipped(const Options& o, int depth, bool layers_afresh) {
  namespace fs = std::filesystem;
  const fs::path out = o.output;
  const bool fresh = !o.resume;
  if (o.fill_in_images == 0) remove_output_file(out / "fill_in.png");
  if (o.sample_sweeps == 0) remove_output_file(out / "samples.png");
  // (a resume that skips the SVMs or the fine-tuning keeps their tables, as it keeps the fine-tuning's checkpoint)
  if ((fresh || layers_afresh) && std::all_of(o.svm_labelled.begin(), o.svm_labelled.end(), [](int64_t n) { return n == 0; }))
    remove_output_file(out / "svm.csv");
  if (depth < 2) remove_output_file(out / "features.png");
  if ((fresh || layers_afresh) && o.finetune_epochs == 0) remove_output_file(out / "finetune.csv");
  if (fresh && (o.finetune_epochs == 0 || !o.baseline)) remove_output_file(out / "baseline.csv");
  if (fresh || layers_afresh) remove_checkpoint(out / "finetune");
  if (fresh) remove_checkpoint(out / "baseline");
  if (!layers_afresh) return;
  int64_t n = 0;
  for (const std::string& name : entry_stems(out / "pretrain"))  // a fresh run's every layer, else those above
    if (numbered(name, "layer", &n) && (fresh || n >= depth)) remove_checkpoint(out / "pretrain" / name);
  for (const std::string& name : entry_stems(out))
    if (numbered(name, "pretrain_layer", &n) && n > depth) remove_output_file(out / (name + ".csv"));
  for (const std::string& name : entry_stems(out / "classify")) {  // a fresh run's every classifier, else those on features
    const size_t cut = name.rfind('_');
    int64_t labels = 0, layers = 0;
    if (cut == std::string::npos || !numbered(std::string_view(name).substr(cut), "_", &labels)) continue;
    const std::string what = name.substr(0, cut);
    if (what != "pixels" && what != "layer1" && !numbered(what, "layers1-", &layers)) continue;
    if (fresh || what != "pixels") remove_checkpoint(out / "classify" / name);
  }
}

// Layer 1's filters as r x r tiles, and layer 2's drawn through them: each
// layer-2 filter's weight on pooled unit (c, u, v) spreads evenly over its
// P x P hidden units, each of which sees pixels through layer 1's filter c.
inline void write_filters(const Cdbn& cdbn, const Options& o) {
  const Graph& g = *cdbn.graph;
  const Crbm& m1 = cdbn.crbms[0];
  const auto w1 = g.value(m1.w);
  const int64_t k1 = m1.config.filters, r1 = m1.config.visible.size, c1 = m1.config.visible.channels;
  if (c1 == 1)
    io::write_png_grid(o.output + "/filters.png", w1, k1, r1, r1, {.columns = std::min<int>(12, static_cast<int>(k1)), .upscale = 4});
  if (cdbn.depth() < 2 || c1 != 1) return;
  const Crbm& m2 = cdbn.crbms[1];
  const auto w2 = g.value(m2.w);
  const int64_t k2 = m2.config.filters, r2 = m2.config.visible.size, p1 = m1.config.pool;
  const int64_t side = r2 * p1 + r1 - 1;
  std::vector<float> tiles(static_cast<size_t>(k2 * side * side), 0.0f);
  for (int64_t k = 0; k < k2; ++k)
    for (int64_t c = 0; c < k1; ++c)
      for (int64_t u = 0; u < r2; ++u)
        for (int64_t v = 0; v < r2; ++v) {
          const float a = w2[static_cast<size_t>(((k * k1 + c) * r2 + u) * r2 + v)] / static_cast<float>(p1 * p1);
          for (int64_t i = u * p1; i < (u + 1) * p1; ++i)
            for (int64_t j = v * p1; j < (v + 1) * p1; ++j)
              for (int64_t y = 0; y < r1; ++y)
                for (int64_t x = 0; x < r1; ++x)
                  tiles[static_cast<size_t>(k * side * side + (i + y) * side + j + x)] +=
                      a * w1[static_cast<size_t>(c * r1 * r1 + y * r1 + x)];
        }
  io::write_png_grid(o.output + "/features.png", tiles, k2, side, side, {.columns = 10, .upscale = 3});
}

// Eight test digits and, beside each, layer 1's pooled maps (one tile per group).
inline void write_pooled(const Cdbn& cdbn, const io::ImageSet& test, std::span<const float> features, int64_t width,
                  const Options& o) {
  const Crbm& m = cdbn.crbms[0];
  const PoolGeometry p = m.pooling();
  const int64_t side = p.height / p.pool, groups = p.groups, n = 8;
  const int64_t cols = groups + 1;
  std::vector<float> tiles;
  for (int64_t i = 0; i < n; ++i) {
    // the digit shrunk to the maps' side, each tile pixel the mean of the
    // block of pixels it covers (so that no stroke breaks up)
    for (int64_t y = 0; y < side; ++y)
      for (int64_t x = 0; x < side; ++x) {
        const int64_t y0 = y * test.height / side, y1 = std::max(y0 + 1, (y + 1) * test.height / side);
        const int64_t x0 = x * test.width / side, x1 = std::max(x0 + 1, (x + 1) * test.width / side);
        float total = 0.0f;
        for (int64_t r = y0; r < y1; ++r)
          for (int64_t c = x0; c < x1; ++c) total += test.pixels[static_cast<size_t>(i * test.dim() + r * test.width + c)];
        tiles.push_back(total / (255.0f * static_cast<float>((y1 - y0) * (x1 - x0))));
      }
    for (int64_t q = 0; q < groups; ++q)
      for (int64_t k = 0; k < side * side; ++k)
        tiles.push_back(features[static_cast<size_t>(i * width + q * side * side + k)]);
  }
  io::write_png_grid(o.output + "/pooled.png", tiles, n * cols, side, side,
                     {.columns = static_cast<int>(cols), .upscale = 3, .contrast = io::GridOptions::Contrast::fixed01});
}

}  // namespace ebm::samples
