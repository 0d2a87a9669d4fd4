// cdbn_mnist: a convolutional deep belief network on MNIST (Lee, Grosse,
// Ranganath & Ng 2009). Convolutional RBMs with probabilistic max-pooling
// are trained greedily, each on the pooling units' probabilities of the one
// below; their pooled features then feed a softmax classifier trained on
// 1,000 to 50,000 labelled images, beside the same classifier on pixels.
// Gaussian-kernel SVMs, the classifier the paper judged its features by,
// are trained on the first 1,000 to 5,000 labelled images of each feature
// set, their C and kernel width chosen on the validation split.
// Last, the CDBN is unrolled into a convnet (both layers' pooling units into
// a softmax) and fine-tuned by backprop, beside (--baseline) the same
// convnet from a random start.
//
//   pixels 28 x 28 --crbm 1: K1 filters r1 x r1, pool P1--> pooled [K1, 10, 10]
//                  --crbm 2: K2 filters r2 x r2 over K1 channels, pool P2--> pooled [K2, 3, 3]
//   features: pixels | layer 1's pooled units | both layers' --> softmax regression, RBF SVM
//   convnet:  pixels --crbm 1--> pooled --crbm 2--> pooled, both --> softmax  (backprop through all)
//
// The validation split (the last 10,000 training images) chooses each
// classifier's epoch; the test set chooses nothing. Writes to --output:
// filters.png (layer 1), features.png (layer 2's filters drawn through
// layer 1's), pooled.png (a few digits' pooled maps), pretrain/, classify/,
// finetune/ and baseline/ checkpoints, pretrain_layerN.csv, classify.csv,
// svm.csv (every C and width tried), finetune.csv, baseline.csv, error.svg
// (test error against the number of labels), fill_in.png (test digits'
// bottom rows filled in by Gibbs sampling, by the first layer and by the
// stack), samples.png (the stack's samples as a DBN), a summary table and
// key=value lines.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "io/batch.hpp"
#include "io/plot.hpp"
#include "io/png.hpp"
#include "models/cdbn.hpp"
#include "models/finetune.hpp"
#include "models/rbm_fit.hpp"
#include "models/svm.hpp"
#include "samples/cdbn_sampling.hpp"
#include "samples/common.hpp"
#include "samples/pretrain.hpp"
#include "samples/progress.hpp"

namespace {

using namespace ebm;
using namespace ebm::samples;

struct Options {
  std::string data, output = "out/cdbn_mnist", preset = "quick", profile;
  int64_t profile_events = static_cast<int64_t>(ExecutorOptions{}.profile_events);
  std::vector<int64_t> filters{24, 40}, sizes{9, 5}, pools{2, 2}, labelled{1000, 2000, 5000, 50000};
  std::vector<int> epochs{10};  // one value: every layer
  int64_t batch = 100, validation = 10000, train_images = 0;
  float lr = 0.001f, momentum = 0.5f, final_momentum = 0.9f, weight_decay = 1e-4f;
  float sparsity_target = 0.03f, sparsity_cost = 1.0f;
  int classifier_epochs = 100, finetune_epochs = 30;
  float classifier_lr = 0.02f, classifier_decay = 1e-4f, finetune_lr = 0.05f;
  std::vector<int64_t> svm_labelled{1000, 2000, 5000};
  std::vector<double> svm_c{1, 10, 100}, svm_gamma{0.5, 1, 2, 4};
  int64_t svm_kept = 20'000;  // SVMs on at most this many labels keep their distances (classify_svm)
  int64_t fill_in_images = 1000, occluded_rows = 14;
  int fill_in_sweeps = 200, sample_sweeps = 1000;
  bool baseline = false;
  uint64_t seed = 1, data_seed = 1;
  int threads = 0;
  bool resume = false, check_numerics = false;

  void apply_preset(const CLI::App& app) {
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
    if (std::any_of(labelled.begin(), labelled.end(), [&](int64_t l) { return l < batch; }))
      throw Error("--labelled: every count must be at least --batch ({})", batch);
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

Data load_data(const Options& o) {
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

// Greedy pretraining: layer l learns from the pooled probabilities of the
// layers below (its visible biases start from their means); a layer that
// trained makes the ones above start afresh. Returns whether a resumed
// run trained any layer (the classifiers built on them then start afresh
// too); false for a fresh run.
bool pretrain(Cdbn& cdbn, Executor& ex, const Data& d, const Options& o, Summary& sum) {
  const DataSource images = image_source(d.train, io::Pixels::sampled, o.data_seed);
  const DataSource valid_images = image_source(d.valid, io::Pixels::sampled, o.data_seed + 1);
  bool resume = o.resume;
  for (int l = 0; l < cdbn.depth(); ++l) {
    Crbm& m = cdbn.crbms[static_cast<size_t>(l)];
    const CdConfig cd{.batch = o.batch,
                      .lr = o.lr,
                      .momentum = o.momentum,
                      .weight_decay = o.weight_decay,
                      .sparsity_target = o.sparsity_target,
                      .sparsity_cost = o.sparsity_cost};
    CrbmTrainer t = make_crbm_trainer(m, cd);
    const int epochs = o.layer_epochs(static_cast<size_t>(l));
    RbmFitter fit(t, ex, {.epochs = epochs, .data_seed = o.data_seed, .final_momentum = o.final_momentum,
                          .monitor_images = 1000, .checkpoint = fmt::format("{}/pretrain/layer{}", o.output, l),
                          .resume = resume,
                          .run_settings = {{"--train-images", std::to_string(o.train_images)},
                                           {"--validation", std::to_string(o.validation)}}});
    const DataSource train = cdbn_layer_source(cdbn, l, ex, images, o.batch);
    const DataSource valid = cdbn_layer_source(cdbn, l, ex, valid_images, o.batch);
    if (fit.epochs_done() == 0) {
      const uint64_t step = ex.step();  // the source runs the executor: the training's draws stay as they were
      m.init_visible_bias(source_means(train, 5000, o.batch));
      ex.set_step(step);
    }
    const ConvGeometry& v = m.config.visible;
    const std::string shape = fmt::format("{}x{}x{} -> {} filters {}x{}, pool {}", v.channels, v.height, v.width,
                                          m.config.filters, v.size, v.size, m.config.pool);
    const bool trained = fit_layer(fit, train, valid,
                                   {.bar = fmt::format("pretrain layer {} ({})", l + 1, shape),
                                    .row = fmt::format("pretrain layer {} ({})", l + 1, shape),
                                    .label = fmt::format("layer {}", l + 1),
                                    .key = fmt::format("pretrain_layer{}", l + 1),
                                    .csv = fmt::format("{}/pretrain_layer{}.csv", o.output, l + 1),
                                    .epochs = epochs,
                                    .built_on = true,
                                    .lr_flag = "--pretrain-lr",
                                    .lr = o.lr},
                                   sum);
    resume = resume && !trained;
  }
  return !resume && o.resume;
}

// Every image's pooled probabilities in each of `sets`, all layers side by
// side: [count, sum_l pooled_size(l)] per set, in batches of o.batch, the
// pooling graph built once for all of them.
std::vector<std::vector<float>> pooled_features(const Cdbn& cdbn, Executor& ex,
                                                std::span<const io::ImageSet* const> sets, const Options& o,
                                                Summary& sum) {
  Graph& g = *cdbn.graph;
  const Tensor x = g.input("features.x", {o.batch, sets.front()->dim()});
  std::vector<Tensor> pooled;
  Tensor in = x;
  int64_t width = 0;
  for (const Crbm& m : cdbn.crbms) {
    in = m.p_pool(in);
    pooled.push_back(in);
    width += in.shape().cols;
  }
  int64_t total = 0, done = 0;
  for (const io::ImageSet* set : sets) total += set->count;
  Progress bar("pooled features of every image", total);
  std::vector<std::vector<float>> out;
  std::vector<float> batch;
  const uint64_t step = ex.step();
  for (const io::ImageSet* set : sets) {
    std::vector<float>& f = out.emplace_back(static_cast<size_t>(set->count * width));
    for_each_batch(image_source(*set, io::Pixels::scaled, 0), o.batch, 0, batch, [&](int64_t first, int64_t rows) {
      const Feed feeds[] = {{x, batch}};
      ex.run(pooled, feeds);
      int64_t col = 0;
      for (Tensor p : pooled) {
        const auto v = ex.value(p);
        const int64_t n = p.shape().cols;
        for (int64_t r = 0; r < rows; ++r) std::copy_n(v.begin() + r * n, n, f.begin() + (first + r) * width + col);
        col += n;
      }
      done += rows;
      if ((first / o.batch) % 20 == 0) bar.update(done, fmt::format("{} images", done));
    });
  }
  ex.set_step(step);
  bar.update(done, fmt::format("{} values per image", width));
  sum.add("pooled features", bar.seconds(), fmt::format("{} per image", width));
  return out;
}

// Layer 1's filters as r x r tiles, and layer 2's drawn through them: each
// layer-2 filter's weight on pooled unit (c, u, v) spreads evenly over its
// P x P hidden units, each of which sees pixels through layer 1's filter c.
void write_filters(const Cdbn& cdbn, const Options& o) {
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
void write_pooled(const Cdbn& cdbn, const io::ImageSet& test, std::span<const float> features, int64_t width,
                  const Options& o) {
  const Crbm& m = cdbn.crbms[0];
  const PoolGeometry p = m.pooling();
  const int64_t side = p.height / p.pool, groups = p.groups, n = 8;
  const int64_t cols = groups + 1;
  std::vector<float> tiles;
  for (int64_t i = 0; i < n; ++i) {
    // the digit, nearest-neighbour shrunk to the maps' side
    for (int64_t y = 0; y < side; ++y)
      for (int64_t x = 0; x < side; ++x)
        tiles.push_back(test.pixels[static_cast<size_t>(i * test.dim() + (y * test.height / side) * test.width +
                                                        x * test.width / side)] / 255.0f);
    for (int64_t q = 0; q < groups; ++q)
      for (int64_t k = 0; k < side * side; ++k)
        tiles.push_back(features[static_cast<size_t>(i * width + q * side * side + k)]);
  }
  io::write_png_grid(o.output + "/pooled.png", tiles, n * cols, side, side,
                     {.columns = static_cast<int>(cols), .upscale = 3, .contrast = io::GridOptions::Contrast::fixed01});
}

struct FeatureSet {
  std::string name;  // "pixels", "layer1", "layers1-2"
  DataSource train, valid, test;
};

struct Outcome {
  double valid_error, test_error;
  int best_epoch;
};

// Softmax regression on the first `labelled` training rows of a feature set,
// the validation split choosing its epoch.
Outcome classify(const FeatureSet& f, int64_t labelled, const Data& d, const Options& o, bool resume, Summary& sum,
                 Csv& csv) {
  Graph g;
  Classifier c = Classifier::make(g, "softmax", {.layers = {f.train.dim},
                                                 .classes = 10,
                                                 .batch = o.batch,
                                                 .sgd = {.lr = o.classifier_lr, .momentum = 0.9f,
                                                         .weight_decay = o.classifier_decay},
                                                 .seed = o.seed});
  Executor ex(g, {.threads = o.threads, .seed = o.seed, .check_numerics = o.check_numerics});
  const std::string what = fmt::format("{}_{}", f.name, labelled);
  Finetuner ft(c, ex, {.epochs = o.classifier_epochs, .data_seed = o.data_seed, .eval_batch = 1000,
                       .checkpoint = fmt::format("{}/classify/{}", o.output, what), .resume = resume});
  const LabelledRows train{head(f.train, labelled), std::span(d.train.labels).first(static_cast<size_t>(labelled))};
  const LabelledRows valid{f.valid, d.valid.labels}, test{f.test, d.test.labels};
  Progress bar(fmt::format("softmax on {} ({} labels)", f.name, labelled), o.classifier_epochs);
  if (ft.epochs_done() > 0) bar.resumed(std::min(ft.epochs_done(), o.classifier_epochs));
  ft.fit(train, valid, [&](const FinetuneEpoch& e) {
    bar.update(e.epoch, fmt::format("loss {:.4f}  valid {:.2f}%{}", e.train_loss, e.valid_error, e.best ? " *" : ""));
  });
  const Outcome out{ft.error(valid), ft.error(test), ft.best_epoch()};
  sum.add(fmt::format("softmax on {}, {} labels", f.name, labelled), bar.seconds(),
          fmt::format("test error {:.2f}% (epoch {} chosen on validation)", out.test_error, out.best_epoch));
  csv.row("{},{},{},{:.3f},{:.3f},{:.2f}", f.name, labelled, out.best_epoch, out.valid_error, out.test_error,
          bar.seconds());
  result(fmt::format("test_error_pct_{}", what).c_str(), fmt::format("{:.2f}", out.test_error));
  return out;
}

// Gaussian-kernel SVMs on the first `labelled` training rows of a feature
// set (svm_search: every C of --svm-c and width of --svm-gamma, the
// validation split choosing one, the test set judging it), a row of
// svm.csv for every pair tried. Up to --svm-kept-distances points the
// distances are kept beside the kernel; beyond, only the kernel is held,
// so that 50,000 points take one n x n matrix (10 GB). Returns the test
// error.
double classify_svm(const FeatureSet& f, int64_t labelled, const Data& d, const Options& o, Summary& sum, Csv& csv) {
  const int64_t dim = f.train.dim;
  const std::vector<float> train = all_rows(head(f.train, labelled)), valid = all_rows(f.valid),
                           test = all_rows(f.test);
  const std::span<const uint8_t> labels = std::span(d.train.labels).first(static_cast<size_t>(labelled));
  Progress bar(fmt::format("svm on {} ({} labels)", f.name, labelled),
               static_cast<int64_t>(o.svm_c.size() * o.svm_gamma.size()));
  int64_t tried = 0;
  double best = 101.0;
  const SvmSearchConfig config{.c = o.svm_c, .gamma = o.svm_gamma, .keep_distances = labelled <= o.svm_kept};
  auto trial = [&](const SvmTrial& t) {
    csv.row("{},{},{:g},{:g},{:.4g},{:.3f},,{},{},{:d},{:.2f}", f.name, labelled, t.c, t.gamma_multiple, t.gamma,
            t.valid_error, t.support_vectors, t.iterations, static_cast<int>(t.converged), t.seconds);
    best = std::min(best, t.valid_error);
    bar.update(++tried, fmt::format("C {:g}, gamma x{:g}: valid {:.2f}%  (best {:.2f}%)", t.c, t.gamma_multiple,
                                    t.valid_error, best));
  };
  const SvmSearch s = [&] {
    try {
      return svm_search(train, labelled, labels, valid, d.valid.count, d.valid.labels, dim, config, trial);
    } catch (const Error& e) {  // named by the features it was given
      throw Error("svm on {} ({} labels): {}", f.name, labelled, e.what());
    }
  }();
  const double t0 = bar.seconds();
  const double err = error_percent(predict_rows(s.svm, train, labelled, test, d.test.count, dim), d.test.labels);
  const SvmTrial& c = s.chosen;
  csv.row("{},{},{:g},{:g},{:.4g},{:.3f},{:.3f},{},,,{:.2f}", f.name, labelled, c.c, c.gamma_multiple, c.gamma,
          c.valid_error, err, c.support_vectors, bar.seconds() - t0);
  sum.add(fmt::format("svm on {}, {} labels", f.name, labelled), bar.seconds(),
          fmt::format("test error {:.2f}% (C {:g}, gamma x{:g} chosen on validation)", err, c.c, c.gamma_multiple));
  result(fmt::format("svm_test_error_pct_{}_{}", f.name, labelled).c_str(), fmt::format("{:.2f}", err));
  return err;
}

// The CDBN unrolled into a convnet (every layer's pooled units into a
// softmax) and fine-tuned by backprop on the whole training split, the
// validation split choosing the epoch; or, as the baseline, the same net
// from a random start. Returns the test error.
double finetune(Cdbn& cdbn, Executor& ex, const Data& d, const Options& o, bool resume, const std::string& what,
                Summary& sum) {
  std::vector<int> layers(static_cast<size_t>(cdbn.depth()));
  for (int l = 0; l < cdbn.depth(); ++l) layers[static_cast<size_t>(l)] = l;
  CdbnClassifier c = CdbnClassifier::make(*cdbn.graph, what, cdbn,
                                          {.feature_layers = layers,
                                           .classes = 10,
                                           .batch = o.batch,
                                           .sgd = {.lr = o.finetune_lr, .momentum = 0.9f, .weight_decay = 0.0f},
                                           .seed = o.seed});
  Finetuner ft(c.net(), ex, {.epochs = o.finetune_epochs, .data_seed = o.data_seed, .eval_batch = o.batch,
                             .checkpoint = fmt::format("{}/{}", o.output, what), .resume = resume});
  const int resumed = ft.epochs_done();
  Progress bar(what, std::max(o.finetune_epochs, resumed));
  if (resumed > 0) bar.resumed(resumed);
  Csv csv(fmt::format("{}/{}.csv", o.output, what), "epoch,seconds,train_loss,valid_error_pct,best,diverging",
          resumed > 0);
  bool warned = false;
  ft.fit(labelled_images(d.train), labelled_images(d.valid), [&](const FinetuneEpoch& e) {
    bar.update(e.epoch, fmt::format("loss {:.4g}  valid {:.2f}%{}", e.train_loss, e.valid_error, e.best ? " *" : ""));
    if (e.diverging)
      flag_diverging(bar, what, e.epoch,
                     fmt::format("{}: warning: training is diverging: mean loss {:.3g} nats per image in epoch {}, "
                                 "over 10 times a uniform guess's; a smaller --finetune-lr (now {:g}) usually cures it",
                                 what, e.train_loss, e.epoch, o.finetune_lr),
                     warned);
    csv.row("{},{:.3f},{:.5f},{:.3f},{:d},{:d}", e.epoch, e.seconds, e.train_loss, e.valid_error,
            static_cast<int>(e.best), static_cast<int>(e.diverging));
  });
  const double err = ft.error(labelled_images(d.test));
  sum.add(what, bar.seconds(), fmt::format("test error {:.2f}% (epoch {} chosen on validation)", err, ft.best_epoch()));
  result(fmt::format("{}_test_error_pct", what).c_str(), fmt::format("{:.2f}", err));
  return err;
}

int run(const Options& o) {
  o.check();
  const Data d = load_data(o);
  make_output_dir(o.output);
  check_file_folder("--profile", o.profile);
  check_batch(o.batch, d.train.count);
  CdbnConfig config{.channels = 1, .height = d.train.height, .width = d.train.width, .layers = {}, .seed = o.seed};
  for (size_t l = 0; l < o.filters.size(); ++l) config.layers.push_back({o.filters[l], o.sizes[l], o.pools[l]});
  Graph g;
  Cdbn cdbn = Cdbn::make(g, "cdbn", config);
  Executor ex(g, {.threads = o.threads, .seed = o.seed, .profile = !o.profile.empty(), .check_numerics = o.check_numerics,
                  .profile_events = static_cast<size_t>(o.profile_events)});
  Summary sum;
  fmt::print("cdbn_mnist: a convolutional DBN of {}; preset {}, {} training / {} validation / {} test images\n",
             o.layer_string(), o.preset, d.train.count, d.valid.count, d.test.count);
  samples::say_if_nothing_to_resume("cdbn_mnist", o.resume, o.output);
  const bool retrained = pretrain(cdbn, ex, d, o, sum);
  if (!o.profile.empty()) write_profile(ex.profile(), o.profile);
  write_filters(cdbn, o);
  fill_in(cdbn, ex, d.train, d.test,
          {.images = o.fill_in_images, .batch = o.batch, .occluded_rows = o.occluded_rows,
           .sweeps = o.fill_in_sweeps, .output = o.output},
          sum);
  write_samples(cdbn, ex, d.test, o.sample_sweeps, o.output + "/samples.png", sum);

  const io::ImageSet* const splits[] = {&d.train, &d.valid, &d.test};
  const std::vector<std::vector<float>> features = pooled_features(cdbn, ex, splits, o, sum);
  const std::vector<float>&ftrain = features[0], &fvalid = features[1], &ftest = features[2];
  const int64_t width = static_cast<int64_t>(ftest.size()) / d.test.count;
  write_pooled(cdbn, d.test, ftest, width, o);

  // pixels scaled to [0, 1] as each batch is read; the pooled features from
  // the matrices (layer 1's: the first columns of each row)
  const auto pixels = [](const io::ImageSet& set) { return image_source(set, io::Pixels::scaled, 0); };
  const auto columns = [&](const std::vector<float>& m, int64_t n) { return matrix_source(m, n, width, 0); };
  const int64_t first = cdbn.pooled_size(0);
  std::vector<FeatureSet> sets{{"pixels", pixels(d.train), pixels(d.valid), pixels(d.test)},
                               {"layer1", columns(ftrain, first), columns(fvalid, first), columns(ftest, first)}};
  if (cdbn.depth() > 1)
    sets.push_back({fmt::format("layers1-{}", cdbn.depth()), columns(ftrain, width), columns(fvalid, width),
                    columns(ftest, width)});
  Csv csv(o.output + "/classify.csv", "features,labelled,best_epoch,valid_error_pct,test_error_pct,seconds", false);
  std::vector<io::Series> series;
  for (const FeatureSet& f : sets) {
    io::Series s{.label = f.name};
    for (int64_t n : o.labelled) {
      // a classifier on pixels resumes whatever pretraining did
      const Outcome r = classify(f, n, d, o, o.resume && (f.name == "pixels" || !retrained), sum, csv);
      s.x.push_back(static_cast<double>(n));
      s.y.push_back(r.test_error);
    }
    series.push_back(std::move(s));
  }
  std::vector<int64_t> svm_counts;
  for (int64_t n : o.svm_labelled)
    if (n > 0) svm_counts.push_back(n);
  std::filesystem::remove(o.output + "/svm.csv");  // none from an earlier run when this one trains no SVM
  if (!svm_counts.empty()) {
    Csv svm_csv(o.output + "/svm.csv",
                "features,labelled,c,gamma_multiple,gamma,valid_error_pct,test_error_pct,support_vectors,iterations,"
                "converged,seconds",
                false);
    for (const FeatureSet& f : sets) {
      io::Series s{.label = f.name + " (SVM)"};
      for (int64_t n : svm_counts) {
        s.x.push_back(static_cast<double>(n));
        s.y.push_back(classify_svm(f, n, d, o, sum, svm_csv));
      }
      series.push_back(std::move(s));
    }
  }
  io::Panel panel{"Test error of softmax regression and RBF SVMs", "labelled training images", "test error (%)",
                  series};
  panel.log_x = true;
  io::write_svg_plot(o.output + "/error.svg", std::span(&panel, 1), "cdbn_mnist: features against labels");
  if (o.finetune_epochs > 0) {
    finetune(cdbn, ex, d, o, o.resume && !retrained, "finetune", sum);
    if (o.baseline) {  // the same convnet from a random start, the same budget
      Cdbn fresh = Cdbn::make(g, "random", config);
      finetune(fresh, ex, d, o, o.resume, "baseline", sum);
    }
  }
  return finish(sum);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"A convolutional DBN on MNIST: greedy CRBM pretraining, softmax regression on its pooled features, "
               "and the unrolled convnet fine-tuned by backprop"};
  Options o;
  app.add_option("--data", o.data, "folder with the MNIST IDX files (default: data/mnist)");
  app.add_option("--output", o.output, "folder for pictures, metrics and checkpoints")->capture_default_str();
  app.add_option("--preset", o.preset,
                 "quick (the default: 2 epochs per layer, 20 classifier epochs on 1,000 and 50,000 labels, SVMs on "
                 "1,000, 3 fine-tuning epochs) or paper (the values shown here)")
      ->capture_default_str()->check(CLI::IsMember({"quick", "paper"}));
  app.add_option("--filters", o.filters, "filters per layer")->capture_default_str()->delimiter(',')
      ->check(samples::kPositive);
  app.add_option("--filter-size", o.sizes, "each layer's filter side")->capture_default_str()->delimiter(',')
      ->check(samples::kPositive);
  app.add_option("--pool", o.pools, "each layer's pooling block side (1: no pooling)")->capture_default_str()
      ->delimiter(',')->check(CLI::Range(1, 16));
  app.add_option("--pretrain-epochs,--epochs", o.epochs, "pretraining epochs per layer (one value: every layer)")
      ->capture_default_str()->delimiter(',')->check(samples::kNonNegative);
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
      ->capture_default_str()->delimiter(',')->check(samples::kPositive);
  app.add_option("--classifier-epochs", o.classifier_epochs, "softmax regression's epochs")->capture_default_str()
      ->check(samples::kPositive);
  app.add_option("--classifier-lr", o.classifier_lr, "its learning rate (momentum 0.9)")->capture_default_str()
      ->check(samples::kPositive);
  app.add_option("--classifier-decay", o.classifier_decay, "its L2 weight decay")->capture_default_str()
      ->check(samples::kNonNegative);
  app.add_option("--svm-labelled", o.svm_labelled,
                 "labelled training images for each Gaussian-kernel SVM (the first N, at most 60,000 and what memory "
                 "holds: 4 N^2 bytes, twice that up to 20,000; 0: no SVM)")
      ->capture_default_str()->delimiter(',')->check(samples::kNonNegative);
  app.add_option("--svm-kept-distances", o.svm_kept,
                 "up to this many labels, the SVMs keep the training rows' squared distances beside the kernel; "
                 "beyond, they are made again for each width and the validation split's a block at a time")
      ->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--svm-c", o.svm_c, "the SVMs' boxes C to try")->capture_default_str()->delimiter(',');
  app.add_option("--svm-gamma", o.svm_gamma,
                 "the kernel widths gamma to try, as multiples of 1 / the mean squared distance between training rows")
      ->capture_default_str()->delimiter(',');
  app.add_option("--fill-in-images", o.fill_in_images,
                 "test digits whose bottom rows the stack fills in, by Gibbs sampling with the rest clamped (0: none; "
                 "the quick preset's 100)")
      ->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--occluded-rows", o.occluded_rows, "the bottom rows hidden for filling in")->capture_default_str();
  app.add_option("--fill-in-sweeps", o.fill_in_sweeps,
                 "Gibbs sweeps per filled-in batch; the estimate averages the last half (the quick preset's 50)")
      ->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--sample-sweeps", o.sample_sweeps, "Gibbs steps of samples.png's ten top-level chains (0: none)")
      ->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--train-images", o.train_images, "pretrain, classify and fine-tune on the first N training images only (0: all)")
      ->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--finetune-epochs", o.finetune_epochs,
                 "backprop epochs of the unrolled convnet on the training split (0: none)")
      ->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--finetune-lr", o.finetune_lr, "its learning rate (momentum 0.9)")->capture_default_str()
      ->check(samples::kPositive);
  app.add_flag("--baseline", o.baseline, "also fine-tune the same convnet from a random start, with the same budget");
  app.add_option("--validation", o.validation, "the last N training images choose each classifier's epoch")
      ->capture_default_str();
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
  return ebm::samples::run_main(app, argc, argv, "cdbn_mnist", [&] {
    o.apply_preset(app);
    o.refuse_ignored_flags(app);
    return ebm::samples::on_threads(o.threads, [&] { return run(o); });
  });
}
