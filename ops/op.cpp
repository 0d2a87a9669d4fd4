#include "ops/op.hpp"

#include <fmt/format.h>

namespace ebm {
namespace {

// Broadcasting rule for binary element-wise ops: each side is [m,n], a
// row [1,n], a column [m,1] or a scalar [1,1]; sizes of 1 stretch.
Shape broadcast_shape(Shape a, Shape b) {
  auto dim = [](int64_t x, int64_t y) -> int64_t {
    if (x == y || y == 1) return x;
    if (x == 1) return y;
    return -1;
  };
  Shape s{dim(a.rows, b.rows), dim(a.cols, b.cols)};
  if (s.rows < 0 || s.cols < 0)
    throw ShapeError{"equal shapes, or one side a [1,n] row, [m,1] column or [1,1] scalar (a column with a row "
                     "gives their [m,n] outer shape): each size equal, or 1 on one side"};
  return s;
}

template <typename T>
Shape default_shape(std::span<const Shape> in) {
  if constexpr (T::traits.kind == OpKind::source) {
    throw ShapeError{"a source node carries its own shape"};
  } else if constexpr (T::traits.arity == 1) {
    return in[0];
  } else {
    static_assert(T::traits.arity == 2, "give this op a shape() rule");
    return broadcast_shape(in[0], in[1]);
  }
}

}  // namespace

const OpTraits& traits(const Op& op) {
  return std::visit([](const auto& o) -> const OpTraits& { return o.traits; },
                    static_cast<const OpVariant&>(op));
}

Shape infer_shape(const Op& op, std::span<const Shape> in) {
  return std::visit(
      [&](const auto& o) -> Shape {
        using T = std::decay_t<decltype(o)>;
        if (T::traits.arity >= 0 && static_cast<int>(in.size()) != T::traits.arity)
          throw ShapeError{fmt::format("{} inputs", T::traits.arity)};
        if constexpr (requires { o.shape(in); })
          return o.shape(in);
        else
          return default_shape<T>(in);
      },
      static_cast<const OpVariant&>(op));
}

void run_forward(const Op& op, const Kernel& k) {
  std::visit(
      [&](const auto& o) {
        if constexpr (requires { o.forward(k); }) o.forward(k);
      },
      static_cast<const OpVariant&>(op));
}

bool run_vjp(const Op& op, VjpBuilder& b) {
  return std::visit(
      [&](const auto& o) {
        if constexpr (requires { o.vjp(b); }) {
          o.vjp(b);
          return true;
        } else {
          return false;
        }
      },
      static_cast<const OpVariant&>(op));
}

double flops(const Op& op, std::span<const Shape> in, Shape out) {
  if (std::holds_alternative<MatMul>(op)) {
    const auto& m = std::get<MatMul>(op);
    int64_t k = m.ta ? in[0].rows : in[0].cols;
    return 2.0 * static_cast<double>(out.size()) * static_cast<double>(k);
  }
  if (std::holds_alternative<MatMulSum>(op)) {
    const auto& m = std::get<MatMulSum>(op);
    const int64_t k1 = m.ta ? in[0].rows : in[0].cols, k2 = m.ta ? in[2].rows : in[2].cols;
    return 2.0 * static_cast<double>(out.size()) * static_cast<double>(k1 + k2);
  }
  if (std::holds_alternative<AffineSigmoid>(op) || std::holds_alternative<Affine>(op))
    return 2.0 * static_cast<double>(out.size()) * static_cast<double>(in[0].cols);
  // The convolutions: every image's every output position of every filter takes a filter's taps
  // (B K H'W' C r r multiply-adds), whichever of the three products it is.
  auto conv = [&](const ConvGeometry& g, int64_t filters) {
    return 2.0 * static_cast<double>(in[0].rows) * static_cast<double>(filters) * static_cast<double>(g.plane()) *
           static_cast<double>(g.filter());
  };
  if (const auto* c = std::get_if<Conv2d>(&op)) return conv(c->g, in[1].rows);
  if (const auto* c = std::get_if<Conv2dTranspose>(&op)) return conv(c->g, in[1].rows);
  if (const auto* c = std::get_if<Conv2dFilter>(&op)) return c->g.plane() > 0 ? conv(c->g, in[1].cols / c->g.plane()) : 0.0;
  return 0.0;
}

std::span<const int> mutated_inputs(const Op& op) {
  static constexpr int sgd[] = {0, 1};
  static constexpr int adam[] = {0, 1, 2, 4};
  static constexpr int assign[] = {0};
  if (std::holds_alternative<SgdUpdate>(op)) return sgd;
  if (std::holds_alternative<AdamUpdate>(op)) return adam;
  if (std::holds_alternative<Assign>(op)) return assign;
  return {};
}

bool takes_epilogue(const Op& op) {
  return std::holds_alternative<MatMul>(op) || std::holds_alternative<MatMulSum>(op) ||
         std::holds_alternative<Affine>(op) || std::holds_alternative<AffineSigmoid>(op);
}

bool column_local(const Op& op) {
  return traits(op).kind == OpKind::elementwise && !std::holds_alternative<Categorical>(op) &&
         !std::holds_alternative<Multinomial>(op);
}

bool column_reducing(const Op& op) {
  const auto* s = std::get_if<Sum>(&op);
  return s && s->axis == 0;
}

bool row_reducing(const Op& op) {
  if (const auto* s = std::get_if<Sum>(&op)) return s->axis == 1;
  if (const auto* m = std::get_if<Mean>(&op)) return m->axis == 1;
  return false;
}

int tile_update_gradient(const Op& op) { return std::holds_alternative<SgdUpdate>(op) ? 2 : -1; }

int tile_update_claims(const Op& op) { return std::holds_alternative<SgdUpdate>(op) ? 0 : -1; }

bool reads_tile(const Op& op, int slot) {
  if (slot == tile_update_gradient(op)) return true;
  return (slot == 0 || slot == 1) &&
         std::visit([](const auto& o) {
           using T = std::decay_t<decltype(o)>;  // the ops of elementwise.cpp's apply_binary
           return std::is_same_v<T, SigmoidGrad> || std::is_same_v<T, TanhGrad> || std::is_same_v<T, SoftplusGrad> ||
                  std::is_same_v<T, ReluGrad> || std::is_same_v<T, Add> || std::is_same_v<T, Sub> ||
                  std::is_same_v<T, Mul> || std::is_same_v<T, Div>;
         }, op);
}

}  // namespace ebm
