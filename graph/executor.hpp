#pragma once
// Executor: compiles a set of targets once into a Plan (graph/plan.hpp) and a
// oneTBB flow graph with one node per task, then runs it many times. After
// the first run of a target set nothing is allocated. Threads are owned by a
// task arena of `threads` workers; BLAS is single-threaded inside an op and
// large GEMMs are cut into tiles that run on the same arena.
//
//   ebm::Executor ex(g, {.threads = 2, .seed = 42});
//   ex.run({step}, {{v0, batch}});       // feeds: input tensor -> floats
//   float loss = ex.scalar(cd);           // after a run that targeted cd
//
// With {.parallel = false} the same plan runs serially on the calling
// thread, with bitwise identical results (random draws are keyed by
// (seed, node, step, element), never by schedule).

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <type_traits>

#include "graph/graph.hpp"
#include "graph/profile.hpp"

namespace ebm {

// The GEMM an executor uses unless told otherwise: the environment
// variable EBM_GEMM=ebm|cblas when set (read once; any other value is an
// ebm::Error), else ebm::gemm where it has SIMD kernels for this CPU (AVX2 or
// AVX-512) and CBLAS where it would fall back to portable code.
GemmBackend default_gemm_backend();

// The most threads ExecutorOptions::threads may ask for: four per hardware
// thread, and at least 8 (each thread gets GEMM buffers of its own, so a
// mistyped count would claim gigabytes and run no faster).
int max_executor_threads();

// Lets a task arena of `threads` threads have them all. oneTBB caps a
// process's workers at one per hardware thread, so an arena asking for more
// would run on fewer (with a warning). Where oneTBB's cap (as
// tbb::global_control reports it) is below `threads`, this holds a control
// raising it to `threads` for the rest of the process; a lower control the
// program holds itself still wins (oneTBB keeps the least). Every parallel
// Executor given a thread count calls it; code that makes an arena of its own from a user's count should
// too.
void allow_threads(int threads);

// Keeps freed memory in the process for reuse instead of handing it back to
// the operating system at once: blocks under `bytes` come from the heap
// rather than from fresh mappings (`bytes` held between 128 KiB, the C
// library's default, and 32 MiB, its limit), and up to `bytes` of free
// heap stays mapped (at most 2 GiB). Ops and models that allocate large
// temporaries on every call (the Gaussian-process ops' n x n matrices)
// then reuse pages that are already mapped; on a virtual machine, where
// each first touch of a page is dear, that made gp_faces' fine-tuning 2.1
// times faster (README, Performance). Process-wide, so the program's
// choice: the samples call it at start. Says whether the C library took it
// (glibc's mallopt, 64-bit; elsewhere it does nothing and says false); a
// negative `bytes` is refused (false).
bool retain_freed_memory(int64_t bytes = int64_t{1} << 30);

struct ExecutorOptions {
  int threads = 0;             // 0: every core of the machine; at most max(8, 4 per hardware thread)
  uint64_t seed = 0;           // keys every random draw
  bool parallel = true;        // false: serial executor, same results
  bool fuse = true;            // fuse chains of element-wise ops
  bool reuse_buffers = true;   // share buffers by liveness
  bool profile = false;        // record each task's span and each tile / row block it hands out (profile())
  bool check_numerics = false; // throw naming the first node that made NaN / Inf (or the fed batch or
                               // parameter it read that already held one)
  GemmBackend gemm = default_gemm_backend();  // ebm::gemm, or the system's CBLAS
  bool cache_packs = true;     // pack a parameter read as B by several products once per run, and a value
                               // read as B by several row tiles of one product once per thread (same bits)
  bool tile_outputs = true;    // a product read only on its own tiles (by the SGD update or the element-wise
                               // gradient fused onto it) is never stored whole: each tile goes to a per-thread
                               // buffer and is read there, and it has no buffer of its own (same bits;
                               // off with check_numerics)
  // Room for the trace's events, taken at the start: 64 bytes an event with
  // its runs' spans (16 MiB by default). Later events are counted, not kept.
  static constexpr size_t kDefaultProfileEvents = size_t{1} << 18;
  static constexpr size_t kMostProfileEvents = size_t{1} << 27;  // 8 GiB
  size_t profile_events = kDefaultProfileEvents;
};

// Work to run beside a step on the executor's threads (a callable by
// reference: nothing is copied or allocated).
class Alongside {
 public:
  Alongside() = default;
  template <typename F>
    requires(!std::is_same_v<std::remove_cv_t<F>, Alongside>)  // a copy is a copy, not a callable wrapping one
  Alongside(F& f) : fn_([](void* p) { (*static_cast<F*>(p))(); }), ctx_(&f) {}  // NOLINT: implicit on purpose
  explicit operator bool() const { return fn_ != nullptr; }
  void operator()() const { fn_(ctx_); }

 private:
  void (*fn_)(void*) = nullptr;
  void* ctx_ = nullptr;
};

// One input's data for a run: row-major floats of exactly the input's shape.
struct Feed {
  Tensor input;
  std::span<const float> data;
};

struct PlanStats {
  int nodes = 0;          // ops in the plan (sources excluded)
  int tasks = 0;          // flow-graph nodes after fusion
  int64_t arena_bytes = 0;
  int64_t unshared_bytes = 0;
  int shared_b = 0;       // products whose B operand is packed once per run and shared
  int row_shared_b = 0;   // B operands of several row tiles, packed once per run by each thread
  int tile_outputs = 0;   // products kept in per-thread tile buffers (ExecutorOptions::tile_outputs)
};

class Executor {
 public:
  explicit Executor(Graph& g, ExecutorOptions opt = {});
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Computes `targets` (compiling them on first use) and advances the step.
  // `alongside`, when given, runs once as one more task on the same threads,
  // with no order against the step's tasks (it fills gaps where a thread
  // would wait); run returns when both are done. It must not use this
  // executor or anything the step reads or writes — the use is preparing the
  // next batch into a second buffer while this one trains.
  void run(std::span<const Tensor> targets, std::span<const Feed> feeds = {}, Alongside alongside = {});
  // The same with braced lists: ex.run({cd.step}, {{cd.v0, batch}}, prepare), `prepare` a named callable (an
  // Alongside keeps a pointer to it).
  void run(std::initializer_list<Tensor> targets, std::initializer_list<Feed> feeds = {}, Alongside alongside = {}) {
    run(std::span<const Tensor>(targets.begin(), targets.size()), std::span<const Feed>(feeds.begin(), feeds.size()),
        alongside);
  }
  void run(std::initializer_list<Tensor> targets, std::span<const Feed> feeds, Alongside alongside = {}) {
    run(std::span<const Tensor>(targets.begin(), targets.size()), feeds, alongside);
  }
  void run(std::span<const Tensor> targets, std::initializer_list<Feed> feeds, Alongside alongside = {}) {
    run(targets, std::span<const Feed>(feeds.begin(), feeds.size()), alongside);
  }

  // A target's value from the last run (or a parameter / constant's value).
  // Valid until the next run.
  std::span<const float> value(Tensor t) const;
  float scalar(Tensor t) const;

  PlanStats stats(std::span<const Tensor> targets);
  PlanStats stats(std::initializer_list<Tensor> targets) {  // ex.stats({cd.step})
    return stats(std::span<const Tensor>(targets.begin(), targets.size()));
  }
  // The step counter keys the random draws; restore it to resume a run.
  uint64_t step() const;
  void set_step(uint64_t step);
  const ExecutorOptions& options() const;
  // What the runs recorded; an ebm::Error when the executor was made
  // without ExecutorOptions::profile (it would be empty).
  Profile& profile();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ebm
