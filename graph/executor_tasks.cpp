// Running a compiled plan's tasks: a task's kernels (a GEMM with its fused
// epilogue, an element-wise op split over the threads, a fused chain cut
// into row tiles), the numerics check, and the profile's records.

#include <algorithm>
#include <cmath>

#include <tbb/parallel_for.h>

#include "graph/executor_impl.hpp"

namespace ebm {

Kernel Executor::Impl::kernel(const Compiled& c, int32_t j) const {
  const PlanNode& pn = c.plan.nodes[static_cast<size_t>(j)];
  Kernel k;
  k.n_in = pn.n_in;
  for (int a = 0; a < pn.n_in; ++a) {
    const auto i = static_cast<size_t>(pn.in[static_cast<size_t>(a)]);
    k.in[static_cast<size_t>(a)] = c.ptr[i];
    k.in_shape[static_cast<size_t>(a)] = c.shape[i];
  }
  k.out = c.ptr[static_cast<size_t>(j)];
  k.out_shape = c.shape[static_cast<size_t>(j)];
  k.rng = make_rng_key(opt.seed, static_cast<uint64_t>(pn.id), step);
  k.parallel = opt.parallel;
  k.gemm = opt.gemm;
  k.workspaces = workspaces.get();
  k.n_workspaces = n_workspaces;
  k.shared_b = c.shared_b[static_cast<size_t>(j)];
  k.pack_tag = c.pack_tag[static_cast<size_t>(j)];
  k.packs = k.shared_b ? &packs : nullptr;
  k.thread_packs = thread_packs.get();
  k.thread_b = c.thread_b[static_cast<size_t>(j)];
  k.tile_output = pn.tile_only;
  if (c.probes && pn.task >= 0) k.probe = &c.probes[static_cast<size_t>(pn.task)].probe;
  return k;
}

// A GEMM whose epilogue runs the task's other nodes on each output tile;
// a member reading the GEMM's output is told where the tile's values are
// (Kernel::tile_slot), which may be the thread's tile buffer.
void Executor::Impl::exec_gemm_epilogue(Compiled& c, const PlanTask& task) {
  struct Members {
    std::array<Kernel, kMaxEpilogue> kernel;
    std::array<const Op*, kMaxEpilogue> op{};
    size_t n = 0;
  } ms;
  auto op_of = [&](int32_t j) -> const Op& { return c.plan.nodes[static_cast<size_t>(j)].op; };
  for (size_t m = 1; m < task.nodes.size(); ++m, ++ms.n) {
    const PlanNode& pn = c.plan.nodes[static_cast<size_t>(task.nodes[m])];
    Kernel& k = ms.kernel[ms.n] = kernel(c, task.nodes[m]);
    for (int a = 0; a < pn.n_in; ++a)
      if (pn.in[static_cast<size_t>(a)] == task.nodes[0]) k.tile_slot = a;
    ms.op[ms.n] = &op_of(task.nodes[m]);
  }
  TileEpilogue epilogue{[](const void* ctx, int64_t i0, int64_t i1, int64_t j0, int64_t j1, const float* tile,
                           int64_t ld) {
                          const auto& e = *static_cast<const Members*>(ctx);
                          for (size_t m = 0; m < e.n; ++m) {
                            Kernel k = e.kernel[m];
                            k.row_begin = i0, k.row_end = i1, k.col_begin = j0, k.col_end = j1;
                            k.tile = tile, k.tile_ld = ld;
                            run_forward(*e.op[m], k);
                          }
                        },
                        &ms};
  // An update's weights (of the GEMM output's shape), claimed for writing
  // while each tile is computed.
  const Shape out = c.shape[static_cast<size_t>(task.nodes[0])];
  for (size_t m = 0; m < ms.n && !epilogue.writes; ++m) {
    const int slot = tile_update_claims(*ms.op[m]);
    if (slot >= 0 && ms.kernel[m].in_shape[static_cast<size_t>(slot)] == out)
      epilogue.writes = ms.kernel[m].in[static_cast<size_t>(slot)];
  }
  Kernel k = kernel(c, task.nodes[0]);
  k.epilogue = &epilogue;
  run_forward(op_of(task.nodes[0]), k);
}

void Executor::Impl::exec_node(Compiled& c, int32_t j, int64_t r0, int64_t r1, bool may_split) {
  const Op& op = c.plan.nodes[static_cast<size_t>(j)].op;
  const Shape shape = c.shape[static_cast<size_t>(j)];
  Kernel k = kernel(c, j);
  // Rows are independent in an element-wise op and in a reduction along
  // rows (whose input rows are what it reads).
  const bool by_rows = traits(op).kind == OpKind::elementwise || row_reducing(op);
  const int64_t cols = row_reducing(op) ? k.in_shape[0].cols : shape.cols;
  if (by_rows && may_split && opt.parallel && shape.rows * cols >= kSplitElements) {
    const int64_t grain = std::max<int64_t>(1, kSplitElements / 4 / cols);
    tbb::parallel_for(tbb::blocked_range<int64_t>(r0, r1, grain), [&](const tbb::blocked_range<int64_t>& r) {
      const int64_t t0 = k.probe ? Profile::now_ns() : 0;
      Kernel part = k;
      part.row_begin = r.begin();
      part.row_end = r.end();
      run_forward(op, part);
      if (k.probe) (*k.probe)(r.begin(), r.end(), 0, shape.cols, t0, Profile::now_ns());
    });
    return;
  }
  k.row_begin = r0;
  k.row_end = r1;
  run_forward(op, k);
}

// Records node j if its value holds NaN or Inf. Its sources are scanned
// here, inside j's task: an update of a parameter j read waits for this
// task, so the values scanned are the ones j read.
void Executor::Impl::check(Compiled& c, int32_t j) {
  auto first_bad = [](const float* p, int64_t size) {
    return std::find_if(p, p + size, [](float x) { return !std::isfinite(x); }) - p;
  };
  const PlanNode& pn = c.plan.nodes[static_cast<size_t>(j)];
  const float* p = c.ptr[static_cast<size_t>(j)];
  const int64_t size = c.shape[static_cast<size_t>(j)].size();
  if (!p || pn.offset < 0 || first_bad(p, size) == size) return;
  BadValue found{.node = j};
  for (int a = 0; a < pn.n_in && found.source < 0; ++a) {
    const auto i = static_cast<size_t>(pn.in[static_cast<size_t>(a)]);
    if (traits(c.plan.nodes[i].op).kind != OpKind::source || !c.ptr[i]) continue;
    const int64_t n = c.shape[i].size(), at = first_bad(c.ptr[i], n);
    if (at < n) found = {.node = j, .source = static_cast<int32_t>(i), .at = at, .value = c.ptr[i][at]};
  }
  std::lock_guard lock(bad_m);
  if (j < bad.node) bad = found;
}

void Executor::Impl::exec_task(Compiled& c, int32_t t) {
  const int64_t t0 = opt.profile ? Profile::now_ns() : 0;
  if (c.probes) c.probes[static_cast<size_t>(t)].pieces.store(0, std::memory_order_relaxed);
  const PlanTask& task = c.plan.tasks[static_cast<size_t>(t)];
  if (task.nodes.size() == 1) {
    const int32_t j = task.nodes[0];
    exec_node(c, j, 0, c.shape[static_cast<size_t>(j)].rows, true);
  } else if (takes_epilogue(c.plan.nodes[static_cast<size_t>(task.nodes[0])].op)) {
    exec_gemm_epilogue(c, task);
  } else {  // a fused element-wise chain, tile by tile: all members share one shape (a last reduction along rows, its rows)
    const Shape s = c.shape[static_cast<size_t>(task.nodes[0])];
    const int64_t tile = std::max<int64_t>(1, kFuseTileElements / s.cols), tiles = (s.rows + tile - 1) / tile;
    auto run_tile = [&](int64_t t) {
      for (int32_t j : task.nodes) exec_node(c, j, t * tile, std::min((t + 1) * tile, s.rows), false);
    };
    if (opt.parallel && s.size() >= kSplitElements) {  // rows are independent: tiles may run on any thread
      PieceProbe* q = c.probes ? &c.probes[static_cast<size_t>(t)] : nullptr;
      tbb::parallel_for(int64_t{0}, tiles, [&](int64_t i) {
        const int64_t t0 = q ? Profile::now_ns() : 0;
        run_tile(i);
        if (q) q->record(i * tile, std::min((i + 1) * tile, s.rows), 0, s.cols, t0, Profile::now_ns());
      });
    } else
      for (int64_t t = 0; t < tiles; ++t) run_tile(t);
  }
  if (opt.check_numerics)
    for (int32_t j : task.nodes) check(c, j);
  if (opt.profile) {
    const bool split = c.probes[static_cast<size_t>(t)].pieces.load(std::memory_order_relaxed) > 0;
    profile.record(c.profile_id[static_cast<size_t>(t)], worker(opt.parallel), t0, Profile::now_ns(), !split);
  }
}

}  // namespace ebm
