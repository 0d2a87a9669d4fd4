#include "models/autoencoder_fit.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "io/batch.hpp"
#include "models/checkpoint_meta.hpp"

namespace ebm {

AutoencoderFitter::AutoencoderFitter(Autoencoder& a, Executor& ex, AutoencoderFitConfig cfg)
    : a_(a), ex_(ex), cfg_(std::move(cfg)) {
  if (a_.graph == nullptr)
    throw Error("AutoencoderFitter: an empty Autoencoder (default-made); expected one Autoencoder::make built");
  if (cfg_.epochs < 0 || cfg_.eval_batch < 1)
    throw Error("fine-tuning '{}': epochs = {} and eval_batch = {}; expected epochs at least 0, eval_batch at least 1",
                a_.name, cfg_.epochs, cfg_.eval_batch);
  check_hyper(fmt::format("fine-tuning '{}'", a_.name), "lr_decay", cfg_.lr_decay, std::numeric_limits<float>::min());
  int64_t units = 0;  // the input, the layers up and back down
  for (int64_t width : a_.config.layers) units += 2 * width;
  check_eval_batch_fits(fmt::format("fine-tuning '{}'", a_.name), cfg_.eval_batch, units);
  Graph& g = *a_.graph;
  eval_x_ = g.input(a_.name + ".eval_x", {cfg_.eval_batch, a_.config.layers.front()});
  eval_out_ = a_.reconstruct(eval_x_);
  best_ = BestParams(g, a_.params());
  check_fitter_checkpoint(cfg_.checkpoint, cfg_.resume, "autoencoder", a_.name);
  if (cfg_.resume && checkpoint_exists(cfg_.checkpoint)) load(params_fingerprint(a_.params()));  // else: start fresh
  // This run's momentum (or Adam's beta1) and weight decay, not the
  // checkpoint's; the learning rate is set at each epoch.
  const bool adam = a_.config.optimizer == AeOptimizer::adam;
  if (a_.config.optimizer == AeOptimizer::cg) return;  // no update nodes; cg's settings are read per batch
  a_.opt.set_momentum(adam ? a_.config.adam.beta1 : a_.config.sgd.momentum);
  a_.opt.set_weight_decay(adam ? a_.config.adam.weight_decay : a_.config.sgd.weight_decay);
}

float AutoencoderFitter::base_lr() const {
  switch (a_.config.optimizer) {
    case AeOptimizer::adam: return a_.config.adam.lr;
    case AeOptimizer::sgd: return a_.config.sgd.lr;
    case AeOptimizer::cg: break;
  }
  return 0.0f;  // cg chooses its steps
}

double AutoencoderFitter::cg_batch(std::span<const float> x, AutoencoderEpoch& s) {
  const uint64_t step = ex_.step();  // one draw of any noise for the whole batch
  const Feed feeds[] = {{a_.x, x}};
  GraphCgResult r;
  try {
    r = minimize_cg(ex_, a_.loss, a_.params(), a_.grads, feeds, a_.config.cg, &cg_,
                    {.before_run = [&] { ex_.set_step(step); }, .weight_decay = a_.config.cg_weight_decay});
  } catch (...) {
    ex_.set_step(step + 1);
    throw;
  }
  ex_.set_step(step + 1);
  s.evaluations += r.report.evaluations;
  s.failures += r.report.failures;
  return r.first_loss;
}

std::vector<NamedTensor> AutoencoderFitter::state() const {
  std::vector<NamedTensor> s;
  const auto params = a_.params();
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string n = fmt::format("p{}", i);
    s.push_back({n, params[i]});
    s.push_back({n + ".best", best_.copies()[i]});
  }
  for (size_t i = 0; i < a_.opt.state.size(); ++i) s.push_back({fmt::format("opt{}", i), a_.opt.state[i]});
  for (size_t i = 0; i < a_.opt.hyper.size(); ++i) s.push_back({fmt::format("hyper{}", i), a_.opt.hyper[i]});
  return s;
}

// The weight decay of the optimizer in use.
float AutoencoderFitter::weight_decay() const {
  switch (a_.config.optimizer) {
    case AeOptimizer::sgd: return a_.config.sgd.weight_decay;
    case AeOptimizer::adam: return a_.config.adam.weight_decay;
    case AeOptimizer::cg: return a_.config.cg_weight_decay;
  }
  return 0.0f;
}

void AutoencoderFitter::save() const {
  const nlohmann::json meta = {{"epoch", epochs_done_},     {"step", ex_.step()},         {"seed", ex_.options().seed},
                               {"data_seed", cfg_.data_seed}, {"best_error", best_.error()}, {"best_epoch", best_.at()},
                               {"layers", a_.config.layers}, {"lr", base_lr()},        {"lr_decay", cfg_.lr_decay},
                               {"cg_step", cg_.step},        {"cg_slope", cg_.slope},
                               {"optimizer", optimizer_name(a_.config.optimizer)},
                               {"code_noise", a_.config.code_noise}, {"momentum", a_.config.sgd.momentum},
                               {"weight_decay", weight_decay()},     {"run", cfg_.run_settings},
                               {"batch", a_.config.batch},           {"cg_line_searches", a_.config.cg.line_searches},
                               {"data_unit", std::string(to_string(a_.config.data_unit))}, {"linear_code", a_.config.linear_code},
                               {"model", a_.name}, {"start", start_.start()}};
  save_checkpoint(cfg_.checkpoint, "autoencoder", state(), meta.dump());
}

void AutoencoderFitter::load(const std::string& before) {
  // Checked before any tensor is read (an optimizer's state tensors would
  // not fit another's), so a refused checkpoint leaves the net as it was.
  const std::string where = cfg_.checkpoint.string();
  std::vector<std::string> notes;
  int done = 0;
  std::pair<int, double> best;
  uint64_t step = 0;
  double cg_step = 0, cg_slope = 0;
  std::string saved_start;
  auto check = [&](const std::string& text) {
    const nlohmann::json meta = nlohmann::json::parse(text);
    const uint64_t seed = meta_count(meta, "seed", where), data_seed = meta_count(meta, "data_seed", where);
    if (seed != ex_.options().seed || data_seed != cfg_.data_seed)
      throw Error("resume from '{}': the checkpoint was made with seed {} and data seed {}; this run has {} and {}",
                  where, seed, data_seed, ex_.options().seed, cfg_.data_seed);
    // What the resume continues from, read (and checked) before any tensor is.
    done = meta_epoch(meta, "epoch", where);
    best = meta_best(meta, "best_epoch", "best_error", done, where);
    step = meta_count(meta, "step", where);
    if (meta.contains("cg_step")) cg_step = meta_number(meta, "cg_step", where);
    if (meta.contains("cg_slope")) cg_slope = meta_number(meta, "cg_slope", where);
    ResumeCheck c(meta, where);
    c.same_run(cfg_.run_settings);  // the caller's flags first: they name what changed
    c.same("model", a_.name, "model (the net's name)");
    // The net's shape and its units before its tensors' shapes: another net is another run.
    c.same("layers", a_.config.layers, "layers (AutoencoderConfig::layers)");
    c.same("data_unit", std::string(to_string(a_.config.data_unit)), "data units (AutoencoderConfig::data_unit)");
    c.same("linear_code", a_.config.linear_code, "linear code (AutoencoderConfig::linear_code)");
    c.same("optimizer", optimizer_name(a_.config.optimizer), "optimizer");  // AutoencoderConfig::optimizer, the samples' --optimizer
    // Noise on the code's input shapes what the code learns (semantic hashing): another is another run.
    c.same("code_noise", a_.config.code_noise, "code noise (the standard deviation added to the code units' input)");
    // Other batches shuffle and step differently (cg: other line searches too): another run.
    c.same("batch", a_.config.batch, "batch (AutoencoderConfig::batch; the samples' --batch, with cg --cg-batch)");
    if (a_.config.optimizer == AeOptimizer::cg)
      c.same("cg_line_searches", a_.config.cg.line_searches,
             "line searches per batch (CgOptions::line_searches; the samples' --cg-line-searches)");
    if (a_.config.optimizer != AeOptimizer::cg) {  // cg's line searches choose their own steps
      c.noted("lr", base_lr(), cfg_.lr_name.empty() ? "lr" : cfg_.lr_name);
      c.noted("lr_decay", cfg_.lr_decay, "lr decay");
    }
    if (a_.config.optimizer == AeOptimizer::sgd) c.noted("momentum", a_.config.sgd.momentum, "momentum");
    c.noted("weight_decay", weight_decay(), "weight decay");  // this run's, as the momentum: said
    // Last: what makes it another net or another run is the clearer message.
    c.same_start("start", before, fmt::format("the weights of '{}' before the resume", a_.name), "AutoencoderFitter");
    saved_start = meta_string(meta, "start");
    notes = c.notes();
  };
  load_checkpoint(cfg_.checkpoint, "autoencoder", state(), check);
  if (std::string n = old_copy_note(cfg_.checkpoint); !n.empty()) notes.push_back(std::move(n));
  notes_ = std::move(notes);
  epochs_done_ = done;
  best_.set_record(best.first, best.second);
  ex_.set_step(step);
  cg_ = {cg_step, cg_slope};
  start_.resumed(a_.params(), saved_start, before);
}

double reconstruction_error(Executor& ex, Tensor input, Tensor output, const DataSource& src) {
  if (src.dim != input.shape().cols || output.shape() != input.shape())
    throw Error("reconstruction_error: rows of {} units, the input '{}' is {} and the output {}", src.dim, input.name(),
                input.shape(), output.shape());
  const auto d = static_cast<size_t>(src.dim);
  std::vector<float> x;
  double total = 0;
  for_each_batch(src, input.shape().rows, 0, x, [&](int64_t, int64_t rows) {
    ex.run({output}, {{input, x}});
    const auto y = ex.value(output);
    for (size_t k = 0; k < static_cast<size_t>(rows) * d; ++k) {
      const double e = double{y[k]} - x[k];
      total += e * e;
    }
  });
  return total / static_cast<double>(std::max<int64_t>(src.count, 1));
}

std::vector<float> rows_through(Executor& ex, Tensor input, Tensor output, const DataSource& src) {
  if (src.dim != input.shape().cols || output.shape().rows != input.shape().rows)
    throw Error("rows_through: rows of {} units, the input '{}' is {} and the output {}", src.dim, input.name(),
                input.shape(), output.shape());
  const auto n = static_cast<size_t>(output.shape().cols);
  std::vector<float> x, out;
  out.reserve(static_cast<size_t>(src.count) * n);
  for_each_batch(src, input.shape().rows, 0, x, [&](int64_t, int64_t rows) {
    ex.run({output}, {{input, x}});
    const auto y = ex.value(output);
    out.insert(out.end(), y.begin(), y.begin() + rows * static_cast<int64_t>(n));
  });
  return out;
}

double AutoencoderFitter::error(const DataSource& src) { return reconstruction_error(ex_, eval_x_, eval_out_, src); }

double AutoencoderFitter::baseline(const DataSource& train, const DataSource& valid) {
  if (train.dim != valid.dim)
    throw Error("autoencoder '{}': training rows of {} units, validation rows of {}", a_.name, train.dim, valid.dim);
  const uint64_t step = ex_.step();  // (a source may run this executor)
  const auto d = static_cast<size_t>(train.dim);
  std::vector<float> x;
  std::vector<double> mean(d);
  for_each_batch(train, cfg_.eval_batch, 0, x, [&](int64_t, int64_t rows) {
    for (size_t k = 0; k < static_cast<size_t>(rows) * d; ++k) mean[k % d] += x[k];
  });
  for (double& m : mean) m /= static_cast<double>(std::max<int64_t>(train.count, 1));
  double total = 0;
  const std::string who = fmt::format("fine-tuning '{}'", a_.name);
  for_each_batch(valid, cfg_.eval_batch, 0, x, [&](int64_t first, int64_t rows) {
    const auto real = std::span<const float>(x).first(static_cast<size_t>(rows) * d);
    // A count below 0, or a binary (logistic) unit's value outside [0, 1], which the cross-entropy would reward
    // without bound in training and which would make the validation error measure something other than the
    // data's, is refused by row and column, as is a NaN or an infinity.
    check_data_rows(a_.config.data_unit, real, valid.dim, who, "validation", "data_unit",
                    [first](size_t i) { return first + static_cast<int64_t>(i); });
    for (size_t k = 0; k < real.size(); ++k) total += (x[k] - mean[k % d]) * (x[k] - mean[k % d]);
  });
  ex_.set_step(step);
  return total / static_cast<double>(std::max<int64_t>(valid.count, 1));
}

std::vector<float> AutoencoderFitter::reconstruct(const DataSource& src, std::span<const int64_t> rows) {
  if (src.dim != eval_x_.shape().cols)
    throw Error("autoencoder '{}': rows of {} units; the net takes {}", a_.name, src.dim, eval_x_.shape().cols);
  const std::vector<int64_t> pick(rows.begin(), rows.end());
  const DataSource picked{static_cast<int64_t>(pick.size()), src.dim,
                          [&src, &pick](std::span<const int64_t> idx, std::span<float> out, uint64_t epoch) {
                            std::vector<int64_t> mapped;
                            for (int64_t i : idx) mapped.push_back(pick[static_cast<size_t>(i)]);
                            src.fill(mapped, out, epoch);
                          }};
  std::vector<float> out, x;
  for_each_batch(picked, eval_x_.shape().rows, 0, x, [&](int64_t, int64_t n) {
    ex_.run({eval_out_}, {{eval_x_, x}});
    const auto y = ex_.value(eval_out_);
    out.insert(out.end(), y.begin(), y.begin() + n * src.dim);
  });
  return out;
}

std::vector<AutoencoderEpoch> AutoencoderFitter::fit(const DataSource& train, const DataSource& valid,
                                                     const std::function<void(const AutoencoderEpoch&)>& on_epoch) {
  const int64_t b = a_.config.batch;
  if (train.dim != a_.x.shape().cols)
    throw Error("autoencoder '{}': training rows of {} units; the net takes {}", a_.name, train.dim, a_.x.shape().cols);
  if (cfg_.validate && valid.dim != train.dim)
    throw Error("autoencoder '{}': validation rows of {} units; the net takes {}", a_.name, valid.dim, train.dim);
  if (cfg_.validate && valid.count < 1)  // an error of 0 would keep epoch 1 as the best
    throw Error("autoencoder '{}': a validation source of {} rows; expected at least one (it chooses the epoch kept)",
                a_.name, valid.count);
  if (train.count < b)
    throw Error("autoencoder '{}': {} training rows; expected at least a batch ({})", a_.name, train.count, b);
  const std::string who = fmt::format("fine-tuning '{}'", a_.name);
  start_.at_fit(a_.params(), epochs_done_, who, "AutoencoderFitter", cfg_.checkpoint);
  io::Batcher batches(train.count, b, cfg_.data_seed);
  std::vector<float> x(static_cast<size_t>(b * train.dim));
  // A validation error that is not finite, from rows that are not: named before the epochs are spent.
  const auto name_bad_valid = [&](double error, std::string_view what) {
    if (!std::isfinite(error))
      name_bad_row(valid, cfg_.eval_batch, 0, who, "validation", fmt::format("the {} is not finite", what));
  };
  const double base = cfg_.validate && epochs_done_ < cfg_.epochs ? baseline(train, valid) : 0.0;
  name_bad_valid(base, "validation baseline error");
  std::vector<AutoencoderEpoch> out;
  const Tensor targets[] = {a_.opt.step, a_.loss};
  const bool cg = a_.config.optimizer == AeOptimizer::cg;
  for (int e = epochs_done_; e < cfg_.epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!cg) a_.opt.set_lr(base_lr() * std::pow(cfg_.lr_decay, static_cast<float>(e)));
    batches.start_epoch(static_cast<uint64_t>(e));
    AutoencoderEpoch s{.epoch = e + 1, .baseline = base};
    for (int64_t k = 0; k < batches.batches(); ++k) {
      train.fill(batches.batch(k), x, static_cast<uint64_t>(e));
      check_data_rows(a_.config.data_unit, x, train.dim, who, "training", "data_unit",
                      [rows = batches.batch(k)](size_t i) { return rows[i]; });
      double loss = 0;
      if (cg) {
        loss = cg_batch(x, s);
      } else {
        const Feed feeds[] = {{a_.x, x}};
        ex_.run(targets, feeds);
        loss = ex_.scalar(a_.loss);
      }
      s.train_loss += loss / static_cast<double>(batches.batches());
    }
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    try {
      check_finite(state(), fmt::format("fine-tuning '{}'", a_.name), e + 1, "epoch",
                   rate_named(a_.config.optimizer == AeOptimizer::cg ? "" : cfg_.lr_name, base_lr()));
    } catch (const Error&) {
      name_bad_row(train, b, static_cast<uint64_t>(e), fmt::format("fine-tuning '{}'", a_.name));
      throw;
    }
    if (cfg_.validate) {
      s.valid_error = error(valid);
      name_bad_valid(s.valid_error, "validation error");
      s.diverging = s.valid_error > 1.5 * base;
      s.best = best_.offer(e + 1, s.valid_error);
    }
    epochs_done_ = e + 1;
    out.push_back(s);
    // The callback first, then the checkpoint, as in RbmFitter::fit (rbm_fit.hpp says why).
    if (on_epoch) on_epoch(s);
    if (!cfg_.checkpoint.empty()) save();
  }
  if (cfg_.keep_best && best_.at() > 0) best_.restore();
  return out;
}

}  // namespace ebm
