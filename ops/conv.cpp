// 2-D convolution (the pooling ops are in ops/pool.cpp).
//
// Convolution as GEMM on unrolled patches (im2col): an image's patch matrix
// P [C r r, H' W'] holds at row (c, u, v), column (i, j) the pixel
// x[c, i + u, j + v], so that
//   conv2d            y_b = W P_b                  ([K, C r r] x [C r r, H' W'])
//   conv2d_transpose  x_b = col2im(W' y_b)         (the patches' sums scattered back)
//   conv2d_filter     dW  = sum_b y_b P_b'         (over the images in order)
// The patches live in the arena thread's scratch buffer (gemm::Workspace),
// which the executor sizes from the plan before a run (scratch_floats).
// conv2d and conv2d_transpose split the images over the arena's threads
// (Kernel::parallel); conv2d_filter splits the taps (the gradient's
// columns) into blocks, each unrolling its own rows of every image's
// patches and summing over the images in order. A GEMM's element does not
// depend on which rows or columns share its product, so every thread count
// gives the same bits.

#include <algorithm>

#include <fmt/format.h>

#include "ops/gemm.hpp"
#include "ops/kernel_threads.hpp"
#include "ops/op.hpp"

namespace ebm {

using kernel_threads::split;
using kernel_threads::workspace;

namespace {

void check_geometry(const ConvGeometry& g) {
  if (g.channels < 1 || g.size < 1 || g.height < g.size || g.width < g.size)
    throw ShapeError{fmt::format("a geometry of channels >= 1 and 1 <= size <= height, width (it has {} channels of "
                                 "{} x {}, filters of {} x {})",
                                 g.channels, g.height, g.width, g.size, g.size)};
}

// Shape checks: an image input of C H W columns, a filter input of C r r,
// an output-plane input whose columns are a whole number of planes.
void check_images(Shape s, const ConvGeometry& g, const char* what) {
  if (s.cols != g.image())
    throw ShapeError{fmt::format("{} rows of {} values ({} channels of {} x {}), not {}", what, g.image(), g.channels,
                                 g.height, g.width, s.cols)};
}
int64_t check_planes(Shape s, const ConvGeometry& g, const char* what) {
  if (s.cols % g.plane() != 0 || s.cols == 0)
    throw ShapeError{fmt::format("{} rows of whole {} x {} planes ({} values each), not {} values", what,
                                 g.out_height(), g.out_width(), g.plane(), s.cols)};
  return s.cols / g.plane();
}
void check_filters(Shape s, const ConvGeometry& g) {
  if (s.cols != g.filter())
    throw ShapeError{fmt::format("filter rows of {} values ({} channels of {} x {}), not {}", g.filter(), g.channels,
                                 g.size, g.size, s.cols)};
}

// Rows [t0, t1) of image x's patch matrix into p ([t1 - t0, H' W'],
// row-major; row t for tap (c, u, v) = t = c r r + u r + v).
void im2col_rows(const ConvGeometry& g, const float* x, int64_t t0, int64_t t1, float* p) {
  const int64_t oh = g.out_height(), ow = g.out_width(), r = g.size;
  for (int64_t t = t0; t < t1; ++t, p += oh * ow) {
    const float* src = x + (t / (r * r) * g.height + t / r % r) * g.width + t % r;
    for (int64_t i = 0; i < oh; ++i) std::copy_n(src + i * g.width, ow, p + i * ow);
  }
}

// The patch matrix of image x into p ([C r r, H' W'], row-major).
void im2col(const ConvGeometry& g, const float* x, float* p) { im2col_rows(g, x, 0, g.filter(), p); }

// x = the sum of patch matrix p's entries at their pixels (im2col's adjoint),
// the taps (c, u, v) added in order.
void col2im(const ConvGeometry& g, const float* p, float* x) {
  const int64_t oh = g.out_height(), ow = g.out_width();
  std::fill(x, x + g.image(), 0.0f);
  for (int64_t c = 0; c < g.channels; ++c)
    for (int64_t u = 0; u < g.size; ++u)
      for (int64_t v = 0; v < g.size; ++v, p += oh * ow)
        for (int64_t i = 0; i < oh; ++i) {
          float* dst = x + (c * g.height + i + u) * g.width + v;
          const float* src = p + i * ow;
          for (int64_t j = 0; j < ow; ++j) dst[j] += src[j];
        }
}

}  // namespace

Shape Conv2d::shape(std::span<const Shape> in) const {
  check_geometry(g);
  check_images(in[0], g, "image");
  check_filters(in[1], g);
  return {in[0].rows, in[1].rows * g.plane()};
}
void Conv2d::forward(const Kernel& k) const {
  const int64_t filters = k.in_shape[1].rows, taps = g.filter(), plane = g.plane();
  split(k, k.in_shape[0].rows, [&](int64_t b) {
    gemm::Workspace& ws = workspace(k);
    float* p = ws.scratch(taps * plane);
    im2col(g, k.in[0] + b * g.image(), p);
    gemm::sgemm(ws, false, false, filters, plane, taps, 1.0f, k.in[1], taps, p, plane, 0.0f,
                k.out + b * filters * plane, plane);
  });
}
void Conv2d::vjp(VjpBuilder& b) const {
  if (b.wants(0)) b.give(0, b.emit(Conv2dTranspose{g}, {b.gy(), b.x(1)}));
  if (b.wants(1)) b.give(1, b.emit(Conv2dFilter{g}, {b.x(0), b.gy()}));
}

Shape Conv2dTranspose::shape(std::span<const Shape> in) const {
  check_geometry(g);
  check_filters(in[1], g);
  if (check_planes(in[0], g, "output") != in[1].rows)
    throw ShapeError{fmt::format("as many output planes per row as filters ({}), not {}", in[1].rows,
                                 in[0].cols / g.plane())};
  return {in[0].rows, g.image()};
}
void Conv2dTranspose::forward(const Kernel& k) const {
  const int64_t filters = k.in_shape[1].rows, taps = g.filter(), plane = g.plane();
  split(k, k.in_shape[0].rows, [&](int64_t b) {
    gemm::Workspace& ws = workspace(k);
    float* p = ws.scratch(taps * plane);
    gemm::sgemm(ws, true, false, taps, plane, filters, 1.0f, k.in[1], taps, k.in[0] + b * filters * plane, plane,
                0.0f, p, plane);
    col2im(g, p, k.out + b * g.image());
  });
}
void Conv2dTranspose::vjp(VjpBuilder& b) const {
  // <T(y, w), G> = <y, conv2d(G, w)> = sum y[b,k,i,j] G[b,c,i+u,j+v] w[k,c,u,v]
  if (b.wants(0)) b.give(0, b.emit(Conv2d{g}, {b.gy(), b.x(1)}));
  if (b.wants(1)) b.give(1, b.emit(Conv2dFilter{g}, {b.gy(), b.x(0)}));
}

Shape Conv2dFilter::shape(std::span<const Shape> in) const {
  check_geometry(g);
  check_images(in[0], g, "image");
  const int64_t filters = check_planes(in[1], g, "output");
  if (in[0].rows != in[1].rows)
    throw ShapeError{fmt::format("as many images as output rows ({} and {})", in[0].rows, in[1].rows)};
  return {filters, g.filter()};
}
void Conv2dFilter::forward(const Kernel& k) const {
  const int64_t filters = k.out_shape.rows, images = k.in_shape[0].rows, taps = g.filter(), plane = g.plane();
  // Two blocks of taps (columns of the gradient) per arena thread, at least
  // 16 a block: each block unrolls only its own rows of every image's
  // patch matrix and multiplies all filters' planes by them, and a thread
  // that comes to the op late takes fewer blocks (cdbn_mnist's first layer:
  // 2% faster steps than one block a thread). A GEMM's element does not
  // depend on the columns beside it, so the blocking leaves the bits alone.
  const int64_t threads = k.parallel ? std::max(1, tbb::this_task_arena::max_concurrency()) : 1;
  const int64_t blocks = std::clamp<int64_t>(taps / 16, 1, 2 * threads);
  if (images == 0) std::fill(k.out, k.out + filters * taps, 0.0f);
  split(k, blocks, [&](int64_t blk) {
    const int64_t t0 = blk * taps / blocks, t1 = (blk + 1) * taps / blocks;
    gemm::Workspace& ws = workspace(k);
    float* p = ws.scratch(taps * plane);
    for (int64_t b = 0; b < images; ++b) {
      im2col_rows(g, k.in[0] + b * g.image(), t0, t1, p);
      gemm::sgemm(ws, false, true, filters, t1 - t0, plane, 1.0f, k.in[1] + b * filters * plane, plane, p, plane,
                  b == 0 ? 0.0f : 1.0f, k.out + t0, taps);
    }
  });
}
void Conv2dFilter::vjp(VjpBuilder& b) const {
  // <F(x, y), G> = sum x[b,c,i+u,j+v] y[b,k,i,j] G[k,c,u,v]
  if (b.wants(0)) b.give(0, b.emit(Conv2dTranspose{g}, {b.x(1), b.gy()}));
  if (b.wants(1)) b.give(1, b.emit(Conv2d{g}, {b.x(0), b.gy()}));
}

int64_t scratch_floats(const Op& op) {
  if (const auto* c = std::get_if<Conv2d>(&op)) return c->g.filter() * c->g.plane();
  if (const auto* c = std::get_if<Conv2dTranspose>(&op)) return c->g.filter() * c->g.plane();
  if (const auto* c = std::get_if<Conv2dFilter>(&op)) return c->g.filter() * c->g.plane();
  return kernel_threads::pooling_scratch_floats(op);
}

}  // namespace ebm
