#include "models/joint_fit.hpp"

#include <algorithm>
#include <chrono>

#include <nlohmann/json.hpp>

#include "io/batch.hpp"
#include "models/checkpoint.hpp"

namespace ebm {

JointTrainer::JointTrainer(Dbn& lower, LabelledRbm& top, Executor& ex, JointFitConfig cfg)
    : lower_(lower), top_(top), ex_(ex), cfg_(std::move(cfg)),
      cd_(make_labelled_cd(top, cfg_.batch, cfg_.top_k, {.lr = cfg_.lr, .momentum = 0.9f, .weight_decay = 2e-4f})) {
  Graph& g = *lower.graph;
  eval_x_ = g.input("joint.eval_x", {cfg_.eval_batch, lower.rbms.front().config.visible});
  greedy_scores_ = top.label_scores(lower.up(eval_x_, lower.depth()));
}

double JointTrainer::error(const io::ImageSet& set, bool after_up_down, std::vector<int64_t>* wrong) {
  const Tensor scores = after_up_down ? updown_scores_ : greedy_scores_;
  const int64_t b = cfg_.eval_batch, k = top_.labels;
  std::vector<float> x(static_cast<size_t>(b * set.dim()));
  std::vector<int64_t> idx;
  int64_t errors = 0;
  for (int64_t first = 0; first < set.count; first += b) {
    idx.clear();
    for (int64_t i = first; i < first + b; ++i) idx.push_back(std::min(i, set.count - 1));
    io::fill_batch(set, idx, x, {.mode = io::Pixels::scaled});
    ex_.run({scores}, {{eval_x_, x}});
    const auto s = ex_.value(scores);
    for (int64_t i = 0; i < b && first + i < set.count; ++i) {
      const auto row = s.subspan(static_cast<size_t>(i * k), static_cast<size_t>(k));
      if (std::max_element(row.begin(), row.end()) - row.begin() != set.labels[static_cast<size_t>(first + i)]) {
        ++errors;
        if (wrong) wrong->push_back(first + i);
      }
    }
  }
  return 100.0 * static_cast<double>(errors) / static_cast<double>(set.count);
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

void JointTrainer::train_top(const io::ImageSet& train, const io::ImageSet& valid,
                             const std::function<void(const JointEpoch&)>& on_epoch) {
  Graph& g = *lower_.graph;
  const Tensor x = g.input("joint.top_x", {cfg_.batch, train.dim()});
  const Tensor pen = lower_.up(x, lower_.depth());
  io::Batcher batches(train.count, cfg_.batch, cfg_.data_seed);
  std::vector<float> xs(static_cast<size_t>(cfg_.batch * train.dim())), ys(static_cast<size_t>(cfg_.batch * top_.labels));
  const int done = load("top");
  for (int e = done; e < cfg_.top_epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    batches.start_epoch(static_cast<uint64_t>(e));
    for (int64_t b = 0; b < batches.batches(); ++b) {
      io::fill_batch(train, batches.batch(b), xs, {.mode = io::Pixels::sampled, .seed = cfg_.data_seed, .epoch = uint64_t(e)});
      io::fill_one_hot(train, batches.batch(b), static_cast<int>(top_.labels), ys);
      ex_.run({pen}, {{x, xs}});
      ex_.run({cd_.step}, {{cd_.p0, ex_.value(pen)}, {cd_.y0, ys}});
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!cfg_.checkpoint.empty()) save("top", e + 1);
    if (on_epoch) on_epoch({"top", e + 1, s, error(valid, false)});
  }
}

void JointTrainer::up_down(const io::ImageSet& train, const io::ImageSet& valid,
                           const std::function<void(const JointEpoch&)>& on_epoch) {
  ud_ = make_up_down(lower_, top_, cfg_.batch, cfg_.top_k, {.lr = cfg_.updown_lr, .momentum = 0.9f});
  updown_scores_ = ud_.classify(eval_x_);
  io::Batcher batches(train.count, cfg_.batch, cfg_.data_seed + 1);
  std::vector<float> xs(static_cast<size_t>(cfg_.batch * train.dim())), ys(static_cast<size_t>(cfg_.batch * top_.labels));
  const int done = load("updown");
  for (int e = done; e < cfg_.updown_epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    batches.start_epoch(static_cast<uint64_t>(e));
    for (int64_t b = 0; b < batches.batches(); ++b) {
      io::fill_batch(train, batches.batch(b), xs, {.mode = io::Pixels::sampled, .seed = cfg_.data_seed, .epoch = uint64_t(e)});
      io::fill_one_hot(train, batches.batch(b), static_cast<int>(top_.labels), ys);
      ex_.run({ud_.step}, {{ud_.v, xs}, {ud_.y, ys}});
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!cfg_.checkpoint.empty()) save("updown", e + 1);
    if (on_epoch) on_epoch({"updown", e + 1, s, error(valid, true)});
  }
}

}  // namespace ebm
