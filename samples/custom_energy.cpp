// custom_energy: writing your own energy-based model. The model in
// custom_energy_model.hpp (a Gaussian-binary RBM with learned visible
// variances) is about 60 lines of ops; the library gives it Gibbs chains and
// PCD training through the EnergyModel interface, with no library change.
//
//   v [batch x 784, real-valued] --(v / s) W + b--> h ~ Bernoulli --> v' ~ N(c + W h, s)
//        |                                                          (persistent chains)
//        +--> F(v)        F(stop_gradient(v_model)) <----------------------+
//               \          /
//         mean F(v) - mean F(v_model)  --grad--> sgd --> W, b, c, z (s = exp(z) + s_min)
//
// Trains on MNIST pixels scaled to [0, 1] as real values through the
// library's EnergyFitter (models/energy_fit.hpp) and writes filters.png,
// stddev.png (the learned sigma of each pixel), samples.png (the means
// E[v|h] of 100 persistent chains), metrics.csv and the checkpoint that
// --resume continues from.

#include <algorithm>
#include <cmath>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "graph/executor.hpp"
#include "io/batch.hpp"
#include "io/png.hpp"
#include "models/energy_fit.hpp"
#include "samples/common.hpp"
#include "samples/csv.hpp"
#include "samples/lineage.hpp"
#include "samples/custom_energy_model.hpp"

namespace {

using namespace ebm;

struct Options {
  std::string data, output = "out/custom_energy";
  int64_t hidden = 200, batch = 100;
  int epochs = 10, threads = 0;
  // Steps twice as long let the variances run away for some epochs (seed 1:
  // sigma up to 11.7 at 0.0002, with momentum 0.9; 0.0003 never came back).
  float lr = 0.0001f;
  uint64_t seed = 1;
  bool check_numerics = false, resume = false;
  std::string profile;
  int64_t profile_events = static_cast<int64_t>(ExecutorOptions::kDefaultProfileEvents);
};

void write_pictures(Graph& g, const custom::LearnedVarianceRbm& m, Executor& ex, const ContrastiveDivergence& cd,
                    const Options& o) {
  const int64_t nh = o.hidden, n = std::min<int64_t>(nh, 100);
  auto w = g.value(m.w);
  std::vector<float> tiles(static_cast<size_t>(n * 784));
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < 784; ++i) tiles[static_cast<size_t>(j * 784 + i)] = w[static_cast<size_t>(i * nh + j)];
  io::write_png_grid(o.output + "/filters.png", tiles, n, 28, 28, {.columns = 10, .upscale = 2});
  const Tensor sd = m.stddev();
  ex.run({sd});
  io::write_png_grid(o.output + "/stddev.png", ex.value(sd), 1, 28, 28, {.upscale = 8});
  const auto [lo, hi] = std::ranges::minmax(ex.value(sd));  // the picture's black and white
  fmt::print("custom_energy: stddev.png: sigma from {:.3g} (black) to {:.3g} (white)\n", lo, hi);
  // the chains' means E[v|h] = c + W h: the Gaussian noise of a sample would hide the digit
  const Tensor shown = matmul(m.sample_h(cd.chain), m.w, {.tb = true}) + m.c;
  ex.run({shown});
  io::write_png_grid(o.output + "/samples.png", ex.value(shown).first(100 * 784), 100, 28, 28,
                     {.columns = 10, .upscale = 2, .contrast = io::GridOptions::Contrast::fixed01});
}

int run(const Options& o) {
  const auto dir = samples::find_data(o.data);
  const io::ImageSet train = io::load_mnist(dir, "train"), test = io::load_mnist(dir, "t10k");
  samples::check_batch(o.batch, train.count);
  samples::check_file_folder("--profile", o.profile);
  samples::make_output_dir(o.output);
  samples::Summary summary;
  const std::string checkpoint = o.output + "/checkpoint";
  samples::say_if_nothing_to_resume("custom_energy", o.resume, o.output, "checkpoint");
  if (!o.resume) samples::remove_checkpoint(checkpoint);  // a fresh run must not leave an older one to resume
  Graph g;
  custom::LearnedVarianceRbm model(g, "grbm", train.dim(), o.hidden, o.seed);
  const Tensor v = g.input("v", {o.batch, train.dim()});
  const ContrastiveDivergence cd = contrastive_divergence(model, v, 1, true, {.lr = o.lr, .momentum = 0.9f});
  // Each batch row's squared error when rebuilt as E[v | p(h | v)] (no
  // draws), summed over the pixels: a monitor of our own, which the fitter
  // averages over each epoch's batches beside the free energy.
  const Tensor recon = mean(sum(square(affine(sigmoid(model.hidden_input(v)), model.w, model.c, true) - v), 1));
  Executor ex(g, {.threads = o.threads, .seed = o.seed, .profile = !o.profile.empty(), .check_numerics = o.check_numerics,
                  .profile_events = static_cast<size_t>(o.profile_events)});
  // The library's training loop for any EnergyModel: shuffled batches,
  // monitoring, NaN checks, and a checkpoint after each epoch to resume from.
  EnergyFitter fit(model, cd, v, ex,
                   {.name = "grbm", .epochs = o.epochs, .data_seed = o.seed, .checkpoint = checkpoint,
                    .resume = o.resume, .lr_name = "--lr"},
                   {recon});
  for (const std::string& note : fit.resume_notes()) fmt::print("custom_energy: {}\n", note);
  // The sigmas' range, run beside the training's steps without moving its
  // step counter (which keys the draws: a resumed run must draw as an
  // unbroken one).
  auto sigma_range = [&] {
    const uint64_t step = ex.step();
    ex.run({model.stddev()});
    ex.set_step(step);
    return std::ranges::minmax(ex.value(model.stddev()));
  };
  auto [lo, hi] = sigma_range();
  // The pixels lie in [0, 1] (their largest standard deviation is about
  // 0.45): a sigma that grows past 1 and its start is noise wider than the
  // data, which comes of steps too large for the smallest variances.
  const float too_wide = std::max(1.0f, std::sqrt(1.0f + model.s_min));  // the start's sigma (z = 0), resumed or not
  bool warned = false;
  bool trained = false;  // an epoch ran in this call (a resume with every epoch done trains none)
  double last_fe = 0, last_recon = 0, last_gap = 0, train_seconds = 0;
  samples::Csv csv(o.output + "/metrics.csv", "epoch,seconds,free_energy,recon_error,fe_train,fe_test,fe_gap,sigma_min,sigma_max",
                   fit.epochs_done() > 0);
  csv.keep_rows_through(fit.epochs_done());
  // The free-energy gap compares 1,000 training images with 1,000 test
  // images: a monitor of overfitting, which chooses nothing.
  const DataSource train_src = image_source(train, io::Pixels::scaled, 0), test_src = image_source(test, io::Pixels::scaled, 0);
  fit.fit(train_src, test_src, [&](const EnergyEpoch& e) {
    const auto sigma = sigma_range();
    lo = sigma.min;
    hi = sigma.max;
    fmt::print("epoch {}/{}: training batches' mean free energy {:.2f}, reconstruction error {:.2f}, free-energy gap "
               "{:.2f}; sigma {:.3g} to {:.3g}\n",
               e.epoch, o.epochs, e.free_energy, e.monitors[0], e.fe_gap, lo, hi);
    csv.row("{},{:.3f},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{:.5g},{:.5g}", e.epoch, e.seconds, e.free_energy, e.monitors[0],
            e.fe_train, e.fe_valid, e.fe_gap, lo, hi);
    if (!std::isfinite(e.free_energy) || !std::isfinite(e.monitors[0]))
      throw Error("epoch {}: the mean free energy is {} and the reconstruction error {}: training diverged; expected "
                  "finite values (a smaller --lr, now {:g}, usually cures it)",
                  e.epoch, e.free_energy, e.monitors[0], o.lr);
    if (hi > too_wide && !warned) {
      fmt::print(stderr, "custom_energy: warning: epoch {}: a learned sigma of {:.3g}, wider than the pixels' range "
                         "[0, 1]; the variances are running away (a smaller --lr, now {:g}, usually cures it)\n",
                 e.epoch, hi, o.lr);
      warned = true;
    }
    trained = true;
    train_seconds += e.seconds;
    last_fe = e.free_energy;
    last_recon = e.monitors[0];
    last_gap = e.fe_gap;
  });
  summary.add("PCD training", train_seconds,
          trained ? fmt::format("reconstruction error {:.2f}, sigma {:.3g} to {:.3g}", last_recon, lo, hi)
                  : std::string("nothing left to train"));
  const double before_pictures = summary.total();
  write_pictures(g, model, ex, cd, o);
  summary.add("pictures", summary.total() - before_pictures, "filters.png, stddev.png, samples.png");
  samples::result("epochs", fit.epochs_done());
  if (trained) {
    samples::result("mean_free_energy", fmt::format("{:.2f}", last_fe));
    samples::result("reconstruction_error", fmt::format("{:.2f}", last_recon));
    samples::result("free_energy_gap", fmt::format("{:.2f}", last_gap));
  }
  samples::result("sigma_min", fmt::format("{:.3g}", lo));
  samples::result("sigma_max", fmt::format("{:.3g}", hi));
  return samples::finish(summary, ex, o.profile);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a user-defined energy model (a Gaussian RBM with learned variances) by PCD"};
  Options o;
  app.add_option("--data", o.data, "folder with the MNIST IDX files (default: data/mnist)");
  app.add_option("--output", o.output, "folder for the pictures")->capture_default_str();
  app.add_option("--hidden", o.hidden, "hidden units")->capture_default_str()->check(samples::kPositive);
  app.add_option("--batch", o.batch, "mini-batch size (at least 100)")->capture_default_str()
      ->check(samples::number_check([](double b) { return b >= 100 && b <= 100000; }, "100 to 100000", "[100,100000]"));
  app.add_option("--epochs", o.epochs, "epochs")->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--lr", o.lr, "learning rate")->capture_default_str()->check(samples::kPositive);
  app.add_option("--seed", o.seed, "seed of the model's draws and of the data's shuffles (no --data-seed here)")
      ->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--threads", o.threads, "worker threads (0: all cores)")->capture_default_str()
      ->check(samples::kThreads);
  app.add_flag("--resume", o.resume, "continue from <output>/checkpoint (saved after each epoch) where it stopped");
  app.add_flag("--check-numerics", o.check_numerics, "stop at the first node that produces NaN or Inf");
  app.add_option("--profile", o.profile, "write a Chrome trace of the training steps (and the runs drawing the pictures) to FILE, and a timeline of the last steps beside it (FILE with the extension .timeline.svg)");
  samples::add_profile_events(app, o.profile_events);
  return ebm::samples::run_main(app, argc, argv, "custom_energy", [&] { return run(o); });
}
