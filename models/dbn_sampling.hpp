#pragma once
// Drawing samples from a DBN (Hinton, Osindero & Teh 2006): chains of
// alternating Gibbs sampling in the top RBM (the undirected associative
// memory), and from the chains' states one top-down pass through the
// directed layers below to the data layer's probabilities.
//
//   Graph g;  Dbn dbn = ...trained...;  Executor ex(g);
//   DbnChains c = make_dbn_chains(dbn, 10, "gen");
//   fill_uniform(g.value(c.state), 0.0f, 1.0f, 7, 1);     // or run c.start from data
//   for (int s = 0; s < 1000; ++s) ex.run({c.step});       // the chains mix
//   ex.run({c.visible});                                   // 10 rows of pixel probabilities
//
// With label units (the joint model's top RBM), make_labelled_chains clamps
// each chain's label, so the chains draw from p(penultimate layer | label)
// and `visible` shows that digit.
//
// Each chain's state is a non-trainable parameter of the graph, so it
// persists from run to run (the chains go on where they stopped), and the
// draws are the executor's: a run of the same targets at the same step
// gives the same samples on any number of threads.

#include <functional>
#include <span>
#include <string>

#include "models/dbn.hpp"
#include "models/joint.hpp"

namespace ebm {

struct DbnChains {
  Tensor state;    // [chains, top RBM's visible units]: each chain's visible state, binary after a step
  Tensor step;     // one Gibbs step v -> h -> v of every chain (run it to advance them)
  // The data layer's probabilities: a hidden draw h from the chains' state,
  // E[v | h] in the top RBM, then down the directed layers with
  // probabilities (Dbn::down). Run with `step`, it shows the hidden draw the
  // step goes on from.
  Tensor visible;
  Tensor x;        // input [chains, data units]: rows to start the chains from
  Tensor start;    // state := the recognition pass of x up to the top RBM's visible layer (E[h | x])
};

// `chains` chains in dbn's top RBM, their state 0 until set (by `start`, or
// by writing Graph::value(state)); `name` prefixes the new nodes' names, one
// set of chains per name in a graph. An empty DBN, chains < 1, or a name
// already used is refused before anything is added to the graph.
DbnChains make_dbn_chains(const Dbn& dbn, int64_t chains, const std::string& name);

struct LabelledChains {
  Tensor state;    // [labels.size(), top.visible]: each chain's penultimate-layer state
  Tensor step;     // one Gibbs step with each chain's label clamped
  Tensor visible;  // `down` of the top RBM's E[p | h, label] for the chains' current hidden draw
};

// One chain per entry of `labels` (each below top.labels), its label units
// clamped to that one-hot label; `down` maps the penultimate layer's
// probabilities to the data layer (Dbn::down with the tied weights, or
// UpDown::generate with up-down's generative ones; the identity shows the
// penultimate layer itself).
LabelledChains make_labelled_chains(const LabelledRbm& top, std::span<const int> labels, const std::string& name,
                                    const std::function<Tensor(Tensor)>& down);

}  // namespace ebm
