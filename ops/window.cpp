// Slice, Pad and Concat: copies of rows or parts of rows, each op's VJP
// one of the others.

#include <algorithm>

#include <fmt/format.h>

#include "ops/op.hpp"

namespace ebm {

Shape Slice::shape(std::span<const Shape> in) const {
  if (r0 < 0 || r0 >= r1 || r1 > in[0].rows || c0 < 0 || c0 >= c1 || c1 > in[0].cols)
    throw ShapeError{fmt::format("a non-empty window [{}:{}, {}:{}] inside the input's {} rows and {} columns", r0,
                                 r1, c0, c1, in[0].rows, in[0].cols)};
  return {r1 - r0, c1 - c0};
}

void Slice::forward(const Kernel& k) const {
  const int64_t cols = k.in_shape[0].cols;
  for (int64_t r = r0; r < r1; ++r)
    std::copy(k.in[0] + r * cols + c0, k.in[0] + r * cols + c1, k.out + (r - r0) * (c1 - c0));
}

void Slice::vjp(VjpBuilder& b) const {
  const Shape in = b.shape(b.x(0));
  b.give(0, b.emit(Pad{r0, c0, in.rows, in.cols}, {b.gy()}));
}

Shape Pad::shape(std::span<const Shape> in) const {
  if (r0 < 0 || c0 < 0 || rows < in[0].rows || cols < in[0].cols || r0 > rows - in[0].rows ||
      c0 > cols - in[0].cols)  // (r0 + in[0].rows could overflow)
    throw ShapeError{fmt::format("an input that fits in {} rows and {} columns from row {}, column {}", rows, cols,
                                 r0, c0)};
  return {rows, cols};
}

void Pad::forward(const Kernel& k) const {
  const Shape in = k.in_shape[0];
  std::fill(k.out, k.out + rows * cols, 0.0f);
  for (int64_t r = 0; r < in.rows; ++r)
    std::copy(k.in[0] + r * in.cols, k.in[0] + (r + 1) * in.cols, k.out + (r0 + r) * cols + c0);
}

void Pad::vjp(VjpBuilder& b) const {
  const Shape in = b.shape(b.x(0));
  b.give(0, b.emit(Slice{r0, r0 + in.rows, c0, c0 + in.cols}, {b.gy()}));
}

Shape Concat::shape(std::span<const Shape> in) const {
  if (axis != 0 && axis != 1) throw ShapeError{fmt::format("axis 0 (stacked) or 1 (side by side), not {}", axis)};
  if (in.empty() || static_cast<int>(in.size()) > kMaxArity)
    throw ShapeError{fmt::format("1 to {} inputs (ebm::concat joins more in steps)", kMaxArity)};
  Shape out = in[0];
  for (size_t i = 1; i < in.size(); ++i) {
    if ((axis == 1 ? in[i].rows : in[i].cols) != (axis == 1 ? out.rows : out.cols))
      throw ShapeError{axis == 1 ? "inputs with equal row counts, to join side by side"
                                 : "inputs with equal column counts, to stack"};
    (axis == 1 ? out.cols : out.rows) += axis == 1 ? in[i].cols : in[i].rows;
  }
  return out;
}

void Concat::forward(const Kernel& k) const {
  const int64_t width = k.out_shape.cols;
  int64_t at = 0;  // the first column (axis 1) or row (axis 0) of input i
  for (int i = 0; i < k.n_in; ++i) {
    const Shape s = k.in_shape[static_cast<size_t>(i)];
    const float* x = k.in[static_cast<size_t>(i)];
    if (axis == 1) {
      for (int64_t r = 0; r < s.rows; ++r) std::copy(x + r * s.cols, x + (r + 1) * s.cols, k.out + r * width + at);
      at += s.cols;
    } else {
      std::copy(x, x + s.size(), k.out + at * width);
      at += s.rows;
    }
  }
}

void Concat::vjp(VjpBuilder& b) const {
  const Shape out = b.shape(b.y());
  int64_t at = 0;
  for (int i = 0; i < b.inputs(); ++i) {
    const Shape s = b.shape(b.x(i));
    if (b.wants(i))
      b.give(i, b.emit(axis == 1 ? Slice{0, out.rows, at, at + s.cols} : Slice{at, at + s.rows, 0, out.cols},
                       {b.gy()}));
    at += axis == 1 ? s.cols : s.rows;
  }
}

}  // namespace ebm
