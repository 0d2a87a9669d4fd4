#pragma once
// What the fine-tuning fitters (Finetuner, AutoencoderFitter,
// DeepKernelFitter) share: the schedule of an epoch-based fit, and the
// parameters at the best evaluation so far, kept as one untrainable copy
// "<param>.best" per parameter in the same graph (so checkpoints save
// them like any tensor) with the epoch (or step) and the validation error
// that chose them.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <limits>
#include <utility>
#include <vector>

#include "graph/graph.hpp"

namespace ebm {

// The schedule of Finetuner and AutoencoderFitter.
struct EpochFitConfig {
  int epochs = 50;
  uint64_t data_seed = 1;
  float lr_decay = 1.0f;             // lr of epoch e = lr * lr_decay^e
  int64_t eval_batch = 1000;         // refused beyond memory (check_eval_batch_fits)
  std::filesystem::path checkpoint;  // empty: none
  bool resume = false;               // continue from `checkpoint` if one was saved
  bool keep_best = true;             // false: end with the last epoch's weights
  bool validate = true;              // false: no validation error per epoch
  // The program's flags that shape the data or the model (e.g.
  // {"--validation", "10000"}): saved with the checkpoint, and a resume with
  // another value is refused, naming the flag.
  std::map<std::string, std::string> run_settings = {};
  // The flag that set the fit's rate ("--finetune-lr"): a NaN error's cure
  // names it and its value, and a resume's note of a changed rate names it.
  // Empty: "learning rate" ("lr" in the note). Not saved.
  std::string lr_name = {};
  // The flag that set the weight decay ("--finetune-weight-decay"): a NaN
  // error names it too when, with the rate, the decay runs away by itself.
  // Not saved.
  std::string weight_decay_name = {};
};

// Throws, naming `who`, when evaluation batches of eval_batch rows, each
// about floats_per_row floats through the net (its input and its layers'
// values), would need more than 90% of the memory available now
// (io/memory.hpp): a fitter refuses such an eval_batch when it is made,
// not with a raw std::bad_alloc at its first evaluation. A bound that
// refuses the hopeless, not a promise. (Defined in models/evaluate.cpp.)
void check_eval_batch_fits(std::string_view who, int64_t eval_batch, int64_t floats_per_row);

class BestParams {
 public:
  BestParams() = default;
  // Creates the copies and fills them with the parameters' current values;
  // nothing is chosen yet (at() is 0, error() the largest double: finite,
  // so that a checkpoint's JSON holds it).
  BestParams(Graph& g, std::vector<Tensor> params) : g_(&g), params_(std::move(params)) {
    for (Tensor p : params_)
      if (checked_node(p, "BestParams"); p.graph != &g)
        throw Error("BestParams: '{}' belongs to another graph; expected the parameters of the graph given",
                    p.graph->label(p.id));
    for (Tensor p : params_) copies_.push_back(g.param(g.label(p.id) + ".best", p.shape(), 0.0f, false));
    copy(params_, copies_);
  }
  // Keeps the parameters as those of epoch (or step) `at` when `error` is
  // below the best so far; says whether it was.
  bool offer(int at, double error) {
    if (!(error < error_)) return false;
    keep(at, error);
    return true;
  }
  // Keeps the parameters as those of `at`, whatever their error.
  void keep(int at, double error) {
    copy(params_, copies_);
    at_ = at;
    error_ = error;
  }
  void restore() { copy(copies_, params_); }  // the kept parameters back
  // The record a checkpoint holds beside the copies.
  void set_record(int at, double error) {
    at_ = at;
    error_ = error;
  }
  int at() const { return at_; }
  double error() const { return error_; }
  const std::vector<Tensor>& copies() const { return copies_; }

 private:
  void copy(const std::vector<Tensor>& from, const std::vector<Tensor>& to) {
    for (size_t i = 0; i < from.size(); ++i) std::ranges::copy(g_->value(from[i]), g_->value(to[i]).begin());
  }

  Graph* g_ = nullptr;
  std::vector<Tensor> params_, copies_;
  int at_ = 0;
  double error_ = std::numeric_limits<double>::max();
};

}  // namespace ebm
