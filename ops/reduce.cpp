// Reductions, row-wise softmax and the scalar losses. Sums accumulate in a
// fixed order, so they are reproducible: in double over a whole matrix or
// along each row (in kLanes interleaved partial sums, added up in order at
// the end: one long chain of dependent adds ran a 100 x 784 reconstruction
// error at 4 cycles an element, 19% of an RBM training step that monitors
// it, and a free energy's sum over 2,000 hidden units likewise);
// in float, row by row, for column sums (axis 0: the bias gradients), which
// each add one number per row of a batch.

#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/error.hpp"
#include "ops/op.hpp"
#include "ops/simd.hpp"
#include "ops/vjp_util.hpp"
#include "ops/scalar_math.hpp"

namespace ebm {
namespace {

constexpr int64_t kLanes = 8;

// sum over i < n of term(i), in double: element i goes to partial sum
// i mod kLanes; the partial sums are then added in lane order.
template <typename Term>
double lane_sum(int64_t n, Term term) {
  double lane[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) lane[l] += term(i + l);
  for (; i < n; ++i) lane[i % kLanes] += term(i);
  double s = 0.0;
  for (double x : lane) s += x;
  return s;
}

Shape reduced_shape(Shape s, int axis) {
  if (axis == -1) return {1, 1};
  if (axis == 0) return {1, s.cols};
  if (axis == 1) return {s.rows, 1};
  throw ShapeError{fmt::format("axis -1 (all), 0 (over rows) or 1 (over columns), not {}", axis)};
}

// out = scale * sum of x along `axis`
void reduce_sum(const Kernel& k, int axis, double scale) {
  const int64_t m = k.in_shape[0].rows, n = k.in_shape[0].cols;
  const float* x = k.in[0];
  if (axis == -1) {
    k.out[0] = static_cast<float>(lane_sum(m * n, [&](int64_t i) { return static_cast<double>(x[i]); }) * scale);
  } else if (axis == 1) {  // rows [row_begin, row_end): all of them, or a fused chain's row tile (row_reducing)
    for (int64_t i = k.row_begin; i < k.row_end; ++i) {
      const float* xi = x + i * n;
      k.out[i] = static_cast<float>(lane_sum(n, [&](int64_t j) { return static_cast<double>(xi[j]); }) * scale);
    }
  } else {  // columns [j0, j1): all of them, or a GEMM tile's in its fused epilogue (column_reducing)
    const int64_t j0 = k.col_begin, j1 = k.col_stop();
    if (k.col_end > 0 && (k.row_begin != 0 || k.row_end != m))
      throw Error("sum over rows: given rows [{}, {}) of a tile; expected all {} rows (a GEMM with one row of tiles)",
                  k.row_begin, k.row_end, m);
    std::fill(k.out + j0, k.out + j1, 0.0f);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = j0; j < j1; ++j) k.out[j] += x[i * n + j];
    for (int64_t j = j0; j < j1; ++j) k.out[j] = static_cast<float>(k.out[j] * scale);
  }
}

// e = exp(x - the row's max) for each row of x [m x n]. The rows are
// shifted first and exponentiated as one block, so that rows narrower than
// a register (a 10-way softmax) still take the vector exp.
void shifted_exp(const float* x, int64_t m, int64_t n, float* e) {
  for (int64_t i = 0; i < m; ++i) {
    const float* xi = x + i * n;
    const float mx = *std::max_element(xi, xi + n);
    for (int64_t j = 0; j < n; ++j) e[i * n + j] = xi[j] - mx;
  }
  simd::exp_in_place(e, m * n);
}

double row_sum(const float* x, int64_t n) {
  double s = 0.0;
  for (int64_t j = 0; j < n; ++j) s += x[j];
  return s;
}

// Per row: y = x - max - log sum exp(x - max); with `as_prob`, y = exp of that.
void row_softmax(const Kernel& k, bool as_prob) {
  const int64_t m = k.in_shape[0].rows, n = k.in_shape[0].cols;
  shifted_exp(k.in[0], m, n, k.out);
  for (int64_t i = 0; i < m; ++i) {
    const float* x = k.in[0] + i * n;
    float* y = k.out + i * n;
    const double s = row_sum(y, n);
    if (as_prob) {
      const float inv = static_cast<float>(1.0 / s);
      for (int64_t j = 0; j < n; ++j) y[j] *= inv;
    } else {
      const float lse = *std::max_element(x, x + n) + static_cast<float>(std::log(s));
      for (int64_t j = 0; j < n; ++j) y[j] = x[j] - lse;
    }
  }
}

// Calls f(i, s) with s = sum over j of exp(x_ij - the row's max), for each
// row i of x [m x n], the rows exponentiated a block at a time on the
// stack (a loss has no output buffer to work in, and allocates nothing).
template <typename F>
void for_each_exp_sum(const float* x, int64_t m, int64_t n, F f) {
  constexpr int64_t kBlock = 1024;
  if (n > kBlock) {
    for (int64_t i = 0; i < m; ++i) {
      const float* xi = x + i * n;
      const float mx = *std::max_element(xi, xi + n);
      double s = 0.0;
      for (int64_t j = 0; j < n; ++j) s += std::exp(static_cast<double>(xi[j] - mx));
      f(i, s);
    }
    return;
  }
  alignas(64) float e[kBlock];
  const int64_t rows = kBlock / n;
  for (int64_t i0 = 0; i0 < m; i0 += rows) {
    const int64_t r = std::min(rows, m - i0);
    shifted_exp(x + i0 * n, r, n, e);
    for (int64_t i = 0; i < r; ++i) f(i0 + i, row_sum(e + i * n, n));
  }
}

Shape loss_shape(std::span<const Shape> in) {
  if (in[0] != in[1]) throw ShapeError{"prediction and target of the same shape"};
  return {1, 1};
}

}  // namespace

// ---- sum and mean --------------------------------------------------------------
Shape Sum::shape(std::span<const Shape> in) const { return reduced_shape(in[0], axis); }
void Sum::forward(const Kernel& k) const { reduce_sum(k, axis, 1.0); }
void Sum::vjp(VjpBuilder& b) const {
  b.give(0, b.emit(BroadcastTo{b.shape(b.x(0))}, {b.gy()}));
}

Shape Mean::shape(std::span<const Shape> in) const { return reduced_shape(in[0], axis); }
void Mean::forward(const Kernel& k) const {
  const Shape s = k.in_shape[0];
  reduce_sum(k, axis, 1.0 / static_cast<double>(s.size() / k.out_shape.size()));
}
void Mean::vjp(VjpBuilder& b) const {
  const Shape s = b.shape(b.x(0));
  const float inv = 1.0f / static_cast<float>(s.size() / b.shape(b.y()).size());
  b.give(0, b.emit(BroadcastTo{s}, {vjp::scale(b, b.gy(), inv)}));
}

// ---- softmax -----------------------------------------------------------------------
void Softmax::forward(const Kernel& k) const { row_softmax(k, true); }
void Softmax::vjp(VjpBuilder& b) const {  // gx = y (gy - rowsum(gy y))
  const Val y = b.y(), g = b.gy();
  b.give(0, vjp::mul(b, y, vjp::sub(b, g, vjp::sum(b, vjp::mul(b, g, y), 1))));
}

void LogSoftmax::forward(const Kernel& k) const { row_softmax(k, false); }
void LogSoftmax::vjp(VjpBuilder& b) const {  // gx = gy - exp(y) rowsum(gy)
  const Val g = b.gy();
  b.give(0, vjp::sub(b, g, vjp::mul(b, b.emit(Exp{}, {b.y()}), vjp::sum(b, g, 1))));
}

// ---- losses ------------------------------------------------------------------------
Shape BceLogits::shape(std::span<const Shape> in) const { return loss_shape(in); }
void BceLogits::forward(const Kernel& k) const {
  const Shape s = k.in_shape[0];
  const double acc = lane_sum(s.size(), [&](int64_t i) {
    const double x = k.in[0][i], t = k.in[1][i];
    return softplus(x) - t * x;
  });
  k.out[0] = static_cast<float>(acc / static_cast<double>(s.rows));
}
void BceLogits::vjp(VjpBuilder& b) const {  // gx = (sigmoid(x) - t) g / rows;  gt = -x g / rows
  const Val g = vjp::scale(b, b.gy(), 1.0f / static_cast<float>(b.shape(b.x(0)).rows));
  if (b.wants(0)) b.give(0, vjp::mul(b, vjp::sub(b, b.emit(Sigmoid{}, {b.x(0)}), b.x(1)), g));
  if (b.wants(1)) b.give(1, vjp::mul(b, vjp::scale(b, b.x(0), -1.0f), g));
}

Shape SoftmaxXent::shape(std::span<const Shape> in) const { return loss_shape(in); }
void SoftmaxXent::forward(const Kernel& k) const {
  const int64_t m = k.in_shape[0].rows, n = k.in_shape[0].cols;
  double acc = 0.0;
  for_each_exp_sum(k.in[0], m, n, [&](int64_t i, double s) {
    const float* x = k.in[0] + i * n;
    const float* t = k.in[1] + i * n;
    const double mx = *std::max_element(x, x + n);
    double tsum = 0.0, tx = 0.0;
    for (int64_t j = 0; j < n; ++j) {
      tsum += t[j];
      tx += static_cast<double>(t[j]) * x[j];
    }
    acc += tsum * (mx + std::log(s)) - tx;  // -sum t (x - lse)
  });
  k.out[0] = static_cast<float>(acc / static_cast<double>(m));
}
// gx = (softmax(x) rowsum(t) - t) g / rows, one op;  gt = -log_softmax(x) g / rows
void SoftmaxXent::vjp(VjpBuilder& b) const {
  const Val x = b.x(0), t = b.x(1);
  if (b.wants(0)) b.give(0, b.emit(SoftmaxXentGrad{}, {x, t, b.gy()}));
  if (b.wants(1)) {
    const Val g = vjp::scale(b, b.gy(), -1.0f / static_cast<float>(b.shape(x).rows));
    b.give(1, vjp::mul(b, b.emit(LogSoftmax{}, {x}), g));
  }
}

Shape SoftmaxXentGrad::shape(std::span<const Shape> in) const {
  if (in[0] != in[1]) throw ShapeError{"logits and target of the same shape"};
  if (!in[2].is_scalar()) throw ShapeError{"a [1,1] gradient of the loss"};
  return in[0];
}
void SoftmaxXentGrad::forward(const Kernel& k) const {
  const int64_t m = k.in_shape[0].rows, n = k.in_shape[0].cols;
  const double c = static_cast<double>(k.in[2][0]) / static_cast<double>(m);
  shifted_exp(k.in[0], m, n, k.out);
  for (int64_t i = 0; i < m; ++i) {
    const float* t = k.in[1] + i * n;
    float* y = k.out + i * n;
    const float a = static_cast<float>(row_sum(t, n) * c / row_sum(y, n)), cf = static_cast<float>(c);
    for (int64_t j = 0; j < n; ++j) y[j] = y[j] * a - t[j] * cf;
  }
}
// With p = softmax(x), s = rowsum(t), c = g / rows and u the output's
// gradient: gx = c s p (u - rowsum(u p)),  gt = c (rowsum(u p) - u),
// gg = sum(u (p s - t)) / rows.
void SoftmaxXentGrad::vjp(VjpBuilder& b) const {
  const Val x = b.x(0), t = b.x(1), u = b.gy();
  const float inv_rows = 1.0f / static_cast<float>(b.shape(x).rows);
  const Val p = b.emit(Softmax{}, {x}), s = vjp::sum(b, t, 1);
  const Val up = vjp::sum(b, vjp::mul(b, u, p), 1);
  const Val c = vjp::scale(b, b.x(2), inv_rows);
  if (b.wants(0)) b.give(0, vjp::mul(b, vjp::mul(b, vjp::mul(b, p, vjp::sub(b, u, up)), s), c));
  if (b.wants(1)) b.give(1, vjp::mul(b, vjp::sub(b, up, u), c));
  if (b.wants(2))
    b.give(2, vjp::scale(b, vjp::sum(b, vjp::mul(b, u, vjp::sub(b, vjp::mul(b, p, s), t)), -1), inv_rows));
}

Shape SquaredError::shape(std::span<const Shape> in) const { return loss_shape(in); }
void SquaredError::forward(const Kernel& k) const {
  const Shape s = k.in_shape[0];
  const double acc = lane_sum(s.size(), [&](int64_t i) {
    const double d = static_cast<double>(k.in[0][i]) - k.in[1][i];
    return d * d;
  });
  k.out[0] = static_cast<float>(acc / static_cast<double>(s.rows));
}
void SquaredError::vjp(VjpBuilder& b) const {  // gy = 2 (y - t) g / rows;  gt = -gy
  const Val g = vjp::scale(b, b.gy(), 2.0f / static_cast<float>(b.shape(b.x(0)).rows));
  const Val d = vjp::mul(b, vjp::sub(b, b.x(0), b.x(1)), g);
  if (b.wants(0)) b.give(0, d);
  if (b.wants(1)) b.give(1, vjp::scale(b, d, -1.0f));
}

}  // namespace ebm
