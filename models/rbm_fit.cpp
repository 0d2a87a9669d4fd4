#include "models/rbm_fit.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "graph/functions.hpp"
#include "models/checkpoint_meta.hpp"
#include "models/checkpoint.hpp"
#include "models/crbm.hpp"
#include "ops/scalar_math.hpp"

namespace ebm {

RbmFitter::RbmFitter(CdTrainer& t, Executor& ex, RbmFitConfig config)
    : RbmFitter(t, ex, std::move(config),
                {.name = t.rbm.name,
                 .kind = "rbm",
                 .w = t.rbm.w,
                 .b = t.rbm.b,
                 .c = t.rbm.c,
                 .visible_unit = t.rbm.config.visible_unit,
                 .meta = nlohmann::json{{"visible", t.rbm.config.visible},
                                        {"hidden", t.rbm.config.hidden},
                                        {"visible_unit", to_string(t.rbm.config.visible_unit)},
                                        {"hidden_unit", to_string(t.rbm.config.hidden_unit)}}
                             .dump(),
                 .free_energy = [rbm = t.rbm](Tensor v) { return rbm.free_energy(v); }}) {}

RbmFitter::RbmFitter(CrbmTrainer& t, Executor& ex, RbmFitConfig config)
    : RbmFitter(t, ex, std::move(config),
                {.name = t.crbm.name,
                 .kind = "crbm",
                 .w = t.crbm.w,
                 .b = t.crbm.b,
                 .c = t.crbm.c,
                 .visible_unit = t.crbm.config.visible_unit,
                 .meta = nlohmann::json{{"channels", t.crbm.config.visible.channels},
                                        {"height", t.crbm.config.visible.height},
                                        {"width", t.crbm.config.visible.width},
                                        {"filter_size", t.crbm.config.visible.size},
                                        {"filters", t.crbm.config.filters},
                                        {"pool", t.crbm.config.pool},
                                        {"visible_unit", to_string(t.crbm.config.visible_unit)}}
                             .dump(),
                 .free_energy = [crbm = t.crbm](Tensor v) { return crbm.free_energy(v); }}) {}

RbmFitter::RbmFitter(CdSteps& trainer, Executor& ex, RbmFitConfig config, Model model)
    : t_(trainer), m_(std::move(model)), ex_(ex), cfg_(std::move(config)) {
  const std::string who = fmt::format("fit '{}'", m_.name);
  if (cfg_.epochs < 0 || cfg_.monitor_images < 1 || cfg_.momentum_switch_epoch < 0)
    throw Error("{}: epochs = {}, monitor_images = {}, momentum_switch_epoch = {}; expected epochs and the switch "
                "at least 0, monitor_images at least 1", who, cfg_.epochs, cfg_.monitor_images, cfg_.momentum_switch_epoch);
  check_hyper(who, "lr_decay", cfg_.lr_decay, std::numeric_limits<float>::min());
  check_hyper(who, "final_momentum", cfg_.final_momentum, 0.0f, 1.0f);
  v_eval_ = t_.v0.graph->input(m_.name + ".v_eval", t_.v0.shape());
  f_eval_ = m_.free_energy(v_eval_);
  batch_.resize(static_cast<size_t>(t_.v0.shape().size()));
  next_.resize(batch_.size());
  check_fitter_checkpoint(cfg_.checkpoint, cfg_.resume, m_.kind, m_.name);
  if (cfg_.resume && checkpoint_exists(cfg_.checkpoint)) load();  // nothing saved yet: start fresh
}

std::vector<double> RbmFitter::free_energies(const DataSource& src, uint64_t epoch, std::string_view set) {
  std::vector<double> out;
  const int64_t dim = t_.v0.shape().cols;
  for_each_batch(src, t_.v0.shape().rows, epoch, batch_, [&](int64_t first, int64_t rows) {
    if (!set.empty())
      check_data_rows(m_.visible_unit, std::span<const float>(batch_).first(static_cast<size_t>(rows * dim)), dim,
                      fmt::format("fit '{}'", m_.name), set, "visible_unit", [&](int64_t i) { return first + i; });
    ex_.run({f_eval_}, {{v_eval_, batch_}});
    auto f = ex_.value(f_eval_);
    out.insert(out.end(), f.begin(), f.begin() + rows);
  });
  return out;
}

void RbmFitter::monitor(EpochStats& s, const DataSource& train, const DataSource& valid, uint64_t epoch) {
  s.fe_train = mean_free_energy(head(train, cfg_.monitor_images), epoch);
  s.fe_valid = mean_free_energy(head(valid, cfg_.monitor_images), epoch, "validation");
  if (!std::isfinite(s.fe_valid))  // the parameters are finite (checked before): the rows are not
    name_bad_row(head(valid, cfg_.monitor_images), t_.v0.shape().rows, epoch, fmt::format("fit '{}'", m_.name),
                 "validation", "the validation rows' mean free energy is not finite");
  s.fe_gap = s.fe_valid - s.fe_train;
  s.pseudo_ll = m_.visible_unit == Unit::binary ? pseudo_likelihood(head(train, cfg_.monitor_images), epoch)
                                  : std::numeric_limits<double>::quiet_NaN();
}

namespace {

// EpochStats::diverging (rbm_fit.hpp) for epoch e of a call that began at
// `first`, `lowest` the lowest error of that call's earlier epochs.
bool diverging(int e, int first, double recon, double baseline, double lowest) {
  if (!(baseline >= kStillInputs)) return false;  // inputs that barely vary: no verdict
  const bool above_means = e > 0 && recon > 1.5 * baseline;
  // ... rising by a tenth of the means' error at least: not a near-perfect rebuild's 0.001 to 0.003
  const bool off_its_best = e > first && recon > 2.0 * lowest && recon - lowest > 0.1 * baseline;
  return above_means || off_its_best;
}

}  // namespace

std::string RbmFitter::cure() const {
  const CdConfig& c = t_.config;
  std::string out = rate_named(cfg_.lr_name, c.lr);
  auto flag = [&](const char* key) {  // the sample's flag when it named one, else the setting
    const auto it = cfg_.setting_flags.find(key);
    return it != cfg_.setting_flags.end() ? it->second : std::string(key);
  };
  // A penalty whose step outweighs the weights it acts on runs away at any rate worth training with:
  // decay that takes half of each weight a step, or L1 that moves each by more than its starting size.
  out += decay_named(flag("weight_decay"), c.lr, c.weight_decay);
  if (static_cast<double>(c.lr) * c.l1 >= 0.01 && c.l1 >= c.lr)
    out += fmt::format(" or {} (now {:g}: with the rate, each step moves each weight by {:g})", flag("l1"), c.l1,
                       static_cast<double>(c.lr) * c.l1);
  return out;
}

std::string diverging_reason(const EpochStats& s, std::string_view unit) {
  if (!s.diverging) return {};
  if (s.recon_error > 1.5 * s.recon_baseline)
    return fmt::format("over 1.5 times that of predicting each {} by its mean ({:.4g})", unit, s.recon_baseline);
  return fmt::format("over twice the lowest of the earlier epochs ({:.4g})", s.lowest_before);
}

double RbmFitter::recon_baseline(const DataSource& train) {
  // Rows are read in padded batches of the trainer's size, as a DBN layer's
  // source computes them, as seen in epoch 0 (a resumed run gets the same
  // figure). Such a source runs this executor: its step is put back, so the
  // training's random draws stay those of a run without this pass.
  const DataSource src = head(train, cfg_.monitor_images);
  const uint64_t step = ex_.step();
  const double v = mean_row_error(src, t_.v0.shape().rows, batch_);
  ex_.set_step(step);
  return v;
}

double RbmFitter::mean_free_energy(const DataSource& src, uint64_t epoch, std::string_view set) {
  const auto f = free_energies(src, epoch, set);
  double s = 0;
  for (double x : f) s += x;
  return s / static_cast<double>(f.size());
}

double RbmFitter::pseudo_likelihood(const DataSource& src, uint64_t epoch) {
  const int64_t b = t_.v0.shape().rows, nv = t_.v0.shape().cols;
  double acc = 0;
  bool binary = true;  // a flip of a probability p to 1 - p measures nothing: no figure for grey rows
  for_each_batch(src, b, epoch, batch_, [&](int64_t first, int64_t rows) {
    const auto real = std::span<const float>(batch_).first(static_cast<size_t>(rows * nv));
    binary = binary && std::ranges::all_of(real, [](float x) { return x == 0.0f || x == 1.0f; });
    if (!binary) {  // the step counter moves as the two runs would have moved it: later draws stay the same
      ex_.set_step(ex_.step() + 2);
      return;
    }
    ex_.run({f_eval_}, {{v_eval_, batch_}});
    std::vector<float> f(ex_.value(f_eval_).begin(), ex_.value(f_eval_).end());
    for (int64_t i = 0; i < b; ++i) {  // flip one random bit per row
      const int64_t bit = pseudo_likelihood_bit(cfg_.data_seed, epoch, first + i, nv);
      float& x = batch_[static_cast<size_t>(i * nv + bit)];
      x = 1.0f - x;
    }
    ex_.run({f_eval_}, {{v_eval_, batch_}});
    auto ff = ex_.value(f_eval_);
    for (int64_t i = 0; i < rows; ++i) {
      const double d = double(ff[static_cast<size_t>(i)]) - f[static_cast<size_t>(i)];  // log sigmoid(d)
      acc += static_cast<double>(nv) * log_sigmoid(d);
    }
  });
  return binary ? acc / static_cast<double>(src.count) : std::numeric_limits<double>::quiet_NaN();
}

std::vector<NamedTensor> RbmFitter::state() const {
  std::vector<NamedTensor> s{{"W", m_.w}, {"b", m_.b}, {"c", m_.c},
                             {"W.velocity", t_.weights.state[0]}, {"b.velocity", t_.biases.state[0]},
                             {"c.velocity", t_.biases.state[1]}};
  if (t_.chain.valid()) s.push_back({"chain", t_.chain});
  return s;
}

namespace {

// The training settings a resumed run must share with the checkpoint's
// (the learning rate aside: it may change on resume), as saved.
nlohmann::json training_settings(const CdConfig& c, const RbmFitConfig& f, uint64_t seed) {
  nlohmann::json s = {
      {"seed", seed},
      {"data_seed", f.data_seed},
      {"method", c.method == CdMethod::cd ? "cd" : "pcd"},
      {"k", c.k},
      {"batch", c.batch},
      {"momentum", c.momentum},
      {"weight_decay", c.weight_decay},
      {"l1", c.l1},
      {"sparsity_cost", c.sparsity_cost},
      {"sparsity_target", c.sparsity_target},
      {"mean_field_last", c.mean_field_last},
      {"lr_decay", f.lr_decay},
      {"final_momentum", f.final_momentum},
      {"momentum_switch_epoch", f.momentum_switch_epoch},
      {"monitor_images", f.monitor_images},
  };
  s["run"] = nlohmann::json::object();
  for (const auto& [key, value] : f.run_settings) s["run"][key] = value;
  return s;
}

}  // namespace

int64_t pseudo_likelihood_bit(uint64_t data_seed, uint64_t epoch, int64_t row, int64_t visible) {
  const RngKey key = make_rng_key(data_seed, 0x9e11, epoch);
  return static_cast<int64_t>(random_bits<uint32_t>(key, static_cast<uint32_t>(row)) % static_cast<uint64_t>(visible));
}

void RbmFitter::save(int epoch) const {
  nlohmann::json meta = nlohmann::json::parse(m_.meta);
  meta.update(training_settings(t_.config, cfg_, ex_.options().seed));
  meta.update({{"epoch", epoch}, {"step", ex_.step()}, {"lr", t_.config.lr}, {"model", m_.name}});
  save_checkpoint(cfg_.checkpoint, m_.kind, state(), meta.dump());
}

void RbmFitter::load() {
  const std::string where = cfg_.checkpoint.string();
  std::vector<std::string> notes, unknown;
  int epoch = 0;
  uint64_t step = 0;
  // Everything is checked before any tensor is read: a refused checkpoint leaves the model as it was.
  const auto check = [&](const std::string& text) {
    const nlohmann::json meta = nlohmann::json::parse(text);
    // A differing setting is refused; a missing one (an older checkpoint) is named in the notes.
    const auto expect = [&](const nlohmann::json& saved, const std::string& key, const nlohmann::json& want) {
      if (!saved.contains(key)) {
        unknown.push_back(key);
      } else if (saved.at(key) != want) {
        const auto [saved_text, want_text] = meta_shown_apart(saved.at(key), want);
        const auto flag = cfg_.setting_flags.find(key);
        throw Error("resume from '{}': the checkpoint has {} = {}; this run has {}{}; expected the same (a resume "
                    "continues the run as it was made; only the number of epochs and the learning rate may change)",
                    where, key, saved_text, want_text,
                    flag == cfg_.setting_flags.end() || flag->second.empty()
                        ? std::string()
                        : fmt::format(" (set by {})", flag->second));
      }
    };
    // Another model's checkpoint first (one folder given to two layers of a stack, say): its settings would
    // differ, or worse, match.
    if (!meta.contains("model")) {
      unknown.push_back("model");
    } else if (meta.at("model") != m_.name) {
      throw Error("resume from '{}': the checkpoint is of '{}'; this fitter trains '{}'; expected a checkpoint of the "
                  "same model (one folder given to two models? give each its own)",
                  where, meta_shown(meta.at("model")), m_.name);
    }
    const nlohmann::json want = training_settings(t_.config, cfg_, ex_.options().seed);
    // The method first: another method's checkpoint has other tensors (PCD's chains), and that is the clearer message.
    for (const char* key : {"method", "k"}) expect(meta, key, want.at(key));
    // Then the model's description (units, pooling, ...), then the training's settings.
    const nlohmann::json model = nlohmann::json::parse(m_.meta);
    for (const auto& [key, value] : model.items()) expect(meta, key, value);
    for (const auto& [key, value] : want.items()) {
      if (key == "run" || key == "method" || key == "k") continue;
      // PCD ignores mean_field_last (its chains keep sampled states; make_cd_trainer saves false): a checkpoint
      // an older build saved with true is the same run.
      if (key == "mean_field_last" && t_.config.method == CdMethod::pcd) continue;
      // The target is unused without the penalty: a run without it is the same run whatever its target.
      if (key == "sparsity_target" && t_.config.sparsity_cost == 0.0f &&
          (!meta.contains("sparsity_cost") || meta.at("sparsity_cost") == nlohmann::json(0.0)))
        continue;
      expect(meta, key, value);
    }
    const nlohmann::json saved_run = meta.contains("run") ? meta.at("run") : nlohmann::json::object();
    if (!saved_run.is_object())
      throw Error("resume from '{}': the checkpoint's run settings are {}; expected an object", where,
                  json_excerpt(saved_run));
    for (const auto& [key, value] : want.at("run").items()) expect(saved_run, key, value);
    // What a resume needs to continue: the epoch and the executor's step.
    epoch = meta_epoch(meta, "epoch", where);
    step = meta_count(meta, "step", where);
    // (a checkpoint with every epoch done trains none at this rate: nothing to note)
    if (meta.contains("lr") && meta_number(meta, "lr", where) != static_cast<double>(t_.config.lr) &&
        epoch < cfg_.epochs)
      notes.push_back(fmt::format("resumed with {} {} (checkpoint: {})", cfg_.lr_name.empty() ? "lr" : cfg_.lr_name,
                                  t_.config.lr, meta_shown(meta.at("lr"))));
  };
  load_checkpoint(cfg_.checkpoint, m_.kind, state(), check);
  if (!unknown.empty())
    notes.push_back(fmt::format("the checkpoint does not record {} (it was written by an older version): not checked",
                                fmt::join(unknown, ", ")));
  if (std::string n = old_copy_note(cfg_.checkpoint); !n.empty()) notes.push_back(std::move(n));
  epochs_done_ = epoch;
  ex_.set_step(step);
  notes_ = std::move(notes);
}

std::vector<EpochStats> RbmFitter::fit(const DataSource& train, const DataSource& valid,
                                       const std::function<void(const EpochStats&)>& on_epoch) {
  if (train.dim != t_.v0.shape().cols || valid.dim != train.dim)
    throw Error("fit '{}': data rows have {} (training) and {} (validation) values; the model has {} visible units",
                m_.name, train.dim, valid.dim, t_.v0.shape().cols);
  if (!train.fill || !valid.fill)
    throw Error("fit '{}': the {} source has no fill function; expected one that writes its rows (image_source, "
                "matrix_source)",
                m_.name, !train.fill ? "training" : "validation");
  if (valid.count < 1)
    throw Error("fit '{}': a validation source of {} rows; expected at least one (the free-energy gap compares "
                "validation rows with training rows)",
                m_.name, valid.count);
  if (train.count < t_.config.batch)  // an epoch would hold no batch
    throw Error("fit '{}': batches of {} from a training source of {} row{}; expected at least one batch's rows",
                m_.name, t_.config.batch, train.count, train.count == 1 ? "" : "s");
  io::Batcher batches(train.count, t_.config.batch, cfg_.data_seed);
  std::vector<EpochStats> out;
  const Tensor targets[] = {t_.step, t_.recon_error};
  const double baseline = epochs_done_ < cfg_.epochs ? recon_baseline(train) : 0.0;
  if (epochs_done_ < cfg_.epochs) {  // the monitored validation rows, before an epoch is spent beside bad ones
    const uint64_t step = ex_.step();  // a lower layer's source runs this executor: its draws stay as they were
    const int64_t dim = valid.dim;
    for_each_batch(head(valid, cfg_.monitor_images), t_.v0.shape().rows, static_cast<uint64_t>(epochs_done_), batch_,
                   [&](int64_t first, int64_t rows) {
                     check_data_rows(m_.visible_unit,
                                     std::span<const float>(batch_).first(static_cast<size_t>(rows * dim)), dim,
                                     fmt::format("fit '{}'", m_.name), "validation", "visible_unit",
                                     [&](int64_t i) { return first + i; });
                   });
    ex_.set_step(step);
  }
  const int first_epoch = epochs_done_;  // its batches are checked against the visible units' range
  double lowest = 0;  // the lowest reconstruction error of this call's epochs so far
  for (int e = epochs_done_; e < cfg_.epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    t_.set_lr(t_.config.lr * std::pow(cfg_.lr_decay, static_cast<float>(e)));
    t_.set_momentum(e < cfg_.momentum_switch_epoch ? t_.config.momentum : cfg_.final_momentum);
    batches.start_epoch(static_cast<uint64_t>(e));
    EpochStats s{.epoch = e + 1, .recon_baseline = baseline};
    const auto epoch = static_cast<uint64_t>(e);
    if (train.concurrent && batches.batches() > 0) train.fill(batches.batch(0), next_, epoch);
    auto check = [&](int64_t b) {
      if (e == first_epoch)
        check_data_rows(m_.visible_unit, batch_, train.dim, fmt::format("fit '{}'", m_.name), "training",
                        "visible_unit", [&](int64_t i) { return batches.batch(b)[static_cast<size_t>(i)]; });
    };
    for (int64_t b = 0; b < batches.batches(); ++b) {
      if (train.concurrent) {  // batch b was prepared beside step b - 1; b + 1 is prepared beside this one
        batch_.swap(next_);
        check(b);
        auto prepare = [&] {
          if (b + 1 < batches.batches()) train.fill(batches.batch(b + 1), next_, epoch);
        };
        const Feed feeds[] = {{t_.v0, batch_}};
        ex_.run(targets, feeds, prepare);
      } else {
        train.fill(batches.batch(b), batch_, epoch);
        check(b);
        const Feed feeds[] = {{t_.v0, batch_}};
        ex_.run(targets, feeds);
      }
      s.recon_error += ex_.scalar(t_.recon_error) / static_cast<double>(batches.batches());
    }
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    try {
      check_finite(state(), fmt::format("fit '{}'", m_.name), e + 1, "epoch", cure());
    } catch (const Error&) {
      name_bad_row(train, t_.config.batch, epoch, fmt::format("fit '{}'", m_.name));
      throw;
    }
    if (e > first_epoch) s.lowest_before = lowest;
    s.diverging = diverging(e, first_epoch, s.recon_error, baseline, lowest);
    if (e == first_epoch || s.recon_error < lowest) lowest = s.recon_error;
    monitor(s, train, valid, epoch);
    epochs_done_ = e + 1;
    out.push_back(s);
    // The callback first, then the checkpoint: a run killed between the two
    // redoes this epoch, its CSV row included, when resumed (the samples cut
    // their files back to the checkpoint's epochs), and none is lost.
    if (on_epoch) on_epoch(s);
    if (!cfg_.checkpoint.empty()) save(epochs_done_);
  }
  return out;
}

}  // namespace ebm
