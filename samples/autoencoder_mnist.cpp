// autoencoder_mnist: a deep autoencoder on MNIST (Hinton & Salakhutdinov
// 2006). A stack of RBMs is pretrained greedily, the top one with linear
// (gaussian) hidden units so that the code is real-valued; the stack is
// unrolled into an encoder and a decoder and fine-tuned by backprop to
// reconstruct its input, against PCA with as many components as the code.
//
//   pixels --RBM0--> 1000 --RBM1--> 500 --RBM2--> 250 --RBM3--> 30 (linear)   greedy, CD-1
//
//   784 -W0-> 1000 -W1-> 500 -W2-> 250 -W3-> 30 -W3'-> 250 -W2'-> 500 -W1'-> 1000 -W0'-> 784
//   `------------- encoder: recognition weights -----------'`-- decoder: generative weights --'
//                      untied, fine-tuned by backprop through autodiff (cross-entropy)
//
// Writes to --output: pretrain/ and finetune/ checkpoints (baseline/ with
// --baseline), reconstructions.png (test digits; the autoencoder's; the
// random start's with --baseline; PCA's), per-epoch CSV metrics and their
// curves (curves.svg); prints a summary table and key=value result lines. The error is the paper's: the squared
// reconstruction error per image, summed over the 784 pixels in [0, 1].

#include <cmath>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "io/png.hpp"
#include "models/autoencoder_fit.hpp"
#include "models/pca.hpp"
#include "samples/common.hpp"
#include "samples/curves.hpp"
#include "samples/pretrain.hpp"

namespace {

using namespace ebm;
using namespace ebm::samples;

struct Options {
  std::string data, output = "out/autoencoder_mnist", preset = "quick", profile, method = "cd1", optimizer = "sgd";
  std::vector<int64_t> hidden{1000, 500, 250, 30};
  std::vector<int> pretrain_epochs{2};
  int finetune_epochs = 5, threads = 0;
  int64_t batch = 100, validation = 10000;
  float pretrain_lr = 0.1f, code_lr = 0.001f, momentum = 0.5f, weight_decay = 2e-4f;
  float finetune_lr = 0.0f, finetune_momentum = 0.9f, finetune_lr_decay = 1.0f;  // finetune_lr 0: the optimizer's default
  uint64_t seed = 1, data_seed = 1;
  bool resume = false, baseline = false;

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
  AeOptimizer ae_optimizer() const {
    if (optimizer == "sgd") return AeOptimizer::sgd;
    if (optimizer == "adam") return AeOptimizer::adam;
    throw Error("--optimizer '{}': expected sgd (with momentum) or adam", optimizer);
  }
  AutoencoderConfig net_config(uint64_t init_seed) const {
    AutoencoderConfig c{.layers = layers(), .batch = batch, .optimizer = ae_optimizer(), .seed = init_seed};
    c.sgd.momentum = finetune_momentum;
    if (finetune_lr > 0.0f) c.sgd.lr = c.adam.lr = finetune_lr;
    return c;
  }
  float lr() const {
    const AutoencoderConfig c = net_config(0);
    return c.optimizer == AeOptimizer::adam ? c.adam.lr : c.sgd.lr;
  }

  // A preset fills every option the command line did not set.
  void apply_preset(const CLI::App& app) {
    auto unset = [&](const char* flag) { return app.count(flag) == 0; };
    if (preset == "quick") {
      if (unset("--pretrain-epochs")) pretrain_epochs = {2};
      if (unset("--finetune-epochs")) finetune_epochs = 5;
    } else if (preset == "paper") {
      if (unset("--pretrain-epochs")) pretrain_epochs = {20};
      if (unset("--finetune-epochs")) finetune_epochs = 100;
      if (unset("--finetune-lr-decay")) finetune_lr_decay = 0.98f;
    } else {
      throw Error("--preset '{}': expected quick or paper", preset);
    }
    if (hidden.empty()) throw Error("--hidden: no layers; expected at least the code size");
    if (hidden.back() > 784)
      throw Error("--hidden: a code of {} units; expected at most 784 (PCA's components, like the code, are fewer "
                  "than the pixels)", hidden.back());
    if (pretrain_epochs.size() == 1) pretrain_epochs.assign(hidden.size(), pretrain_epochs[0]);
    if (pretrain_epochs.size() != hidden.size())
      throw Error("--pretrain-epochs: {} values for {} layers; give one, or one per layer", pretrain_epochs.size(),
                  hidden.size());
    CdConfig method_check;
    parse_cd_method(method, method_check);  // here, before any work
    (void)ae_optimizer();
    if (app.count("--finetune-momentum") > 0 && optimizer != "sgd")
      throw Error("--finetune-momentum: for sgd; adam keeps its own moments");
  }
};

void add_options(CLI::App& app, Options& o) {
  app.add_option("--preset", o.preset, "quick (minutes) or paper (the full reproduction)")->capture_default_str();
  app.add_option("--data", o.data, "folder with the MNIST IDX files (default: data/mnist)");
  app.add_option("--output", o.output, "folder for checkpoints, pictures and metrics")->capture_default_str();
  app.add_option("--hidden", o.hidden, "hidden layer sizes, bottom up; the last is the linear code")
      ->capture_default_str()->delimiter(',')->check(samples::kPositive);
  app.add_option("--pretrain-epochs", o.pretrain_epochs, "CD epochs per layer (one value, or one per layer)")
      ->delimiter(',')->check(samples::kNonNegative);
  app.add_option("--method", o.method, "pretraining: cd1, cdK or pcd")->capture_default_str();
  app.add_option("--pretrain-lr", o.pretrain_lr, "pretraining learning rate of the sigmoid layers")
      ->capture_default_str()->check(samples::kPositive);
  app.add_option("--code-lr", o.code_lr, "pretraining learning rate of the top RBM, whose hidden units are linear")
      ->capture_default_str()->check(samples::kPositive);
  app.add_option("--weight-decay", o.weight_decay, "pretraining L2 penalty on W")->capture_default_str()
      ->check(samples::kNonNegative);
  app.add_option("--optimizer", o.optimizer, "fine-tuning: sgd (with momentum) or adam")->capture_default_str();
  app.add_option("--finetune-epochs", o.finetune_epochs, "fine-tuning epochs")->check(samples::kNonNegative);
  app.add_option("--finetune-lr", o.finetune_lr, "fine-tuning learning rate (default: sgd 0.01, adam 0.001)")
      ->check(samples::kPositive);
  app.add_option("--finetune-momentum", o.finetune_momentum, "sgd's momentum")->capture_default_str()
      ->check(samples::kFraction);
  app.add_option("--finetune-lr-decay", o.finetune_lr_decay, "fine-tuning lr multiplier per epoch")
      ->capture_default_str()->check(samples::kPositive);
  app.add_option("--batch", o.batch, "mini-batch size")->capture_default_str()->check(samples::kPositive);
  app.add_option("--validation", o.validation, "last N training images held out to choose the epoch")
      ->capture_default_str()->check(samples::kPositive);
  app.add_flag("--baseline", o.baseline, "also fine-tune the same net from a random start, same budget");
  app.add_option("--seed", o.seed, "seed of every random draw of the models")->capture_default_str();
  app.add_option("--data-seed", o.data_seed, "seed of the shuffles")->capture_default_str();
  app.add_option("--threads", o.threads, "worker threads (0: all cores)")->capture_default_str()
      ->check(samples::kNonNegative);
  app.add_flag("--resume", o.resume, "continue from the checkpoints in --output");
  app.add_option("--profile", o.profile,
                 "write a Chrome trace of the whole run to FILE, and a timeline of the last steps beside it");
}

struct Data {
  io::ImageSet train, valid, test;
};

Data load_data(const Options& o) {
  const auto dir = find_data(o.data);
  const io::ImageSet all = io::load_mnist(dir, "train");
  if (o.validation >= all.count) throw Error("--validation {}: expected 1 .. {}", o.validation, all.count - 1);
  return {io::slice(all, 0, all.count - o.validation), io::slice(all, all.count - o.validation, o.validation),
          io::load_mnist(dir, "t10k")};
}

DataSource pixels(const io::ImageSet& s) { return image_source(s, io::Pixels::scaled, 0); }

struct FitResult {
  double test_error = 0;
  std::vector<float> pictures;  // reconstructions of the pictured test digits
};

// Fine-tunes `a` on the training split, the validation split choosing the
// epoch; returns its test error and its reconstructions of `shown`.
FitResult finetune(Autoencoder& a, Executor& ex, const Data& d, const Options& o, bool resume, const std::string& what,
                   std::span<const int64_t> shown, Summary& sum) {
  AutoencoderFitter fit(a, ex, {.epochs = o.finetune_epochs, .data_seed = o.data_seed, .lr_decay = o.finetune_lr_decay,
                                .checkpoint = o.output + "/" + what, .resume = resume});
  const int resumed = fit.epochs_done();
  if (resumed > o.finetune_epochs)
    fmt::print("{}: its checkpoint holds {} epochs, more than the {} asked; it is used as it is\n", what, resumed,
               o.finetune_epochs);
  Progress bar(what, std::max(o.finetune_epochs, resumed));
  if (resumed > 0) bar.update(resumed, "resumed from the checkpoint");
  Csv csv(o.output + "/" + what + ".csv", "epoch,seconds,train_loss,valid_error,baseline,best,diverging", resumed > 0);
  bool warned = false;
  fit.fit(pixels(d.train), pixels(d.valid), [&](const AutoencoderEpoch& e) {
    bar.update(e.epoch, fmt::format("loss {:.4g}  valid {:.3f}{}", e.train_loss, e.valid_error, e.best ? " *" : ""));
    csv.row("{},{:.3f},{:.5f},{:.4f},{:.4f},{:d},{:d}", e.epoch, e.seconds, e.train_loss, e.valid_error, e.baseline,
            static_cast<int>(e.best), static_cast<int>(e.diverging));
    if (e.diverging)
      flag_diverging(bar, what, e.epoch,
                     fmt::format("{}: warning: training is diverging: validation error {:.4g} in epoch {}, over 1.5 "
                                 "times that of the training images' mean ({:.4g}); a smaller --finetune-lr (this run "
                                 "starts at {:g}) usually cures it",
                                 what, e.valid_error, e.epoch, e.baseline, o.lr()),
                     warned);
  });
  FitResult r{fit.error(pixels(d.test)), fit.reconstruct(pixels(d.test), shown)};
  sum.add(what, bar.seconds(),
          fit.best_epoch() > 0
              ? fmt::format("test squared error {:.2f} (epoch {} chosen on validation)", r.test_error, fit.best_epoch())
              : fmt::format("test squared error {:.2f} (no epoch trained)", r.test_error));
  return r;
}

// Rows of 20: test digits, then each method's reconstructions of them.
void write_reconstructions(const std::string& path, const io::ImageSet& test, std::span<const int64_t> shown,
                           const std::vector<const std::vector<float>*>& rows) {
  std::vector<float> tiles(shown.size() * 784);
  io::fill_batch(test, shown, tiles, {.mode = io::Pixels::scaled});
  for (const auto* r : rows) tiles.insert(tiles.end(), r->begin(), r->end());
  io::write_png_grid(path, tiles, static_cast<int64_t>(tiles.size() / 784), 28, 28,
                     {.columns = static_cast<int>(shown.size()), .upscale = 2,  // (fixed01 clamps PCA's strays)
                      .contrast = io::GridOptions::Contrast::fixed01});
}

void write_curves(const Options& o, double pca_valid) {
  std::vector<io::Panel> panels;
  io::Panel pre{"Greedy pretraining", "epoch", "reconstruction error / baseline"};
  for (size_t l = 1; l <= o.hidden.size(); ++l)
    pre.series.push_back(csv_series(read_csv_columns(fmt::format("{}/pretrain_layer{}.csv", o.output, l)), "epoch",
                                    "recon_error", fmt::format("layer {}", l), "recon_baseline"));
  panels.push_back(std::move(pre));
  const CsvColumns ft = read_csv_columns(o.output + "/finetune.csv");
  io::Panel err{"Backprop fine-tuning", "epoch", "validation squared error per image",
                {csv_series(ft, "epoch", "valid_error", "pretrained")}, true};
  if (o.baseline) err.series.push_back(csv_series(read_csv_columns(o.output + "/baseline.csv"), "epoch", "valid_error",
                                                  "random start"));
  if (const auto e = ft.find("epoch"); e != ft.end() && !e->second.empty()) {
    io::Series pca{fmt::format("PCA, {} components", o.hidden.back()),
                   {e->second.front(), e->second.back()}, {pca_valid, pca_valid}};
    pca.dashed = true;
    err.series.push_back(std::move(pca));
  }
  panels.push_back(std::move(err));
  io::write_svg_plot(o.output + "/curves.svg", panels,
                     fmt::format("autoencoder_mnist: {} autoencoder, preset {}", o.layer_string(), o.preset));
}

int run(const Options& o) {
  const Data d = load_data(o);
  samples::check_batch(o.batch, d.train.count);
  samples::make_output_dir(o.output);
  samples::check_file_folder("--profile", o.profile);
  Graph g;
  Dbn dbn = Dbn::make(g, "dbn", {.layers = o.layers(), .seed = o.seed, .top_hidden_unit = Unit::gaussian});
  Executor ex(g, {.threads = o.threads, .seed = o.seed, .profile = !o.profile.empty()});
  Summary sum;
  fmt::print("autoencoder_mnist: {} autoencoder, preset {}, {} training / {} validation / {} test images\n",
             o.layer_string(), o.preset, d.train.count, d.valid.count, d.test.count);
  if (o.resume && !checkpoint_exists(o.output + "/pretrain/layer0"))
    fmt::print("autoencoder_mnist: --resume: no checkpoint in {}/pretrain/layer0; starting afresh\n", o.output);

  // PCA with as many components as the code (a few seconds).
  Progress pbar(fmt::format("PCA, {} components", o.hidden.back()), 1);
  const Pca pca = fit_pca(pixels(d.train), o.hidden.back());
  const double pca_test = pca_error(pca, pixels(d.test)), pca_valid = pca_error(pca, pixels(d.valid));
  pbar.update(1, fmt::format("test squared error {:.2f}", pca_test));
  sum.add(fmt::format("PCA, {} components", o.hidden.back()), pbar.seconds(),
          fmt::format("test squared error {:.2f}", pca_test));
  result("pca_test_squared_error", fmt::format("{:.2f}", pca_test));

  bool resume = o.resume;
  for (int l = 0; l < dbn.depth(); ++l) {
    const bool top = l + 1 == dbn.depth();
    CdConfig cd{.batch = o.batch, .lr = top ? o.code_lr : o.pretrain_lr, .momentum = o.momentum,
                .weight_decay = o.weight_decay};
    parse_cd_method(o.method, cd);
    const LayerPlan plan{.epochs = o.pretrain_epochs[static_cast<size_t>(l)], .cd = cd, .data_seed = o.data_seed,
                         .pixels = io::Pixels::scaled, .output = o.output,
                         .lr_flag = top ? "--code-lr" : "--pretrain-lr", .upper_visible_bias = true};
    if (pretrain_layer(dbn, l, ex, d.train, d.valid, plan, resume, sum)) resume = false;
  }

  // The test digits pictured: the first two of each class.
  std::vector<int64_t> shown;
  for (int digit = 0; digit < 10; ++digit)
    for (int64_t i = 0, n = 0; i < d.test.count && n < 2; ++i)
      if (d.test.labels[static_cast<size_t>(i)] == digit) shown.push_back(i), ++n;
  std::vector<float> pca_pictures(shown.size() * 784), codes(shown.size() * static_cast<size_t>(pca.k()));
  {
    std::vector<float> x(shown.size() * 784);
    io::fill_batch(d.test, shown, x, {.mode = io::Pixels::scaled});
    pca.encode(x, codes);
    pca.decode(codes, pca_pictures);
  }

  Autoencoder net = Autoencoder::make(g, "ae", o.net_config(o.seed + 100));
  net.init_from(dbn);
  {  // the unrolled stack before fine-tuning: the DBN's up-down pass
    const Tensor x = g.input("unrolled.x", {1000, 784});
    const double e = reconstruction_error(ex, x, net.reconstruct(x), pixels(d.test));
    result("unrolled_test_squared_error", fmt::format("{:.2f}", e));
    sum.add("unrolled, before fine-tuning", 0.0, fmt::format("test squared error {:.2f}", e));
  }
  const FitResult tuned = finetune(net, ex, d, o, resume, "finetune", shown, sum);
  result("test_squared_error", fmt::format("{:.2f}", tuned.test_error));
  std::vector<const std::vector<float>*> rows{&tuned.pictures, &pca_pictures};
  FitResult scratch;
  if (o.baseline) {
    Autoencoder random_start = Autoencoder::make(g, "baseline", o.net_config(o.seed + 200));
    scratch = finetune(random_start, ex, d, o, o.resume, "baseline", shown, sum);
    result("baseline_test_squared_error", fmt::format("{:.2f}", scratch.test_error));
    rows.insert(rows.begin() + 1, &scratch.pictures);
  }
  write_reconstructions(o.output + "/reconstructions.png", d.test, shown, rows);
  draw_curves("autoencoder_mnist", [&] { write_curves(o, pca_valid); });
  if (!o.profile.empty()) write_profile(ex.profile(), o.profile);
  sum.print();
  result("total_seconds", fmt::format("{:.1f}", sum.total()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Deep autoencoder on MNIST: RBM pretraining, unrolling, backprop fine-tuning, against PCA"};
  Options o;
  add_options(app, o);
  return run_main(app, argc, argv, "autoencoder_mnist", [&] {
    o.apply_preset(app);
    return run(o);
  });
}
