// Update ops: optimizer steps and assignments that run inside a compiled
// graph and write their first inputs in place. They produce no value
// (shape [0, 0]); the executor orders them after every other reader of
// the buffers they write.

#include <algorithm>
#include <cmath>

#include <tbb/parallel_for.h>

#include "ops/clock.hpp"
#include "ops/op.hpp"

namespace ebm {
namespace {

// Runs body(i0, i1) over [0, n): split into fixed chunks on the arena's
// threads when the kernel may, so large parameter updates do not run alone.
// While profiling, each chunk is recorded as a piece of the task (its
// "rows" the chunk's elements), so the profile sees every thread's share.
template <typename Body>
void chunked(const Kernel& k, int64_t n, Body body) {
  constexpr int64_t chunk = 1 << 15;
  if (!k.parallel || n <= chunk) return body(int64_t{0}, n);
  tbb::parallel_for(int64_t{0}, (n + chunk - 1) / chunk, [&](int64_t c) {
    const int64_t t0 = k.probe ? steady_now_ns() : 0, i0 = c * chunk, i1 = std::min(n, (c + 1) * chunk);
    body(i0, i1);
    if (k.probe) (*k.probe)(i0, i1, 0, 1, t0, steady_now_ns());
  });
}

void require_same(Shape a, Shape b, const char* what) {
  if (a != b) throw ShapeError{fmt::format("{} of shape {}", what, a)};
}

// vel = mom vel - lr (g + wd w);  w += vel, over n elements.
void sgd_span(float* __restrict w, float* __restrict vel, const float* __restrict g, int64_t n, float lr, float mom,
              float wd) {
  for (int64_t i = 0; i < n; ++i) {
    vel[i] = mom * vel[i] - lr * (g[i] + wd * w[i]);
    w[i] += vel[i];
  }
}

}  // namespace

Shape SgdUpdate::shape(std::span<const Shape> in) const {
  require_same(in[0], in[1], "a velocity");
  require_same(in[0], in[2], "a gradient");
  if (in[3] != Shape{1, 4}) throw ShapeError{"hyper-parameters of shape [1, 4]"};
  return {0, 0};
}

void SgdUpdate::forward(const Kernel& k) const {
  float *w = k.in[0], *vel = k.in[1];
  const float* g = k.in[2];
  const float lr = k.in[3][0], mom = k.in[3][1], wd = k.in[3][2];
  if (k.col_end > 0) {  // one tile of the GEMM that made g (a fused epilogue), read where the GEMM left it
    const int64_t cols = k.in_shape[0].cols, c0 = k.col_begin, width = k.col_end - c0;
    for (int64_t r = k.row_begin; r < k.row_end; ++r) {
      const float* gr = k.tile_slot == 2 ? k.tile + (r - k.row_begin) * k.tile_ld : g + r * cols + c0;
      sgd_span(w + r * cols + c0, vel + r * cols + c0, gr, width, lr, mom, wd);
    }
    return;
  }
  chunked(k, k.in_shape[0].size(),
          [=](int64_t i0, int64_t i1) { sgd_span(w + i0, vel + i0, g + i0, i1 - i0, lr, mom, wd); });
}

Shape AdamUpdate::shape(std::span<const Shape> in) const {
  require_same(in[0], in[1], "a first moment");
  require_same(in[0], in[2], "a second moment");
  require_same(in[0], in[3], "a gradient");
  if (in[4] != Shape{1, 6}) throw ShapeError{"hyper-parameters of shape [1, 6]"};
  return {0, 0};
}

// g' = g + wd w;  m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2;
// w -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps), t counted in hyper[5].
void AdamUpdate::forward(const Kernel& k) const {
  float *w = k.in[0], *m = k.in[1], *v = k.in[2], *hyper = k.in[4];
  const float* g = k.in[3];
  const float lr = hyper[0], b1 = hyper[1], b2 = hyper[2], eps = hyper[3], wd = hyper[4];
  const float t = hyper[5] += 1.0f;
  const float c1 = 1.0f / (1.0f - std::pow(b1, t)), c2 = 1.0f / (1.0f - std::pow(b2, t));
  chunked(k, k.in_shape[0].size(), [=](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float gi = g[i] + wd * w[i];
      m[i] = b1 * m[i] + (1.0f - b1) * gi;
      v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
      w[i] -= lr * (m[i] * c1) / (std::sqrt(v[i] * c2) + eps);
    }
  });
}

Shape Assign::shape(std::span<const Shape> in) const {
  require_same(in[0], in[1], "a value");
  return {0, 0};
}

void Assign::forward(const Kernel& k) const {
  std::copy_n(k.in[1], k.in_shape[0].size(), k.in[0]);
}

Shape Group::shape(std::span<const Shape>) const { return {0, 0}; }

}  // namespace ebm
