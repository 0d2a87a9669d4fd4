#include "models/deep_kernel.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "autodiff/grad.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "models/checkpoint_meta.hpp"
#include "models/dbn.hpp"
#include "models/gp.hpp"
#include "models/units.hpp"

namespace ebm {

DeepKernel DeepKernel::make(Graph& g, std::string name, const DeepKernelConfig& cfg) {
  if (cfg.layers.size() < 2 || cfg.points < 2)
    throw Error("deep kernel '{}': {} layer sizes and {} points; expected an input and a feature layer, and at least 2 "
                "points", name, cfg.layers.size(), cfg.points);
  DeepKernel k;
  k.graph = &g;
  k.name = name;
  k.config = cfg;
  for (size_t l = 0; l + 1 < cfg.layers.size(); ++l) {
    k.w.push_back(g.param(fmt::format("{}.W{}", name, l), {cfg.layers[l], cfg.layers[l + 1]}));
    k.b.push_back(g.param(fmt::format("{}.b{}", name, l), {1, cfg.layers[l + 1]}));
    fill_normal(g.value(k.w.back()), cfg.init_std, cfg.seed, l);
  }
  k.theta = g.param(name + ".theta", {1, cfg.classify ? 2 : 3});
  if (cfg.ard) k.ard = g.param(name + ".ard", {1, cfg.layers.back()});
  k.x = g.input(name + ".x", {cfg.points, cfg.layers.front()});
  k.y = g.input(name + ".y", {cfg.points, 1});
  k.features = k.features_of(k.x);
  k.loss = cfg.classify ? gp_class_nll(k.features, k.y, k.theta) : gp_nll(k.features, k.y, k.theta);
  if (cfg.cg) check_cg_options(cfg.cg_options);
  const std::vector<Tensor> ws = k.weights(), all = k.trained(), th(all.begin() + std::ssize(ws), all.end());
  k.grads = grad(k.loss, all);
  const std::vector<Tensor>& grads = k.grads;
  const std::vector<Tensor> wg(grads.begin(), grads.begin() + std::ssize(ws)), tg(grads.begin() + std::ssize(ws), grads.end());
  k.opt = adam(ws, wg, cfg.adam);
  k.hyper_opt = adam(th, tg, cfg.hyper_adam);
  const Tensor both[] = {k.opt.step, k.hyper_opt.step};
  k.step = group(both);
  return k;
}

void DeepKernel::init_from(const Dbn& dbn) {
  if (dbn.depth() + 1 != static_cast<int>(config.layers.size()))
    throw Error("deep kernel '{}': the DBN has {} layers of weights; expected {}", name, dbn.depth(),
                config.layers.size() - 1);
  copy_recognition_weights(dbn, w, b, fmt::format("deep kernel '{}'", name));
}

void DeepKernel::set_hyper(gp::Hyper h) {
  const std::span<float> t = graph->value(theta);
  t[0] = static_cast<float>(h.log_length);
  t[1] = static_cast<float>(h.log_signal);
  if (!config.classify) t[2] = static_cast<float>(h.log_noise);
}

gp::Hyper DeepKernel::hyper() const {
  const std::span<const float> t = std::as_const(*graph).value(theta);
  return config.classify ? gp::Hyper{t[0], t[1], -std::numeric_limits<double>::infinity()} : gp::hyper_from(t);
}

Tensor DeepKernel::features_of(Tensor input) const {
  Tensor h = input;
  for (size_t l = 0; l < w.size(); ++l) h = affine_sigmoid(h, w[l], b[l]);
  return config.ard ? h * exp(ard) : h;
}

std::vector<Tensor> DeepKernel::trained() const {
  std::vector<Tensor> p = weights();
  p.push_back(theta);
  if (config.ard) p.push_back(ard);
  return p;
}

std::vector<Tensor> DeepKernel::weights() const {
  std::vector<Tensor> p;
  for (size_t l = 0; l < w.size(); ++l) p.insert(p.end(), {w[l], b[l]});
  return p;
}


DeepKernelFitter::DeepKernelFitter(DeepKernel& k, Executor& ex, DeepKernelFitConfig cfg)
    : k_(k), ex_(ex), cfg_(std::move(cfg)) {
  if (k_.graph == nullptr)
    throw Error("DeepKernelFitter: an empty DeepKernel (default-made); expected one DeepKernel::make built");
  if (cfg_.steps < 0 || cfg_.eval_every < 1 || cfg_.eval_batch < 1)
    throw Error("fine-tuning '{}': steps = {}, eval_every = {}, eval_batch = {}; expected steps at least 0, the others "
                "at least 1", k_.name, cfg_.steps, cfg_.eval_every, cfg_.eval_batch);
  int64_t units = 0;  // the input and every layer up to the features
  for (int64_t width : k_.config.layers) units += width;
  check_eval_batch_fits(fmt::format("fine-tuning '{}'", k_.name), cfg_.eval_batch, units);
  eval_x_ = k_.graph->input(k_.name + ".eval_x", {cfg_.eval_batch, k_.config.layers.front()});
  eval_out_ = k_.features_of(eval_x_);
  best_ = BestParams(*k_.graph, k_.trained());
  check_fitter_checkpoint(cfg_.checkpoint, cfg_.resume, "deep_kernel", k_.name);
}

std::vector<NamedTensor> DeepKernelFitter::state() const {
  std::vector<NamedTensor> s;
  const auto ws = k_.weights();
  for (size_t i = 0; i < ws.size(); ++i) s.push_back({fmt::format("p{}", i), ws[i]});
  s.push_back({"theta", k_.theta});
  if (k_.config.ard) s.push_back({"ard", k_.ard});
  for (size_t i = 0; i < best_.copies().size(); ++i) s.push_back({fmt::format("best{}", i), best_.copies()[i]});
  for (size_t i = 0; i < k_.opt.state.size(); ++i) s.push_back({fmt::format("opt{}", i), k_.opt.state[i]});
  for (size_t i = 0; i < k_.opt.hyper.size(); ++i) s.push_back({fmt::format("hyper{}", i), k_.opt.hyper[i]});
  for (size_t i = 0; i < k_.hyper_opt.state.size(); ++i) s.push_back({fmt::format("theta_opt{}", i), k_.hyper_opt.state[i]});
  for (size_t i = 0; i < k_.hyper_opt.hyper.size(); ++i) s.push_back({fmt::format("theta_hyper{}", i), k_.hyper_opt.hyper[i]});
  return s;
}


void DeepKernelFitter::save() const {
  const nlohmann::json meta = {{"step", steps_done_},         {"executor_step", ex_.step()},
                               {"seed", ex_.options().seed}, {"layers", k_.config.layers},
                               {"points", k_.config.points}, {"data", fmt::format("{:016x}", data_)},
                               {"best_step", best_.at()},    {"best_valid_rmse", best_.error()},
                               {"optimizer", k_.config.cg ? "cg" : "adam"}, {"ard", k_.config.ard},
                               {"cg_step", cg_.step},        {"cg_slope", cg_.slope},
                               {"lr", k_.config.adam.lr},   {"hyper_lr", k_.config.hyper_adam.lr},
                               {"run", cfg_.run_settings},  {"eval_every", cfg_.eval_every},
                               {"task", k_.config.classify ? "classification" : "regression"},
                               {"model", k_.name}, {"start", start_}};
  save_checkpoint(cfg_.checkpoint, "deep_kernel", state(), meta.dump());
}

int DeepKernelFitter::checkpoint_step() const {
  if (!cfg_.resume || !checkpoint_exists(cfg_.checkpoint)) return 0;
  return meta_epoch(nlohmann::json::parse(checkpoint_meta(cfg_.checkpoint, "deep_kernel")), "step",
                    cfg_.checkpoint.string());
}

void DeepKernelFitter::load(const std::string& before, bool check_only) {
  const std::string where = cfg_.checkpoint.string();
  const auto meta = nlohmann::json::parse(checkpoint_meta(cfg_.checkpoint, "deep_kernel"));
  if (const uint64_t seed = meta_count(meta, "seed", where); seed != ex_.options().seed)
    throw Error("resume from '{}': the checkpoint was made with seed {}; this run has {}", where, seed,
                ex_.options().seed);
  // What the resume continues from, read (and checked) before any tensor is.
  const int steps = meta_epoch(meta, "step", where);
  // (the key predates classification: it holds the validation score the task chooses by, RMSE or log loss)
  const auto [best_step, best_rmse] = meta_best(meta, "best_step", "best_valid_rmse", steps, where, "steps");
  const uint64_t executor_step = meta_count(meta, "executor_step", where);
  const double cg_step = meta.contains("cg_step") ? meta_number(meta, "cg_step", where) : 0.0,
               cg_slope = meta.contains("cg_slope") ? meta_number(meta, "cg_slope", where) : 0.0;
  ResumeCheck c(meta, where);
  c.same_run(cfg_.run_settings);  // the caller's flags before the points they chose
  c.same("model", k_.name, "model (the kernel's name)");
  const nlohmann::json none;  // what a missing key compares as: unequal to any value
  const nlohmann::json& layers = meta.contains("layers") ? meta.at("layers") : none;
  const nlohmann::json& points = meta.contains("points") ? meta.at("points") : none;
  if (layers != nlohmann::json(k_.config.layers) || points != k_.config.points)
    throw Error("resume from '{}': the checkpoint is of a net {} fitted on {} points; this run's is {} on {}", where,
                json_excerpt(layers), json_excerpt(points), nlohmann::json(k_.config.layers).dump(),
                k_.config.points);
  const nlohmann::json& data = meta.contains("data") ? meta.at("data") : none;
  if (data != fmt::format("{:016x}", data_))
    throw Error("resume from '{}': the checkpoint was fitted on other points, targets or validation points (data "
                "fingerprint {}, this run's {:016x}); expected the same data as the run it continues", where,
                json_excerpt(data), data_);
  // (checkpoints from before cg was built do not say: they are adam's)
  if (const std::string optimizer = meta.contains("optimizer") ? meta_shown(meta.at("optimizer")) : "adam",
                        ours = k_.config.cg ? "cg" : "adam";
      optimizer != ours)
    throw Error("resume from '{}': the checkpoint's optimizer is {}; this run's is {} (DeepKernelConfig::cg, the "
                "samples' --optimizer); expected the same, or a fresh run",
                where, optimizer, ours);
  // (checkpoints from before classification was built do not say: they are regression's)
  if (const std::string task = meta.contains("task") ? meta_shown(meta.at("task")) : "regression",
                        ours = k_.config.classify ? "classification" : "regression";
      task != ours)
    throw Error("resume from '{}': the checkpoint's GP does {}; this run's does {} (DeepKernelConfig::classify); "
                "expected the same, or a fresh run", where, task, ours);
  if ((meta.contains("ard") ? meta.at("ard") : nlohmann::json(false)) != k_.config.ard)
    throw Error("resume from '{}': the checkpoint's kernel is {}; this run's is {} (DeepKernelConfig::ard, "
                "gp_faces' --ard); expected the same, or a fresh run",
                where,
                k_.config.ard ? "spherical" : "ARD (a length scale per feature)",
                k_.config.ard ? "ARD (a length scale per feature)" : "spherical");
  // cg restarts its direction at each evaluation: another interval is another run. Adam's
  // steps do not depend on it, only the steps the validation looks at.
  if (k_.config.cg)
    c.same("eval_every", cfg_.eval_every,
           "evaluation interval, where cg restarts its direction (DeepKernelFitConfig::eval_every, the samples' "
           "--eval-every)");
  // Last: what makes it another net, other data or another run is the clearer message.
  c.same_start("start", before, fmt::format("the weights of '{}' before the resume", k_.name));
  if (check_only) return;
  start_ = meta_string(meta, "start").empty() ? before : meta_string(meta, "start");
  load_checkpoint(cfg_.checkpoint, "deep_kernel", state());
  cg_ = {cg_step, cg_slope};
  steps_done_ = steps;
  best_.set_record(best_step, best_rmse);
  ex_.set_step(executor_step);
  if (!k_.config.cg) {  // cg's line searches choose their own steps
    c.noted("lr", k_.config.adam.lr, "lr");
    c.noted("hyper_lr", k_.config.hyper_adam.lr, "hyper-parameters' lr");
    c.noted("eval_every", static_cast<float>(cfg_.eval_every), "evaluation interval (steps)");
  }
  notes_ = c.notes();
  if (std::string n = old_copy_note(cfg_.checkpoint); !n.empty()) notes_.push_back(std::move(n));
}

double DeepKernelFitter::validate(DeepKernelEval& e, std::span<const float> x, std::span<const float> y,
                                  std::span<const float> valid_x, std::span<const float> valid_y) {
  const int64_t f = k_.config.layers.back();
  if (k_.config.classify) {
    const GpClassifier gp(features(x), static_cast<int64_t>(y.size()), f, y, k_.hyper());
    const ClassScores s = class_scores(gp.probability(features(valid_x), static_cast<int64_t>(valid_y.size())), valid_y);
    e.valid_error = s.error_pct;
    e.valid_log_loss = s.log_loss;
    return s.log_loss;
  }
  const GpRegression gp(features(x), static_cast<int64_t>(y.size()), f, y, k_.hyper());
  e.valid_error = rmse(gp.predict(features(valid_x), static_cast<int64_t>(valid_y.size())), valid_y);
  return e.valid_error;
}

void DeepKernelFitter::check_resume(std::span<const float> x, std::span<const float> y, std::span<const float> valid_x,
                                    std::span<const float> valid_y) {
  take_data(x, y, valid_x, valid_y);
  if (!started_ && cfg_.resume && checkpoint_exists(cfg_.checkpoint)) load(params_fingerprint(k_.weights()), true);
}

void DeepKernelFitter::take_data(std::span<const float> x, std::span<const float> y, std::span<const float> valid_x,
                                 std::span<const float> valid_y) {
  const Shape xs = k_.x.shape();
  const int64_t in = xs.cols;
  if (static_cast<int64_t>(x.size()) != xs.size() || static_cast<int64_t>(y.size()) != xs.rows)
    throw Error("fine-tuning '{}': {} input values and {} targets; expected {} x {} and {}", k_.name, x.size(), y.size(),
                xs.rows, xs.cols, xs.rows);
  if (static_cast<int64_t>(valid_x.size()) != static_cast<int64_t>(valid_y.size()) * in)
    throw Error("fine-tuning '{}': {} validation values for {} targets; expected {} per target", k_.name,
                valid_x.size(), valid_y.size(), in);
  // A NaN would surface as an op's ("feature element 21 is nan"), or a
  // divergence's, naming neither the set nor the point.
  const std::string who = fmt::format("fine-tuning '{}'", k_.name);
  const auto same = [](int64_t i) { return i; };
  check_finite_rows(x, in, who, "training input", same);
  check_finite_rows(y, 1, who, "training target", same);
  check_finite_rows(valid_x, in, who, "validation input", same);
  check_finite_rows(valid_y, 1, who, "validation target", same);
  data_ = Fingerprint().add(x).add(y).add(valid_x).add(valid_y).value();  // a resume must go on with the same data
}

void DeepKernelFitter::fit(std::span<const float> x, std::span<const float> y, std::span<const float> valid_x,
                           std::span<const float> valid_y, const std::function<void(const DeepKernelEval&)>& on_eval) {
  take_data(x, y, valid_x, valid_y);
  const bool validating = !valid_y.empty();
  if (!started_) {  // the weights this run starts from, before a resume replaces them
    const std::string before = params_fingerprint(k_.weights());
    start_ = before;
    if (cfg_.resume && checkpoint_exists(cfg_.checkpoint)) load(before);
  }
  const Feed feeds[] = {{k_.x, x}, {k_.y, y}};
  if (!started_ && steps_done_ == 0) {  // the start is a candidate too
    const Tensor loss[] = {k_.loss};
    ex_.run(loss, feeds);
    DeepKernelEval e{.step = 0, .nll = ex_.scalar(k_.loss), .hyper = k_.hyper(), .best = true};
    best_.keep(0, validating ? validate(e, x, y, valid_x, valid_y) : 0.0);
    if (on_eval) on_eval(e);
  }
  started_ = true;
  const Tensor targets[] = {k_.step, k_.loss};
  auto start = std::chrono::steady_clock::now();
  while (steps_done_ < cfg_.steps) {
    // Adam: one step; cg: the line searches up to the next evaluation.
    const int steps = k_.config.cg ? std::min(cfg_.eval_every - steps_done_ % cfg_.eval_every, cfg_.steps - steps_done_) : 1;
    double nll = 0;
    try {
      if (k_.config.cg) {
        nll = cg_steps(feeds, steps);
      } else {
        ex_.run(targets, feeds);
        nll = ex_.scalar(k_.loss);
      }
    } catch (const Error& e) {  // such as features that turned NaN in gp_nll
      throw Error("fine-tuning '{}', step {}: {} (the last checkpoint is of step {}{})", k_.name, steps_done_ + 1,
                  e.what(), steps_done_ - steps_done_ % cfg_.eval_every, cure());
    }
    steps_done_ += steps;
    if (steps_done_ % cfg_.eval_every != 0 && steps_done_ != cfg_.steps) continue;
    check_finite(state(), fmt::format("fine-tuning '{}'", k_.name), steps_done_, "step",
                 cfg_.rates_name.empty() ? std::string_view("learning rate") : std::string_view(cfg_.rates_name));
    DeepKernelEval e{.step = steps_done_, .nll = nll, .hyper = k_.hyper()};
    if (validating) {
      double score = 0;
      try {
        score = validate(e, x, y, valid_x, valid_y);
      } catch (const Error& err) {  // such as a GP whose Newton's method failed on these features
        throw Error("fine-tuning '{}', validating step {}: {} (the last checkpoint is of step {}{})", k_.name,
                    steps_done_, err.what(), steps_done_ - steps - (steps_done_ - steps) % cfg_.eval_every, cure());
      }
      e.best = best_.offer(steps_done_, score);
    } else {
      e.best = true;  // without validation the last step is kept
      best_.keep(steps_done_, 0.0);
    }
    e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // The callback first, then the checkpoint: whatever the callback runs
    // on the executor is in the step it saves, and a run killed between
    // the two redoes this step (its CSV row included) when resumed.
    if (on_eval) on_eval(e);
    if (!cfg_.checkpoint.empty()) save();
    start = std::chrono::steady_clock::now();
  }
  best_.restore();
}

double DeepKernelFitter::cg_steps(std::span<const Feed> feeds, int searches) {
  CgOptions o = k_.config.cg_options;
  o.line_searches = searches;
  // A trial step so far out that K is no longer positive definite is a
  // step too far; at the start the error goes to the caller, who names the step.
  return minimize_cg(ex_, k_.loss, k_.trained(), k_.grads, feeds, o, &cg_, {.failed_run_is_nan = true})
      .report.f_before_last;
}

std::vector<float> DeepKernelFitter::features(std::span<const float> rows) {
  const int64_t in = k_.config.layers.front(), out = k_.config.layers.back(), b = cfg_.eval_batch;
  if (static_cast<int64_t>(rows.size()) % in != 0)
    throw Error("features of '{}': {} values; expected rows of {}", k_.name, rows.size(), in);
  const int64_t n = static_cast<int64_t>(rows.size()) / in;
  std::vector<float> result(static_cast<size_t>(n * out)), batch(static_cast<size_t>(b * in), 0.0f);
  for (int64_t r0 = 0; r0 < n; r0 += b) {
    const int64_t m = std::min(b, n - r0);
    std::fill(batch.begin(), batch.end(), 0.0f);
    std::copy_n(rows.begin() + r0 * in, m * in, batch.begin());
    ex_.run({eval_out_}, {{eval_x_, batch}});
    const auto v = ex_.value(eval_out_);
    std::copy_n(v.begin(), m * out, result.begin() + r0 * out);
  }
  return result;
}

}  // namespace ebm
