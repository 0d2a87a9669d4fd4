// The executor: compiling a plan for a set of targets (buffers, the flow
// graph, shared packs), binding feeds, and the public calls. Running the
// plan's tasks is graph/executor_tasks.cpp.

#include "graph/executor.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <cblas.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <tbb/global_control.h>
#include <tbb/task_group.h>

#include "graph/executor_impl.hpp"

namespace ebm {

namespace {

// The B operands of a product op: input slots, and whether op(B) is B^T.
struct BSlots {
  std::array<int, 2> slot{};
  bool tb = false;
  int n = 0;
};

BSlots b_slots(const Op& op) {
  if (const auto* m = std::get_if<MatMul>(&op)) return {{1}, m->tb, 1};
  if (const auto* m = std::get_if<MatMulSum>(&op)) return {{1, 3}, m->tb, 2};
  if (const auto* m = std::get_if<Affine>(&op)) return {{1}, m->tb, 1};
  if (const auto* m = std::get_if<AffineSigmoid>(&op)) return {{1}, m->tb, 1};
  return {};
}

}  // namespace

// A parameter is constant while a run lasts (its updates wait for all its
// readers), so when two or more products of the plan read it as B the same
// way, its packed panels are shared (c.shared_b: the executor's cache). Any
// other B operand of a product whose tile grid may have several row tiles over
// one column range (a weight gradient's h' d: each row tile would pack the
// same panel of d again) is packed once per thread (c.thread_b, Kernel::
// thread_packs) if it is at most 4 MB: in one shared cache, the GEMMs read
// panels another core had packed, and CD-1 ran no faster. A value that is
// not a parameter is tagged with its producer, since its buffer may hold
// another value later in the run.
void Executor::Impl::mark_shared_b(Compiled& c) const {
  constexpr int64_t kThreadPackFloats = int64_t{1} << 20;  // each thread keeps a copy: at most 4 MB of B
  const Plan& p = c.plan;
  c.shared_b.assign(p.nodes.size(), 0);
  c.thread_b.assign(p.nodes.size(), 0);
  c.pack_tag.assign(p.nodes.size(), {});
  if (!opt.cache_packs || opt.gemm != GemmBackend::ebm) return;
  auto is_param = [&](int32_t u) {
    const PlanNode& pn = p.nodes[static_cast<size_t>(u)];
    return pn.offset < 0 && g.node(pn.id).storage >= 0;
  };
  struct Read {
    size_t node;
    int slot;
    int32_t param;
    bool tb;
  };
  std::vector<Read> reads;
  std::vector<std::array<int, 2>> readers(p.nodes.size(), {0, 0});  // per parameter: products reading it as B, B^T
  for (size_t j = 0; j < p.nodes.size(); ++j) {
    const BSlots b = b_slots(p.nodes[j].op);
    const Shape out = c.shape[j];
    // (A shallow product's rows-only grid needs no depth here: it applies
    // from 500 rows, where the default grid already has two row tiles.)
    const bool row_tiles =
        gemm::tile_grid(out.rows, out.cols).rows > 1 || gemm::grid_depends_on_sparsity(out.rows, out.cols);
    for (int i = 0; i < b.n; ++i) {
      const int slot = b.slot[static_cast<size_t>(i)];
      const int32_t u = p.nodes[j].in[static_cast<size_t>(slot)];
      if (!is_param(u)) {
        if (row_tiles && c.shape[static_cast<size_t>(u)].size() <= kThreadPackFloats) {
          c.thread_b[j] |= 1u << slot;
          c.pack_tag[j][static_cast<size_t>(slot)] = static_cast<uint32_t>(u) + 1;
        }
        continue;
      }
      reads.push_back({j, slot, u, b.tb});
      ++readers[static_cast<size_t>(u)][b.tb];
    }
  }
  for (const Read& r : reads)
    if (readers[static_cast<size_t>(r.param)][r.tb] >= 2) c.shared_b[r.node] |= 1u << r.slot;
}

Compiled& Executor::Impl::find(std::span<const Tensor> targets) {
  for (auto& c : plans) {
    const auto& t = c->plan.targets;
    if (t.size() == targets.size() &&
        std::equal(t.begin(), t.end(), targets.begin(), [](NodeId a, const Tensor& b) { return a == b.id; }))
      return *c;
  }
  auto c = std::make_unique<Compiled>();
  c->plan = compile_plan(g, targets,
                         {.fuse = opt.fuse,
                          .reuse = opt.reuse_buffers,
                          .tile_outputs = opt.tile_outputs && opt.parallel && !opt.check_numerics});
  compile(*c);
  plans.push_back(std::move(c));
  return *plans.back();
}

void Executor::Impl::compile(Compiled& c) {
  const Plan& p = c.plan;
  const size_t bytes = static_cast<size_t>(std::max<int64_t>(p.arena_floats, 16)) * sizeof(float);
  c.arena.reset(static_cast<float*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
  if (!c.arena)
    throw Error("run: the step's values need {:.3g} GiB, which cannot be allocated; expected a graph whose live values "
                "fit in memory (a smaller batch or layer)",
                static_cast<double>(bytes) / (1 << 30));
  std::fill_n(c.arena.get(), bytes / sizeof(float), 0.0f);
  c.ptr.assign(p.nodes.size(), nullptr);
  c.shape.resize(p.nodes.size());
  for (size_t j = 0; j < p.nodes.size(); ++j) {
    const PlanNode& pn = p.nodes[j];
    const Node& n = g.node(pn.id);
    c.shape[j] = n.shape;
    if (pn.offset >= 0) c.ptr[j] = c.arena.get() + pn.offset;
    else if (n.storage >= 0) c.ptr[j] = g.value(g.tensor(pn.id)).data();
  }
  for (const PlanTask& t : p.tasks) c.profile_id.push_back(profile.add_task(t.label, t.flops, t.about));
  if (opt.profile) {
    c.probes = std::make_unique<PieceProbe[]>(p.tasks.size());
    for (size_t t = 0; t < p.tasks.size(); ++t) {
      PieceProbe& q = c.probes[t];
      q.profile = &profile;
      q.id = c.profile_id[t];
      q.parallel = opt.parallel;
      q.probe = {[](const void* ctx, int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t t0, int64_t t1) {
                   const_cast<PieceProbe*>(static_cast<const PieceProbe*>(ctx))->record(i0, i1, j0, j1, t0, t1);
                 },
                 &q};
    }
  }
  mark_shared_b(c);
  if (!opt.parallel) return;
  const bool has_gemm = std::any_of(p.tasks.begin(), p.tasks.end(), [&](const PlanTask& t) {
    return takes_epilogue(p.nodes[static_cast<size_t>(t.nodes[0])].op);
  });
  int64_t tile_need = 0;  // products kept in tile buffers: the largest tile any of their grids may have
  for (const PlanNode& pn : p.nodes) {
    scratch_need = std::max(scratch_need, scratch_floats(pn.op));
    if (pn.tile_only) {
      const Shape s = g.node(pn.id).shape;
      tile_need = std::max(tile_need, gemm::max_tile_floats(s.rows, s.cols));
    }
  }
  // Per-thread buffers only for executors that run GEMMs or ops with
  // scratch; every thread's scratch and tile buffer at the largest need of
  // any plan, so no kernel grows them (whichever plan runs, and whichever
  // thread takes it).
  if ((has_gemm || scratch_need > 0) && !workspaces) {
    n_workspaces = arena.max_concurrency();
    workspaces = std::make_unique<gemm::Workspace[]>(static_cast<size_t>(n_workspaces));
    thread_packs = std::make_unique<gemm::PackCache[]>(static_cast<size_t>(n_workspaces));
  }
  for (int i = 0; workspaces && i < n_workspaces; ++i) {
    if (scratch_need > 0) workspaces[i].scratch(scratch_need);
    if (tile_need > 0) workspaces[i].tile(tile_need);
  }
  arena.execute([&] {
    c.fg = std::make_unique<tbb::flow::graph>();
    c.start = std::make_unique<tbb::flow::broadcast_node<continue_msg>>(*c.fg);
    for (int32_t t = 0; t < static_cast<int32_t>(p.tasks.size()); ++t)
      c.flow.push_back(std::make_unique<FlowNode>(*c.fg, [this, &c, t](const continue_msg&) { exec_task(c, t); }));
    for (int32_t t = 0; t < static_cast<int32_t>(p.tasks.size()); ++t) {
      const PlanTask& task = p.tasks[static_cast<size_t>(t)];
      if (task.n_pred == 0) tbb::flow::make_edge(*c.start, *c.flow[static_cast<size_t>(t)]);
      for (int32_t s : task.succ) tbb::flow::make_edge(*c.flow[static_cast<size_t>(t)], *c.flow[static_cast<size_t>(s)]);
    }
  });
}

void Executor::Impl::bind(Compiled& c, std::span<const Feed> feeds) {
  for (const Feed& f : feeds) {
    if (f.input.graph == nullptr || f.input.id < 0 || f.input.id >= f.input.graph->size())
      throw Error("run: a fed tensor is empty or not of any graph; expected an input of this executor's graph");
    if (f.input.graph != &g)
      throw Error("run: the fed tensor '{}' belongs to another graph; expected an input of this executor's graph",
                  f.input.graph->label(f.input.id));
    const Node& n = g.node(f.input.id);
    if (!std::holds_alternative<Input>(n.op))
      throw Error("run: '{}' is fed but is {}, not an input", g.label(f.input.id), name_with_article(n.op));
    if (static_cast<int64_t>(f.data.size()) != n.shape.size())
      throw Error("run: input '{}' was fed {} floats; expected {} for shape {}", g.label(f.input.id), f.data.size(),
                  n.shape.size(), n.shape);
    if (std::count_if(feeds.begin(), feeds.end(), [&](const Feed& x) { return x.input == f.input; }) > 1)
      throw Error("run: input '{}' is fed twice; expected one feed per input", g.label(f.input.id));
  }
  for (int32_t j : c.plan.inputs) {
    const NodeId id = c.plan.nodes[static_cast<size_t>(j)].id;
    auto f = std::find_if(feeds.begin(), feeds.end(), [&](const Feed& x) { return x.input.id == id; });
    if (f == feeds.end())
      throw Error("run: input '{}' of shape {} was not fed; the targets depend on it", g.label(id), g.node(id).shape);
    c.ptr[static_cast<size_t>(j)] = const_cast<float*>(f->data.data());  // kernels never write inputs
  }
}

GemmBackend default_gemm_backend() {
  static const GemmBackend backend = [] {
    const char* env = std::getenv("EBM_GEMM");
    const std::string_view v = env ? env : "";
    if (v == "ebm") return GemmBackend::ebm;
    if (v == "cblas") return GemmBackend::cblas;
    if (!v.empty()) throw Error("EBM_GEMM={}: unknown GEMM; expected ebm or cblas (or unset)", v);
    return gemm::active_isa() == gemm::Isa::generic ? GemmBackend::cblas : GemmBackend::ebm;
  }();
  return backend;
}

int max_executor_threads() { return std::max(8, 4 * static_cast<int>(std::thread::hardware_concurrency())); }

void allow_threads(int threads) {
  static std::mutex m;
  static tbb::global_control* cap = nullptr;  // the raised cap; never destroyed, so nothing calls oneTBB at exit
  const std::lock_guard lock(m);
  const auto now = static_cast<int>(tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism));
  if (threads <= now) return;
  auto* raised = new tbb::global_control(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
  delete std::exchange(cap, raised);  // the new cap first, so the limit never dips in between
}

bool retain_freed_memory(int64_t bytes) {
#if defined(__GLIBC__)
  // glibc's mapping threshold: 128 KiB by default (which it raises as blocks are freed, until any
  // mallopt call fixes it), at most 32 MiB on 64-bit; larger blocks are mapped whatever we ask.
  constexpr int64_t kMinMap = int64_t{128} << 10, kMaxMap = int64_t{32} << 20;
  if (bytes < 0) return false;
  const int64_t trim = std::min<int64_t>(bytes, std::numeric_limits<int>::max());
  return mallopt(M_MMAP_THRESHOLD, static_cast<int>(std::clamp(bytes, kMinMap, kMaxMap))) == 1 &&
         mallopt(M_TRIM_THRESHOLD, static_cast<int>(trim)) == 1;
#else
  (void)bytes;
  return false;
#endif
}

namespace {

ExecutorOptions checked(ExecutorOptions o) {
  if (o.threads < 0 || o.threads > max_executor_threads())
    throw Error("executor: threads = {}; expected 0 (every core) to {} (four per hardware thread, at least 8)",
                o.threads, max_executor_threads());
  if (o.profile && o.profile_events > ExecutorOptions::kMostProfileEvents)
    throw Error("executor: profile_events = {}; expected at most {} (64 bytes an event, taken at the start)",
                o.profile_events, ExecutorOptions::kMostProfileEvents);
  if (o.parallel && o.threads > 0) allow_threads(o.threads);  // before the arena exists
  return o;
}

}  // namespace

Executor::Executor(Graph& g, ExecutorOptions opt) : impl_(std::make_unique<Impl>(g, checked(opt))) {
  openblas_set_num_threads(1);  // the arena owns the threads
}

Executor::~Executor() = default;

void Executor::run(std::span<const Tensor> targets, std::span<const Feed> feeds, Alongside alongside) {
  Impl& m = *impl_;
  Compiled& c = m.find(targets);
  m.bind(c, feeds);
  m.last = &c;
  m.packs.new_run();  // parameters may have changed since the last run
  for (int i = 0; m.thread_packs && i < m.n_workspaces; ++i) m.thread_packs[i].new_run();
  const int64_t t0 = m.opt.profile ? Profile::now_ns() : 0;
  if (m.opt.parallel) {
    m.arena.execute([&] {
      tbb::task_group beside;
      if (alongside) beside.run([&] { m.run_alongside(alongside); });
      try {
        c.start->try_put(continue_msg{});
        c.fg->wait_for_all();
      } catch (...) {  // an op threw: the graph was cancelled, and must be reset before it runs again
        beside.wait();
        c.fg->reset();
        throw;
      }
      beside.wait();
    });
  } else {
    if (alongside) m.run_alongside(alongside);
    for (int32_t t : c.plan.order) m.exec_task(c, t);
  }
  if (m.opt.profile) {
    const auto plan = std::find_if(m.plans.begin(), m.plans.end(), [&](const auto& p) { return p.get() == &c; });
    m.profile.add_run(t0, Profile::now_ns(), static_cast<int32_t>(plan - m.plans.begin()));
  }
  ++m.step;
  if (m.opt.check_numerics) {
    const Impl::BadValue b = std::exchange(m.bad, {});  // every task has finished
    if (b.node != std::numeric_limits<int32_t>::max()) m.throw_numerics(c, b);
  }
}

// What check() found: the source the node read that already held NaN or
// Inf, when there was one (that source is what is wrong), or else the node.
void Executor::Impl::throw_numerics(const Compiled& c, const BadValue& b) const {
  const PlanNode& pn = c.plan.nodes[static_cast<size_t>(b.node)];
  const Node& n = g.node(pn.id);
  if (b.source >= 0) {
    const PlanNode& src = c.plan.nodes[static_cast<size_t>(b.source)];
    const bool fed = std::holds_alternative<Input>(src.op);
    const int64_t cols = c.shape[static_cast<size_t>(b.source)].cols;
    throw Error("numerics: {} '{}' {} {} at [{}, {}] at step {} (read by node '{}', {} {}); expected finite values",
                fed ? "input" : std::holds_alternative<Param>(src.op) ? "parameter" : "constant", g.label(src.id),
                fed ? "was fed" : "holds", b.value, b.at / cols, b.at % cols, step - 1, g.label(pn.id), name(n.op),
                n.shape);
  }
  throw Error("numerics: node '{}' ({} {}) produced NaN or Inf at step {}", g.label(pn.id), name(n.op), n.shape,
              step - 1);
}

std::span<const float> Executor::value(Tensor t) const {
  const Impl& m = *impl_;
  if (t.graph != &m.g || t.id < 0 || t.id >= m.g.size()) throw Error("value: the tensor does not belong to this graph");
  const Node& n = m.g.node(t.id);
  if (n.storage >= 0) return m.g.value(t);
  const auto is_target = [&](const Compiled& c) {
    return std::find(c.plan.targets.begin(), c.plan.targets.end(), t.id) != c.plan.targets.end();
  };
  if (!m.last)
    throw Error("value: '{}' has no value yet: this executor has not run; expected a run with it among the targets "
                "first", m.g.label(t.id));
  if (!is_target(*m.last))
    throw Error("value: '{}' was not a target of the last run; only targets keep their values", m.g.label(t.id));
  const int32_t j = m.last->plan.find(t.id);
  return {m.last->ptr[static_cast<size_t>(j)], static_cast<size_t>(n.shape.size())};
}

float Executor::scalar(Tensor t) const {
  auto v = value(t);
  if (v.size() != 1) throw Error("scalar: '{}' has shape {}, expected [1, 1]", t.graph->label(t.id), t.shape());
  return v[0];
}

PlanStats Executor::stats(std::span<const Tensor> targets) {
  const Compiled& c = impl_->find(targets);
  const Plan& p = c.plan;
  PlanStats s;
  for (uint32_t mask : c.shared_b) s.shared_b += std::popcount(mask);
  for (uint32_t mask : c.thread_b) s.row_shared_b += std::popcount(mask);
  for (const PlanNode& n : p.nodes) s.tile_outputs += n.tile_only;
  for (const PlanTask& t : p.tasks) s.nodes += static_cast<int>(t.nodes.size());
  s.tasks = static_cast<int>(p.tasks.size());
  s.arena_bytes = p.arena_floats * 4;
  s.unshared_bytes = p.unshared_floats * 4;
  return s;
}

uint64_t Executor::step() const { return impl_->step; }
void Executor::set_step(uint64_t step) { impl_->step = step; }
const ExecutorOptions& Executor::options() const { return impl_->opt; }
Profile& Executor::profile() {
  if (!impl_->opt.profile)
    throw Error("profile(): this executor records no profile; expected one made with ExecutorOptions{.profile = "
                "true}");
  return impl_->profile;
}

}  // namespace ebm
