// autoencoder_curves: a deep autoencoder on synthetic curves (Hinton &
// Salakhutdinov 2006): 28 x 28 images of a smooth curve through three
// random points (io/curves.hpp: the paper leaves the drawing open, so the
// images are ours), coded in 6 real numbers by a 784-400-200-100-50-25-6
// autoencoder pretrained as a stack of RBMs (the top one with linear hidden
// units) and fine-tuned by backprop, against PCA and logistic PCA with 6
// and with 18 components (the paper's comparisons).
//
//   pixels --RBM0--> 400 --RBM1--> 200 --RBM2--> 100 --RBM3--> 50 --RBM4--> 25 --RBM5--> 6 (linear)   greedy, CD-1
//   784 -> 400 -> 200 -> 100 -> 50 -> 25 -> 6 -> 25 -> 50 -> 100 -> 200 -> 400 -> 784 (logistic output, cross-entropy)
//
// The images are made, not read: --train, --valid and --test of them, drawn
// with --data-seed from three independent streams. The error is the
// paper's: the squared reconstruction error per image, summed over the 784
// pixels in [0, 1]. The run itself is samples/autoencoder_parts.hpp.

#include "io/curves.hpp"
#include "samples/autoencoder_parts.hpp"

namespace {

using namespace ebm;
using namespace ebm::samples;

constexpr int kPaperSweeps = 200;  // logistic PCA's in the paper preset
constexpr AePreset kQuick{.pretrain_epochs = 2, .finetune_epochs = 10, .finetune_lr_decay = 1.0f};
// The paper's 50 passes per layer and 200 epochs of fine-tuning.
constexpr AePreset kPaper{.pretrain_epochs = 50, .finetune_epochs = 200, .finetune_lr_decay = 0.99f};

struct Sizes {
  int64_t train = 20000, valid = 5000, test = 10000;
};

int run(const AeOptions& o, const Sizes& n) {
  // Drawn once and kept (20,000 images are 63 MB): the net reads them every epoch.
  const io::CurveConfig cfg{.seed = o.data_seed};
  const std::vector<float> train = io::Curves(n.train, cfg).images(0, n.train);
  const std::vector<float> valid = io::Curves(n.valid, {.seed = o.data_seed, .stream = 1}).images(0, n.valid);
  const std::vector<float> test = io::Curves(n.test, {.seed = o.data_seed, .stream = 2}).images(0, n.test);
  AeTask t;
  t.program = "autoencoder_curves";
  t.data_name = "images";
  t.run_settings = {{"--train", std::to_string(n.train)}, {"--valid", std::to_string(n.valid)}};
  t.train = matrix_source(train, 784);
  t.valid = matrix_source(valid, 784);
  t.test = matrix_source(test, 784);
  t.data_means.assign(784, 0.0f);
  for (size_t i = 0; i < train.size(); ++i) t.data_means[i % 784] += train[i] / static_cast<float>(n.train);
  for (int64_t i = 0; i < std::min<int64_t>(20, n.test); ++i) t.shown.push_back(i);
  t.logistic_pca = {o.hidden.back()};
  if (o.hidden.back() != 18) {  // the paper's other comparisons
    t.more_pca = {18};
    t.logistic_pca.push_back(18);
  }
  return run_autoencoder(o, t);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Deep autoencoder on synthetic curves: RBM pretraining, unrolling, backprop fine-tuning, against PCA and logistic "
      "PCA"};
  AeOptions o;
  o.output = "out/autoencoder_curves";
  o.hidden = {400, 200, 100, 50, 25, 6};
  Sizes n;
  add_autoencoder_options(app, o, "", "sgd 0.01, adam 0.001", Unit::binary);
  add_logistic_pca_option(app, o, kPaperSweeps);
  show_ae_presets(app, kQuick, kPaper);
  app.add_option("--train", n.train, "training images (the paper: 20,000)")->capture_default_str()
      ->check(samples::kPositive);
  app.add_option("--valid", n.valid, "validation images, which choose the epoch")->capture_default_str()
      ->check(samples::kPositive);
  app.add_option("--test", n.test, "test images (the paper: 10,000)")->capture_default_str()
      ->check(samples::kPositive);
  return run_main(app, argc, argv, "autoencoder_curves", [&] {
    apply_pixel_presets(app, o, kQuick, kPaper, kPaperSweeps);  // a preset fills what the command line left out
    return run(o, n);
  });
}
