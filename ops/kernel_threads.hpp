#pragma once
// What the convolution and pooling kernels (ops/conv.cpp, ops/pool.cpp)
// share: the arena thread's buffers and the split of their work over the
// arena's threads. Internal to ops/.

#include <cstdint>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "ops/clock.hpp"
#include "ops/gemm.hpp"
#include "ops/op.hpp"

namespace ebm::kernel_threads {

// The calling arena thread's GEMM buffers (the executor's), or a buffer of
// the thread's own when it has none.
inline gemm::Workspace& workspace(const Kernel& k) {
  const int t = tbb::this_task_arena::current_thread_index();
  if (k.workspaces && t >= 0 && t < k.n_workspaces) return k.workspaces[t];
  thread_local gemm::Workspace own;
  return own;
}

// Runs body(i) for i in [0, n), on the arena's threads when asked. While
// profiling, each range of i a thread ran is recorded as a piece of the
// task (its "rows" are that range of i: images, rows or blocks of taps),
// so that the profile sees the other threads' share of the work.
template <typename Body>
void split(const Kernel& k, int64_t n, Body body) {
  if (k.parallel && n > 1)
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, n), [&](const tbb::blocked_range<int64_t>& r) {
      const int64_t t0 = k.probe ? steady_now_ns() : 0;
      for (int64_t i = r.begin(); i < r.end(); ++i) body(i);
      if (k.probe) (*k.probe)(r.begin(), r.end(), 0, k.out_shape.cols, t0, steady_now_ns());
    });
  else
    for (int64_t i = 0; i < n; ++i) body(i);
}

// The scratch floats of a pooling op (0 for any other op): ops/pool.cpp's
// part of scratch_floats.
int64_t pooling_scratch_floats(const Op& op);

}  // namespace ebm::kernel_threads
