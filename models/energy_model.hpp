#pragma once
// What contrastive divergence needs from any energy-based model with a
// visible and a hidden layer: its free energy F(v) = -log sum_h exp(-E(v, h))
// and a step of a Gibbs chain, all written as graph ops. A user's new
// model implements this interface and gets Gibbs chains and CD / PCD
// training from the library (see samples/custom_energy.cpp).
//
// A bipartite model (no connections within a layer: an RBM and its kin)
// gives the two conditional samplers, and its Gibbs step is
// sample_v(sample_h(v)). A model whose visible units depend on each other
// given h (a semi-restricted RBM, with lateral connections) cannot sample
// v from h alone: it overrides gibbs_step(v), which sees the chain's
// current v (a sweep of single-site updates, say), and need not give
// sample_v.

#include <vector>

#include "autodiff/optim.hpp"
#include "graph/graph.hpp"

namespace ebm {

class Executor;

class EnergyModel {
 public:
  virtual ~EnergyModel() = default;
  virtual Tensor free_energy(Tensor v) const = 0;  // [B, 1]
  virtual Tensor sample_h(Tensor v) const = 0;
  // v given h; by default an ebm::Error saying to give it or gibbs_step.
  virtual Tensor sample_v(Tensor h) const;
  // One step of the chain from v, of v's shape: sample_v(sample_h(v)) by default.
  virtual Tensor gibbs_step(Tensor v) const { return sample_v(sample_h(v)); }
  virtual std::vector<Tensor> params() const = 0;
};

// k steps of m.gibbs_step from v0 (v -> h -> v for a bipartite model).
Tensor gibbs_chain(const EnergyModel& m, Tensor v0, int k);

// log Z = log sum_v exp(-F(v)) over all 2^visible binary visible vectors
// (visible at most 24), F from m.free_energy run on `ex` (an executor of
// m's graph) in batches of at most 4,096 rows, summed in double: the
// normaliser of a small model with binary visible units, whatever its
// hidden units or couplings, so that log p(v) = -F(v) - log Z. The first
// call for a model adds the batch's input and free energy to the graph; later
// calls for the same model object (the same address, type and params(), in
// the same graph, with the same `visible`) reuse them and the executor's
// compiled plan, so a monitor called every epoch adds nothing. They read the
// parameters' current values, but not a setting the model keeps outside the
// graph: free_energy(v) is not called again, so a model whose free energy
// bakes in such a setting (a float temperature turned into a constant) gives
// the first call's until it is a new object; one that keeps the setting in a
// graph value (a non-trainable param) is read afresh each call.
double exact_log_z_binary(Executor& ex, const EnergyModel& m, int visible);

struct ContrastiveDivergence {
  Tensor objective;  // mean F(v_data) - mean F(stop_gradient(v_model)) (+ the penalty, when given)
  Tensor negative;   // v_model
  Tensor chain;      // PCD state, or invalid
  Tensor data_free_energy;  // F(v_data), [B, 1]: the objective's first term before its mean (a monitor reads it free)
  Tensor step;       // parameter update (and chain advance)
  Optimizer opt;
};

// CD-k from the data batch v_data (an ebm::Error naming the call when it is
// an empty Tensor), or PCD-k (persistent = true) with chains
// of v_data's shape kept in a parameter; SGD on all of m.params(). A
// `penalty` (a scalar [1, 1] built from the model's ops, such as a sparsity
// term on its hidden probabilities of v_data) is added to the objective,
// so its gradient joins CD's. An ebm::Error names a params() entry that is
// unset, listed twice, or that no gradient reaches from the objective
// (CD would never change it).
ContrastiveDivergence contrastive_divergence(const EnergyModel& m, Tensor v_data, int k, bool persistent,
                                             SgdOptions sgd_options, Tensor penalty = {});

}  // namespace ebm
