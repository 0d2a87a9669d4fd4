#include "models/joint_fit.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include "io/batch.hpp"
#include "models/checkpoint.hpp"
#include "models/checkpoint_meta.hpp"
#include "models/evaluate.hpp"

namespace ebm {

namespace {

// The config, refused when a count is negative, a chain has no steps, a
// rate is not a number, or the models are not a pair the joint model can
// use (check_joint_models: empty, in two graphs, of other sizes, not binary).
JointFitConfig checked(const Dbn& lower, const LabelledRbm& top, JointFitConfig cfg) {
  check_joint_models(lower, top, "joint model");  // empty, apart, the top's size, units other than binary
  if (cfg.top_epochs < 0 || cfg.updown_epochs < 0 || cfg.refit_epochs < 0)
    throw Error("joint model: top_epochs {}, updown_epochs {}, refit_epochs {}; expected each at least 0",
                cfg.top_epochs, cfg.updown_epochs, cfg.refit_epochs);
  if (cfg.top_k < 1 || cfg.updown_top_k.empty() ||
      std::ranges::any_of(cfg.updown_top_k, [](int k) { return k < 1; }))
    throw Error("joint model: top_k {} and up-down's chain lengths {}; expected each at least 1 (and at least one "
                "length)",
                cfg.top_k, fmt::join(cfg.updown_top_k, ","));
  check_hyper("joint model", "refit_lr (0: up-down's)", cfg.refit_lr, 0.0f);
  check_hyper("joint model", "updown_lr", cfg.updown_lr, 0.0f);  // before the top RBM trains, not after
  if (cfg.refit_error_every < 1)
    throw Error("joint model: refit_error_every {}; expected at least 1 (the error on all images every N epochs)",
                cfg.refit_error_every);
  return cfg;
}

}  // namespace

JointTrainer::JointTrainer(Dbn& lower, LabelledRbm& top, Executor& ex, JointFitConfig cfg)
    : lower_(lower), top_(top), ex_(ex), cfg_(checked(lower, top, std::move(cfg))),
      cd_(make_labelled_cd(top, cfg_.batch, cfg_.top_k,
                           {.lr = cfg_.lr, .momentum = 0.9f, .weight_decay = cfg_.top_weight_decay},
                           cfg_.chain_labels)) {
  check_hyper("joint model", "up-down momentum", cfg_.updown_momentum, 0.0f, 1.0f);  // before any training
  check_hyper("joint model", "up-down weight decay", cfg_.updown_weight_decay, 0.0f);
  if (cfg_.eval_batch < 1) throw Error("joint model: eval_batch {}; expected at least 1", cfg_.eval_batch);
  int64_t units = lower.rbms.front().config.visible + top.labels * (top.hidden + 1);  // each label's free energy
  for (const Rbm& r : lower.rbms) units += r.config.hidden;
  check_eval_batch_fits("joint model", cfg_.eval_batch, units);
  Graph& g = *lower.graph;
  eval_x_ = g.input("joint.eval_x", {cfg_.eval_batch, lower.rbms.front().config.visible});
  greedy_scores_ = top.label_scores(lower.up(eval_x_, lower.depth()));
  if (!cfg_.checkpoint.empty()) {  // a folder of the phases' checkpoints
    std::error_code ec;  // the phases' parent folder may hold anything else; only a file is in the way
    if (std::filesystem::exists(cfg_.checkpoint, ec) && !std::filesystem::is_directory(cfg_.checkpoint, ec))
      throw Error("joint model: checkpoint '{}' is a file; expected a folder for the phases' checkpoints, or nothing "
                  "there",
                  cfg_.checkpoint.string());
    for (const char* phase : {"top", "updown", "refit"}) check_checkpoint_path(cfg_.checkpoint / phase);
  }
}

// The images of `set` read by the greedy model or up-down's (`what` names
// the reading in the error when up-down has not run): scaled to [0, 1], or
// over `binarizations` sampled views of each, keyed apart from the training
// draws (which use data_seed itself). `read(scores, source, views)` reads.
template <typename Read>
auto JointTrainer::read_images(const io::ImageSet& set, bool after_up_down, int binarizations, const char* what,
                               Read read) {
  if (after_up_down && !updown_scores_.valid())
    throw Error("joint model: {} after up-down was asked before up_down(); expected up_down() first (it also "
                "resumes a saved up-down)",
                what);
  const Tensor scores = after_up_down ? updown_scores_ : greedy_scores_;
  if (binarizations == 0) return read(scores, image_source(set, io::Pixels::scaled, 0), 1);
  const uint64_t step = ex_.step();
  auto out = read(scores, image_source(set, io::Pixels::sampled, ~cfg_.data_seed), binarizations);
  // The step counter keys training's random draws: leave it where the scaled
  // reading (one run per batch) leaves it, so that training after either is the same.
  ex_.set_step(step + eval_runs(set));
  return out;
}

double JointTrainer::error(const io::ImageSet& set, bool after_up_down, std::vector<int64_t>* wrong,
                           int binarizations, std::vector<int>* given) {
  return read_images(set, after_up_down, binarizations, "the error", [&](Tensor scores, DataSource rows, int views) {
    return classification_error_over_views(ex_, eval_x_, scores, {rows, set.labels}, views, wrong, given);
  });
}

// The lower DBN's weights as the phases find them (they train copies of their own).
std::string JointTrainer::lower_fingerprint() const { return params_fingerprint(lower_.params()); }

std::vector<float> JointTrainer::probabilities(const io::ImageSet& set, bool after_up_down, int binarizations) {
  return read_images(set, after_up_down, binarizations, "the probabilities",
                     [&](Tensor scores, DataSource rows, int views) {
                       return class_probabilities(ex_, eval_x_, scores, rows, views);
                     });
}

std::vector<NamedTensor> JointTrainer::state(const char* phase, bool with_best) const {
  std::vector<NamedTensor> out;
  auto add = [&](Tensor t) { out.push_back({t.graph->label(t.id), t}); };
  for (Tensor t : top_.params()) add(t);
  for (const auto* v : {&ud_.r, &ud_.rb, &ud_.g, &ud_.gb})
    for (Tensor t : *v) add(t);
  const Optimizer& opt = std::string_view(phase) == "top" ? cd_.opt : ud_.opt;
  for (size_t i = 0; i < opt.state.size(); ++i) out.push_back({fmt::format("velocity{}", i), opt.state[i]});
  if (std::string_view(phase) == "updown" && with_best)
    for (Tensor t : ud_best_.copies()) add(t);
  return out;
}

std::vector<int> JointTrainer::chain_lengths(const char* phase) const {
  const std::string_view p = phase;
  if (p == "top") return {cfg_.top_k};
  if (p == "updown") return cfg_.updown_top_k;
  return {cfg_.updown_top_k.empty() ? 1 : cfg_.updown_top_k.back()};  // the refit: the schedule's last
}

float JointTrainer::phase_lr(const char* phase) const {
  const std::string_view p = phase;
  if (p == "top") return cfg_.lr;
  if (p == "updown") return cfg_.updown_lr;
  return cfg_.refit_lr > 0.0f ? cfg_.refit_lr : cfg_.updown_lr;
}

int JointTrainer::planned(const char* phase) const {
  const std::string_view p = phase;
  return p == "top" ? cfg_.top_epochs : p == "updown" ? cfg_.updown_epochs : cfg_.refit_epochs;
}

void JointTrainer::save(const char* phase, int epoch) const {
  nlohmann::json meta = {{"phase", phase}, {"epoch", epoch}, {"planned", planned(phase)},
                         {"step", ex_.step()}, {"seed", ex_.options().seed}, {"data_seed", cfg_.data_seed},
                         {"batch", cfg_.batch}, {"top_k", chain_lengths(phase)}, {"lr", phase_lr(phase)},
                         {"chain_labels", chain_labels_name()}, {"balanced_batches", cfg_.balanced_batches},
                         {"run", cfg_.run_settings}, {"lower", lower_fingerprint()}};
  if (std::string_view(phase) == "updown") {
    meta["best_epoch"] = ud_best_.at();
    meta["best_error"] = ud_best_.error();
  }
  if (std::string_view(phase) == "top") {
    meta["weight_decay"] = cfg_.top_weight_decay;
  } else {
    meta["weight_decay"] = cfg_.updown_weight_decay;
    meta["momentum"] = cfg_.updown_momentum;
  }
  save_checkpoint(cfg_.checkpoint / phase, "joint", state(phase), meta.dump());
}

int JointTrainer::saved_epoch(const char* phase) const { return saved_phase(phase).epoch; }

JointTrainer::SavedPhase JointTrainer::saved_phase(const char* phase) const {
  // After a phase trained any epoch in this run, the later phases' checkpoints
  // were made from another model: they start afresh.
  if (!cfg_.resume || trained_ || cfg_.checkpoint.empty() || !checkpoint_exists(cfg_.checkpoint / phase)) return {};
  const auto meta = nlohmann::json::parse(checkpoint_meta(cfg_.checkpoint / phase, "joint"));
  // Up-down's CD-k phases cut its length into equal parts, and the refit's
  // rate falls to zero over its length: another length replays none of it.
  const std::string_view p = phase;
  const bool length_matters = (p == "updown" && cfg_.updown_top_k.size() > 1) || (p == "refit" && cfg_.refit_anneal);
  const std::string where = (cfg_.checkpoint / phase).string();
  const int epoch = meta_epoch(meta, "epoch", where);
  if (length_matters && meta.contains("planned")) {  // (older checkpoints did not record it)
    const int saved_plan = meta_epoch(meta, "planned", where);
    if (saved_plan != planned(phase)) return {.other_plan = saved_plan};
    if (epoch > saved_plan)
      throw Error("checkpoint '{}': manifest.json's meta holds epoch {} of a phase planned for {}; expected at most {} "
                  "(a damaged or edited checkpoint)",
                  where, epoch, saved_plan, saved_plan);
  }
  return {.epoch = epoch};
}

int JointTrainer::load(const char* phase) {
  if (const SavedPhase saved = saved_phase(phase); saved.epoch == 0) {
    if (saved.other_plan > 0)  // a resume asked for, and a checkpoint there: say why it is not taken
      notes_.push_back(fmt::format(
          "joint model, {}: the checkpoint's phase was planned for {} epoch{} and this run's for {}; {}, so the "
          "phase starts afresh",
          phase, saved.other_plan, saved.other_plan == 1 ? "" : "s", planned(phase),
          std::string_view(phase) == "updown" ? "its CD-k schedule cuts the phase into equal parts"
                                               : "its learning rate falls to zero over the phase"));
    return 0;
  }
  const std::filesystem::path dir = cfg_.checkpoint / phase;
  const std::string where = dir.string();
  auto meta = nlohmann::json::parse(checkpoint_meta(dir, "joint"));
  // What makes the run another one is refused; a rate or momentum may change.
  auto same = [&](const char* key, const nlohmann::json& now, const char* flag) {
    if (meta.contains(key) && meta.at(key) != now) {
      const auto [saved_text, now_text] = meta_shown_apart(meta.at(key), now);
      throw Error("resume from '{}': the checkpoint has {} {}; this run has {}; expected the same {}, or a fresh run",
                  where, key, saved_text, now_text, flag);
    }
  };
  ResumeCheck run(meta, where);
  run.same_run(cfg_.run_settings);  // the caller's flags first: they name what changed
  same("seed", ex_.options().seed, "ExecutorOptions::seed (dbn_mnist: --seed)");
  same("data_seed", cfg_.data_seed, "JointFitConfig::data_seed (dbn_mnist: --data-seed)");
  same("batch", cfg_.batch, "JointFitConfig::batch (dbn_mnist: --batch)");
  same("top_k", chain_lengths(phase),
       std::string_view(phase) == "top" ? "JointFitConfig::top_k (dbn_mnist: the first of --top-k)"
                                         : "JointFitConfig::updown_top_k (dbn_mnist: --top-k)");
  if (!meta.contains("chain_labels")) meta["chain_labels"] = "sampled";  // written before the choice existed
  same("chain_labels", chain_labels_name(), "JointFitConfig::chain_labels (dbn_mnist: --top-labels)");
  if (!meta.contains("balanced_batches")) meta["balanced_batches"] = false;
  same("balanced_batches", cfg_.balanced_batches, "JointFitConfig::balanced_batches (dbn_mnist: --balanced-batches)");
  // A checkpoint without a key was written before its choice existed: `before` is what it then had.
  auto noted = [&](const char* key, float now, float before, const char* what) {
    if (const float saved = meta.contains(key) ? static_cast<float>(meta_number(meta, key, where)) : before;
        saved != now)
      notes_.push_back(fmt::format("joint model, {}: resumed with {} {:g} (the checkpoint's {:g})", phase, what, now,
                                   saved));
  };
  const bool top = std::string_view(phase) == "top";
  if (!top && !meta.contains("weight_decay")) meta["weight_decay"] = 0.0f;
  same("weight_decay", top ? cfg_.top_weight_decay : cfg_.updown_weight_decay,
       top ? "JointFitConfig::top_weight_decay (dbn_mnist: --top-weight-decay)"
           : "JointFitConfig::updown_weight_decay (dbn_mnist: --updown-weight-decay)");
  noted("lr", phase_lr(phase), phase_lr(phase), "learning rate");
  if (!top) noted("momentum", cfg_.updown_momentum, 0.9f, "momentum");
  const int epoch = meta_epoch(meta, "epoch", where);
  const uint64_t step = meta_count(meta, "step", where);
  // An up-down checkpoint from before up-down kept its best epoch has no
  // copies: it resumes with its own parameters as the best so far, of an
  // error any epoch beats.
  const bool updown = std::string_view(phase) == "updown";
  const bool recorded = meta.contains("best_epoch") && meta.contains("best_error");
  const auto [best_epoch, best_error] =
      updown && recorded ? meta_best(meta, "best_epoch", "best_error", epoch, where) : std::pair<int, double>{};
  // Last: another run's settings are the clearer message.
  run.same_start("lower", lower_fingerprint(), fmt::format("the weights of the lower DBN '{}'", lower_.name), {},
                 "the stack has been trained further since, or is another");
  for (const std::string& n : run.notes()) notes_.push_back(fmt::format("joint model, {}: {}", phase, n));
  load_checkpoint(dir, "joint", state(phase, !updown || recorded));
  if (std::string n = old_copy_note(dir); !n.empty()) notes_.push_back(fmt::format("joint model, {}: {}", phase, n));
  ex_.set_step(step);
  if (updown && recorded) {
    ud_best_.set_record(best_epoch, best_error);
  } else if (updown) {
    ud_best_.keep(0, std::numeric_limits<double>::max());
    notes_.push_back(fmt::format("joint model, updown: '{}' was written before up-down kept its best epoch; the "
                                 "epochs from {} on choose among themselves",
                                 where, epoch + 1));
  }
  return epoch;
}

// The sets a phase trains and validates on, refused before its first epoch:
// images of another size than the DBN takes, a label missing or out of range,
// an empty validation set (its error would be 0 every epoch).
void JointTrainer::check_sets(const char* call, const io::ImageSet& train, const io::ImageSet& valid,
                              const char* valid_use) const {
  if (valid.count < 1)
    throw Error("{}: a validation set of {} rows; expected at least one ({})", call, valid.count, valid_use);
  if (train.count < cfg_.batch)
    throw Error("{}: {} training images, fewer than a batch of {} (JointFitConfig::batch); expected at least a batch",
                call, train.count, cfg_.batch);
  const int64_t pixels = lower_.rbms.front().config.visible;
  for (const auto& [set, which] : {std::pair{&train, "training"}, std::pair{&valid, "validation"}}) {
    if (set->dim() != pixels)
      throw Error("{}: {} images of {}x{} = {} pixels; expected {} pixels, the visible units of the DBN '{}'", call,
                  which, set->height, set->width, set->dim(), pixels, lower_.name);
    if (static_cast<int64_t>(set->labels.size()) != set->count) {
      if (set == &train && cfg_.balanced_batches)  // (as train_epoch said it, after the models were built)
        throw Error("{}: balanced batches need a label per image; the set has {} labels for {} images; expected one "
                    "label per image (the top RBM's label units train on them too)",
                    call, set->labels.size(), set->count);
      throw Error("{}: the {} set has {} labels for {} images; expected one label per image", call, which,
                  set->labels.size(), set->count);
    }
    for (size_t i = 0; i < set->labels.size(); ++i)
      if (set->labels[i] >= top_.labels)
        throw Error("{}: {} image {} has label {}; expected a label below the top RBM's {} label units", call, which,
                    i, set->labels[i], top_.labels);
  }
}

// One epoch of shuffled batches: step(e, xs, ys) per batch with sampled pixels
// (drawn for epoch `e`) and one-hot labels. Returns its seconds.
template <typename Step>
double JointTrainer::train_epoch(const io::ImageSet& train, uint64_t shuffle_seed, int e, Step step) {
  const auto t0 = std::chrono::steady_clock::now();
  if (cfg_.balanced_batches && train.labels.size() != static_cast<size_t>(train.count))
    throw Error("joint model: balanced batches need a label per image; the set has {} labels for {} images",
                train.labels.size(), train.count);
  io::Batcher batches = cfg_.balanced_batches ? io::Batcher(train.labels, cfg_.batch, shuffle_seed)
                                              : io::Batcher(train.count, cfg_.batch, shuffle_seed);
  std::vector<float> xs(static_cast<size_t>(cfg_.batch * train.dim())), ys(static_cast<size_t>(cfg_.batch * top_.labels));
  batches.start_epoch(static_cast<uint64_t>(e));
  for (int64_t b = 0; b < batches.batches(); ++b) {
    io::fill_batch(train, batches.batch(b), xs, {.mode = io::Pixels::sampled, .seed = cfg_.data_seed, .epoch = uint64_t(e)});
    io::fill_one_hot(train, batches.batch(b), static_cast<int>(top_.labels), ys);
    step(e, xs, ys);
  }
  trained_ = true;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Epochs `done` .. `total` of a phase, each followed by the validation error
// and a checkpoint.
template <typename Step>
int JointTrainer::epochs(const char* phase, int total, bool after_up_down, const io::ImageSet& train,
                         const io::ImageSet& valid, Step step, const std::function<void(const JointEpoch&)>& on_epoch) {
  const int loaded = load(phase);
  for (int e = loaded; e < total; ++e) {
    const double s = train_epoch(train, cfg_.data_seed + (after_up_down ? 1 : 0), e, step);
    check_finite(state(phase), fmt::format("joint model, {}", phase), e + 1);
    const double valid_error = error(valid, after_up_down);  // before the save: it advances the executor's step
    const bool best =
        std::string_view(phase) == "updown" && cfg_.updown_keep_best && ud_best_.offer(e + 1, valid_error);
    // The callback first, then the checkpoint, as in RbmFitter::fit (rbm_fit.hpp says why).
    if (on_epoch) on_epoch({phase, e + 1, s, valid_error, std::nan(""), best});  // (no training error measured)
    if (!cfg_.checkpoint.empty()) save(phase, e + 1);
  }
  return std::max(loaded, total);
}

void JointTrainer::train_top(const io::ImageSet& train, const io::ImageSet& valid,
                             const std::function<void(const JointEpoch&)>& on_epoch) {
  if (ud_.step.valid())  // up-down trains the top RBM from R's features; CD here would read W's
    throw Error("train_top: up_down has already run on this trainer; expected train_top before up_down (the top RBM "
                "is up-down's now, and train_top reads the DBN's tied weights)");
  check_sets("train_top", train, valid, "each epoch's validation error is measured on it");
  Graph& g = *lower_.graph;
  const Tensor x = g.input("joint.top_x", {cfg_.batch, train.dim()});
  const Tensor pen = lower_.up(x, lower_.depth());
  epochs("top", cfg_.top_epochs, false, train, valid, [&](int, std::span<const float> xs, std::span<const float> ys) {
    ex_.run({pen}, {{x, xs}});
    ex_.run({cd_.step}, {{cd_.p0, ex_.value(pen)}, {cd_.y0, ys}});
  }, on_epoch);
  top_ran_ = true;
}

int JointTrainer::top_k_at(int epoch) const {
  const std::vector<int>& ks = cfg_.updown_top_k;
  const auto phases = static_cast<int64_t>(ks.size());
  return ks[static_cast<size_t>(std::min<int64_t>(phases - 1, epoch * phases / std::max(1, cfg_.updown_epochs)))];
}

void JointTrainer::set_top_k(int k) {
  if (k == ud_k_) return;
  ud_ = with_top_k(ud_, k, updown_sgd());  // a longer chain, same parameters
  ud_k_ = k;
}

void JointTrainer::up_down(const io::ImageSet& train, const io::ImageSet& valid,
                           const std::function<void(const JointEpoch&)>& on_epoch) {
  const std::vector<int>& ks = cfg_.updown_top_k;
  if (ks.empty() || *std::min_element(ks.begin(), ks.end()) < 1)
    throw Error("up-down: the top RBM's CD-k schedule needs at least one value, each at least 1");
  // Its parameters (R, G) are added to the graph once: a second network over
  // the same DBN would need them again.
  if (ud_.step.valid())
    throw Error("up_down has already run on this trainer; expected one call (refit() continues from its model; a "
                "new up-down needs a new JointTrainer over models in a new Graph)");
  // The top RBM is trained (or resumed from its checkpoint) by train_top;
  // without it up-down would start from a random top RBM and say nothing.
  if (!top_ran_)
    throw Error("up_down: train_top has not run on this trainer; expected train_top first (it trains the top RBM or "
                "resumes its checkpoint; with top_epochs = 0 it keeps the top RBM as it is)");
  check_sets("up_down", train, valid, "its error chooses the up-down epoch kept");
  ud_ = make_up_down(lower_, top_, cfg_.batch, ks.front(), updown_sgd(), cfg_.chain_labels);
  ud_k_ = ks.front();
  std::vector<Tensor> params = top_.params();
  for (const auto* v : {&ud_.r, &ud_.rb, &ud_.g, &ud_.gb}) params.insert(params.end(), v->begin(), v->end());
  ud_best_ = BestParams(*lower_.graph, params);
  updown_scores_ = ud_.classify(eval_x_);
  // On resume, rebuild the steps in the order an unbroken run built them, so
  // every op (and the random stream keyed by its id) is the same.
  // (One length builds nothing new; a schedule's epochs are at most its planned length.)
  if (ks.size() > 1)
    for (int e = 0, done = saved_epoch("updown"); e < done; ++e) set_top_k(top_k_at(e));
  // The epochs the model holds: more than asked when a checkpoint of a
  // one-length schedule held more.
  const int held = epochs("updown", cfg_.updown_epochs, true, train, valid,
                          [&](int e, std::span<const float> xs, std::span<const float> ys) {
                            set_top_k(top_k_at(e));
                            ex_.run({ud_.step}, {{ud_.v, xs}, {ud_.y, ys}});
                          },
                          on_epoch);
  const int best = ud_best_.at();
  if (cfg_.updown_keep_best && best > 0 && best < held) {
    ud_best_.restore();
    for (Tensor v : ud_.opt.state) std::ranges::fill(lower_.graph->value(v), 0.0f);
  }
}

JointRefit JointTrainer::refit(const io::ImageSet& all, const std::function<void(const JointEpoch&)>& on_epoch) {
  if (!ud_.step.valid()) throw Error("refit: run up_down first; it continues from up-down's model");
  JointRefit r{.epochs = load("refit")};
  const int done = r.epochs;
  for (int e = done; e < cfg_.refit_epochs; ++e) {
    const float lr0 = cfg_.refit_lr > 0.0f ? cfg_.refit_lr : cfg_.updown_lr;
    ud_.opt.set_lr(cfg_.refit_anneal ? lr0 * static_cast<float>(cfg_.refit_epochs - e) / static_cast<float>(cfg_.refit_epochs)
                                     : lr0);
    // Pixels drawn as for epochs after up-down's; the last chain length stays.
    const double s = train_epoch(all, cfg_.data_seed + 2, cfg_.updown_epochs + e,
                                 [&](int, std::span<const float> xs, std::span<const float> ys) {
                                   ex_.run({ud_.step}, {{ud_.v, xs}, {ud_.y, ys}});
                                 });
    check_finite(state("refit"), "joint model, refit", e + 1);
    r.epochs = e + 1;
    double measured = std::nan("");
    if ((e + 1) % cfg_.refit_error_every == 0 || e + 1 == cfg_.refit_epochs) r.all_error = measured = error(all, true);
    else ex_.set_step(ex_.step() + eval_runs(all));  // where the measurement would have left it
    if (on_epoch) on_epoch({"refit", e + 1, s, 0.0, measured});  // first, as in epochs()
    if (!cfg_.checkpoint.empty()) save("refit", e + 1);
  }
  if (r.epochs == done && done > 0) r.all_error = error(all, true);  // resumed with every epoch done
  return r;
}

}  // namespace ebm
