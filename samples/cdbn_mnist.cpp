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
// key=value lines. What an earlier run left there of the phases this run
// skips is removed (remove_skipped), so that no later --resume takes it up.

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
#include "samples/cdbn_mnist_parts.hpp"
#include "samples/cdbn_sampling.hpp"
#include "samples/common.hpp"
#include "samples/pretrain.hpp"
#include "samples/progress.hpp"

namespace {

using namespace ebm;
using namespace ebm::samples;

// The feature sets' names ("pixels", "layer1", "layers1-<depth>" from two layers on).
std::vector<std::string> feature_names(int depth) {
  std::vector<std::string> names{"pixels", "layer1"};
  if (depth > 1) names.push_back(fmt::format("layers1-{}", depth));
  return names;
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
                          .run_settings = o.data_flags(), .lr_name = "--pretrain-lr",
                          .setting_flags = {{"filters", "--filters"}, {"filter_size", "--filter-size"},
                                            {"pool", "--pool"}, {"batch", "--batch"}, {"seed", "--seed"},
                                            {"data_seed", "--data-seed"}, {"momentum", "--momentum"},
                                            {"final_momentum", "--final-momentum"},
                                            {"weight_decay", "--weight-decay"}, {"sparsity_cost", "--sparsity-cost"},
                                            {"sparsity_target", "--sparsity-target"}}});
    if (o.resume && fit.epochs_done() < epochs) {  // what is built on it goes before it trains, not after (Lineage)
      remove_layer_checkpoints(o.output + "/pretrain", l + 1);
      remove_skipped(o, cdbn.depth(), true);
    }
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
  const std::string what = fmt::format("{}_{}", f.name, labelled);
  Classifier c = Classifier::make(g, "softmax", {.layers = {f.train.dim},  // (the name keys its first weights)
                                                 .classes = 10,
                                                 .batch = o.batch,
                                                 .sgd = {.lr = o.classifier_lr, .momentum = 0.9f,
                                                         .weight_decay = o.classifier_decay},
                                                 .seed = o.seed});
  Executor ex(g, {.threads = o.threads, .seed = o.seed, .check_numerics = o.check_numerics});
  Finetuner ft(c, ex, {.epochs = o.classifier_epochs, .data_seed = o.data_seed, .eval_batch = 1000,
                       .checkpoint = fmt::format("{}/classify/{}", o.output, what), .resume = resume,
                       .run_settings = o.data_flags(), .lr_name = "--classifier-lr"});
  // A resume's notes (a changed rate) only when an epoch trains at it; a checkpoint of more epochs than asked is said.
  if (ft.epochs_done() < o.classifier_epochs)
    for (const std::string& n : ft.resume_notes())  // (each begins "softmax: ", the net's name)
      fmt::print("softmax on {} ({} labels): {}\n", f.name, labelled, n.substr(n.starts_with("softmax: ") ? 9 : 0));
  if (ft.epochs_done() > o.classifier_epochs)
    fmt::print("softmax on {} ({} labels): its checkpoint holds {} epochs, more than the {} asked; it is used as it "
               "is\n",
               f.name, labelled, ft.epochs_done(), o.classifier_epochs);
  const LabelledRows train{head(f.train, labelled), std::span(d.train.labels).first(static_cast<size_t>(labelled))};
  const LabelledRows valid{f.valid, d.valid.labels}, test{f.test, d.test.labels};
  Progress bar(fmt::format("softmax on {} ({} labels)", f.name, labelled), std::max(o.classifier_epochs, ft.epochs_done()));
  if (ft.epochs_done() > 0) bar.resumed(ft.epochs_done());
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
                             .checkpoint = fmt::format("{}/{}", o.output, what), .resume = resume,
                             .run_settings = o.data_flags(), .lr_name = "--finetune-lr"});
  const int resumed = ft.epochs_done();
  if (resumed < o.finetune_epochs)  // a changed rate is said only when an epoch trains at it
    for (const std::string& n : ft.resume_notes()) fmt::print("{}\n", n);
  if (resumed > o.finetune_epochs)
    fmt::print("{}: its checkpoint holds {} epochs, more than the {} asked; it is used as it is\n", what, resumed,
               o.finetune_epochs);
  Progress bar(what, std::max(o.finetune_epochs, resumed));
  if (resumed > 0) bar.resumed(resumed);
  Csv csv(fmt::format("{}/{}.csv", o.output, what), "epoch,seconds,train_loss,valid_error_pct,best,diverging",
          resumed > 0);
  csv.keep_rows_through(resumed);  // rows past the checkpoint are written again
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
  if (o.fill_in_images_given && o.fill_in_images > d.test.count)
    throw Error("--fill-in-images {}: more than the {} test images; expected at most {}", o.fill_in_images,
                d.test.count, d.test.count);
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
  if (!o.resume) remove_skipped(o, cdbn.depth(), true);  // before anything is trained
  const bool retrained = pretrain(cdbn, ex, d, o, sum);
  if (o.resume) remove_skipped(o, cdbn.depth(), retrained);  // once its checkpoints were taken (not refused)
  if (o.resume) {  // the checkpoints the later phases will resume, read whole now: a damaged one refused before any work
    namespace fs = std::filesystem;
    std::vector<fs::path> kept;
    for (const std::string& name : feature_names(cdbn.depth()))
      for (int64_t n : o.labelled) kept.push_back(fs::path(o.output) / "classify" / fmt::format("{}_{}", name, n));
    if (o.finetune_epochs > 0) kept.push_back(fs::path(o.output) / "finetune");
    if (o.finetune_epochs > 0 && o.baseline) kept.push_back(fs::path(o.output) / "baseline");
    for (const fs::path& p : kept)
      if (checkpoint_exists(p)) check_checkpoint_files(p, "classifier");
  }
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
  const std::vector<std::string> names = feature_names(cdbn.depth());
  std::vector<FeatureSet> sets{{names[0], pixels(d.train), pixels(d.valid), pixels(d.test)},
                               {names[1], columns(ftrain, first), columns(fvalid, first), columns(ftest, first)}};
  if (cdbn.depth() > 1)
    sets.push_back({names[2], columns(ftrain, width), columns(fvalid, width), columns(ftest, width)});
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
  io::Panel panel{svm_counts.empty() ? "Test error of softmax regression" : "Test error of softmax regression and RBF SVMs",
                  "labelled training images", "test error (%)",
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
  add_options(app, o);
  // The flags the presets set show no default after "="; their help gives both presets' values.
  using ebm::samples::show_preset_default;
  show_preset_default(app, "--pretrain-epochs", "2", "10");
  show_preset_default(app, "--classifier-epochs", "20", "100");
  show_preset_default(app, "--labelled", "1000,50000", "1000,2000,5000,50000");
  show_preset_default(app, "--svm-labelled", "1000", "1000,2000,5000");
  show_preset_default(app, "--finetune-epochs", "3", "30");
  return ebm::samples::run_main(app, argc, argv, "cdbn_mnist", [&] {
    o.apply_preset(app);
    o.refuse_ignored_flags(app);
    return ebm::samples::on_threads(o.threads, [&] { return run(o); });
  });
}
