#pragma once
// The executor's internals, shared by graph/executor.cpp (compiling a
// plan, binding feeds, the public calls) and graph/executor_tasks.cpp
// (running a plan's tasks). Included by those two files only: it pulls in
// oneTBB's flow graph.

#include <atomic>
#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include <tbb/flow_graph.h>
#include <tbb/task_arena.h>

#include "graph/executor.hpp"
#include "graph/plan.hpp"

namespace ebm::exec {

using tbb::flow::continue_msg;
using FlowNode = tbb::flow::continue_node<continue_msg>;

constexpr int64_t kSplitElements = int64_t{1} << 15;  // split larger element-wise ops
constexpr int64_t kFuseTileElements = 4096;           // rows per tile of a fused chain

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};

// The profile's thread number of the caller: its slot in the arena (0 in a serial executor).
inline int worker(bool parallel) { return parallel ? tbb::this_task_arena::current_thread_index() : 0; }

// While profiling, each task's hook for the pieces its kernels hand to the
// threads (GEMM tiles, row blocks), and how many it handed out this run.
struct PieceProbe {
  Profile* profile = nullptr;
  int32_t id = -1;  // the task's id in the profile
  bool parallel = false;
  std::atomic<int32_t> pieces{0};
  TileProbe probe;

  void record(int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t start_ns, int64_t end_ns) {
    pieces.fetch_add(1, std::memory_order_relaxed);
    profile->record_piece(id, worker(parallel), start_ns, end_ns, i0, i1, j0, j1);
  }
};

struct Compiled {
  Plan plan;
  std::unique_ptr<float[], FreeDeleter> arena;
  std::vector<float*> ptr;  // per plan node
  std::vector<Shape> shape;
  std::vector<int32_t> profile_id;  // per task
  std::unique_ptr<PieceProbe[]> probes;  // per task, while profiling
  std::vector<uint32_t> shared_b;   // per plan node: Kernel::shared_b
  std::vector<uint32_t> thread_b;   // per plan node: Kernel::thread_b
  std::vector<std::array<uint32_t, kMaxArity>> pack_tag;  // per plan node: Kernel::pack_tag
  std::unique_ptr<tbb::flow::graph> fg;
  std::unique_ptr<tbb::flow::broadcast_node<continue_msg>> start;
  std::vector<std::unique_ptr<FlowNode>> flow;
};

}  // namespace ebm::exec

namespace ebm {

using exec::Compiled;
using exec::continue_msg;
using exec::FlowNode;
using exec::kFuseTileElements;
using exec::kSplitElements;
using exec::PieceProbe;
using exec::worker;

struct Executor::Impl {
  Graph& g;
  ExecutorOptions opt;
  tbb::task_arena arena;
  std::vector<std::unique_ptr<Compiled>> plans;
  Compiled* last = nullptr;
  uint64_t step = 0;
  Profile profile;
  std::unique_ptr<gemm::Workspace[]> workspaces;  // GEMM pack buffers, one per arena thread
  int n_workspaces = 0;
  int64_t scratch_need = 0;  // the largest scratch_floats of any op in the plans compiled so far
  mutable gemm::PackCache packs;  // B operands several products of a run read, packed once per run
  std::unique_ptr<gemm::PackCache[]> thread_packs;  // per arena thread: values read as B by several row tiles
  // check_numerics: the first node (in plan order) that produced NaN or Inf
  // this run, and the fed batch, parameter or constant it read that
  // already held one (source -1: none), with that element.
  struct BadValue {
    int32_t node = std::numeric_limits<int32_t>::max();
    int32_t source = -1;
    int64_t at = 0;
    float value = 0.0f;
  };
  std::mutex bad_m;
  BadValue bad;

  Impl(Graph& graph, ExecutorOptions o)
      : g(graph), opt(o), arena(o.threads > 0 ? o.threads : tbb::task_arena::automatic),
        profile(o.profile ? o.profile_events : 0, o.parallel ? arena.max_concurrency() : 1) {
    if (o.profile) alongside_id = profile.add_task("alongside", 0.0, "the work given to run beside the steps");
  }

  Compiled& find(std::span<const Tensor> targets);
  void compile(Compiled& c);
  void bind(Compiled& c, std::span<const Feed> feeds);
  void exec_task(Compiled& c, int32_t t);
  Kernel kernel(const Compiled& c, int32_t j) const;
  void exec_node(Compiled& c, int32_t j, int64_t r0, int64_t r1, bool may_split);
  void exec_gemm_epilogue(Compiled& c, const PlanTask& task);
  void check(Compiled& c, int32_t j);
  [[noreturn]] void throw_numerics(const Compiled& c, const BadValue& b) const;
  void mark_shared_b(Compiled& c) const;
  // The work run beside a step, recorded as a task of its own when profiling.
  int32_t alongside_id = -1;
  void run_alongside(const Alongside& f) {
    if (!opt.profile) return f();
    const int64_t t0 = Profile::now_ns();
    f();
    profile.record(alongside_id, worker(opt.parallel), t0, Profile::now_ns());
  }
};

}  // namespace ebm
