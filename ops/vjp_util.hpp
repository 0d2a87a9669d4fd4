#pragma once
// Small helpers for writing VJP rules: each emits one op through the builder.
// Internal to ops/ (included only by the op families' .cpp files).

#include "ops/op.hpp"

namespace ebm::vjp {

inline Val add(VjpBuilder& b, Val x, Val y) { return b.emit(Add{}, {x, y}); }
inline Val sub(VjpBuilder& b, Val x, Val y) { return b.emit(Sub{}, {x, y}); }
inline Val mul(VjpBuilder& b, Val x, Val y) { return b.emit(Mul{}, {x, y}); }
inline Val div(VjpBuilder& b, Val x, Val y) { return b.emit(Div{}, {x, y}); }
inline Val scale(VjpBuilder& b, Val x, float a, float c = 0.0f) {
  return b.emit(Scale{a, c}, {x});
}
inline Val matmul(VjpBuilder& b, Val x, Val y, bool ta, bool tb) {
  return b.emit(MatMul{ta, tb}, {x, y});
}
inline Val sum(VjpBuilder& b, Val x, int axis) { return b.emit(Sum{axis}, {x}); }

// Reduces a gradient of a broadcast result back to the operand's shape:
// the VJP of broadcasting is summing over the broadcast axes.
inline Val sum_to(VjpBuilder& b, Val g, Shape to) {
  Shape from = b.shape(g);
  if (from == to) return g;
  if (to.is_scalar()) return sum(b, g, -1);
  if (to.rows == 1) return sum(b, g, 0);
  return sum(b, g, 1);
}

// Gives input i the gradient g, reduced to its shape, if it wants one.
inline void give_reduced(VjpBuilder& b, int i, Val g) {
  if (b.wants(i)) b.give(i, sum_to(b, g, b.shape(b.x(i))));
}

}  // namespace ebm::vjp
