#include "models/joint_fit.hpp"

#include <algorithm>
#include <chrono>

#include <nlohmann/json.hpp>

#include "io/batch.hpp"
#include "models/checkpoint.hpp"
#include "models/evaluate.hpp"

namespace ebm {

JointTrainer::JointTrainer(Dbn& lower, LabelledRbm& top, Executor& ex, JointFitConfig cfg)
    : lower_(lower), top_(top), ex_(ex), cfg_(std::move(cfg)),
      cd_(make_labelled_cd(top, cfg_.batch, cfg_.top_k, {.lr = cfg_.lr, .momentum = 0.9f, .weight_decay = 2e-4f})) {
  Graph& g = *lower.graph;
  eval_x_ = g.input("joint.eval_x", {cfg_.eval_batch, lower.rbms.front().config.visible});
  greedy_scores_ = top.label_scores(lower.up(eval_x_, lower.depth()));
}

double JointTrainer::error(const io::ImageSet& set, bool after_up_down, std::vector<int64_t>* wrong) {
  return classification_error(ex_, eval_x_, after_up_down ? updown_scores_ : greedy_scores_, set, wrong);
}

namespace {

std::vector<NamedTensor> params_of(const std::vector<Tensor>& ts) {
  std::vector<NamedTensor> out;
  for (Tensor t : ts) out.push_back({t.graph->label(t.id), t});
  return out;
}

}  // namespace

void JointTrainer::save(const char* phase, int epoch) const {
  std::vector<Tensor> ts = top_.params();
  for (const auto* v : {&ud_.r, &ud_.rb, &ud_.g, &ud_.gb}) ts.insert(ts.end(), v->begin(), v->end());
  const nlohmann::json meta = {{"phase", phase}, {"epoch", epoch}, {"step", ex_.step()}, {"seed", ex_.options().seed}};
  save_checkpoint(cfg_.checkpoint / phase, "joint", params_of(ts), meta.dump());
}

int JointTrainer::load(const char* phase) {
  if (!cfg_.resume || !checkpoint_exists(cfg_.checkpoint / phase)) return 0;
  std::vector<Tensor> ts = top_.params();
  for (const auto* v : {&ud_.r, &ud_.rb, &ud_.g, &ud_.gb}) ts.insert(ts.end(), v->begin(), v->end());
  const auto meta = nlohmann::json::parse(load_checkpoint(cfg_.checkpoint / phase, "joint", params_of(ts)));
  ex_.set_step(meta.at("step").get<uint64_t>());
  return meta.at("epoch").get<int>();
}

// Epochs `done` .. `total` of shuffled batches: step(xs, ys) per batch with
// sampled pixels and one-hot labels, then a checkpoint and the validation error.
template <typename Step>
void JointTrainer::epochs(const char* phase, int total, bool after_up_down, const io::ImageSet& train,
                          const io::ImageSet& valid, Step step, const std::function<void(const JointEpoch&)>& on_epoch) {
  io::Batcher batches(train.count, cfg_.batch, cfg_.data_seed + (after_up_down ? 1 : 0));
  std::vector<float> xs(static_cast<size_t>(cfg_.batch * train.dim())), ys(static_cast<size_t>(cfg_.batch * top_.labels));
  for (int e = load(phase); e < total; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    batches.start_epoch(static_cast<uint64_t>(e));
    for (int64_t b = 0; b < batches.batches(); ++b) {
      io::fill_batch(train, batches.batch(b), xs, {.mode = io::Pixels::sampled, .seed = cfg_.data_seed, .epoch = uint64_t(e)});
      io::fill_one_hot(train, batches.batch(b), static_cast<int>(top_.labels), ys);
      step(e, xs, ys);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!cfg_.checkpoint.empty()) save(phase, e + 1);
    if (on_epoch) on_epoch({phase, e + 1, s, error(valid, after_up_down)});
  }
}

void JointTrainer::train_top(const io::ImageSet& train, const io::ImageSet& valid,
                             const std::function<void(const JointEpoch&)>& on_epoch) {
  Graph& g = *lower_.graph;
  const Tensor x = g.input("joint.top_x", {cfg_.batch, train.dim()});
  const Tensor pen = lower_.up(x, lower_.depth());
  epochs("top", cfg_.top_epochs, false, train, valid, [&](int, std::span<const float> xs, std::span<const float> ys) {
    ex_.run({pen}, {{x, xs}});
    ex_.run({cd_.step}, {{cd_.p0, ex_.value(pen)}, {cd_.y0, ys}});
  }, on_epoch);
}

void JointTrainer::up_down(const io::ImageSet& train, const io::ImageSet& valid,
                           const std::function<void(const JointEpoch&)>& on_epoch) {
  const std::vector<int>& ks = cfg_.updown_top_k;
  if (ks.empty() || *std::min_element(ks.begin(), ks.end()) < 1)
    throw Error("up-down: the top RBM's CD-k schedule needs at least one value, each at least 1");
  const SgdOptions sgd{.lr = cfg_.updown_lr, .momentum = 0.9f};
  ud_ = make_up_down(lower_, top_, cfg_.batch, ks.front(), sgd);
  ud_k_ = ks.front();
  updown_scores_ = ud_.classify(eval_x_);
  const auto phases = static_cast<int64_t>(ks.size());
  epochs("updown", cfg_.updown_epochs, true, train, valid, [&](int e, std::span<const float> xs, std::span<const float> ys) {
    const int k = ks[static_cast<size_t>(std::min<int64_t>(phases - 1, e * phases / std::max(1, cfg_.updown_epochs)))];
    if (k != ud_k_) {  // a longer chain from here on (same parameters)
      ud_ = with_top_k(ud_, k, sgd);
      ud_k_ = k;
    }
    ex_.run({ud_.step}, {{ud_.v, xs}, {ud_.y, ys}});
  }, on_epoch);
}

}  // namespace ebm
