#pragma once
// What gp_faces and gp_mnist share (Salakhutdinov & Hinton 2007): a GP on
// fixed features, and the DBN's kernel fine-tuned through the GP with its
// validation, CSV curve and summary lines, for regression (RMSE) or for
// classification of two classes (percent wrong).

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "models/deep_kernel.hpp"
#include "models/gp.hpp"
#include "samples/autoencoder_parts.hpp"

namespace ebm::samples {

// What gp_faces and gp_mnist take for their GPs and the kernel's fine-tuning.
struct GpKernelOptions {
  std::string optimizer = "adam";
  int gp_steps = 200, finetune_steps = 100, eval_every = 10;
  float finetune_lr = 1e-4f, hyper_lr = 0.01f;
  bool baseline = false;
};

// `cg_note` ends --optimizer's help (", as the paper fine-tuned"); the
// sample adds its own options (--ard, its validation) beside these.
inline void add_kernel_options(CLI::App& app, GpKernelOptions& k, const std::string& cg_note = "") {
  app.add_option("--gp-steps", k.gp_steps, "Adam steps on the GP's hyper-parameters for fixed features")
      ->capture_default_str()->check(kNonNegative);
  app.add_option("--finetune-steps", k.finetune_steps,
                 "full-batch steps of fine-tuning the DBN's kernel (cg: line searches)")
      ->check(kNonNegative);
  app.add_option("--optimizer", k.optimizer,
                 "the kernel's fine-tuning: adam (the weights and the hyper-parameters each by their own), or cg "
                 "(conjugate gradients on both, a step being one line search" + cg_note + ")")
      ->capture_default_str();
  app.add_option("--finetune-lr", k.finetune_lr, "Adam's rate for the net's weights")->capture_default_str()
      ->check(kPositive);
  app.add_option("--hyper-lr", k.hyper_lr, "Adam's rate for the GP's hyper-parameters while fine-tuning")
      ->capture_default_str()->check(kPositive);
  app.add_option("--eval-every", k.eval_every,
                 "fine-tuning steps between test scores recorded (and checkpoints); with --optimizer cg also where its "
                 "direction restarts, so another value trains another kernel")
      ->capture_default_str()->check(kPositive);
  app.add_flag("--baseline", k.baseline, "also fine-tune the same net from a random start, same budget");
}

// Refuses fine-tuning flags (these and the sample's `own`) with
// --finetune-steps 0, Adam's rates with cg, and an unknown optimizer.
inline void check_kernel_options(const CLI::App& app, const GpKernelOptions& k,
                                 std::initializer_list<const char*> own) {
  if (k.finetune_steps == 0) {
    std::string f = given_flags(app, {"--optimizer", "--finetune-lr", "--hyper-lr", "--eval-every", "--baseline"});
    if (const std::string more = given_flags(app, own); !more.empty()) f += (f.empty() ? "" : ", ") + more;
    if (!f.empty())
      throw Error("{}: {} the kernel's fine-tuning, which --finetune-steps 0 leaves out", f,
                  f.find(',') == std::string::npos ? "it sets" : "they set");
  }
  if (k.optimizer != "adam" && k.optimizer != "cg")
    throw Error("--optimizer '{}': expected adam or cg (conjugate gradients)", k.optimizer);
  if (k.optimizer == "cg")
    if (const std::string f = given_flags(app, {"--finetune-lr", "--hyper-lr"}); !f.empty())
      throw Error("{}: Adam's rates; --optimizer cg chooses its steps by line searches", f);
}

// The GP's task and how its score reads.
struct GpTask {
  bool classify = false;  // labels -1 and +1, scored by the percentage wrong; else targets, by their RMSE
  std::string unit;       // the regression's unit ("degrees"; none: "")
  // "test RMSE 6.16 degrees", "test error 2.15%"
  std::string score(const std::string& set, double v) const {
    if (classify) return fmt::format("{} error {:.2f}%", set, v);
    return unit.empty() ? fmt::format("{} RMSE {:.2f}", set, v) : fmt::format("{} RMSE {:.2f} {}", set, v, unit);
  }
  std::string column() const { return classify ? "error_pct" : "rmse"; }  // the CSV columns' suffix
  std::string axis() const {  // the curves' y (their labels say test or validation)
    return classify ? "error (%)" : unit.empty() ? std::string("RMSE") : fmt::format("RMSE ({})", unit);
  }
};

// A GP's hyper-parameters and its predictions at the test points (the
// means, or the probabilities of +1), with their score.
struct GpResult {
  gp::Hyper hyper;
  std::vector<double> predicted;
  double score = 0;
  double log_loss = 0;  // classify: the test labels' mean -log p, in nats
};

inline std::string hyper_string(const gp::Hyper& h) {
  const std::string kernel =
      fmt::format("length {:.3g}, signal sd {:.3g}", std::exp(h.log_length), std::exp(h.log_signal));
  return std::isinf(h.log_noise) ? kernel : fmt::format("{}, noise sd {:.3g}", kernel, std::exp(h.log_noise));
}

// What a summary line says beside the score: the test log loss (classify)
// and the hyper-parameters.
inline std::string result_details(const GpTask& task, const GpResult& r) {
  return task.classify ? fmt::format("log loss {:.4f}; {}", r.log_loss, hyper_string(r.hyper)) : hyper_string(r.hyper);
}

// A GP on fixed features (n x d): theta learned by `gp_steps` Adam steps,
// or, with `theta`, conditioned on it; its test predictions and score.
inline GpResult gp_on(const GpTask& task, std::span<const float> train, std::span<const float> targets,
                      std::span<const float> test, std::span<const float> truth, int64_t d, int gp_steps,
                      const gp::Hyper* theta = nullptr) {
  const auto n = static_cast<int64_t>(targets.size()), m = static_cast<int64_t>(truth.size());
  GpResult r;
  if (task.classify) {
    const GpClassifier gp = theta != nullptr ? GpClassifier(train, n, d, targets, *theta)
                                             : GpClassifier(train, n, d, targets, {.steps = gp_steps});
    if (!gp.stopped_early().empty()) fmt::print(stderr, "warning: GP classification: {}\n", gp.stopped_early());
    if (const std::string s = gp.course().still_falling(); !s.empty())
      fmt::print(stderr, "note: GP classification: {} (--gp-steps, now {})\n", s, gp_steps);
    r = {gp.hyper(), gp.probability(test, m)};
    const ClassScores s = class_scores(r.predicted, truth);
    r.score = s.error_pct;
    r.log_loss = s.log_loss;
  } else {
    const GpRegression gp = theta != nullptr ? GpRegression(train, n, d, targets, *theta)
                                             : GpRegression(train, n, d, targets, {.steps = gp_steps});
    if (!gp.stopped_early().empty()) fmt::print(stderr, "warning: GP regression: {}\n", gp.stopped_early());
    if (const std::string s = gp.course().still_falling(); !s.empty())
      fmt::print(stderr, "note: GP regression: {} (--gp-steps, now {})\n", s, gp_steps);
    r = {gp.hyper(), gp.predict(test, m)};
    r.score = rmse(r.predicted, truth);
  }
  return r;
}

// The labelled points and the test set, as the net sees them.
struct Labelled {
  std::vector<float> x, y, test_x, test_y;  // inputs and targets (or labels -1 and +1)
  int64_t dim = 0;
  int64_t fitted = 0;  // the first `fitted` labelled points are fine-tuned on; the rest validate
  // Whether the reported GPs condition on the validation points too (they
  // are of the labelled set), or on the fitted ones alone (they are extra
  // labels, used only to choose the step).
  bool condition_on_validation = true;
  // The points the reported GPs condition on.
  std::span<const float> cond_x() const {
    return condition_on_validation ? std::span<const float>(x) : std::span<const float>(x).first(static_cast<size_t>(fitted * dim));
  }
  std::span<const float> cond_y() const {
    return condition_on_validation ? std::span<const float>(y) : std::span<const float>(y).first(static_cast<size_t>(fitted));
  }
};

// How the kernel is fine-tuned.
struct GpFinetune {
  std::string output;  // the checkpoint goes to <output>/<what>, the curve to <output>/<what>.csv
  int steps = 100, eval_every = 10, gp_steps = 200;
  // The flags that choose the fitted points: saved with the checkpoint, a
  // resume with others refused.
  std::map<std::string, std::string> run_settings;
};

// Fine-tunes `k`, its theta first learned on its starting features, on
// the labelled points but the validation's, which choose the step it ends
// at (d.fitted: how many are fitted, the validation's last); returns the
// GP's test predictions on the starting features and on the fine-tuned
// ones (both GPs conditioned on d.cond_x()). The curve goes to
// <what>.csv.
inline std::pair<GpResult, GpResult> finetune_kernel(DeepKernel& k, Executor& ex, const Labelled& d,
                                                     const GpTask& task, const GpFinetune& o, const std::string& what,
                                                     bool resume, Summary& sum) {
  // (cg chooses its own steps: no rate to name)
  const std::string rates = k.config.cg ? std::string()
                                        : fmt::format("--finetune-lr (now {:g}) or --hyper-lr (now {:g})",
                                                      k.config.adam.lr, k.config.hyper_adam.lr);
  DeepKernelFitter fit(k, ex, {.steps = o.steps, .eval_every = o.eval_every, .checkpoint = o.output + "/" + what,
                               .resume = resume, .run_settings = o.run_settings, .rates_name = rates});
  const int64_t f = k.config.layers.back(), fitted = d.fitted;
  const std::span<const float> x(d.x), y(d.y);
  // A regression's fitted targets centred on their mean, the validation's by the same; labels as they are.
  std::vector<float> centred(d.y);
  if (!task.classify) {
    double mean = 0;
    for (float v : y.first(static_cast<size_t>(fitted))) mean += v / static_cast<double>(fitted);
    for (float& v : centred) v = static_cast<float>(v - mean);
  }
  const std::span<const float> cy(centred);
  // A resume the fitter will refuse is refused before anything is measured
  // or written (a CSV opened first was emptied by a refused resume).
  const size_t split = static_cast<size_t>(fitted * d.dim);
  fit.check_resume(x.first(split), cy.first(static_cast<size_t>(fitted)), x.subspan(split),
                   cy.subspan(static_cast<size_t>(fitted)));

  const std::string start_name = what == "finetune" ? "GP on DBN features" : "GP on random features";
  Progress sbar(start_name, 1);
  const std::vector<float> fx = fit.features(x);
  const std::span<const float> cx = d.cond_x(), cy_reported = d.cond_y();
  const GpResult start = gp_on(task, std::span<const float>(fx).first(cx.size() / static_cast<size_t>(d.dim) * static_cast<size_t>(f)),
                               cy_reported, fit.features(d.test_x), d.test_y, f, o.gp_steps);
  // Fine-tuning's theta starts where the fitted points alone put it: the
  // validation's targets must not shape what they judge.
  const std::span<const float> fitted_features = std::span<const float>(fx).first(static_cast<size_t>(fitted * f));
  const std::span<const float> fitted_y = y.first(static_cast<size_t>(fitted));
  const auto n = static_cast<int64_t>(y.size());
  const bool validating = fitted < n;
  k.set_hyper(static_cast<int64_t>(cy_reported.size()) == fitted ? start.hyper
              : task.classify ? GpClassifier(fitted_features, fitted, f, fitted_y, {.steps = o.gp_steps}).hyper()
                              : GpRegression(fitted_features, fitted, f, fitted_y, {.steps = o.gp_steps}).hyper());
  sbar.update(1, task.score("test", start.score));
  sum.add(start_name, sbar.seconds(), fmt::format("{} ({})", task.score("test", start.score), result_details(task, start)));
  if (o.steps == 0) {  // nothing fine-tuned: the kernel as it started, not one whose theta the fitter refitted
    sum.add(what, 0.0, "not fine-tuned (--finetune-steps 0)");
    return {start, start};
  }

  auto evaluate = [&](gp::Hyper h) {
    return gp_on(task, fit.features(cx), cy_reported, fit.features(d.test_x), d.test_y, f, 0, &h);
  };
  Progress bar(what, o.steps);
  const int done = fit.checkpoint_step();
  const std::string col = task.column();
  Csv csv(o.output + "/" + what + ".csv",
          task.classify
              ? fmt::format("step,seconds,nll_per_point,length,signal_sd,valid_log_loss,valid_{0},test_{0},best", col)
              : fmt::format("step,seconds,nll_per_point,length,signal_sd,noise_sd,valid_{0},test_{0},best", col),
          done > 0);
  csv.keep_rows_through(done);
  // fit() reads the checkpoint (and may refuse it) before its first step: the
  // bar counts the saved steps silently, and the resume's notes come first.
  if (done > 0) bar.counted_before(std::min(done, o.steps));
  if (done > o.steps)
    bar.print_above(stdout, fmt::format("{}: its checkpoint holds {} steps, more than the {} asked; it is used as it is",
                                        what, done, o.steps));
  bool noted = false;
  auto say_notes = [&] {
    if (!std::exchange(noted, true))
      for (const std::string& note : fit.resume_notes()) bar.print_above(stdout, fmt::format("{}: {}", what, note));
  };
  fit.fit(x.first(split), cy.first(static_cast<size_t>(fitted)), x.subspan(split), cy.subspan(static_cast<size_t>(fitted)),
          [&](const DeepKernelEval& e) {
            say_notes();
            const double test = evaluate(e.hyper).score;  // drawn in the curve, never used to choose
            const std::string kernel = task.classify
                                           ? fmt::format("{:.5g},{:.5g}", std::exp(e.hyper.log_length),
                                                         std::exp(e.hyper.log_signal))
                                           : fmt::format("{:.5g},{:.5g},{:.5g}", std::exp(e.hyper.log_length),
                                                         std::exp(e.hyper.log_signal), std::exp(e.hyper.log_noise));
            // (empty cells when nothing validates: a score of 0 would read as perfect)
            const std::string valid = !validating   ? std::string(task.classify ? "," : "")
                                      : task.classify ? fmt::format("{:.5f},{:.4f}", e.valid_log_loss, e.valid_error)
                                                      : fmt::format("{:.4f}", e.valid_error);
            csv.row("{},{:.3f},{:.5f},{},{},{:.4f},{:d}", e.step, e.seconds, e.nll, kernel, valid, test,
                    static_cast<int>(e.best));
            const std::string v =
                !validating    ? std::string()
                : task.classify ? fmt::format(", validation error {:.2f}% (log loss {:.4f})", e.valid_error, e.valid_log_loss)
                                : fmt::format(", validation RMSE {:.2f}", e.valid_error);
            bar.update(e.step, fmt::format("-log p(y) {:.4g} per point{}{}", e.nll, v, e.best ? " *" : ""));
          });
  say_notes();  // (a resume with every step done calls back no step)
  const GpResult tuned = evaluate(k.hyper());  // at the step the validation chose
  sum.add(what, bar.seconds(),
          validating ? fmt::format("{}, step {} of {} chosen on validation ({})", task.score("test", tuned.score),
                                   fit.best_step(), fit.steps_done(), result_details(task, tuned))
                     : fmt::format("{} after {} steps ({})", task.score("test", tuned.score), fit.steps_done(),
                                   result_details(task, tuned)));
  return {start, tuned};
}

// A fresh run's tables of the phases it skips, left by an earlier run in
// --output (the fine-tuning's with --finetune-steps 0, the baseline's
// without --baseline), go, so that no file beside this run's results is
// another run's; a resume keeps them, as it keeps their checkpoints.
inline void remove_skipped_tables(const std::string& output, bool resume, const GpKernelOptions& k) {
  if (resume) return;
  if (k.finetune_steps == 0) remove_output_file(output + "/finetune.csv");
  if (!k.baseline) remove_output_file(output + "/baseline.csv");
}

// The fine-tuning's score by step (test, and validation when there is
// one), beside the fixed kernels' test scores (dashed).
inline io::Panel finetune_panel(const GpTask& task, const GpFinetune& o, bool validate, bool baseline,
                                const std::vector<std::pair<std::string, const GpResult*>>& fixed) {
  io::Panel curve{"Fine-tuning the kernel", "step", task.axis()};
  const std::string col = task.column();
  const CsvColumns ft = read_csv_columns(o.output + "/finetune.csv");
  curve.series.push_back(csv_series(ft, "step", "test_" + col, "DBN kernel: test"));
  if (validate) {  // the step the validation chose ringed on both curves
    curve.series.back() = ringed(std::move(curve.series.back()), ft, "step");
    curve.series.push_back(ringed(csv_series(ft, "step", "valid_" + col, "DBN kernel: validation"), ft, "step"));
    // A classifier's step is chosen by the validation log loss, which is not drawn: the ring can sit off the
    // error curve's lowest point.
    curve.rings_label = task.classify ? "kept (lowest validation log loss)" : kKeptLabel;
  }
  if (baseline) {
    const CsvColumns bl = read_csv_columns(o.output + "/baseline.csv");
    io::Series s = csv_series(bl, "step", "test_" + col, "random start: test");
    curve.series.push_back(validate ? ringed(std::move(s), bl, "step") : std::move(s));
  }
  // The fixed kernels' test scores across the steps drawn (a resumed checkpoint may hold more than asked).
  double last = o.steps;
  for (const io::Series& s : curve.series)
    for (double x : s.x) last = std::max(last, x);
  for (const auto& [label, r] : fixed)
    curve.series.push_back({.label = label + ": test", .x = {0, last}, .y = {r->score, r->score}, .dashed = true});
  return curve;
}

}  // namespace ebm::samples
