// Reductions, row-wise softmax and the scalar losses. Sums accumulate in a
// fixed order, so they are reproducible: in double over a whole matrix (in
// kLanes interleaved partial sums, added up in order at the end: one long
// chain of dependent adds ran a 100 x 784 reconstruction error at 4 cycles
// an element, 19% of an RBM training step that monitors it) or along a row;
// in float, row by row, for column sums (axis 0: the bias gradients), which
// each add one number per row of a batch.

#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/op.hpp"
#include "ops/vjp_util.hpp"

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
  } else if (axis == 1) {
    for (int64_t i = 0; i < m; ++i) {
      double s = 0.0;
      for (int64_t j = 0; j < n; ++j) s += x[i * n + j];
      k.out[i] = static_cast<float>(s * scale);
    }
  } else {
    std::fill(k.out, k.out + n, 0.0f);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) k.out[j] += x[i * n + j];
    for (int64_t j = 0; j < n; ++j) k.out[j] = static_cast<float>(k.out[j] * scale);
  }
}

// Per row: y = x - max - log sum exp(x - max); with `as_prob`, y = exp of that.
void row_softmax(const Kernel& k, bool as_prob) {
  const int64_t m = k.in_shape[0].rows, n = k.in_shape[0].cols;
  for (int64_t i = 0; i < m; ++i) {
    const float* x = k.in[0] + i * n;
    float* y = k.out + i * n;
    const float mx = *std::max_element(x, x + n);
    double s = 0.0;
    for (int64_t j = 0; j < n; ++j) s += std::exp(static_cast<double>(x[j] - mx));
    const float lse = mx + static_cast<float>(std::log(s));
    for (int64_t j = 0; j < n; ++j) y[j] = as_prob ? std::exp(x[j] - lse) : x[j] - lse;
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
    return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))) - t * x;
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
  for (int64_t i = 0; i < m; ++i) {
    const float* x = k.in[0] + i * n;
    const float* t = k.in[1] + i * n;
    const double mx = *std::max_element(x, x + n);
    double s = 0.0, tsum = 0.0, tx = 0.0;
    for (int64_t j = 0; j < n; ++j) {
      s += std::exp(x[j] - mx);
      tsum += t[j];
      tx += static_cast<double>(t[j]) * x[j];
    }
    acc += tsum * (mx + std::log(s)) - tx;  // -sum t (x - lse)
  }
  k.out[0] = static_cast<float>(acc / static_cast<double>(m));
}
// gx = (softmax(x) rowsum(t) - t) g / rows;  gt = -log_softmax(x) g / rows
void SoftmaxXent::vjp(VjpBuilder& b) const {
  const Val x = b.x(0), t = b.x(1);
  const Val g = vjp::scale(b, b.gy(), 1.0f / static_cast<float>(b.shape(x).rows));
  if (b.wants(0)) {
    const Val p = b.emit(Softmax{}, {x});
    b.give(0, vjp::mul(b, vjp::sub(b, vjp::mul(b, p, vjp::sum(b, t, 1)), t), g));
  }
  if (b.wants(1)) b.give(1, vjp::mul(b, vjp::scale(b, b.emit(LogSoftmax{}, {x}), -1.0f), g));
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
