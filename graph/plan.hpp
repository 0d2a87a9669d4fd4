#pragma once
// A plan: what the Executor compiles a set of targets into, once.
//   - only the targets' ancestors; a stop_gradient that is not a target is
//     skipped (its readers read its input), and a sum of two products of
//     the same form, each read only by the sum, runs as one matmul_sum (the
//     second product added onto each tile of the first: same bits);
//   - tasks: one per op, or one per fused chain of element-wise ops (a chain
//     whose inner values have a single consumer runs tile by tile, so the
//     intermediate rows stay in cache), or a GEMM with an epilogue: the
//     column-local element-wise ops that read its output (and whose other
//     inputs do not wait for it) run on each output tile as soon as the
//     GEMM has computed it, while the tile is in cache; so does an SGD
//     update whose gradient the GEMM computes, and a sum over the rows of
//     a value it computes (a bias's gradient) when every tile spans all
//     rows;
//   - task edges from data dependencies, plus hazard edges that order every
//     reader of a parameter before the update op that writes it (one
//     writer per parameter: a second is refused, naming both);
//   - products read only on their own tiles kept out of the arena
//     (PlanOptions::tile_outputs);
//   - one arena of buffers, shared by values whose lifetimes cannot overlap
//     in ANY schedule: a buffer is reused only by a task that depends on
//     every task that produced or read its previous contents.
// Plain data, no threads: graph/executor_tasks.cpp runs it.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "graph/graph.hpp"

namespace ebm {

inline constexpr size_t kMaxEpilogue = 8;  // element-wise ops fused onto one GEMM

struct PlanNode {
  NodeId id = -1;
  Op op{};                             // what runs: the node's op, or matmul_sum for a sum of two products
  int32_t task = -1;                   // -1 for sources
  std::array<int32_t, kMaxArity> in{};  // plan-node index of each kernel input
  int n_in = 0;
  int64_t offset = -1;                 // into the arena, in floats; -1: not in the arena
  bool tile_only = false;              // kept in tile buffers only (PlanOptions::tile_outputs): no buffer
};

struct PlanTask {
  std::vector<int32_t> nodes;  // plan-node indices, run in this order
  std::vector<int32_t> succ;   // tasks that wait for this one
  int32_t n_pred = 0;
  std::string label;           // op name, or "fused(a+b+...)"
  std::string about;           // the named nodes it reads or makes (parameters, inputs), for the profiler
  double flops = 0.0;
};

struct PlanOptions {
  bool fuse = true;
  bool reuse = true;  // share buffers by liveness
  // A product whose every reader is in its own GEMM task's epilogue and
  // reads it from the tile (reads_tile: an SGD update's gradient, the
  // product under a sigmoid's gradient), and is not a target, gets no
  // buffer: the executor keeps each tile in a per-thread buffer
  // (Kernel::tile_output).
  bool tile_outputs = false;
};

struct Plan {
  std::vector<NodeId> targets;
  std::vector<PlanNode> nodes;    // in id (topological) order, sources included
  std::vector<int32_t> index_of;  // NodeId -> plan-node index, or -1
  std::vector<PlanTask> tasks;
  std::vector<int32_t> order;     // tasks in a topological order
  std::vector<int32_t> inputs;    // plan-node indices of Input nodes
  int64_t arena_floats = 0;
  int64_t unshared_floats = 0;    // what the arena would be without reuse

  int32_t find(NodeId id) const {
    return id >= 0 && id < static_cast<NodeId>(index_of.size()) ? index_of[static_cast<size_t>(id)] : -1;
  }
};

Plan compile_plan(const Graph& g, std::span<const Tensor> targets, PlanOptions opt = {});

}  // namespace ebm
