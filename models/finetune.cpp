#include "models/finetune.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "graph/functions.hpp"
#include "io/batch.hpp"
#include "models/checkpoint_meta.hpp"
#include "models/evaluate.hpp"

namespace ebm {

Finetuner::Finetuner(Classifier& c, Executor& ex, FinetuneConfig cfg) : Finetuner(c.net(), ex, std::move(cfg)) {}

Finetuner::Finetuner(SoftmaxNet net, Executor& ex, FinetuneConfig cfg)
    : c_(std::move(net)), ex_(ex), cfg_(std::move(cfg)) {
  if (c_.graph == nullptr || !c_.predict || !c_.loss.valid() || !c_.x.valid() || !c_.t.valid())
    throw Error("fine-tuning '{}': a SoftmaxNet without its {}; expected graph, x, t, loss and predict set",
                c_.name, c_.graph == nullptr ? "graph" : !c_.predict ? "predict function" : "tensors");
  if (cfg_.epochs < 0 || cfg_.eval_batch < 1)
    throw Error("fine-tuning '{}': epochs = {} and eval_batch = {}; expected epochs at least 0, eval_batch at least 1",
                c_.name, cfg_.epochs, cfg_.eval_batch);
  check_hyper(fmt::format("fine-tuning '{}'", c_.name), "lr_decay", cfg_.lr_decay, std::numeric_limits<float>::min());
  int64_t units = c_.x.shape().cols + c_.classes;  // the input and the scores, and the layers between
  for (int64_t width : c_.layers) units += width;
  check_eval_batch_fits(fmt::format("fine-tuning '{}'", c_.name), cfg_.eval_batch, units);
  Graph& g = *c_.graph;
  eval_x_ = g.input(c_.name + ".eval_x", {cfg_.eval_batch, c_.x.shape().cols});
  eval_logits_ = c_.predict(eval_x_);
  best_ = BestParams(g, c_.params);
  check_fitter_checkpoint(cfg_.checkpoint, cfg_.resume, "classifier", c_.name);
  if (cfg_.resume && checkpoint_exists(cfg_.checkpoint)) load(params_fingerprint(c_.params));  // else: start fresh
}

double Finetuner::error(const io::ImageSet& set, std::vector<int64_t>* wrong, std::vector<int>* given) {
  return classification_error(ex_, eval_x_, eval_logits_, set, wrong, given);
}

double Finetuner::error(const LabelledRows& set, std::vector<int64_t>* wrong, std::vector<int>* given) {
  return classification_error(ex_, eval_x_, eval_logits_, set, wrong, given);
}

std::vector<float> Finetuner::probabilities(const DataSource& rows) {
  return class_probabilities(ex_, eval_x_, eval_logits_, rows);
}

std::vector<NamedTensor> Finetuner::state() const {
  std::vector<NamedTensor> s;
  const auto& params = c_.params;
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string n = fmt::format("p{}", i);
    s.push_back({n, params[i]});
    s.push_back({n + ".velocity", c_.opt.state[i]});
    s.push_back({n + ".best", best_.copies()[i]});
  }
  return s;
}

void Finetuner::save() const {
  const nlohmann::json meta = {{"epoch", epochs_done_},   {"step", ex_.step()},      {"seed", ex_.options().seed},
                               {"data_seed", cfg_.data_seed}, {"best_error", best_.error()}, {"best_epoch", best_.at()},
                               {"layers", c_.layers}, {"lr", c_.lr}, {"lr_decay", cfg_.lr_decay},
                               {"momentum", c_.opt.momentum()}, {"weight_decay", c_.opt.weight_decay()},
                               {"batch", c_.x.shape().rows}, {"run", cfg_.run_settings},
                               {"model", c_.name},            {"start", start_.start()}};
  save_checkpoint(cfg_.checkpoint, "classifier", state(), meta.dump());
}

void Finetuner::load(const std::string& before) {
  const std::string where = cfg_.checkpoint.string();
  nlohmann::json meta;
  std::vector<std::string> notes;
  // Checked before any tensor is read, so a refused checkpoint leaves the
  // net as it was.
  auto check = [&](const std::string& text) {
    meta = nlohmann::json::parse(text);
    const uint64_t seed = meta_count(meta, "seed", where), data_seed = meta_count(meta, "data_seed", where);
    if (seed != ex_.options().seed || data_seed != cfg_.data_seed)
      throw Error("resume from '{}': the checkpoint was made with seed {} and data seed {}; this run has {} and {}",
                  where, seed, data_seed, ex_.options().seed, cfg_.data_seed);
    // A batch of another size would shuffle and step differently: not a
    // continuation. The rates may change (a smaller one after a divergence).
    if (meta.contains("batch") && meta_count(meta, "batch", where) != static_cast<uint64_t>(c_.x.shape().rows))
      throw Error("resume from '{}': the checkpoint was trained with batches of {}; this run has {}; expected the "
                  "same batch, or a fresh run",
                  where, meta_count(meta, "batch", where), c_.x.shape().rows);
    // The tensors' shapes would say so too, but by a tensor's name (p2), not as the net's layers.
    if (meta.contains("layers") && meta["layers"] != nlohmann::json(c_.layers))
      throw Error("resume from '{}': the checkpoint's net has layers {}; this run's has {}; expected the same layers, "
                  "or a fresh run",
                  where, meta["layers"].dump(), nlohmann::json(c_.layers).dump());
    ResumeCheck c(meta, where);
    c.same_run(cfg_.run_settings);
    c.same("model", c_.name, "model (the net's name)");
    c.same_start("start", before, fmt::format("the weights of '{}' before the resume", c_.name), "Finetuner");
    meta_count(meta, "step", where);
    meta_best(meta, "best_epoch", "best_error", meta_epoch(meta, "epoch", where), where);
    c.noted("lr", c_.lr, cfg_.lr_name.empty() ? "lr" : cfg_.lr_name);
    c.noted("lr_decay", cfg_.lr_decay, "lr_decay");
    c.noted("momentum", c_.opt.momentum(), "momentum");  // this run's, as the rates: said when changed
    c.noted("weight_decay", c_.opt.weight_decay(), "weight decay");
    notes = c.notes();
  };
  load_checkpoint(cfg_.checkpoint, "classifier", state(), check);
  if (std::string n = old_copy_note(cfg_.checkpoint); !n.empty()) notes.push_back(std::move(n));
  for (const std::string& n : notes) notes_.push_back(fmt::format("{}: {}", c_.name, n));
  epochs_done_ = meta_epoch(meta, "epoch", where);
  const auto [best_epoch, best_error] = meta_best(meta, "best_epoch", "best_error", epochs_done_, where);
  best_.set_record(best_epoch, best_error);
  ex_.set_step(meta_count(meta, "step", where));
  start_.resumed(c_.params, meta_string(meta, "start"), before);
}

std::vector<FinetuneEpoch> Finetuner::fit(const io::ImageSet& train, const io::ImageSet& valid,
                                          const std::function<void(const FinetuneEpoch&)>& on_epoch) {
  return fit(labelled_images(train), labelled_images(valid), on_epoch);
}

std::vector<FinetuneEpoch> Finetuner::fit(const LabelledRows& train, const LabelledRows& valid,
                                          const std::function<void(const FinetuneEpoch&)>& on_epoch) {
  const int64_t b = c_.x.shape().rows, width = c_.x.shape().cols;
  if (train.rows.dim != width || valid.rows.dim != train.rows.dim)
    throw Error("fine-tuning '{}': rows of {} (training) and {} (validation) values; the net takes {}", c_.name,
                train.rows.dim, valid.rows.dim, width);
  if (static_cast<int64_t>(train.labels.size()) != train.rows.count)
    throw Error("fine-tuning '{}': {} labels for {} training rows; expected one label per row", c_.name,
                train.labels.size(), train.rows.count);
  if (cfg_.validate && valid.rows.count < 1)  // an error of 0 would keep epoch 1 as the best
    throw Error("fine-tuning '{}': a validation set of {} rows; expected at least one (it chooses the epoch kept)",
                c_.name, valid.rows.count);
  // Every label, before any training (a bad one was met when its batch came up, or after a whole epoch)
  auto check_labels = [&](const LabelledRows& set, std::string_view which) {
    if (static_cast<int64_t>(set.labels.size()) != set.rows.count)
      throw Error("fine-tuning '{}': {} labels for {} {} rows; expected one label per row", c_.name, set.labels.size(),
                  set.rows.count, which);
    for (size_t i = 0; i < set.labels.size(); ++i)
      if (set.labels[i] >= c_.classes)
        throw Error("fine-tuning '{}': {} row {} has label {}; expected a label below the net's {} classes", c_.name,
                    which, i, set.labels[i], c_.classes);
  };
  check_labels(train, "training");
  if (cfg_.validate) check_labels(valid, "validation");
  if (train.rows.count < b)
    throw Error("fine-tuning '{}': {} training row{}, fewer than a batch of {} (the net's batch: "
                "ClassifierConfig::batch); expected at least a batch",
                c_.name, train.rows.count, train.rows.count == 1 ? "" : "s", b);
  start_.at_fit(c_.params, epochs_done_, fmt::format("fine-tuning '{}'", c_.name), "Finetuner", cfg_.checkpoint);
  io::Batcher batches(train.rows.count, b, cfg_.data_seed);
  std::vector<float> x(static_cast<size_t>(b * train.rows.dim)), t(static_cast<size_t>(b * c_.classes));
  std::vector<FinetuneEpoch> out;
  const Tensor targets[] = {c_.opt.step, c_.loss};
  for (int e = epochs_done_; e < cfg_.epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    c_.opt.set_lr(c_.lr * std::pow(cfg_.lr_decay, static_cast<float>(e)));
    batches.start_epoch(static_cast<uint64_t>(e));
    FinetuneEpoch s{.epoch = e + 1};
    for (int64_t k = 0; k < batches.batches(); ++k) {
      train.rows.fill(batches.batch(k), x, static_cast<uint64_t>(e));
      io::fill_one_hot(train.labels, batches.batch(k), static_cast<int>(c_.classes), t);
      const Feed feeds[] = {{c_.x, x}, {c_.t, t}};
      ex_.run(targets, feeds);
      s.train_loss += ex_.scalar(c_.loss) / static_cast<double>(batches.batches());
    }
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    try {
      check_finite(state(), fmt::format("fine-tuning '{}'", c_.name), e + 1, "epoch",
                   rate_named(cfg_.lr_name, c_.lr) +
                       decay_named(cfg_.weight_decay_name, c_.lr, c_.opt.weight_decay()));
    } catch (const Error&) {
      name_bad_row(train.rows, b, static_cast<uint64_t>(e), fmt::format("fine-tuning '{}'", c_.name));
      throw;
    }
    s.diverging = s.train_loss > 10.0 * std::log(static_cast<double>(c_.classes));
    try {
      s.valid_error = cfg_.validate ? error(valid) : 0.0;
    } catch (const Error&) {  // the parameters are finite (checked above): scores that are not point at the rows
      name_bad_row(valid.rows, cfg_.eval_batch, 0, fmt::format("fine-tuning '{}'", c_.name), "validation",
                   "the validation error is undefined: their scores are not finite");
      throw;
    }
    s.best = cfg_.validate && best_.offer(e + 1, s.valid_error);
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
