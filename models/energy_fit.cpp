#include "models/energy_fit.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

#include <nlohmann/json.hpp>

#include "graph/functions.hpp"
#include "io/batch.hpp"
#include "models/checkpoint_meta.hpp"
#include "models/units.hpp"

namespace ebm {

EnergyFitter::EnergyFitter(const EnergyModel& m, const ContrastiveDivergence& cd, Tensor v, Executor& ex,
                           EnergyFitConfig config, std::vector<Tensor> monitors)
    : params_(m.params()), cd_(cd), v_(v), ex_(ex), cfg_(std::move(config)), monitors_(std::move(monitors)) {
  const std::string who = fmt::format("fit '{}'", cfg_.name);
  checked_node(v_, who + " (v)");
  for (const Tensor& t : {cd_.step, cd_.objective})
    if (!t.valid() || t.graph != v_.graph)
      throw Error("{}: a ContrastiveDivergence {}; expected the one contrastive_divergence(m, v, ...) built on v's "
                  "graph",
                  who, t.valid() ? "of another graph" : "without its step and objective");
  if (cd_.opt.state.size() != params_.size())
    throw Error("{}: the model has {} params() and CD's optimizer {} velocities; expected the CD built for this model",
                who, params_.size(), cd_.opt.state.size());
  if (cfg_.epochs < 0 || cfg_.monitor_rows < 0)
    throw Error("{}: epochs = {} and monitor_rows = {}; expected both at least 0", who, cfg_.epochs, cfg_.monitor_rows);
  check_hyper(who, "lr_decay", cfg_.lr_decay, std::numeric_limits<float>::min());
  for (size_t i = 0; i < monitors_.size(); ++i) {
    checked_node(monitors_[i], fmt::format("{} (monitors[{}])", who, i));
    if (monitors_[i].graph != v_.graph || !monitors_[i].shape().is_scalar())
      throw Error("{}: monitors[{}] '{}' has shape {}{}; expected a [1, 1] value of v's graph", who, i,
                  monitors_[i].graph->label(monitors_[i].id), monitors_[i].shape(),
                  monitors_[i].graph != v_.graph ? " in another graph" : "");
  }
  // F(v) of the batch, [batch, 1]: the step computes it for its objective, and the training batches' mean and the
  // monitoring subsets (fed to v, batch by batch) read the same node.
  eval_f_ = cd_.data_free_energy.valid() ? cd_.data_free_energy : m.free_energy(v_);
  base_lr_ = cd_.opt.lr();
  if (!cfg_.checkpoint.empty()) check_checkpoint_path(cfg_.checkpoint);
  if (cfg_.resume && !cfg_.checkpoint.empty() && checkpoint_exists(cfg_.checkpoint)) load();
}

std::vector<NamedTensor> EnergyFitter::state() const {
  std::vector<NamedTensor> s;
  for (size_t i = 0; i < params_.size(); ++i) {
    s.push_back({fmt::format("p{}", i), params_[i]});
    s.push_back({fmt::format("p{}.velocity", i), cd_.opt.state[i]});
  }
  if (cd_.chain.valid()) s.push_back({"chain", cd_.chain});
  return s;
}

void EnergyFitter::save() const {
  std::vector<std::string> names;
  for (const Tensor& p : params_) names.push_back(v_.graph->label(p.id));
  const nlohmann::json meta = {{"epoch", epochs_done_},
                               {"step", ex_.step()},
                               {"seed", ex_.options().seed},
                               {"data_seed", cfg_.data_seed},
                               {"batch", v_.shape().rows},
                               {"method", cd_.chain.valid() ? "pcd" : "cd"},
                               {"params", names},
                               {"lr", base_lr_},
                               {"lr_decay", cfg_.lr_decay},
                               {"momentum", cd_.opt.momentum()},
                               {"weight_decay", cd_.opt.weight_decay()},
                               {"run", cfg_.run_settings}};
  save_checkpoint(cfg_.checkpoint, "energy_model", state(), meta.dump());
}

void EnergyFitter::load() {
  const std::string where = cfg_.checkpoint.string();
  nlohmann::json meta;
  std::vector<std::string> notes;
  std::vector<std::string> names;
  for (const Tensor& p : params_) names.push_back(v_.graph->label(p.id));
  // Checked before any tensor is read: a refused checkpoint leaves the model as it was.
  auto check = [&](const std::string& text) {
    meta = nlohmann::json::parse(text);
    ResumeCheck c(meta, where);
    // The method first: PCD's checkpoint holds chains CD's does not.
    c.same("method", cd_.chain.valid() ? "pcd" : "cd", "method");
    c.same("params", names, "parameters");
    c.same("seed", ex_.options().seed, "seed");
    c.same("data_seed", cfg_.data_seed, "data seed");
    c.same("batch", v_.shape().rows, "batch size");
    c.same_run(cfg_.run_settings);
    meta_count(meta, "step", where);
    meta_epoch(meta, "epoch", where);
    c.noted("lr", base_lr_, cfg_.lr_name.empty() ? "lr" : cfg_.lr_name);
    c.noted("lr_decay", cfg_.lr_decay, "lr decay");
    c.noted("momentum", cd_.opt.momentum(), "momentum");
    c.noted("weight_decay", cd_.opt.weight_decay(), "weight decay");
    notes = c.notes();
  };
  load_checkpoint(cfg_.checkpoint, "energy_model", state(), check);
  if (std::string n = old_copy_note(cfg_.checkpoint); !n.empty()) notes.push_back(std::move(n));
  for (const std::string& n : notes) notes_.push_back(fmt::format("{}: {}", cfg_.name, n));
  epochs_done_ = meta_epoch(meta, "epoch", where);
  ex_.set_step(meta_count(meta, "step", where));
}

double EnergyFitter::mean_free_energy(const DataSource& src, int64_t rows, std::string_view set) {
  const int64_t b = v_.shape().rows, dim = v_.shape().cols, n = std::min(rows, src.count);
  if (n < 1) return std::nan("");
  const uint64_t step = ex_.step();
  std::vector<int64_t> idx(static_cast<size_t>(b));
  std::vector<float> x(static_cast<size_t>(b * dim));
  double total = 0;
  for (int64_t first = 0; first < n; first += b) {
    const int64_t real = std::min(b, n - first);
    for (int64_t i = 0; i < b; ++i) idx[static_cast<size_t>(i)] = first + std::min(i, real - 1);  // padded by the last
    src.fill(idx, x, 0);
    check_finite_rows(x, dim, fmt::format("fit '{}'", cfg_.name), set, [&](int64_t r) { return first + r; });
    ex_.run({eval_f_}, {{v_, x}});
    const std::span<const float> f = ex_.value(eval_f_);
    for (int64_t i = 0; i < real; ++i) total += f[static_cast<size_t>(i)];
  }
  ex_.set_step(step);
  return total / static_cast<double>(n);
}

std::vector<EnergyEpoch> EnergyFitter::fit(const DataSource& train, const DataSource& valid,
                                           const std::function<void(const EnergyEpoch&)>& on_epoch) {
  const std::string who = fmt::format("fit '{}'", cfg_.name);
  const int64_t b = v_.shape().rows, dim = v_.shape().cols;
  if (train.dim != dim || (valid.count > 0 && valid.dim != dim))
    throw Error("{}: rows of {} (training) and {} (validation) values; expected {}, the width of v", who, train.dim,
                valid.dim, dim);
  if (train.count < b)
    throw Error("{}: {} training rows; expected at least a batch of {}", who, train.count, b);
  io::Batcher batches(train.count, b, cfg_.data_seed);
  std::vector<float> x(static_cast<size_t>(b * dim));
  if (cd_.chain.valid() && epochs_done_ == 0) {  // a fresh run's chains start at its first batch
    train.fill(batches.batch(0), v_.graph->value(cd_.chain), 0);
    check_finite_rows(v_.graph->value(cd_.chain), dim, who, "training",
                      [&](int64_t r) { return batches.batch(0)[static_cast<size_t>(r)]; });
  }
  const std::string rate = rate_named(cfg_.lr_name, base_lr_);
  std::vector<Tensor> targets{cd_.step, mean(eval_f_)};
  targets.insert(targets.end(), monitors_.begin(), monitors_.end());
  std::vector<EnergyEpoch> out;
  bool first = true;  // the training rows are checked in the first epoch each call trains
  for (int e = epochs_done_; e < cfg_.epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    batches.start_epoch(static_cast<uint64_t>(e));
    cd_.opt.set_lr(base_lr_ * std::pow(cfg_.lr_decay, static_cast<float>(e)));
    EnergyEpoch s{.epoch = e + 1, .monitors = std::vector<double>(monitors_.size(), 0.0)};
    const auto n = static_cast<double>(batches.batches());
    for (int64_t k = 0; k < batches.batches(); ++k) {
      train.fill(batches.batch(k), x, static_cast<uint64_t>(e));
      if (first)
        check_finite_rows(x, dim, who, "training", [&](int64_t r) { return batches.batch(k)[static_cast<size_t>(r)]; });
      ex_.run(targets, {{v_, x}});
      s.free_energy += ex_.scalar(targets[1]) / n;
      for (size_t i = 0; i < monitors_.size(); ++i) s.monitors[i] += ex_.scalar(monitors_[i]) / n;
    }
    first = false;
    check_finite(state(), who, e + 1, "epoch", rate);
    const bool monitored = cfg_.monitor_rows > 0;
    s.fe_train = monitored ? mean_free_energy(train, cfg_.monitor_rows, "training") : std::nan("");
    s.fe_valid = monitored && valid.count > 0 ? mean_free_energy(valid, cfg_.monitor_rows, "validation") : std::nan("");
    s.fe_gap = s.fe_valid - s.fe_train;
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    epochs_done_ = e + 1;
    if (on_epoch) on_epoch(s);
    if (!cfg_.checkpoint.empty()) save();
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace ebm
