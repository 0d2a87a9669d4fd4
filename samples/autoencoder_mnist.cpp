// autoencoder_mnist: a deep autoencoder on MNIST (Hinton & Salakhutdinov
// 2006). A stack of RBMs is pretrained greedily, the top one with linear
// (gaussian) hidden units so that the code is real-valued; the stack is
// unrolled into an encoder and a decoder and fine-tuned by backprop to
// reconstruct its input, against PCA and logistic PCA with as many
// components as the code.
//
//   pixels --RBM0--> 1000 --RBM1--> 500 --RBM2--> 250 --RBM3--> 30 (linear)   greedy, CD-1
//
//   784 -W0-> 1000 -W1-> 500 -W2-> 250 -W3-> 30 -W3'-> 250 -W2'-> 500 -W1'-> 1000 -W0'-> 784
//   `------------- encoder: recognition weights -----------'`-- decoder: generative weights --'
//                      untied, fine-tuned by backprop through autodiff (cross-entropy)
//
// Writes to --output: pretrain/ and finetune/ checkpoints (baseline/ with
// --baseline), reconstructions.png (test digits; the autoencoder's; the
// random start's with --baseline; PCA's; logistic PCA's), per-epoch CSV metrics and their
// curves (curves.svg); prints a summary table and key=value result lines.
// The error is the paper's: the squared reconstruction error per image,
// summed over the 784 pixels in [0, 1]. The run itself is
// samples/autoencoder_parts.hpp, shared with autoencoder_faces.

#include "samples/autoencoder_parts.hpp"

namespace {

using namespace ebm;
using namespace ebm::samples;

constexpr int kPaperSweeps = 100;  // logistic PCA's in the paper preset
constexpr AePreset kQuick{.pretrain_epochs = 2, .finetune_epochs = 5, .finetune_lr_decay = 1.0f};
constexpr AePreset kPaper{.pretrain_epochs = 20, .finetune_epochs = 200, .finetune_lr_decay = 0.99f};

int run(const AeOptions& o, int64_t validation) {
  const auto dir = find_data(o.data);
  const io::ImageSet all = io::load_mnist(dir, "train");
  if (validation >= all.count) throw Error("--validation {}: expected 1 .. {}", validation, all.count - 1);
  const io::ImageSet train = io::slice(all, 0, all.count - validation), valid = io::slice(all, all.count - validation, validation),
                     test = io::load_mnist(dir, "t10k");
  AeTask t;
  t.program = "autoencoder_mnist";
  t.data_name = "images";
  t.run_settings = {{"--validation", std::to_string(validation)}};
  t.train = image_source(train, io::Pixels::scaled, 0);
  t.valid = image_source(valid, io::Pixels::scaled, 0);
  t.test = image_source(test, io::Pixels::scaled, 0);
  t.data_means = io::pixel_means(train);
  t.logistic_pca = {o.hidden.back()};  // the paper's second baseline
  for (int digit = 0; digit < 10; ++digit)  // pictured: the first two test digits of each class
    for (int64_t i = 0, n = 0; i < test.count && n < 2; ++i)
      if (test.labels[static_cast<size_t>(i)] == digit) t.shown.push_back(i), ++n;
  return run_autoencoder(o, t);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Deep autoencoder on MNIST: RBM pretraining, unrolling, backprop fine-tuning, against PCA and logistic PCA"};
  AeOptions o;
  o.output = "out/autoencoder_mnist";
  o.hidden = {1000, 500, 250, 30};
  int64_t validation = 10000;
  add_autoencoder_options(app, o, "MNIST IDX files (default: data/mnist)", "sgd 0.01, adam 0.001", Unit::binary);
  add_logistic_pca_option(app, o, kPaperSweeps);
  show_ae_presets(app, kQuick, kPaper);
  app.add_option("--validation", validation, "last N training images held out to choose the epoch")
      ->capture_default_str()->check(samples::kPositive);
  return run_main(app, argc, argv, "autoencoder_mnist", [&] {
    apply_pixel_presets(app, o, kQuick, kPaper, kPaperSweeps);  // a preset fills what the command line left out
    return run(o, validation);
  });
}
