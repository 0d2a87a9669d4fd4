// autoencoder_faces: a deep autoencoder on faces (Hinton & Salakhutdinov
// 2006): 25 x 25 patches cut from the Olivetti faces by random rotations
// and zooms (io/face_patches.hpp), standardized, coded in 30 real numbers
// by a 625-2000-1000-500-30 autoencoder pretrained as a stack of RBMs (the
// first with gaussian visible units, the top one with linear hidden
// units) and fine-tuned by backprop, against PCA with 30 components.
//
//   patches --GRBM0--> 2000 --RBM1--> 1000 --RBM2--> 500 --RBM3--> 30 (linear)   greedy, CD-1
//   625 -> 2000 -> 1000 -> 500 -> 30 -> 500 -> 1000 -> 2000 -> 625 (linear output, squared error)
//
// People 0-24 give the training patches, 25-29 the validation patches and
// 30-39 the test patches, as in the paper (30 people for training, 10 for
// testing): the test faces are of people the net never saw. Each pixel is
// shifted to zero mean over the training patches and all are scaled by one
// number so that the average pixel variance is 1; errors are squared errors
// per patch in those units, summed over its 625 pixels (the paper's
// measure). The run itself is samples/autoencoder_parts.hpp.

#include <cmath>
#include <filesystem>
#include <memory>

#include "samples/autoencoder_parts.hpp"
#include "samples/faces.hpp"

namespace {

using namespace ebm;
using namespace ebm::samples;

constexpr AePreset kQuick{.pretrain_epochs = 2, .finetune_epochs = 5, .finetune_lr_decay = 1.0f};
constexpr AePreset kPaper{.pretrain_epochs = 10, .finetune_epochs = 25, .finetune_lr_decay = 0.95f};
constexpr int64_t kQuickPerImage = 50, kPaperPerImage = 414;
constexpr float kPaperWeightDecay = 0.003f;

void apply_preset(const CLI::App& app, AeOptions& o, int64_t& per_image) {
  auto unset = [&](const char* flag) { return app.count(flag) == 0; };
  if (o.preset == "quick") {
    if (unset("--per-image")) per_image = kQuickPerImage;
    apply_ae_preset(app, o, kQuick);
  } else if (o.preset == "paper") {
    if (unset("--per-image")) per_image = kPaperPerImage;
    apply_ae_preset(app, o, kPaper);
    // Without it the net fits the 25 training people far better than the
    // others (README, Results): 152.43 on the test people against 146.99.
    if (unset("--finetune-weight-decay")) o.finetune_weight_decay = kPaperWeightDecay;
  } else {
    throw Error("--preset '{}': expected quick or paper", o.preset);
  }
  check_autoencoder_options(app, o, 625, Unit::gaussian);
}

int run(const AeOptions& o, int64_t per_image) {
  const auto dir = find_faces(o.data);
  const io::ImageSet faces = load_faces(dir);
  const io::PatchConfig pc{.per_image = per_image, .seed = o.data_seed};
  auto train = std::make_shared<const io::FacePatches>(faces, io::images_with_labels(faces, 0, 25), pc);
  auto valid = std::make_shared<const io::FacePatches>(faces, io::images_with_labels(faces, 25, 30), pc);
  auto test = std::make_shared<const io::FacePatches>(faces, io::images_with_labels(faces, 30, 40), pc);
  if (train->count() == 0 || valid->count() == 0 || test->count() == 0)
    throw Error("{}: expected the 40 people of the Olivetti faces (labels 0-39)", dir.string());
  auto st = std::make_shared<const Standardize>(fit_standardize(*train));
  AeTask t;
  t.program = "autoencoder_faces";
  t.data_name = "patches";
  t.run_settings = {{"--per-image", std::to_string(per_image)}};
  t.train = standardized(train, st);
  t.valid = standardized(valid, st);
  t.test = standardized(test, st);
  t.data_unit = Unit::gaussian;
  t.finetune_lr_sgd = 1e-3f;
  t.finetune_lr_adam = 1e-4f;
  t.side = 25;
  t.contrast = io::GridOptions::Contrast::global;
  // Pictured: two patches of each test person, of two of their faces.
  const std::vector<int64_t> test_faces = io::images_with_labels(faces, 30, 40);
  for (int person = 30; person < 40; ++person) {
    std::vector<int64_t> theirs;  // positions in test_faces
    for (size_t j = 0; j < test_faces.size(); ++j)
      if (faces.labels[static_cast<size_t>(test_faces[j])] == person) theirs.push_back(static_cast<int64_t>(j));
    for (size_t v = 0; v < std::min<size_t>(per_image > 1 ? 2 : 1, theirs.size()); ++v)
      t.shown.push_back(theirs[v * (theirs.size() / 2)] * per_image + static_cast<int64_t>(v));
  }
  return run_autoencoder(o, t);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Deep autoencoder on Olivetti face patches: RBM pretraining, unrolling, backprop fine-tuning, against PCA"};
  AeOptions o;
  o.output = "out/autoencoder_faces";
  o.hidden = {2000, 1000, 500, 30};
  // The binary layers above the gaussian one learn from features that
  // barely vary; at MNIST's 0.1 they run away (reconstructions worse than
  // the mean's), at 0.01 they do not.
  o.pretrain_lr = 0.01f;
  int64_t per_image = 414;
  add_autoencoder_options(app, o, "Olivetti IDX files (default: ../shared/data/olivetti)", "sgd 0.001, adam 0.0001",
                          Unit::gaussian);
  app.add_option("--per-image", per_image, "patches cut from each face (the paper: 414, 165,600 in all)")
      ->check(samples::kPatchesPerFace);
  show_ae_presets(app, kQuick, kPaper);
  show_preset_default(app, "--per-image", std::to_string(kQuickPerImage), std::to_string(kPaperPerImage));
  show_preset_default(app, "--finetune-weight-decay", "0", fmt::format("{}", kPaperWeightDecay));
  return run_main(app, argc, argv, "autoencoder_faces", [&] {
    apply_preset(app, o, per_image);
    return run(o, per_image);
  });
}
