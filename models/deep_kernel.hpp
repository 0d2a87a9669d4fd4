#pragma once
// A Gaussian process whose kernel is computed on a net's features
// (Salakhutdinov & Hinton 2007): the DBN's recognition pass maps each input
// to its top-level features, and a squared-exponential GP regresses the
// targets on them. init_from() copies a pretrained DBN's recognition
// weights; backprop of the GP's negative log marginal likelihood (the
// gp_nll op) through the net then fine-tunes the kernel, the weights by one
// Adam and the GP's hyper-parameters by another, on every labelled point at
// once (the likelihood couples all of them: it does not split into
// mini-batches). With config.cg, conjugate gradients (autodiff/cg.hpp)
// fine-tune the weights and the hyper-parameters together instead, as the
// paper did: a full-batch objective is what line searches suit. With
// config.ard the kernel has a length scale per feature. With
// config.classify the GP classifies labels -1 and +1 instead (the
// gp_class_nll op: the logistic likelihood, Laplace's approximation).
//
//   h_0 = x;  h_{l+1} = sigmoid(h_l W_l + b_l);  loss = gp_nll(h_L, y, theta)
//   (config.ard: gp_nll(h_L * exp(ard), y, theta), ard a [1, features] row;
//    config.classify: gp_class_nll(h_L, y, theta))

#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "autodiff/cg.hpp"
#include "autodiff/optim.hpp"
#include "graph/executor.hpp"
#include "graph/graph.hpp"
#include "models/best_params.hpp"
#include "models/checkpoint.hpp"
#include "ops/gp.hpp"

namespace ebm {

struct Dbn;

struct DeepKernelConfig {
  std::vector<int64_t> layers{784, 1000, 1000, 1000};  // input, then hidden layers (the top one is the features)
  int64_t points = 1000;               // labelled points, all of them in every step
  AdamOptions adam{.lr = 1e-4f};       // the weights' optimizer
  AdamOptions hyper_adam{.lr = 1e-2f}; // theta's
  // ARD (automatic relevance determination): one length scale per
  // feature, as the paper's second kernel. The net's top-level features
  // are multiplied by exp(ard) (a [1, features] parameter starting at 0,
  // so the kernel starts spherical) before the spherical kernel of theta,
  // which makes feature d's length scale l exp(-ard_d); ard is learned with
  // theta (by its Adam, or by cg with everything).
  bool ard = false;
  // Classification: the points' targets are labels -1 and +1, the loss
  // gp_class_nll (theta then [1, 2]: no noise), and the validation's score
  // the mean -log p of its labels under a GP classifier on the fitted points
  // (a finer measure than the share it gets wrong, which is reported too).
  bool classify = false;
  bool cg = false;                     // conjugate gradients instead of the two Adams: a fine-tuning step is then
                                       // one line search, and the direction restarts at each evaluation (so a
                                       // run resumes exactly from a checkpoint at a multiple of eval_every;
                                       // one written at an end between them restarts it there)
  CgOptions cg_options{};              // (its line_searches is the fitter's to set)
  float init_std = 0.01f;              // a random start's weights ~ N(0, init_std^2)
  uint64_t seed = 1;
};

struct DeepKernel {
  Graph* graph = nullptr;
  std::string name;
  DeepKernelConfig config;
  std::vector<Tensor> w, b;
  Tensor theta;     // [1, 3]: log length scale, log signal sd, log noise sd ([1, 2] with config.classify)
  Tensor ard;       // config.ard: [1, layers.back()], the features' log scales (else invalid)
  Tensor x, y;      // the labelled points [points, layers[0]] and their centred targets (or labels) [points, 1]
  Tensor features;  // the net's output for x
  Tensor loss;      // -log p(y | features) per point (classify: Laplace's approximation to it)
  Tensor step;      // one Adam step of the weights and of theta (and ard)
  Optimizer opt, hyper_opt;
  std::vector<Tensor> grads;  // the loss's gradients, one per trained() entry

  static DeepKernel make(Graph& g, std::string name, const DeepKernelConfig& config);

  // Copies the DBN's recognition weights and hidden biases (its layer sizes
  // must equal config.layers).
  void init_from(const Dbn& dbn);
  void set_hyper(gp::Hyper h);  // (classify: its log_noise is not used)
  gp::Hyper hyper() const;      // (classify: log_noise -infinity)
  // The top-level features of another input [rows, layers[0]].
  Tensor features_of(Tensor input) const;
  std::vector<Tensor> weights() const;  // every W and b, bottom up
  std::vector<Tensor> trained() const;  // weights(), theta, and ard with config.ard: grads' order
};

struct DeepKernelFitConfig {
  int steps = 200;
  int eval_every = 10;               // the callback (and the checkpoint) every this many steps, and after the last
  int64_t eval_batch = 500;          // rows per run of features()
  std::filesystem::path checkpoint;  // empty: none
  bool resume = false;               // continue from `checkpoint` if one was saved
  // The program's flags that choose the points (e.g. {"--labelled", "90"}):
  // saved with the checkpoint, and a resume with another value is refused,
  // naming the flag, before the points themselves are compared.
  std::map<std::string, std::string> run_settings = {};
  // What to make smaller when the run fails on numbers that ran away (NaN
  // weights, a GP that no longer factors): a sample's flags and values,
  // "--finetune-lr (now 0.001) or --hyper-lr (now 0.01)". Empty: no such
  // advice ("learning rate" for NaN weights). Not saved.
  std::string rates_name = {};
};

struct DeepKernelEval {
  int step = 0;            // steps done
  double seconds = 0;      // since the last callback
  double nll = 0;          // -log p(y | features) per point, before the last step's update (step 0: at the start)
  gp::Hyper hyper;         // theta after it (with ARD, l is the common factor of the lengths l exp(-ard_d))
  double valid_error = 0;  // the validation points' RMSE (classify: % misclassified), predicted by a GP on the
                           // fitted points (0: none given)
  double valid_log_loss = 0;  // classify: their labels' mean -log p, in nats (0: none given, or a regression)
  bool best = false;       // the lowest validation score so far (RMSE, or classify: log loss)
};

// Fine-tunes a DeepKernel by full-batch Adam steps (or cg line searches)
// on its labelled points, with a checkpoint (trained(), both optimizers'
// state, cg's step, the step count) at each callback from which a run
// resumes exactly. With validation points, each callback also predicts
// them by a GP on the fitted points' features, and fit() ends with the
// weights and hyper-parameters of the step that predicted them best (the
// start included): the validation set chooses when to stop. With
// `resume`, fit() starts by loading the checkpoint, when there is one:
// whatever was set before (such as theta from a GP on the starting
// features) is then replaced by the saved state; weights that are not
// those the checkpoint's run started from (init_from of a stack trained
// further since, or of another) are refused.
class DeepKernelFitter {
 public:
  DeepKernelFitter(DeepKernel& k, Executor& ex, DeepKernelFitConfig config);

  // x: the labelled points [points, layers[0]], row-major; y: their centred
  // targets (classify: labels -1 and +1); valid_x, valid_y: validation
  // points and their targets, centred by the same mean, or their labels
  // (none: the last step is kept). on_eval runs
  // at step 0 of a fresh start, then every eval_every steps. An ebm::Error
  // names a shape mismatch, a checkpoint of another net or other data, or
  // the step whose weights turned NaN (the checkpoint before it is kept).
  void fit(std::span<const float> x, std::span<const float> y, std::span<const float> valid_x,
           std::span<const float> valid_y, const std::function<void(const DeepKernelEval&)>& on_eval = {});
  // The net's features of `rows` (n x layers[0]), n x layers.back().
  std::vector<float> features(std::span<const float> rows);
  int steps_done() const { return steps_done_; }  // (a checkpoint's steps count once fit() loaded it)
  // What fit() with these points would refuse of the checkpoint it would
  // resume (other settings, net, points or start), refused now without
  // loading it: a caller checks before it writes records of its own.
  void check_resume(std::span<const float> x, std::span<const float> y, std::span<const float> valid_x,
                    std::span<const float> valid_y);
  // The steps of the checkpoint fit() will resume from (0: none, or no
  // `resume`), without loading it: what a caller's own records (a CSV)
  // must be cut back to.
  int checkpoint_step() const;
  int best_step() const { return best_.at(); }
  double best_valid_score() const { return best_.error(); }  // RMSE, or classify: log loss
  // What a resume changed that it may (the rates), once fit() loaded the
  // checkpoint: "resumed with lr 0.001 (the checkpoint's 0.01)".
  const std::vector<std::string>& resume_notes() const { return notes_; }

 private:
  // "; a smaller <rates_name> usually cures it", or "" without one.
  std::string cure() const {
    return cfg_.rates_name.empty() ? std::string() : "; a smaller " + cfg_.rates_name + " usually cures it";
  }
  std::vector<NamedTensor> state() const;
  void save() const;
  // Checks the checkpoint against this run (`before`: the fingerprint of
  // the weights as it starts), then loads it unless `check_only`.
  void load(const std::string& before, bool check_only = false);
  // Checks fit()'s points (shapes, finite values) and takes their fingerprint.
  void take_data(std::span<const float> x, std::span<const float> y, std::span<const float> valid_x,
                 std::span<const float> valid_y);
  // cg: `searches` line searches from the current trained() values on
  // the fed points; the loss before them.
  double cg_steps(std::span<const Feed> feeds, int searches);
  // Scores the validation points (fills e's valid_ fields); returns the score that chooses.
  double validate(DeepKernelEval& e, std::span<const float> x, std::span<const float> y, std::span<const float> valid_x,
                    std::span<const float> valid_y);

  DeepKernel& k_;
  Executor& ex_;
  DeepKernelFitConfig cfg_;
  Tensor eval_x_, eval_out_;
  BestParams best_;  // the weights and hyper-parameters of the best step, and its validation RMSE
  uint64_t data_ = 0;  // the fingerprint of fit()'s points and targets
  std::string start_;  // that of the weights the run started from (a resume's are checked against it)
  int steps_done_ = 0;
  bool started_ = false;
  std::vector<std::string> notes_;
  CgState cg_;               // cg: the step carried between evaluations (checkpointed)
};

}  // namespace ebm
