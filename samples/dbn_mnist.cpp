// dbn_mnist: the main job. A Deep Belief Network on MNIST: greedy layer-wise
// pretraining of a stack of RBMs, the variational bound as layers are added,
// samples from the model, and discriminative fine-tuning by backprop
// (Hinton & Salakhutdinov 2006), beside the same net trained from a random
// start with the same budget.
//
//   pixels --RBM0--> h1 --RBM1--> h2 --RBM2--> h3          (greedy, CD-k, bottom up)
//      \                                      |
//       `--W0,b0--> sigmoid --W1,b1--> sigmoid --W2,b2--> sigmoid --W,b--> softmax
//                         (unrolled, fine-tuned by backprop through autodiff)
//
// Writes to --output: pretrain/ and finetune/ checkpoints, filters.png,
// features.png, samples.png, misclassified.png, per-epoch CSV metrics
// (pretrain_layerN.csv, finetune.csv, ...) and their curves (curves.svg);
// prints a summary table and key=value result lines.

#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <tuple>
#include <utility>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "graph/functions.hpp"
#include "io/png.hpp"
#include "models/ais.hpp"
#include "models/dbn_bound.hpp"
#include "models/finetune.hpp"
#include "models/joint_fit.hpp"
#include "models/rbm_fit.hpp"
#include "samples/common.hpp"
#include "samples/lineage.hpp"
#include "samples/curves.hpp"
#include "samples/dbn_mnist_parts.hpp"
#include "samples/pretrain.hpp"
#include "samples/progress.hpp"
#include "samples/rbm_metrics.hpp"

namespace {

using namespace ebm;
using namespace ebm::samples;

// A bound as measured: its value and how far it may be off either way
// (half its log Z interval's width; inf when the interval is open below).
struct BoundReading {
  double nats = 0, err = 0;
};

// The bound on the test log-likelihood with RBM k on top (AIS for its log Z),
// and from the second layer on how far it moved from `below`, the bound with
// one layer fewer (which it becomes).
void report_bound(const Dbn& dbn, int k, const Executor& ex, const Data& d, const Options& o, Summary& sum,
                  std::optional<BoundReading>& below) {
  // dbn_bound measures it on a copy of the stack, with an executor of its
  // own: --bound leaves what the layers above train on as it was.
  DbnBoundConfig bc{.ais = {.runs = o.ais_runs, .seed = o.seed, .threads = o.threads}, .batch = o.batch,
                    .samples = o.bound_samples, .executor = ex.options()};
  bc.ais.scale_temperatures(o.ais_scale);
  warn_if_few_temperatures("dbn_mnist", bc.ais.temperatures());
  const int temperatures = bc.ais.temperatures();
  // The bar counts AIS's temperatures, and one more step for the test images' Q samples.
  Progress bar(fmt::format("bound with {} layer(s)", k + 1), temperatures + 1, true);
  const io::ImageSet test = io::slice(d.test, 0, std::min<int64_t>(o.bound_images, d.test.count));
  const DataSource images = image_source(test, io::Pixels::sampled, o.data_seed + 1000);
  bc.ais.on_progress = [&](int done, int) {
    bar.update(done, done < temperatures ? "AIS for the top RBM's log Z" : "Q samples of the test images");
  };
  const DbnBound z = dbn_bound(dbn, k, images, image_source(d.train, io::Pixels::sampled, o.data_seed), bc);
  const double b = z.nats;
  bar.update(temperatures + 1, fmt::format("{:.2f} nats (log Z {:.2f} +{:.2f}/-{:.2f})", b, z.log_z,
                                          z.log_z_high - z.log_z, z.log_z - z.log_z_low));
  const BoundReading now{b, z.err};
  const bool open_below = z.open_above();  // the runs' weights spread too widely for a lower end of log Z
  if (open_below)
    bar.warn(fmt::format("dbn_mnist: warning: the bound with {} layer(s): AIS's {} runs spread too widely for a lower "
                         "end of the top RBM's log Z, so the bound has no upper end and is not to be trusted (AIS then "
                         "tends to put log Z too low and the bound too high); more runs narrow it: --ais-runs {}",
                         k + 1, o.ais_runs, 4 * o.ais_runs));
  std::string change;
  if (below) {
    const double moved = b - below->nats;
    const bool within = std::abs(moved) <= now.err + below->err;  // (inf when either is open below)
    change = fmt::format(" ({} by {:.2f} on {} layer(s){})", moved >= 0 ? "up" : "down", std::abs(moved), k,
                         within ? ", within AIS's error bars" : "");
  }
  sum.add(fmt::format("bound, {} layer(s)", k + 1), bar.seconds(),
          fmt::format("{:.2f} nats{}{}", b, change, open_below ? "; open above: not to be trusted" : ""));
  result(fmt::format("bound_layers{}_nats", k + 1).c_str(), fmt::format("{:.2f}", b));
  result(fmt::format("bound_layers{}_err_nats", k + 1).c_str(), fmt::format("{:.2f}", now.err));
  if (below) result(fmt::format("bound_change_layers{}_nats", k + 1).c_str(), fmt::format("{:.2f}", b - below->nats));
  below = now;
}

// Warns once per fit (warned) of an epoch whose loss ran away
// (FinetuneEpoch::diverging).
void warn_diverging(const Progress& p, const std::string& who, const FinetuneEpoch& e, int64_t classes, float lr,
                    bool& warned) {
  if (!e.diverging) return;
  flag_diverging(p, who, e.epoch,
                 fmt::format("{}: warning: training is diverging: mean loss {:.3g} nats per image in epoch {}, over 10 "
                             "times a uniform guess's {:.2f}; a smaller --finetune-lr (this run starts at {:g}) usually "
                             "cures it",
                             who, e.train_loss, e.epoch, std::log(static_cast<double>(classes)), lr),
                 warned);
}

// Fine-tunes a fresh net made by `make` (from the DBN, or from scratch): on the
// training split with the validation split choosing the epoch; with --refit,
// again on all 60,000 images for that many epochs. Returns the test error.
// With `resume`, each of the two runs continues from its checkpoint; the
// refit only if the first run trained no epoch now (else it chose anew).
double finetune(const std::function<Classifier(const std::string&)>& make, Executor& ex, const Data& d,
                const Options& o, bool resume, const std::string& what, Summary& sum) {
  Classifier c = make(what);
  Finetuner ft(c, ex, {.epochs = o.finetune_epochs, .data_seed = o.data_seed, .lr_decay = o.finetune_lr_decay,
                       .checkpoint = o.output + "/" + what, .resume = resume,
                       .run_settings = {o.split_flag()}, .lr_name = "--finetune-lr",
                       .weight_decay_name = "--finetune-weight-decay"});
  const int resumed = ft.epochs_done();
  if (resumed < o.finetune_epochs) remove_checkpoint(o.output + "/" + what + "_refit");  // (Lineage)
  for (const std::string& n : ft.resume_notes()) fmt::print("{}\n", n);
  if (resumed > o.finetune_epochs)
    fmt::print("{}: its checkpoint holds {} epochs, more than the {} asked; it is used as it is\n", what, resumed,
               o.finetune_epochs);
  Progress bar(what, std::max(o.finetune_epochs, resumed));
  if (resumed > 0) bar.resumed(resumed);
  Csv csv(o.output + "/" + what + ".csv", "epoch,seconds,train_loss,valid_error_pct,best,diverging", resumed > 0);
  csv.keep_rows_through(resumed);  // rows past the checkpoint are written again
  bool warned = false;
  ft.fit(d.train, d.valid, [&](const FinetuneEpoch& e) {
    bar.update(e.epoch, fmt::format("loss {:.4g}  valid {:.2f}%{}", e.train_loss, e.valid_error, e.best ? " *" : ""));
    warn_diverging(bar, what, e, c.config.classes, o.finetune_lr, warned);
    csv.row("{},{:.3f},{:.5f},{:.3f},{:d},{:d}", e.epoch, e.seconds, e.train_loss, e.valid_error, static_cast<int>(e.best),
            static_cast<int>(e.diverging));
  });
  std::vector<int64_t> wrong;
  std::vector<int> given;
  double err = ft.error(d.test, &wrong, &given);
  sum.add(what, bar.seconds(), fmt::format("test error {:.2f}% (epoch {} chosen on validation)", err, ft.best_epoch()));
  if (o.refit && ft.best_epoch() > 0) {
    Classifier full = make(what + "_refit");
    Finetuner refit(full, ex, {.epochs = ft.best_epoch(), .data_seed = o.data_seed, .lr_decay = o.finetune_lr_decay,
                               .checkpoint = o.output + "/" + what + "_refit",
                               .resume = resume && resumed >= o.finetune_epochs,
                               .keep_best = false, .validate = false, .lr_name = "--finetune-lr"});
    for (const std::string& n : refit.resume_notes()) fmt::print("{}\n", n);
    Progress rbar(what + " refit on 60,000", ft.best_epoch());
    if (refit.epochs_done() > 0) rbar.resumed(std::min(refit.epochs_done(), ft.best_epoch()));
    bool refit_warned = false;
    Csv rcsv(o.output + "/" + what + "_refit.csv", "epoch,seconds,train_loss,diverging", refit.epochs_done() > 0);
    rcsv.keep_rows_through(refit.epochs_done());
    refit.fit(d.all, d.valid, [&](const FinetuneEpoch& e) {
      rbar.update(e.epoch, fmt::format("loss {:.4g}", e.train_loss));
      rcsv.row("{},{:.3f},{:.5f},{:d}", e.epoch, e.seconds, e.train_loss, static_cast<int>(e.diverging));
      warn_diverging(rbar, what + "_refit", e, c.config.classes, o.finetune_lr, refit_warned);
    });
    wrong.clear();
    given.clear();
    err = refit.error(d.test, &wrong, &given);
    sum.add(what + " refit on 60,000", rbar.seconds(),
            fmt::format("test error {:.2f}% ({} epoch{})", err, ft.best_epoch(), ft.best_epoch() == 1 ? "" : "s"));
  }
  if (what == "finetune") write_misclassified(d.test, wrong, given, o.output, sum);
  return err;
}

// The refit continues the schedule's last phase on all 60,000 images, by
// default for as many epochs as that phase had.
int updown_refit_epochs(const Options& o) {
  if (o.refit_epochs > 0) return o.refit_epochs;
  return std::max(1, o.finetune_epochs / static_cast<int>(o.top_k.size()));
}

// The joint model: a labelled top RBM over the DBN, then up-down fine-tuning,
// and with --refit more epochs on all 60,000 images (the paper's last step).
void run_joint(Dbn& lower, Executor& ex, const Data& d, const Options& o, bool resume, Summary& sum) {
  Graph& g = *lower.graph;
  const int64_t pen = o.hidden[o.hidden.size() - 2], top_size = o.hidden.back();
  LabelledRbm top = LabelledRbm::make(g, "top", pen, 10, top_size, 0.01f, o.seed + 50);
  JointTrainer jt(lower, top, ex, {.top_epochs = o.pretrain_epochs.back(), .updown_epochs = o.finetune_epochs,
                                   .top_k = o.top_k.front(), .updown_top_k = o.top_k,
                                   .chain_labels = o.chain_labels(), .batch = o.batch,
                                   .lr = o.top_lr, .top_weight_decay = o.top_weight_decay,
                                   .updown_lr = o.updown_lr, .updown_momentum = o.updown_momentum,
                                   .updown_weight_decay = o.updown_weight_decay, .data_seed = o.data_seed,
                                   .balanced_batches = o.balanced_batches,
                                   .refit_epochs = o.refit ? updown_refit_epochs(o) : 0, .refit_lr = o.refit_lr,
                                   .refit_error_every = o.refit_error_every,
                                   .checkpoint = o.output + "/joint", .resume = resume,
                                   .run_settings = {o.split_flag()}});
  // A phase of the joint model that trains removes the later phases' checkpoints first (Lineage).
  if (jt.saved_epoch("top") < o.pretrain_epochs.back())
    for (const char* later : {"updown", "refit"}) remove_checkpoint(o.output + "/joint/" + later);
  Progress top_bar(fmt::format("pretrain top {}+10-{}", pen, top_size), o.pretrain_epochs.back());
  if (const int done = jt.saved_epoch("top"); done > 0) top_bar.resumed(std::min(done, o.pretrain_epochs.back()));
  Csv top_csv(o.output + "/pretrain_top.csv", "epoch,seconds,valid_error_pct", jt.saved_epoch("top") > 0);
  top_csv.keep_rows_through(jt.saved_epoch("top"));
  jt.train_top(d.train, d.valid, [&](const JointEpoch& e) {
    top_bar.update(e.epoch, fmt::format("valid {:.2f}%", e.valid_error));
    top_csv.row("{},{:.3f},{:.3f}", e.epoch, e.seconds, e.valid_error);
  });
  auto say_notes = [&] {
    for (const std::string& n : jt.take_resume_notes()) fmt::print("{}\n", n);
  };
  say_notes();
  const int views = o.test_binarizations;  // 0: test images scaled
  const std::string how = views > 0 ? fmt::format(", mean over {} binarizations", views) : "";
  const double greedy = jt.error(d.test, false, nullptr, views);
  sum.add(fmt::format("pretrain top {}+10-{}", pen, top_size), top_bar.seconds(), fmt::format("test error {:.2f}% (greedy{})", greedy, how));
  result("greedy_joint_test_error_pct", fmt::format("{:.2f}", greedy));
  write_label_samples(top, ex, o.output + "/samples_per_digit_greedy.png",
                      [&](Tensor p) { return lower.down(p, lower.depth()); });
  if (jt.saved_epoch("updown") < o.finetune_epochs) remove_checkpoint(o.output + "/joint/refit");
  Progress bar("up-down", o.finetune_epochs);
  if (const int done = jt.saved_epoch("updown"); done > 0) bar.resumed(std::min(done, o.finetune_epochs));
  Csv csv(o.output + "/updown.csv", "epoch,seconds,valid_error_pct,best", jt.saved_epoch("updown") > 0);
  csv.keep_rows_through(jt.saved_epoch("updown"));
  bool warned = false;
  jt.up_down(d.train, d.valid, [&](const JointEpoch& e) {
    bar.update(e.epoch, fmt::format("valid {:.2f}%{}", e.valid_error, e.best ? " *" : ""));
    // Its weights stay finite as it runs away: an error far above the greedy model's is the sign.
    if (e.valid_error > 2 * greedy + 5)
      flag_diverging(bar, "updown", e.epoch,
                     fmt::format("updown: warning: up-down is diverging: validation error {:.2f}% in epoch {}, over "
                                 "twice the {:.2f}% test error of the greedy model it started from; a smaller "
                                 "--updown-lr (this run's is {:g}) usually cures it",
                                 e.valid_error, e.epoch, greedy, o.updown_lr),
                     warned);
    csv.row("{},{:.3f},{:.3f},{:d}", e.epoch, e.seconds, e.valid_error, static_cast<int>(e.best));
  });
  say_notes();
  std::vector<int64_t> wrong;
  std::vector<int> given;
  double err = jt.error(d.test, true, &wrong, views, &given);
  sum.add("up-down", bar.seconds(),
          fmt::format("test error {:.2f}% ({} of {}{}; epoch {} chosen on validation)", err, wrong.size(),
                      d.test.count, how, jt.updown_best_epoch()));
  result("updown_best_epoch", fmt::format("{}", jt.updown_best_epoch()));
  if (o.refit) {
    result("updown_before_refit_test_error_pct", fmt::format("{:.2f}", err));
    Progress rbar("up-down refit on 60,000", updown_refit_epochs(o));
    if (const int done = jt.saved_epoch("refit"); done > 0) rbar.resumed(std::min(done, updown_refit_epochs(o)));
    Csv rcsv(o.output + "/updown_refit.csv", "epoch,seconds,all_images_error_pct", jt.saved_epoch("refit") > 0);
    rcsv.keep_rows_through(jt.saved_epoch("refit"));
    const int every = o.refit_error_every, first = (jt.saved_epoch("refit") / every + 1) * every;
    std::string last_error =
        fmt::format("error on all 60,000: first measured after epoch {}", std::min(first, updown_refit_epochs(o)));
    const JointRefit r = jt.refit(d.all, [&](const JointEpoch& e) {
      const bool measured = std::isfinite(e.train_error);  // else not measured this epoch (--refit-error-every)
      if (measured) last_error = fmt::format("error on all 60,000: {:.2f}% (epoch {})", e.train_error, e.epoch);
      rbar.update(e.epoch, last_error);
      rcsv.row("{},{:.3f},{}", e.epoch, e.seconds, measured ? fmt::format("{:.3f}", e.train_error) : "");
    });
    say_notes();
    wrong.clear();
    given.clear();
    err = jt.error(d.test, true, &wrong, views, &given);
    sum.add("up-down refit on 60,000", rbar.seconds(),
            fmt::format("test error {:.2f}% ({} epoch{}; {:.2f}% of the 60,000 wrong{})", err, r.epochs,
                        r.epochs == 1 ? "" : "s", r.all_error,
                        how));
  }
  result("updown_test_error_pct", fmt::format("{:.2f}", err));
  if (views > 0) result("updown_test_error_scaled_pct", fmt::format("{:.2f}", jt.error(d.test, true)));
  write_misclassified(d.test, wrong, given, o.output, sum);
  const UpDown& ud = jt.updown_model();  // the fine-tuned model's own generative weights
  write_label_samples(top, ex, o.output + "/samples_per_digit.png", [&](Tensor p) { return ud.generate(p); });
}

// curves.svg: each layer's pretraining and the fine-tuning this run did,
// drawn from their CSV files (a resumed phase's earlier epochs included).
void write_curves(const Options& o, int depth) {
  std::vector<io::Panel> panels;
  io::Panel pre{"Greedy pretraining", "epoch", "reconstruction error / baseline"};
  for (int l = 1; l <= depth; ++l)
    pre.series.push_back(csv_series(read_csv_columns(fmt::format("{}/pretrain_layer{}.csv", o.output, l)), "epoch",
                                    "recon_error", fmt::format("layer {}", l), "recon_baseline"));
  panels.push_back(std::move(pre));
  if (o.finetune == "backprop") {
    const CsvColumns ft = read_csv_columns(o.output + "/finetune.csv");
    io::Panel err{"Backprop fine-tuning", "epoch", "validation error %",
                  {ringed(csv_series(ft, "epoch", "valid_error_pct", "pretrained"), ft)}, true};
    io::Panel loss{"Training loss", "epoch", "cross-entropy, nats",
                   {ringed(csv_series(ft, "epoch", "train_loss", "pretrained"), ft)}, true};
    err.rings_label = loss.rings_label = kKeptLabel;
    const CsvColumns bl = o.baseline ? read_csv_columns(o.output + "/baseline.csv") : CsvColumns{};
    if (o.baseline) {
      err.series.push_back(ringed(csv_series(bl, "epoch", "valid_error_pct", "random start"), bl));
      loss.series.push_back(ringed(csv_series(bl, "epoch", "train_loss", "random start"), bl));
    }
    // Each refit's loss (no epoch kept: no refit ran, and its file is an older run's).
    for (const auto& [name, kept_from, label] :
         {std::tuple{"finetune", &ft, "pretrained, refit on 60,000"}, std::tuple{"baseline", &bl, "random start, refit on 60,000"}})
      if (o.refit && std::isfinite(kept_at(*kept_from))) {
        io::Series refit = csv_series(read_csv_columns(fmt::format("{}/{}_refit.csv", o.output, name)), "epoch",
                                      "train_loss", label);
        refit.dashed = true;
        loss.series.push_back(std::move(refit));
      }
    panels.push_back(std::move(err));
    panels.push_back(std::move(loss));
  }
  if (o.finetune == "updown") {
    const CsvColumns ud = read_csv_columns(o.output + "/updown.csv");
    io::Panel joint{"Joint model", "epoch", "validation error %",
                    {csv_series(read_csv_columns(o.output + "/pretrain_top.csv"), "epoch", "valid_error_pct", "top RBM"),
                     ringed(csv_series(ud, "epoch", "valid_error_pct", "up-down"), ud)}};
    joint.rings_label = kKeptLabel;
    panels.push_back(std::move(joint));
    if (o.refit)  // its error is on the images it trains on: a panel of its own, not beside validation errors
      panels.push_back(io::Panel{"Up-down refit on all 60,000", "refit epoch", "error % (it trains on them)",
                                 {csv_series(read_csv_columns(o.output + "/updown_refit.csv"), "epoch",
                                             "all_images_error_pct", "refit")}});
  }
  io::write_svg_plot(o.output + "/curves.svg", panels, fmt::format("dbn_mnist: {} DBN, preset {}", o.layer_string(), o.preset));
}

int run(const Options& o) {
  const Data d = load_data(o);
  samples::check_batch(o.batch, d.train.count, "images", {"--validation", o.validation});  // before PCD chains take a batch of training rows
  if (o.bound && o.bound_images_given && o.bound_images > d.test.count)
    throw Error("--bound-images {}: more than the {} test images; expected at most {}", o.bound_images, d.test.count,
                d.test.count);
  if (o.bound)  // the bound's AIS runs in each layer's top RBM: said now, not after the training
    for (size_t l = 0; l + 1 < o.layers().size(); ++l) check_ais_fits(o.layers()[l], o.layers()[l + 1], o.ais_runs);
  samples::make_output_dir(o.output);
  samples::check_file_folder("--profile", o.profile);
  Graph g;
  std::vector<int64_t> layers = o.layers();
  if (o.finetune == "updown") layers.pop_back();  // the top RBM is the labelled one
  Dbn dbn = Dbn::make(g, "dbn", {.layers = layers, .seed = o.seed});
  Executor ex(g, {.threads = o.threads, .seed = o.seed, .profile = !o.profile.empty(),
                  .profile_events = static_cast<size_t>(o.profile_events)});
  Summary sum;
  fmt::print("dbn_mnist: {} DBN, preset {}, {} training / {} validation / {} test images\n", o.layer_string(), o.preset,
             d.train.count, d.valid.count, d.test.count);
  samples::say_if_nothing_to_resume("dbn_mnist", o.resume, o.output);
  const Lineage lineage{.output = o.output,
                        .built_on = {"finetune", "finetune_refit", "joint/top", "joint/updown", "joint/refit"},
                        .own = {"baseline", "baseline_refit"}};
  if (!o.resume) {  // and the tables and pictures of phases this run may not run, which would pass for its own
    lineage.fresh();
    for (const char* f : {"finetune.csv", "finetune_refit.csv", "baseline.csv", "baseline_refit.csv", "misclassified.csv",
                          "misclassified.png", "pretrain_top.csv", "updown.csv", "updown_refit.csv",
                          "samples_per_digit.png", "samples_per_digit_greedy.png", "features.png", "curves.svg"})
      remove_output_file(std::filesystem::path(o.output) / f);
    int64_t n = 0;
    for (const std::string& name : entry_stems(o.output))
      if (numbered(name, "pretrain_layer", &n)) remove_output_file(std::filesystem::path(o.output) / (name + ".csv"));
  }
  // A phase resumes only while everything it builds on was resumed whole: a
  // layer that trains further feeds new features to every phase above it.
  bool resume = o.resume;
  std::optional<BoundReading> bound_below;  // the bound with the layers so far, once measured
  const std::vector<float> pixel_means = io::pixel_means(d.train);
  for (int l = 0; l < dbn.depth(); ++l) {
    const LayerPlan plan{.epochs = o.pretrain_epochs[static_cast<size_t>(l)], .cd = layer_cd(o, l),
                         .data_seed = o.data_seed, .output = o.output, .built_on = o.finetune != "none",
                         .sample_up = o.sample_up, .transpose_init = o.transpose_init,
                         .run_settings = {{"--pixels", o.pixels},
                                          o.split_flag(),
                                          {"--sample-up", l > 0 && o.sample_up ? "true" : "false"},
                                          {"--transpose-init", l > 0 && o.transpose_init ? "true" : "false"}},
                         .built_on_stack = lineage.built_on};
    if (pretrain_layer(dbn, l, ex, image_source(d.train, o.pixel_mode(), o.data_seed),
                       image_source(d.valid, o.pixel_mode(), o.data_seed), pixel_means, plan, resume, sum))
      resume = false;
    if (o.bound) report_bound(dbn, l, ex, d, o, sum, bound_below);
  }
  write_filters(dbn, o.output + "/filters.png", o.output + "/features.png");
  write_samples(dbn, ex, d.test, o.output + "/samples.png");
  if (o.finetune == "updown") run_joint(dbn, ex, d, o, resume, sum);
  if (o.finetune == "backprop") {
    auto pretrained = [&](const std::string& name) {
      Classifier c = Classifier::make(g, name, o.classifier_config());
      c.init_from(dbn);
      return c;
    };
    auto scratch = [&](const std::string& name) {
      ClassifierConfig cc = o.classifier_config();
      cc.glorot_scale = o.baseline_init_scale;
      return Classifier::make(g, name, cc);
    };
    result("test_error_pct", fmt::format("{:.2f}", finetune(pretrained, ex, d, o, resume, "finetune", sum)));
    if (o.baseline) result("baseline_test_error_pct", fmt::format("{:.2f}", finetune(scratch, ex, d, o, o.resume, "baseline", sum)));
  }
  draw_curves("dbn_mnist", [&] { write_curves(o, dbn.depth()); });
  return finish(sum, ex, o.profile);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Deep Belief Network on MNIST: greedy pretraining, the variational bound, samples, and fine-tuning"};
  Options o;
  add_options(app, o);
  return run_main(app, argc, argv, "dbn_mnist", [&] {
    o.apply_preset(app);
    o.pixel_mode();  // named before any work
    return run(o);
  });
}
