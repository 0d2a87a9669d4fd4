// gp_mnist: DBN features for Gaussian processes on handwritten digits
// (Salakhutdinov & Hinton 2007): from a few labelled MNIST digits and many
// unlabelled ones, tell odd digits from even ones (--task parity, the
// default) or two digits apart (--task pair, --digits 4,9), by a GP
// classifier (Laplace's approximation to its logistic likelihood), or read
// the value a digit stands for (--task magnitude: GP regression of 0-9).
//
// The data: the first 50,000 MNIST training images are the pretraining set
// and the pool the --labelled points are drawn from; the last 10,000 are
// held out: the pretraining's monitor, and the pool of the --validation
// labelled points that choose the fine-tuning's step by their log loss (or
// RMSE). Every reported GP conditions on the --labelled points alone. The
// test set is the MNIST test images of the task's digits; nothing is
// chosen by it.
//
//   1. a GP on the pixels                   theta learned on the labelled digits
//   2. a DBN 784-1000-1000-1000             greedy CD-1 pretraining on all 50,000 images, unlabelled
//   3. a GP on its top-level features       the recognition pass's probabilities
//   4. the DBN's kernel fine-tuned          backprop of the GP's -log p(y | features) through the net
//                                           (gp_class_nll or gp_nll), theta with it; Adam, or conjugate
//                                           gradients (--optimizer cg)
//   --baseline: step 4 from a random start, the same budget
//
// Scores: the percentage of test digits classified wrong, or the RMSE of
// the predicted values. Writes to --output: pretrain/ and finetune/
// checkpoints, finetune.csv (and baseline.csv), predictions.csv,
// gp_mnist.svg (the fine-tuning curve beside the fixed kernels) and
// mistakes.png (the test digits the fine-tuned kernel gets wrong, or
// furthest off); prints a summary and key=value result lines.

#include <algorithm>
#include <filesystem>
#include <memory>
#include <numeric>

#include "samples/gp_parts.hpp"

namespace {

using namespace ebm;
using namespace ebm::samples;

constexpr int64_t kHeldOut = 10000;  // the last training images: the monitor's and the validation's pool

struct Options {
  std::string data, output = "out/gp_mnist", preset = "quick", profile, method = "cd1", task = "parity";
  int64_t profile_events = static_cast<int64_t>(ExecutorOptions::kDefaultProfileEvents);
  std::vector<int64_t> hidden{1000, 1000, 1000};
  std::vector<int> pretrain_epochs{2}, digits{4, 9};
  int64_t labelled = 1000, validation = 1000, batch = 100;
  float pretrain_lr = 0.1f, momentum = 0.5f, weight_decay = 2e-4f;
  int threads = 0;
  GpKernelOptions k{.gp_steps = 100, .hyper_lr = 0.001f};
  uint64_t seed = 1, data_seed = 1;
  bool resume = false, mean_field = true;

  bool classify() const { return task != "magnitude"; }
};

void add_options(CLI::App& app, Options& o) {
  app.add_option("--preset", o.preset, "quick (minutes) or paper (the full run)")->capture_default_str();
  app.add_option("--data", o.data, "folder with the MNIST IDX files (default: data/mnist)");
  app.add_option("--output", o.output, "folder for checkpoints, pictures and metrics")->capture_default_str();
  app.add_option("--task", o.task,
                 "parity (odd digits, +1, against even ones, -1), pair (two digits apart, --digits) or magnitude "
                 "(the value 0-9 a digit stands for, by regression)")
      ->capture_default_str();
  app.add_option("--digits", o.digits, "--task pair: the two digits told apart (the first is the +1 class)")
      ->capture_default_str()->delimiter(',')
      ->check(samples::number_check([](double v) { return v >= 0 && v <= 9 && v == std::floor(v); }, "a digit 0-9",
                                    "[0,9]"));
  app.add_option("--hidden", o.hidden, "the DBN's hidden layer sizes, bottom up; the last gives the GP's features")
      ->capture_default_str()->delimiter(',')->check(kPositive);
  app.add_option("--pretrain-epochs", o.pretrain_epochs, "CD epochs per layer (one value, or one per layer)")
      ->delimiter(',')->check(kNonNegative);
  app.add_option("--method", o.method, "pretraining: cd1, cdK (e.g. cd3), pcd or pcdK")->capture_default_str();
  app.add_option("--pretrain-lr", o.pretrain_lr, "pretraining learning rate")->capture_default_str()->check(kPositive);
  app.add_option("--momentum", o.momentum, "pretraining momentum")->capture_default_str()->check(kFraction);
  app.add_option("--weight-decay", o.weight_decay, "pretraining L2 penalty on W")->capture_default_str()
      ->check(kNonNegative);
  app.add_option("--mean-field", o.mean_field, "CD's last visible step uses E[v|h] (true) or a sample (false)")
      ->capture_default_str();
  app.add_option("--batch", o.batch, "pretraining mini-batch size")->capture_default_str()->check(kPositive);
  app.add_option("--labelled", o.labelled,
                 "labelled digits the GP conditions on and fine-tuning fits, drawn from the first 50,000 training "
                 "images (of the task's digits): 2 to 10,000")
      ->capture_default_str()->check(kPositive);
  app.add_option("--validation", o.validation,
                 "labelled digits drawn from the last 10,000 training images (not, as in dbn_mnist, the size of "
                 "that split): not fitted while fine-tuning, nor conditioned on, they choose the step it ends at "
                 "(0: the last step)")
      ->capture_default_str()->check(kNonNegative);
  add_kernel_options(app, o.k);
  app.add_option("--seed", o.seed, "seed of every random draw of the models")->capture_default_str()
      ->check(samples::kNonNegative);
  app.add_option("--data-seed", o.data_seed, "seed of the labelled draws and the pretraining's shuffles")
      ->capture_default_str()->check(samples::kNonNegative);
  app.add_option("--threads", o.threads, "worker threads (0: all cores)")->capture_default_str()->check(kThreads);
  app.add_flag("--resume", o.resume, "continue from the checkpoints in --output");
  app.add_option("--profile", o.profile,
                 "write a Chrome trace of the whole run to FILE, and a timeline of the last steps beside it");
  add_profile_events(app, o.profile_events);
}

// What a preset gives the options the command line leaves out.
struct Preset {
  int pretrain_epochs, finetune_steps, gp_steps;
};
constexpr Preset kQuick{2, 100, 100}, kPaper{30, 400, 200};

void apply_preset(const CLI::App& app, Options& o) {
  auto unset = [&](const char* flag) { return app.count(flag) == 0; };
  if (o.preset == "quick") {
    if (unset("--pretrain-epochs")) o.pretrain_epochs = {kQuick.pretrain_epochs};
    if (unset("--finetune-steps")) o.k.finetune_steps = kQuick.finetune_steps;
    if (unset("--gp-steps")) o.k.gp_steps = kQuick.gp_steps;
  } else if (o.preset == "paper") {
    if (unset("--pretrain-epochs")) o.pretrain_epochs = {kPaper.pretrain_epochs};
    if (unset("--finetune-steps")) o.k.finetune_steps = kPaper.finetune_steps;
    if (unset("--gp-steps")) o.k.gp_steps = kPaper.gp_steps;
  } else {
    throw Error("--preset '{}': expected quick or paper", o.preset);
  }
  if (o.task != "parity" && o.task != "pair" && o.task != "magnitude")
    throw Error("--task '{}': expected parity (odd against even), pair (two digits apart) or magnitude (the value a "
                "digit stands for)", o.task);
  if (o.task == "pair" && (o.digits.size() != 2 || o.digits[0] == o.digits[1]))
    throw Error("--digits: {} given; expected two different digits, such as 4,9", fmt::join(o.digits, ","));
  if (o.task != "pair" && app.count("--digits") > 0)
    throw Error("--digits: it chooses --task pair's two digits; --task {} takes all ten", o.task);
  one_per_layer(o.pretrain_epochs, o.hidden.size(), "--pretrain-epochs");
  check_pretraining_given(app, o.pretrain_epochs);
  // The GPs hold several n x n matrices in double (0.8 GB each at 10,000).
  if (o.labelled < 2 || o.labelled > 10000)
    throw Error("--labelled {}: expected 2 to 10,000 digits to fit (a GP's n x n matrices in double)", o.labelled);
  if (o.validation > 10000)
    throw Error("--validation {}: expected at most the 10,000 held-out training images", o.validation);
  check_kernel_options(app, o.k, {"--validation"});
  CdConfig method_check;
  parse_cd_method(o.method, method_check);
}

// The task's target for a digit: +1 / -1 (odd / even, or the pair's first
// / second; a pair's other digits are not the task's), or its value.
struct Targets {
  const Options& o;
  bool wanted(int digit) const { return o.task != "pair" || digit == o.digits[0] || digit == o.digits[1]; }
  float of(int digit) const {
    if (o.task == "parity") return digit % 2 == 1 ? 1.0f : -1.0f;
    if (o.task == "pair") return digit == o.digits[0] ? 1.0f : -1.0f;
    return static_cast<float>(digit);
  }
};

// `count` of the task's images in set[first, first + n), drawn at random;
// refused, naming the flag, when there are fewer.
std::vector<int64_t> draw(const io::ImageSet& set, int64_t first, int64_t n, int64_t count, const Targets& t,
                          uint64_t seed, const char* flag) {
  std::vector<int64_t> picked;
  for (int64_t i : io::shuffled_indices(n, seed, 7))
    if (static_cast<int64_t>(picked.size()) < count && t.wanted(set.labels[static_cast<size_t>(first + i)]))
      picked.push_back(first + i);
  if (static_cast<int64_t>(picked.size()) < count)
    throw Error("{} {}: only {} of those {} training images are of the task's digits; expected at most that many",
                flag, count, picked.size(), n);
  return picked;
}

void write_pictures(const Options& o, const GpTask& task, const GpFinetune& ft, const Labelled& d,
                    const std::vector<float>& test_rows, const std::vector<int>& test_digit, const GpResult& tuned,
                    const std::vector<std::pair<std::string, const GpResult*>>& fixed) {
  // A picture this run does not draw must not be left from an earlier one.
  std::filesystem::remove(o.output + "/gp_mnist.svg");
  std::filesystem::remove(o.output + "/mistakes.png");
  if (o.k.finetune_steps > 0)
    io::write_svg_plot(o.output + "/gp_mnist.svg",
                       std::vector<io::Panel>{finetune_panel(task, ft, o.validation != 0, o.k.baseline, fixed)},
                       o.task == "parity" ? std::string("gp_mnist: odd digits against even ones")
                       : o.task == "pair" ? fmt::format("gp_mnist: {} against {}", o.digits[0], o.digits[1])
                                          : std::string("gp_mnist: the value a digit stands for"));
  // The test digits the fine-tuned kernel gets wrong (or, for values, the
  // 50 furthest off), worst first.
  std::vector<int64_t> order(d.test_y.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  auto miss = [&](int64_t i) {
    const double p = tuned.predicted[static_cast<size_t>(i)], y = d.test_y[static_cast<size_t>(i)];
    return o.classify() ? (y > 0 ? 1 - p : p) : std::abs(p - y);
  };
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return miss(a) > miss(b); });
  std::vector<float> shown;
  std::vector<std::string> captions;  // the digit, then p(+1) ("4:.93") or the value predicted ("4>6.3")
  for (int64_t i : order) {
    if (shown.size() >= static_cast<size_t>(50 * d.dim) || (o.classify() && miss(i) < 0.5)) break;
    shown.insert(shown.end(), test_rows.begin() + i * d.dim, test_rows.begin() + (i + 1) * d.dim);
    const int digit = test_digit[static_cast<size_t>(i)];
    const double p = tuned.predicted[static_cast<size_t>(i)];
    std::string shown = fmt::format("{:.2f}", p);  // ".93" for 0.93, "1.00" for what rounds up to it
    if (shown.starts_with("0.")) shown.erase(0, 1);
    captions.push_back(o.classify() ? fmt::format("{}:{}", digit, shown) : fmt::format("{}>{:.1f}", digit, p));
  }
  if (!shown.empty())
    io::write_png_grid(o.output + "/mistakes.png", shown, static_cast<int64_t>(shown.size()) / d.dim, 28, 28,
                       {.columns = 10, .upscale = 2, .captions = captions});
}

int run(const Options& o) {
  check_file_folder("--profile", o.profile);
  const auto dir = find_data(o.data);
  const io::ImageSet all = io::load_mnist(dir, "train"), test_set = io::load_mnist(dir, "t10k");
  if (all.count <= kHeldOut) throw Error("MNIST's training images: {}; expected 60,000", all.count);
  const int64_t pool = all.count - kHeldOut;
  check_batch(o.batch, pool, "images");
  make_output_dir(o.output);
  remove_skipped_tables(o.output, o.resume, o.k);
  const io::ImageSet train = io::slice(all, 0, pool), held = io::slice(all, pool, kHeldOut);
  const DataSource all_src = image_source(all, io::Pixels::scaled, 0), test_src = image_source(test_set, io::Pixels::scaled, 0);
  const Targets t{o};
  const GpTask task{.classify = o.classify(), .unit = ""};

  Labelled d;
  d.dim = all_src.dim;
  std::vector<int64_t> lab = draw(all, 0, pool, o.labelled, t, o.data_seed, "--labelled");
  const int64_t validation = o.validation;
  const std::vector<int64_t> val = draw(all, pool, kHeldOut, validation, t, o.data_seed + 1, "--validation");
  lab.insert(lab.end(), val.begin(), val.end());
  d.fitted = o.labelled;
  d.condition_on_validation = false;
  d.x = rows_of(all_src, lab);
  for (int64_t i : lab) d.y.push_back(t.of(all.labels[static_cast<size_t>(i)]));
  std::vector<int64_t> tested;
  for (int64_t i = 0; i < test_set.count; ++i)
    if (t.wanted(test_set.labels[static_cast<size_t>(i)])) tested.push_back(i);
  d.test_x = rows_of(test_src, tested);
  for (int64_t i : tested) d.test_y.push_back(t.of(test_set.labels[static_cast<size_t>(i)]));

  std::vector<int64_t> layers{d.dim};
  layers.insert(layers.end(), o.hidden.begin(), o.hidden.end());
  const bool pretrained = std::any_of(o.pretrain_epochs.begin(), o.pretrain_epochs.end(), [](int e) { return e > 0; });
  fmt::print("gp_mnist: preset {}, {}; {} labelled digits to fit, {}, {} test digits; DBN {} {}\n",
             o.preset,
             o.task == "parity" ? std::string("odd digits (+1) against even ones (-1)")
             : o.task == "pair" ? fmt::format("{} (+1) against {} (-1)", o.digits[0], o.digits[1])
                                : std::string("the value of each digit"),
             o.labelled,
             o.k.finetune_steps > 0 ? fmt::format("{} to validate the fine-tuning", validation)
                                    : std::string("no fine-tuning to validate"),
             tested.size(), detail::layer_string(layers),
             pretrained ? fmt::format("pretrained on {} unlabelled images", pool)
                        : std::string("not pretrained (--pretrain-epochs 0)"));
  Summary sum;

  Progress pbar("GP on pixels", 1);
  const GpResult pixels = gp_on(task, d.cond_x(), d.cond_y(), d.test_x, d.test_y, d.dim, o.k.gp_steps);
  pbar.update(1, task.score("test", pixels.score));
  sum.add("GP on pixels", pbar.seconds(), fmt::format("{} ({})", task.score("test", pixels.score), result_details(task, pixels)));
  const std::string key = o.classify() ? "test_error_pct" : "test_rmse";
  auto report = [&](const std::string& what, const GpResult& r) {
    result((what + "_" + key).c_str(), fmt::format("{:.2f}", r.score));
    if (o.classify()) result((what + "_test_log_loss").c_str(), fmt::format("{:.4f}", r.log_loss));
  };
  report("pixels", pixels);

  Graph g;
  Dbn dbn = Dbn::make(g, "dbn", {.layers = layers, .seed = o.seed});
  Executor ex(g, {.threads = o.threads, .seed = o.seed, .profile = !o.profile.empty(),
                  .profile_events = static_cast<size_t>(o.profile_events)});
  samples::say_if_nothing_to_resume("gp_mnist", o.resume, o.output);
  AeOptions ae;  // pretrain_stack's options
  ae.output = o.output;
  ae.method = o.method;
  ae.hidden = o.hidden;
  ae.pretrain_epochs = o.pretrain_epochs;
  ae.batch = o.batch;
  ae.pretrain_lr = o.pretrain_lr;
  ae.momentum = o.momentum;
  ae.weight_decay = o.weight_decay;
  ae.mean_field = o.mean_field;
  ae.data_seed = o.data_seed;
  ae.resume = o.resume;
  AeTask pre;
  pre.train = image_source(train, io::Pixels::scaled, 0);
  pre.valid = image_source(held, io::Pixels::scaled, 0);
  pre.data_means = io::pixel_means(train);
  const bool resume = pretrain_stack(dbn, ex, ae, pre, sum);  // false once a layer trained: the kernel starts afresh

  const GpFinetune ft{.output = o.output, .steps = o.k.finetune_steps, .eval_every = o.k.eval_every, .gp_steps = o.k.gp_steps,
                      .run_settings = {{"--task", o.task},
                                       {"--digits", o.task == "pair" ? fmt::format("{}", fmt::join(o.digits, ",")) : ""},
                                       {"--labelled", std::to_string(o.labelled)},
                                       {"--validation", std::to_string(validation)}}};
  const DeepKernelConfig kc{.layers = layers, .points = d.fitted, .adam = {.lr = o.k.finetune_lr},
                            .hyper_adam = {.lr = o.k.hyper_lr}, .classify = o.classify(), .cg = o.k.optimizer == "cg",
                            .seed = o.seed + 100};
  DeepKernel kernel = DeepKernel::make(g, "kernel", kc);
  kernel.init_from(dbn);
  const auto [greedy, tuned] = finetune_kernel(kernel, ex, d, task, ft, "finetune", resume, sum);
  report("dbn", greedy);
  if (o.k.finetune_steps > 0) report("finetuned", tuned);  // (with none, nothing was fine-tuned)
  std::vector<std::pair<std::string, const GpResult*>> methods{{"pixels", &pixels}, {"DBN features", &greedy}};
  std::vector<std::string> columns{"pixels", "dbn"};  // predictions.csv's, in methods' order
  if (o.k.finetune_steps > 0) {  // with none, the fine-tuned kernel is the DBN's
    methods.emplace_back("fine-tuned", &tuned);
    columns.emplace_back("finetuned");
  }
  GpResult scratch;
  if (o.k.baseline) {
    DeepKernelConfig bc = kc;
    bc.seed = o.seed + 200;
    DeepKernel random_start = DeepKernel::make(g, "baseline", bc);
    scratch = finetune_kernel(random_start, ex, d, task, ft, "baseline", o.resume, sum).second;
    report("random_start", scratch);
    methods.emplace_back("random start", &scratch);
    columns.emplace_back("random_start");
  }

  std::string header = o.classify() ? "test_index,digit,label" : "test_index,digit,value";
  for (const std::string& c : columns) header += (o.classify() ? ",p_" : ",") + c;
  Csv pred(o.output + "/predictions.csv", header, false);
  for (size_t i = 0; i < tested.size(); ++i) {
    std::string row = fmt::format("{},{},{}", tested[i], test_set.labels[static_cast<size_t>(tested[i])], d.test_y[i]);
    for (const auto& m : methods) row += fmt::format(",{:.4f}", m.second->predicted[i]);
    pred.row("{}", row);
  }
  std::vector<int> digits;  // each test digit's class, for the mistakes' captions
  for (int64_t i : tested) digits.push_back(test_set.labels[static_cast<size_t>(i)]);
  draw_curves("gp_mnist", [&] { write_pictures(o, task, ft, d, d.test_x, digits, tuned, {methods[0], methods[1]}); });
  return finish(sum, ex, o.profile);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"DBN features for Gaussian processes on MNIST digits: a GP classifier telling odd digits from even "
               "ones (or two digits apart), or GP regression of a digit's value (Salakhutdinov & Hinton 2007)"};
  Options o;
  add_options(app, o);
  show_preset_default(app, "--pretrain-epochs", std::to_string(kQuick.pretrain_epochs),
                      std::to_string(kPaper.pretrain_epochs));
  show_preset_default(app, "--finetune-steps", std::to_string(kQuick.finetune_steps),
                      std::to_string(kPaper.finetune_steps));
  show_preset_default(app, "--gp-steps", std::to_string(kQuick.gp_steps), std::to_string(kPaper.gp_steps));
  return run_main(app, argc, argv, "gp_mnist", [&] {
    apply_preset(app, o);
    return run(o);
  });
}
