#pragma once
// Nonlinear conjugate gradients with a line search: the optimizer Hinton &
// Salakhutdinov (2006) fine-tuned their deep autoencoders with, a few line
// searches on each mini-batch of 1,000 rows. A plain function over a flat
// vector and an objective, and an overload over a graph's parameters whose
// objective sets them, runs the graph's loss and gradients, and reads both.
//
// Directions are Polak-Ribiere's, clipped at zero (PR+: a direction that
// stops helping becomes the steepest descent again), and restarted along
// -g whenever they are not downhill. Each line search looks for a step
// satisfying the strong Wolfe conditions: first a growing trial step until
// the minimum along the line is bracketed, then a shrinking bracket, each
// new trial the minimum of the cubic through the two ends' values and
// slopes (kept inside the bracket's middle 80%; a bisection when the cubic
// has none). The first trial of a search expects the same first-order
// decrease as the last accepted step gave (Nocedal & Wright, Numerical
// Optimization, 3.5), capped at `max_growth` times that step.
//
// Arithmetic on the line is in double; the vectors are float.

#include <cstdint>
#include <functional>
#include <span>

#include "graph/graph.hpp"

namespace ebm {

class Executor;
struct Feed;

// f(x), with df/dx written to grad (same size as x). A non-finite value
// tells the search the step went too far.
using CgObjective = std::function<double(std::span<const float> x, std::span<float> grad)>;

struct CgOptions {
  int line_searches = 3;   // per call; the paper ran 3 on each mini-batch
  int max_evals = 20;      // objective evaluations per line search
  double c1 = 1e-2;        // sufficient decrease: f(a) <= f(0) + c1 a f'(0)
  double c2 = 0.5;         // curvature: |f'(a)| <= c2 |f'(0)|
  double max_growth = 3;   // a bracketing trial is at most this times the last; so is a search's first
                           // trial against the last search's accepted step
};

// What carries from one call to the next (one mini-batch to the next): the
// last accepted step and the slope it was taken on, so the next search
// starts at the same expected decrease. Zero before any search succeeded.
struct CgState {
  double step = 0;   // the accepted step length along the last direction
  double slope = 0;  // f'(0) of that search (negative)
};

struct CgReport {
  double f_start = 0, f_end = 0;  // the objective at the given x and at the returned x
  double f_before_last = 0;       // where the last line search started (f_start when none did)
  int evaluations = 0;            // of the objective, the first included
  int line_searches = 0;          // that moved x
  int failures = 0;               // searches that found no point of sufficient decrease (x kept; the direction
                                  // reset to -g and the state to zero)
};

// An ebm::Error naming the option unless line_searches, max_evals >= 1,
// 0 < c1 < c2 < 1 and 1 < max_growth < inf.
void check_cg_options(const CgOptions& options);

// Minimises f from x (overwritten with the best point found) by
// options.line_searches line searches, stopping early at a zero gradient,
// after two failed searches in a row, or after one when the failed search
// was already steepest descent from the default first step (a retry would
// repeat it). state (optional) is read for the first trial step and
// updated. An ebm::Error for bad options or a non-finite f or gradient at
// the start; an exception from f propagates with x back at the best point
// found before it.
CgReport minimize_cg(std::span<float> x, const CgObjective& f, const CgOptions& options = {},
                     CgState* state = nullptr);

// The same over a graph's parameters: the objective sets `params` to x,
// runs `loss` and `grads` (one per parameter, in order) on `feeds` and
// reads them back; the parameters end at the best point found, also when
// an exception propagates.
struct GraphCgOptions {
  std::function<void()> before_run = {};  // called before every run (such as holding the executor's step)
  double weight_decay = 0;           // adds weight_decay |x|^2 / 2 to the loss
  bool failed_run_is_nan = false;    // an ebm::Error from a run after the first is a step too far
};
struct GraphCgResult {
  CgReport report;
  double first_loss = 0;  // `loss` at the start, without the weight decay
};
GraphCgResult minimize_cg(Executor& ex, Tensor loss, std::span<const Tensor> params, std::span<const Tensor> grads,
                          std::span<const Feed> feeds, const CgOptions& options, CgState* state,
                          const GraphCgOptions& graph_options = {});

}  // namespace ebm
