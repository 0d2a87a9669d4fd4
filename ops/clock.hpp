#pragma once
// The profiler's clock: steady time in nanoseconds. Here, in the lowest
// layer, because GEMM kernels time their tiles with it (ops/op.hpp,
// TileProbe) and graph/profile.hpp's Profile::now_ns is the same clock.

#include <chrono>
#include <cstdint>

namespace ebm {

inline int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace ebm
