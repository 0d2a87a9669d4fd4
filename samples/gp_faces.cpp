// gp_faces: DBN features for Gaussian-process regression (Salakhutdinov &
// Hinton 2007): predict the angle a face was turned by, from 1,000
// labelled examples and many unlabelled ones.
//
// The data: each Olivetti face turned by a random angle in [-90, 90]
// degrees, cropped about its centre (a square of 64 / zoom pixels) and
// subsampled to 28 x 28 (io/face_patches.hpp). People 0-29 give the
// 12,000 training patches (40 per face), people 30-39 the 1,000 test
// patches (10 per face), as in the paper: the test faces are of people the
// models never saw. 1,000 training patches drawn at random keep their
// angle; the DBN learns from all 12,000 without one.
//
//   1. a GP on the pixels                   theta learned on the labelled patches
//   2. a DBN 784-1000-1000-1000             greedy CD-1 pretraining on all training patches
//                                           (gaussian visible units on standardized pixels)
//   3. a GP on its top-level features       the recognition pass's probabilities
//   4. the DBN's kernel fine-tuned          backprop of the GP's -log p(y | features)
//                                           through the net (the gp_nll op), theta with it;
//                                           Adam, or conjugate gradients (--optimizer cg);
//                                           --ard: a length scale per feature
//   --baseline: step 4 from a random start, the same budget
//
// The errors are root mean squared errors of the predictive means, in
// degrees, on the test patches (the paper: 16.3 on pixels, 11.2 on the
// greedy DBN's features, 6.4 fine-tuned). Nothing is chosen by the test
// patches: the labelled patches of the last --validation-people training
// people are left out of fine-tuning and choose the step it ends at; the
// test error recorded along the way (finetune.csv) is drawn, never used.

#include <algorithm>
#include <memory>
#include <numeric>
#include <utility>

#include "samples/faces.hpp"
#include "samples/gp_parts.hpp"

namespace {

using namespace ebm;
using namespace ebm::samples;

struct Options {
  std::string data, output = "out/gp_faces", preset = "quick", profile, method = "cd1";
  int64_t profile_events = static_cast<int64_t>(ExecutorOptions::kDefaultProfileEvents);
  std::vector<int64_t> hidden{1000, 1000, 1000};
  std::vector<int> pretrain_epochs{5};
  int64_t labelled = 1000, validation_people = 6, per_image = 40, test_per_image = 10, batch = 100;
  float zoom = 1.5f, data_lr = 0.001f, pretrain_lr = 0.01f, momentum = 0.5f, weight_decay = 2e-4f;
  int threads = 0;
  GpKernelOptions k;
  uint64_t seed = 1, data_seed = 1;
  bool resume = false, mean_field = true, ard = false;
};

void add_options(CLI::App& app, Options& o) {
  app.add_option("--preset", o.preset, "quick (minutes) or paper (the full reproduction)")->capture_default_str();
  app.add_option("--data", o.data, "folder with the Olivetti IDX files (default: ../shared/data/olivetti)");
  app.add_option("--output", o.output, "folder for checkpoints, pictures and metrics")->capture_default_str();
  app.add_option("--hidden", o.hidden, "the DBN's hidden layer sizes, bottom up; the last gives the GP's features")
      ->capture_default_str()->delimiter(',')->check(kPositive);
  app.add_option("--pretrain-epochs", o.pretrain_epochs, "CD epochs per layer (one value, or one per layer)")
      ->delimiter(',')->check(kNonNegative);
  app.add_option("--method", o.method, "pretraining: cd1, cdK (e.g. cd3), pcd or pcdK")->capture_default_str();
  app.add_option("--data-lr", o.data_lr, "pretraining learning rate of the first RBM (gaussian visible units)")
      ->capture_default_str()->check(kPositive);
  app.add_option("--pretrain-lr", o.pretrain_lr, "pretraining learning rate of the RBMs above it")
      ->capture_default_str()->check(kPositive);
  app.add_option("--momentum", o.momentum, "pretraining momentum")->capture_default_str()->check(kFraction);
  app.add_option("--weight-decay", o.weight_decay, "pretraining L2 penalty on W")->capture_default_str()
      ->check(kNonNegative);
  app.add_option("--mean-field", o.mean_field, "CD's last visible step uses E[v|h] (true) or a sample (false)")
      ->capture_default_str();
  app.add_option("--batch", o.batch, "pretraining mini-batch size")->capture_default_str()->check(kPositive);
  app.add_option("--labelled", o.labelled,
                 "training patches that keep their angle (the paper: 100, 500 or 1000): 2 to the training people's "
                 "patches (--per-image each)")
      ->capture_default_str()->check(kPositive);
  app.add_option("--validation-people", o.validation_people,
                 "the labelled patches of the last N training people (of 0-29) are not fitted while fine-tuning: "
                 "they choose the step it ends at")
      ->capture_default_str()->check(kNonNegative);
  app.add_option("--per-image", o.per_image, "training patches per face of people 0-29 (the paper: 40, 12,000 in all)")
      ->capture_default_str()->check(kPatchesPerFace);
  app.add_option("--test-per-image", o.test_per_image, "test patches per face of people 30-39 (the paper: 10)")
      ->capture_default_str()->check(kPatchesPerFace);
  app.add_option("--zoom", o.zoom, "a patch covers 64 / zoom pixels of the face about its centre (at least 1.42 keeps "
                                   "every turned patch inside the image)")
      ->capture_default_str()
      ->check(samples::number_check([](double v) { return v >= 1.0 && v <= 16.0; },
                                    "1 (the whole face) to 16 (4 of its pixels across)", "[1,16]"));
  add_kernel_options(app, o.k, ", as the paper fine-tuned");
  app.add_flag("--ard", o.ard,
               "fine-tune an ARD kernel: a length scale per feature, learned with the other hyper-parameters "
               "(starting spherical)");
  app.add_option("--seed", o.seed, "seed of every random draw of the models")->capture_default_str()
      ->check(samples::kNonNegative);
  app.add_option("--data-seed", o.data_seed, "seed of the patches' angles, the labelled draw and the shuffles")
      ->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--threads", o.threads, "worker threads (0: all cores)")->capture_default_str()->check(kThreads);
  app.add_flag("--resume", o.resume, "continue from the checkpoints in --output");
  app.add_option("--profile", o.profile,
                 "write a Chrome trace of the whole run to FILE, and a timeline of the last steps beside it");
  add_profile_events(app, o.profile_events);
}

// What a preset gives the options the command line leaves out.
struct Preset {
  int pretrain_epochs, finetune_steps;
};
constexpr Preset kQuick{5, 100}, kPaper{50, 300};

void apply_preset(const CLI::App& app, Options& o) {
  auto unset = [&](const char* flag) { return app.count(flag) == 0; };
  if (o.preset == "quick") {
    if (unset("--pretrain-epochs")) o.pretrain_epochs = {kQuick.pretrain_epochs};
    if (unset("--finetune-steps")) o.k.finetune_steps = kQuick.finetune_steps;
  } else if (o.preset == "paper") {
    if (unset("--pretrain-epochs")) o.pretrain_epochs = {kPaper.pretrain_epochs};
    if (unset("--finetune-steps")) o.k.finetune_steps = kPaper.finetune_steps;
  } else {
    throw Error("--preset '{}': expected quick or paper", o.preset);
  }
  one_per_layer(o.pretrain_epochs, o.hidden.size(), "--pretrain-epochs");
  check_pretraining_given(app, o.pretrain_epochs);
  if (app.count("--pretrain-lr") > 0 && o.hidden.size() < 2)
    throw Error("--pretrain-lr: the only RBM is the first, which takes --data-lr; expected two or more --hidden layers");
  if (o.validation_people > 29)
    throw Error("--validation-people {}: expected at most 29 of the 30 training people", o.validation_people);
  if (o.labelled < 2 || o.labelled > 300 * o.per_image)
    throw Error("--labelled {}: expected 2 to the {} training patches (300 faces x --per-image {})", o.labelled,
                300 * o.per_image, o.per_image);
  check_kernel_options(app, o.k, {"--ard", "--validation-people"});
  CdConfig method_check;
  parse_cd_method(o.method, method_check);
}

const GpTask kAngle{.unit = "degrees"};

GpFinetune finetune_options(const Options& o) {
  return {.output = o.output, .steps = o.k.finetune_steps, .eval_every = o.k.eval_every, .gp_steps = o.k.gp_steps,
          .run_settings = {{"--labelled", std::to_string(o.labelled)},
                           {"--validation-people", std::to_string(o.validation_people)}}};
}

void write_pictures(const Options& o, const Labelled& d, const std::vector<std::pair<std::string, const GpResult*>>& methods,
                    const std::vector<float>& shown) {
  std::vector<io::Panel> panels;
  // With no step nothing was fine-tuned: "fine-tuned" would be the kernel at
  // its start (the DBN's features under the fitter's first hyper-parameters).
  const bool tuned = o.k.finetune_steps > 0;
  for (const auto& [label, r] : methods) {  // a panel each: their clouds would hide one another
    if (!tuned && label == "fine-tuned") continue;
    io::Panel scatter{fmt::format("{}: test RMSE {:.1f}", label, r->score), "true angle (degrees)",
                      "predicted angle (degrees)"};
    io::Series s{.label = "test patches", .points_only = true};
    for (size_t i = 0; i < d.test_y.size(); ++i) s.x.push_back(d.test_y[i]), s.y.push_back(r->predicted[i]);
    scatter.series.push_back(std::move(s));
    scatter.series.push_back({.label = "exact", .x = {-90, 90}, .y = {-90, 90}, .dashed = true});
    panels.push_back(std::move(scatter));
  }
  if (tuned) {
    std::vector<std::pair<std::string, const GpResult*>> fixed;
    for (const auto& m : methods)
      if (m.first == "pixels" || m.first == "DBN features") fixed.push_back(m);
    panels.push_back(finetune_panel(kAngle, finetune_options(o), o.validation_people > 0, o.k.baseline, fixed));
  }
  io::write_svg_plot(o.output + "/orientation.svg", panels, "gp_faces: face orientation from 28 x 28 patches");
  io::write_png_grid(o.output + "/patches.png", shown, static_cast<int64_t>(shown.size()) / d.dim, 28, 28,
                     {.columns = 10, .upscale = 2, .contrast = io::GridOptions::Contrast::global});
}

int run(const Options& o) {
  check_file_folder("--profile", o.profile);
  const io::ImageSet faces = load_faces(find_faces(o.data));
  const io::PatchConfig pc{.size = 28, .per_image = o.per_image, .min_zoom = o.zoom, .max_zoom = o.zoom, .seed = o.data_seed};
  io::PatchConfig test_pc = pc, valid_pc = pc;
  test_pc.per_image = o.test_per_image;
  valid_pc.per_image = 2;
  valid_pc.seed = o.data_seed + 1000;  // other angles of the training faces: the pretraining's monitor
  auto train = std::make_shared<const io::FacePatches>(faces, io::images_with_labels(faces, 0, 30), pc);
  auto valid = std::make_shared<const io::FacePatches>(faces, io::images_with_labels(faces, 0, 30), valid_pc);
  auto test = std::make_shared<const io::FacePatches>(faces, io::images_with_labels(faces, 30, 40), test_pc);
  if (train->count() == 0 || test->count() == 0)
    throw Error("the Olivetti faces: expected the 40 people of the Olivetti faces (labels 0-39)");
  check_batch(o.batch, train->count(), "patches");
  make_output_dir(o.output);
  remove_skipped_tables(o.output, o.resume, o.k);
  auto st = std::make_shared<const Standardize>(fit_standardize(*train));
  const DataSource train_src = standardized(train, st), test_src = standardized(test, st);

  Labelled d;
  d.dim = train->dim();
  std::vector<int64_t> lab = io::shuffled_indices(train->count(), o.data_seed, 7);
  lab.resize(static_cast<size_t>(o.labelled));
  const int first_validating = 30 - static_cast<int>(o.validation_people);
  auto person = [&](int64_t i) { return faces.labels[static_cast<size_t>(train->image(i))]; };
  std::stable_partition(lab.begin(), lab.end(), [&](int64_t i) { return person(i) < first_validating; });
  d.fitted = std::count_if(lab.begin(), lab.end(), [&](int64_t i) { return person(i) < first_validating; });
  if (d.fitted < 2)
    throw Error("--validation-people {}: {} of the {} labelled patches are left to fit; expected at least 2",
                o.validation_people, d.fitted, o.labelled);
  if (o.validation_people > 0 && d.fitted == o.labelled)
    throw Error("--validation-people {}: none of the {} labelled patches is of people {}-29; expected more "
                "--labelled, or --validation-people 0 (then fine-tuning ends at its last step)",
                o.validation_people, o.labelled, first_validating);
  d.x = rows_of(train_src, lab);
  for (int64_t i : lab) d.y.push_back(static_cast<float>(train->angle(i)));
  d.test_x = all_rows(test_src);
  for (int64_t i = 0; i < test->count(); ++i) d.test_y.push_back(static_cast<float>(test->angle(i)));

  std::vector<int64_t> layers{d.dim};
  layers.insert(layers.end(), o.hidden.begin(), o.hidden.end());
  fmt::print("gp_faces: preset {}, {} training patches ({} with their angle{}), {} test patches of other people; "
             "DBN {}\n",
             o.preset, train->count(), o.labelled,
             o.validation_people == 0
                 ? std::string()
                 : fmt::format(": {} to fine-tune on, {} of people {}-29 to validate", d.fitted,
                               o.labelled - d.fitted, first_validating),
             test->count(), detail::layer_string(layers));
  Summary sum;

  Progress pbar("GP on pixels", 1);
  const GpResult pixels = gp_on(kAngle, d.x, d.y, d.test_x, d.test_y, d.dim, o.k.gp_steps);
  pbar.update(1, kAngle.score("test", pixels.score));
  sum.add("GP on pixels", pbar.seconds(), fmt::format("{} ({})", kAngle.score("test", pixels.score), hyper_string(pixels.hyper)));
  result("pixels_test_rmse_degrees", fmt::format("{:.2f}", pixels.score));

  Graph g;
  Dbn dbn = Dbn::make(g, "dbn", {.layers = layers, .seed = o.seed, .visible_unit = Unit::gaussian});
  Executor ex(g, {.threads = o.threads, .seed = o.seed, .profile = !o.profile.empty(),
                  .profile_events = static_cast<size_t>(o.profile_events)});
  samples::say_if_nothing_to_resume("gp_faces", o.resume, o.output);
  AeOptions ae;  // pretrain_stack's options
  ae.output = o.output;
  ae.method = o.method;
  ae.hidden = o.hidden;
  ae.pretrain_epochs = o.pretrain_epochs;
  ae.batch = o.batch;
  ae.pretrain_lr = o.pretrain_lr;
  ae.data_lr = o.data_lr;
  ae.momentum = o.momentum;
  ae.weight_decay = o.weight_decay;
  ae.mean_field = o.mean_field;
  ae.data_seed = o.data_seed;
  ae.resume = o.resume;
  AeTask task;
  task.train = train_src;
  task.valid = standardized(valid, st);
  task.data_unit = Unit::gaussian;
  task.run_settings = {{"--per-image", std::to_string(o.per_image)}, {"--zoom", fmt::format("{}", o.zoom)}};
  const bool resume = pretrain_stack(dbn, ex, ae, task, sum);  // false once a layer trained: the kernel starts afresh

  const DeepKernelConfig kc{.layers = layers, .points = d.fitted, .adam = {.lr = o.k.finetune_lr},
                            .hyper_adam = {.lr = o.k.hyper_lr}, .ard = o.ard, .cg = o.k.optimizer == "cg",
                            .seed = o.seed + 100};
  DeepKernel kernel = DeepKernel::make(g, "kernel", kc);
  kernel.init_from(dbn);
  const auto [greedy, tuned] = finetune_kernel(kernel, ex, d, kAngle, finetune_options(o), "finetune", resume, sum);
  result("dbn_test_rmse_degrees", fmt::format("{:.2f}", greedy.score));
  if (o.k.finetune_steps > 0) result("finetuned_test_rmse_degrees", fmt::format("{:.2f}", tuned.score));
  std::vector<std::pair<std::string, const GpResult*>> methods{
      {"pixels", &pixels}, {"DBN features", &greedy}, {"fine-tuned", &tuned}};
  GpResult scratch;
  if (o.k.baseline) {
    DeepKernelConfig bc = kc;
    bc.seed = o.seed + 200;
    DeepKernel random_start = DeepKernel::make(g, "baseline", bc);
    scratch = finetune_kernel(random_start, ex, d, kAngle, finetune_options(o), "baseline", o.resume, sum).second;
    result("random_start_test_rmse_degrees", fmt::format("{:.2f}", scratch.score));
    methods.emplace_back("random start", &scratch);
  }

  Csv pred(o.output + "/predictions.csv",
           std::string("patch,person,angle") + (o.k.baseline ? ",pixels,dbn,finetuned,random_start" : ",pixels,dbn,finetuned"),
           false);
  for (size_t i = 0; i < d.test_y.size(); ++i) {
    std::string row = fmt::format("{},{},{:.3f}", i, faces.labels[static_cast<size_t>(test->image(static_cast<int64_t>(i)))],
                                  d.test_y[i]);
    for (const auto& m : methods) row += fmt::format(",{:.3f}", m.second->predicted[i]);
    pred.row("{}", row);
  }
  // Pictured: 30 test patches in order of their angle, from -90 to 90.
  std::vector<int64_t> order(static_cast<size_t>(test->count()));
  std::iota(order.begin(), order.end(), int64_t{0});
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return d.test_y[static_cast<size_t>(a)] < d.test_y[static_cast<size_t>(b)]; });
  std::vector<int64_t> picked;
  for (int k = 0; k < 30 && !order.empty(); ++k) picked.push_back(order[static_cast<size_t>(k) * order.size() / 30]);
  draw_curves("gp_faces", [&] { write_pictures(o, d, methods, rows_of(test_src, picked)); });
  return finish(sum, ex, o.profile);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"DBN features for Gaussian-process regression: the orientation of Olivetti faces (Salakhutdinov & "
               "Hinton 2007)"};
  Options o;
  add_options(app, o);
  show_preset_default(app, "--pretrain-epochs", std::to_string(kQuick.pretrain_epochs),
                      std::to_string(kPaper.pretrain_epochs));
  show_preset_default(app, "--finetune-steps", std::to_string(kQuick.finetune_steps),
                      std::to_string(kPaper.finetune_steps));
  return run_main(app, argc, argv, "gp_faces", [&] {
    apply_preset(app, o);
    return run(o);
  });
}
