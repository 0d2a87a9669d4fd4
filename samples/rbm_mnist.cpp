// rbm_mnist: a binary RBM trained on MNIST by contrastive divergence (CD-k)
// or persistent CD, judged at the end by annealed importance sampling.
//
//   v0 [batch x 784] --(W, b)--> x0 --sample--> h0 --(W', c)--> v1 --> ... --> vk
//    |                            |                                           |
//    +-------- F(v0, x0) <--------+                  F(stop_gradient(vk)) <---+
//                         \                          /
//                    L = mean F(v0) - mean F(vk)   (its gradient is the CD update)
//                         |
//                   grad --> sgd (momentum, weight decay) --> W, b, c
//
// Writes to --output: filters.png, samples.png (from the persistent chains with PCD), reconstructions.png,
// metrics.csv, curves.svg and checkpoint/; prints key=value result lines at the end.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <utility>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "graph/functions.hpp"
#include "io/png.hpp"
#include "models/ais.hpp"
#include "models/rbm_fit.hpp"
#include "samples/common.hpp"
#include "samples/lineage.hpp"
#include "samples/curves.hpp"
#include "samples/progress.hpp"
#include "samples/rbm_metrics.hpp"

namespace {

using namespace ebm;

struct Options {
  std::string data, output = "out/rbm_mnist", method = "cd1", profile, pixels = "sampled";
  int64_t profile_events = static_cast<int64_t>(ExecutorOptions::kDefaultProfileEvents);
  int64_t hidden = 500, batch = 100, validation = 10000;
  int epochs = 10, threads = 0, ais_runs = 100, sample_steps = 1000;
  float lr = 0.1f, momentum = 0.5f, final_momentum = 0.9f, weight_decay = 2e-4f, lr_decay = 1.0f;
  float l1 = 0.0f, sparsity_target = 0.0f, sparsity_cost = 0.0f, ais_scale = 1.0f;
  uint64_t seed = 1, data_seed = 1;
  bool resume = false, no_ais = false;
};

// Flags that would be ignored are refused, so that no run quietly does less than asked.
void refuse_ignored_flags(const CLI::App& app, const Options& o) {
  if (app.count("--sparsity-target") > 0 && o.sparsity_cost == 0.0f)
    throw Error("--sparsity-target: the sparsity penalty is off; expected --sparsity-cost above 0 too");
  if (o.sparsity_cost > 0.0f && !(o.sparsity_target > 0.0f))
    throw Error("--sparsity-cost {}: the penalty pulls the hidden units' mean towards --sparsity-target, which is {}; "
                "expected a target in (0, 1) too",
                o.sparsity_cost, o.sparsity_target);
  if (o.no_ais && !samples::given_flags(app, {"--ais-runs", "--ais-scale"}).empty())
    throw Error("--ais-runs, --ais-scale: they set the AIS evaluation that --no-ais skips; expected one or the other");
  // (A resume checks them against its checkpoint, which trains on from them: there they mean something.)
  if (const std::string f = samples::given_flags(app, {"--method", "--lr", "--lr-decay", "--momentum", "--final-momentum",
                                                       "--weight-decay", "--l1", "--sparsity-cost", "--sparsity-target"});
      o.epochs == 0 && !o.resume && !f.empty())
    throw Error("{}: {} the training, which --epochs 0 skips; expected one or the other", f,
                f.find(',') == std::string::npos ? "it sets" : "they set");
}

void add_options(CLI::App& app, Options& o) {
  app.add_option("--data", o.data, "folder with the MNIST IDX files (default: data/mnist)");
  app.add_option("--output", o.output, "folder for pictures, metrics and the checkpoint")->capture_default_str();
  app.add_option("--hidden", o.hidden, "hidden units")->capture_default_str()->check(samples::kPositive);
  app.add_option("--method", o.method, "cd1, cdK (e.g. cd25) or pcd / pcdK")->capture_default_str();
  app.add_option("--epochs", o.epochs, "training epochs")->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--batch", o.batch, "mini-batch size")->capture_default_str()->check(samples::kPositive);
  app.add_option("--lr", o.lr, "learning rate")->capture_default_str()->check(samples::kPositive);
  app.add_option("--lr-decay", o.lr_decay, "learning rate multiplier per epoch")->capture_default_str()
      ->check(samples::kDecay);
  app.add_option("--momentum", o.momentum, "momentum for the first 5 epochs")->capture_default_str()
      ->check(samples::kFraction);
  app.add_option("--final-momentum", o.final_momentum, "momentum after epoch 5")->capture_default_str()
      ->check(samples::kFraction);
  app.add_option("--weight-decay", o.weight_decay, "L2 penalty on W")->capture_default_str()
      ->check(samples::kNonNegative);
  app.add_option("--l1", o.l1, "L1 penalty on W")->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--sparsity-target", o.sparsity_target,
                 "target mean hidden activation, in (0, 1), with --sparsity-cost above 0")->capture_default_str()
      ->check(samples::kFraction);
  app.add_option("--sparsity-cost", o.sparsity_cost, "weight of the sparsity penalty (0: off)")->capture_default_str()
      ->check(samples::kNonNegative);
  app.add_option("--pixels", o.pixels, "sampled, threshold or scaled")->capture_default_str();
  app.add_option("--validation", o.validation, "last N training images held out (0: monitor on the test set)")
      ->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--seed", o.seed, "seed of every random draw of the model")->capture_default_str()
      ->check(samples::kNonNegative);
  app.add_option("--data-seed", o.data_seed, "seed of shuffles and binarisation")->capture_default_str()
      ->check(samples::kNonNegative);
  app.add_option("--threads", o.threads, "worker threads (0: all cores)")->capture_default_str()
      ->check(samples::kThreads);
  app.add_option("--ais-runs", o.ais_runs,
                 "AIS runs (at least 2: the error bar needs their spread; a long-trained model may need 400 or more "
                 "before log Z's 3-standard-error range has a finite lower end)")
      ->capture_default_str()
      ->check(samples::number_check([](double v) { return v >= 2; }, "2 or more (AIS's error bar needs two runs)",
                                    "INT>=2"));
  app.add_option("--ais-scale", o.ais_scale, "multiplies the 14,500 AIS temperatures")->capture_default_str()
      ->check(samples::kAisScale);
  app.add_option("--sample-steps", o.sample_steps, "Gibbs steps for samples.png (a snapshot every tenth of them)")
      ->capture_default_str()
      ->check(samples::number_check([](double v) { return v >= 10 && v == 10 * std::floor(v / 10); },
                                    "a positive multiple of 10 (samples.png shows a snapshot every tenth of the steps)",
                                    "MULTIPLE_OF_10"));
  app.add_flag("--no-ais", o.no_ais, "skip the AIS evaluation");
  app.add_flag("--resume", o.resume, "continue from <output>/checkpoint");
  app.add_option("--profile", o.profile, "write a Chrome trace of the training steps (and the monitoring runs between epochs) to FILE, and a timeline of the last steps beside it (FILE with the extension .timeline.svg)");
  samples::add_profile_events(app, o.profile_events);
}

CdConfig cd_config(const Options& o) {
  CdConfig c{.batch = o.batch, .lr = o.lr, .momentum = o.momentum, .weight_decay = o.weight_decay, .l1 = o.l1,
             .sparsity_target = o.sparsity_target, .sparsity_cost = o.sparsity_cost};
  try {
    parse_cd_method(o.method, c);
  } catch (const Error& e) {
    throw Error("--method: {}", e.what());
  }
  return c;
}

io::Pixels parse_pixels(const std::string& s) {
  if (s == "sampled") return io::Pixels::sampled;
  if (s == "threshold") return io::Pixels::threshold;
  if (s == "scaled") return io::Pixels::scaled;
  throw Error("--pixels '{}': expected sampled, threshold or scaled", s);
}

// Ten chains (fewer when PCD keeps fewer), a snapshot of E[v|h] every sample_steps / 10 steps (steps is a
// multiple of 10, checked as the flag is read). CD's chains start at ten test digits, one of each; PCD's continue
// from its first persistent chains as training left them (copies: the trainer's chains stay as checkpointed).
void write_samples(const Rbm& rbm, const CdTrainer& trainer, Executor& ex, const io::ImageSet& test, int steps,
                   const std::string& path) {
  Graph& g = *rbm.graph;
  const bool persistent = trainer.chain.valid();
  const int64_t chains = persistent ? std::min<int64_t>(10, trainer.chain.shape().rows) : 10;
  Tensor state = g.param("sample_chains", {chains, rbm.config.visible}, 0.0f, false);
  if (persistent) {
    const auto from = g.value(trainer.chain);
    std::copy_n(from.begin(), chains * rbm.config.visible, g.value(state).begin());
  } else {
    io::fill_batch(test, samples::first_of_each_digit(test), g.value(state), {.mode = io::Pixels::threshold});
  }
  const Tensor h = rbm.sample_h(state), shown = rbm.p_v(h);
  const Tensor advance = assign(state, rbm.sample_v(h));
  const auto start = g.value(state);  // the first row: where each chain starts
  std::vector<float> tiles(start.begin(), start.end());
  const int every = steps / 10;
  for (int s = 1; s <= steps; ++s) {  // E[v|h] made only when drawn: the draws are the same either way
    if (s % every != 0) {
      ex.run({advance});
      continue;
    }
    ex.run({shown, advance});
    tiles.insert(tiles.end(), ex.value(shown).begin(), ex.value(shown).end());
  }
  // rows: the start, then snapshots in time; columns: the chains
  io::write_png_grid(
      path, tiles, 11 * chains, 28, 28,
      {.columns = static_cast<int>(chains), .upscale = 2, .contrast = io::GridOptions::Contrast::fixed01});
}

void write_reconstructions(const Rbm& rbm, Executor& ex, const io::ImageSet& test, const std::string& path) {
  Graph& g = *rbm.graph;
  const int64_t count = std::min<int64_t>(20, test.count);  // the first 20 test images (fewer in a small test file)
  Tensor v = g.input("recon_in", {count, rbm.config.visible});
  Tensor r = rbm.p_v(rbm.p_h(v));
  std::vector<int64_t> idx(static_cast<size_t>(count));
  std::iota(idx.begin(), idx.end(), 0);
  std::vector<float> in(static_cast<size_t>(count * rbm.config.visible));
  io::fill_batch(test, idx, in, {.mode = io::Pixels::scaled});
  ex.run({r}, {{v, in}});
  std::vector<float> tiles;  // pairs: image, reconstruction
  for (int64_t i = 0; i < count; ++i) {
    const auto n = static_cast<size_t>(rbm.config.visible), at = static_cast<size_t>(i) * n;
    tiles.insert(tiles.end(), in.begin() + static_cast<long>(at), in.begin() + static_cast<long>(at + n));
    tiles.insert(tiles.end(), ex.value(r).begin() + static_cast<long>(at), ex.value(r).begin() + static_cast<long>(at + n));
  }
  io::write_png_grid(path, tiles, 2 * count, 28, 28, {.columns = 8, .upscale = 2, .contrast = io::GridOptions::Contrast::fixed01});
}

void write_filters(const Rbm& rbm, const std::string& path) {
  const auto w = rbm.graph->value(rbm.w);
  const int64_t nv = rbm.config.visible, nh = rbm.config.hidden, n = std::min<int64_t>(nh, 100);
  std::vector<float> tiles(static_cast<size_t>(n * nv));
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < nv; ++i) tiles[static_cast<size_t>(j * nv + i)] = w[static_cast<size_t>(i * nh + j)];
  io::write_png_grid(path, tiles, n, 28, 28, {.columns = 10, .upscale = 2});
}

void evaluate(RbmFitter& fit, const Rbm& rbm, const io::ImageSet& train, const io::ImageSet& test, const Options& o,
              samples::Summary& sum) {
  const std::vector<float> base = base_rate_bias(io::pixel_means(train));
  AisConfig ac{.runs = o.ais_runs, .seed = o.seed, .threads = o.threads};
  ac.scale_temperatures(o.ais_scale);
  samples::warn_if_few_temperatures("rbm_mnist", ac.temperatures());
  samples::Progress bar(fmt::format("AIS log Z, {} runs", o.ais_runs), ac.temperatures(), true);
  ac.on_progress = [&](int done, int) { bar.update(done, "temperatures"); };
  const AisResult z = ais_log_z(rbm, base, ac);
  const auto f = fit.free_energies(image_source(test, io::Pixels::sampled, o.data_seed + 1000), 0);
  double mean_f = 0;
  for (double x : f) mean_f += x / static_cast<double>(f.size());
  fmt::print("AIS: log Z = {:.2f} (+{:.2f} / -{:.2f}, {:.3g} sd: a 99.73% t interval) over {} runs and {} temperatures\n",
             z.log_z, z.log_z_high - z.log_z, z.log_z - z.log_z_low, ais_interval_sd(o.ais_runs), o.ais_runs,
             z.temperatures);
  fmt::print("average test log-likelihood: {:.2f} nats (range {:.2f} .. {:.2f})\n", -mean_f - z.log_z,
             -mean_f - z.log_z_high, -mean_f - z.log_z_low);
  const bool open_below = !std::isfinite(z.log_z_low);  // the interval's sds of the weights exceed their mean
  if (open_below)
    fmt::print(stderr, "rbm_mnist: warning: AIS: the {} runs' importance weights spread too widely for a lower end of "
               "log Z, so the test log-likelihood has no upper end and its estimate is not to be trusted: AIS then "
               "tends to put log Z too low and the log-likelihood too high (a model that has collapsed onto a few "
               "modes does this; see the diverging epochs above, if any); more runs narrow it: --resume "
               "--ais-runs {}\n",
               o.ais_runs, 4 * o.ais_runs);
  sum.add(fmt::format("AIS, {} runs", o.ais_runs), bar.seconds(),
          fmt::format("test log-likelihood {:.2f} nats (log Z {:.2f}{})", -mean_f - z.log_z, z.log_z,
                      open_below ? ", open below: not to be trusted" : ""));
  samples::result("log_z", fmt::format("{:.3f}", z.log_z));
  samples::result("test_loglik_nats", fmt::format("{:.2f}", -mean_f - z.log_z));
  samples::result("test_loglik_err_nats", fmt::format("{:.2f}", (z.log_z_high - z.log_z_low) / 2));
}

struct Data {
  io::ImageSet train, valid, test;
};

Data load_data(const Options& o) {
  const auto dir = samples::find_data(o.data);
  const io::ImageSet all = io::load_mnist(dir, "train");
  if (o.validation < 0 || o.validation >= all.count)
    throw Error("--validation {}: expected 0 .. {}", o.validation, all.count - 1);
  Data d{io::slice(all, 0, all.count - o.validation), {}, io::load_mnist(dir, "t10k")};
  d.valid = o.validation > 0 ? io::slice(all, all.count - o.validation, o.validation) : d.test;
  return d;
}

std::vector<EpochStats> train(RbmFitter& fit, const Data& d, const Options& o) {
  samples::RbmEpochCsv csv(o.output + "/metrics.csv", fit.epochs_done() > 0);  // appended to only when resumed
  if (const std::string note = csv.missing_rows(fit.epochs_done()); !note.empty())
    fmt::print(stderr, "rbm_mnist: note: {}\n", note);
  csv.keep_rows_through(fit.epochs_done());
  const io::Pixels px = parse_pixels(o.pixels);
  const DataSource train = image_source(d.train, px, o.data_seed), valid = image_source(d.valid, px, o.data_seed);
  bool warned = false;
  return fit.fit(train, valid, [&](const EpochStats& s) {
    fmt::print("epoch {:3}/{}  {:6.1f} s  recon {:7.3f}  F train {:8.2f}  F valid {:8.2f}  gap {:6.2f}  PL {:8.2f}\n",
               s.epoch, o.epochs, s.seconds, s.recon_error, s.fe_train, s.fe_valid, s.fe_gap, s.pseudo_ll);
    std::fflush(stdout);
    if (s.diverging && !std::exchange(warned, true))
      fmt::print(stderr,
                 "rbm_mnist: warning: training is diverging: reconstruction error {:.4g} in epoch {}, {}; a smaller "
                 "--lr (this run starts at {:g}) usually cures it\n",
                 s.recon_error, s.epoch, diverging_reason(s, "pixel"), o.lr);
    csv.row(s);
  });
}

int run(const Options& o) {
  const Data d = load_data(o);
  samples::check_batch(o.batch, d.train.count, "images", {"--validation", o.validation});  // before a batch of that size is allocated
  if (!o.no_ais) check_ais_fits(d.train.dim(), o.hidden, o.ais_runs);  // said now, not after the training
  samples::make_output_dir(o.output);
  samples::check_file_folder("--profile", o.profile);
  Graph g;
  Rbm rbm = [&] {
    try {  // (a size memory cannot hold: said with the flag that asked for it)
      return Rbm::make(g, "rbm", {.visible = d.train.dim(), .hidden = o.hidden, .seed = o.seed});
    } catch (const Error& e) {
      throw Error("--hidden {}: {}", o.hidden, e.what());
    }
  }();
  rbm.init_visible_bias(io::pixel_means(d.train));
  CdTrainer trainer = make_cd_trainer(rbm, cd_config(o));
  Executor ex(g, {.threads = o.threads, .seed = o.seed, .profile = !o.profile.empty(),
                  .profile_events = static_cast<size_t>(o.profile_events)});
  // A fresh run removes an earlier run's checkpoint before it trains (and
  // says so first): killed before its first save, it must not leave that
  // for a --resume to take.
  samples::say_if_nothing_to_resume("rbm_mnist", o.resume, o.output, "checkpoint");
  if (!o.resume) samples::remove_checkpoint(o.output + "/checkpoint");
  // The data flags are saved with the checkpoint: a resume on other data is refused.
  RbmFitter fit(trainer, ex,
                {.epochs = o.epochs, .data_seed = o.data_seed, .lr_decay = o.lr_decay,
                 .final_momentum = o.final_momentum, .checkpoint = o.output + "/checkpoint", .resume = o.resume,
                 .run_settings = {{"--pixels", o.pixels}, {"--validation", std::to_string(o.validation)}},
                 .lr_name = "--lr",
                 .setting_flags = {{"seed", "--seed"}, {"data_seed", "--data-seed"}, {"method", "--method"},
                                   {"k", "--method"}, {"batch", "--batch"}, {"momentum", "--momentum"},
                                   {"weight_decay", "--weight-decay"}, {"l1", "--l1"},
                                   {"sparsity_cost", "--sparsity-cost"}, {"sparsity_target", "--sparsity-target"},
                                   {"lr_decay", "--lr-decay"}, {"final_momentum", "--final-momentum"}}});
  for (const std::string& note : fit.resume_notes()) fmt::print("rbm_mnist: {}\n", note);
  if (fit.epochs_done() > o.epochs)
    fmt::print("rbm_mnist: the checkpoint holds {} epochs, more than the {} asked; it is evaluated as it is\n",
               fit.epochs_done(), o.epochs);
  if (trainer.chain.valid() && fit.epochs_done() == 0) {  // PCD chains start at training images (a resume loads them)
    io::fill_batch(d.train, chain_start_rows(d.train.count, o.batch, o.data_seed), g.value(trainer.chain),
                   {.mode = io::Pixels::sampled, .seed = o.data_seed});
  }
  fmt::print("rbm_mnist: {}-{} RBM, {}, batch {}, {} epochs, {} training / {} {} images\n", d.train.dim(), o.hidden,
             o.method, o.batch, o.epochs, d.train.count, d.valid.count, o.validation > 0 ? "validation" : "test (monitoring)");
  samples::Summary sum;
  const std::vector<EpochStats> epochs = train(fit, d, o);
  double seconds = 0.0;  // this run's epochs
  for (const EpochStats& e : epochs) seconds += e.seconds;
  // The label counts the epochs the model holds; the seconds are this run's.
  const int held = fit.epochs_done(), here = static_cast<int>(epochs.size());
  sum.add(fmt::format("train: {} epoch{} of {}", held, held == 1 ? "" : "s", o.method), seconds,
          held == 0        ? std::string("not trained (0 epochs)")
          : epochs.empty() ? std::string("as the checkpoint holds it (no epoch trained in this run)")
                           : fmt::format("recon error {:.3f}, free-energy gap {:.2f}{}", epochs.back().recon_error,
                                         epochs.back().fe_gap,
                                         here < held ? fmt::format(" ({} epochs in this run)", here) : std::string()));
  if (!epochs.empty()) {  // the last epoch's monitors, for scripts (a resumed run: its own epochs' seconds)
    const EpochStats& last = epochs.back();
    samples::result("epoch", last.epoch);
    samples::result("train_seconds", fmt::format("{:.1f}", seconds));
    samples::result("recon_error", fmt::format("{:.3f}", last.recon_error));
    samples::result("fe_gap", fmt::format("{:.3f}", last.fe_gap));
    samples::result("pseudo_ll", fmt::format("{:.2f}", last.pseudo_ll));
    samples::result("diverging_epochs", std::count_if(epochs.begin(), epochs.end(), [](const EpochStats& e) { return e.diverging; }));
  }
  if (!o.profile.empty()) samples::write_profile(ex.profile(), o.profile);
  samples::draw_curves("rbm_mnist", [&] {
    samples::write_rbm_curves(o.output + "/metrics.csv", o.output + "/curves.svg",
                              fmt::format("rbm_mnist: {}-{} RBM, {}", d.train.dim(), o.hidden, o.method),
                              o.validation > 0 ? "validation subset" : "test subset");
  });
  samples::Progress pictures("pictures", 1);
  write_filters(rbm, o.output + "/filters.png");
  write_reconstructions(rbm, ex, d.test, o.output + "/reconstructions.png");
  write_samples(rbm, trainer, ex, d.test, o.sample_steps, o.output + "/samples.png");
  pictures.update(1, "filters, reconstructions, samples");
  sum.add("pictures", pictures.seconds(),
          fmt::format("filters.png, reconstructions.png, samples.png ({} Gibbs steps from {})", o.sample_steps,
                      trainer.chain.valid() ? "the persistent chains" : "test digits"));
  if (!o.no_ais) evaluate(fit, rbm, d.train, d.test, o, sum);
  return samples::finish(sum);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a binary RBM on MNIST with CD-k or PCD and estimate its test log-likelihood by AIS"};
  Options o;
  add_options(app, o);
  return ebm::samples::run_main(app, argc, argv, "rbm_mnist", [&] {
    refuse_ignored_flags(app, o);
    parse_pixels(o.pixels);  // named before any work
    cd_config(o);            // so is the method
    return run(o);
  });
}
