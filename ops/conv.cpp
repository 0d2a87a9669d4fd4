// 2-D convolution and probabilistic max-pooling.
//
// Convolution: direct loops whose innermost runs along an output row (a
// contiguous stretch of the image), so the compiler vectorises it, with no
// scratch buffer: a step allocates nothing, whichever threads run it.
// conv2d and conv2d_transpose split the images over the arena's threads
// (Kernel::parallel); conv2d_filter splits the filters, each summing over
// the images in order. Every thread count gives the same bits. (An
// im2col + GEMM path would be faster on large filters; it needs scratch
// space per thread that the executor does not hand to ops yet.)

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include <fmt/format.h>
#include <tbb/parallel_for.h>

#include "ops/op.hpp"
#include "ops/rng.hpp"

namespace ebm {
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

// Calls tap(t, image, plane) for every tap (f, c, u, v) of filters [f0, f1):
// t is its index in the filter matrix, image the offset in an image of the
// pixel that output (0, 0) of plane f meets through it, plane the offset of
// plane f. Output row i of the plane then meets image row i at
// image + i * width.
template <typename Tap>
void for_each_tap(const ConvGeometry& g, int64_t f0, int64_t f1, Tap tap) {
  for (int64_t f = f0; f < f1; ++f)
    for (int64_t c = 0; c < g.channels; ++c)
      for (int64_t u = 0; u < g.size; ++u)
        for (int64_t v = 0; v < g.size; ++v)
          tap(f * g.filter() + (c * g.size + u) * g.size + v, (c * g.height + u) * g.width + v, f * g.plane());
}

// Runs body(i) for i in [0, n), on the arena's threads when asked.
template <typename Body>
void split(const Kernel& k, int64_t n, Body body) {
  if (k.parallel && n > 1)
    tbb::parallel_for(int64_t{0}, n, [&](int64_t i) { body(i); });
  else
    for (int64_t i = 0; i < n; ++i) body(i);
}

}  // namespace

Shape Conv2d::shape(std::span<const Shape> in) const {
  check_geometry(g);
  check_images(in[0], g, "image");
  check_filters(in[1], g);
  return {in[0].rows, in[1].rows * g.plane()};
}
void Conv2d::forward(const Kernel& k) const {
  const int64_t filters = k.in_shape[1].rows, oh = g.out_height(), ow = g.out_width();
  split(k, k.in_shape[0].rows, [&](int64_t b) {
    const float* x = k.in[0] + b * g.image();
    float* y = k.out + b * filters * g.plane();
    std::fill(y, y + filters * g.plane(), 0.0f);
    for_each_tap(g, 0, filters, [&](int64_t t, int64_t image, int64_t plane) {
      const float w = k.in[1][t];
      for (int64_t i = 0; i < oh; ++i) {  // the output row gathers from the image row
        const float* src = x + image + i * g.width;
        float* dst = y + plane + i * ow;
        for (int64_t j = 0; j < ow; ++j) dst[j] += w * src[j];
      }
    });
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
  const int64_t filters = k.in_shape[1].rows, oh = g.out_height(), ow = g.out_width();
  split(k, k.in_shape[0].rows, [&](int64_t b) {
    const float* y = k.in[0] + b * filters * g.plane();
    float* x = k.out + b * g.image();
    std::fill(x, x + g.image(), 0.0f);
    for_each_tap(g, 0, filters, [&](int64_t t, int64_t image, int64_t plane) {
      const float w = k.in[1][t];
      for (int64_t i = 0; i < oh; ++i) {  // the output row scatters back into the image row
        const float* src = y + plane + i * ow;
        float* dst = x + image + i * g.width;
        for (int64_t j = 0; j < ow; ++j) dst[j] += w * src[j];
      }
    });
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
  const int64_t filters = k.out_shape.rows, images = k.in_shape[0].rows, oh = g.out_height(), ow = g.out_width();
  split(k, filters, [&](int64_t f) {
    for_each_tap(g, f, f + 1, [&](int64_t t, int64_t image, int64_t plane) {
      double acc = 0.0;  // over the images in order
      for (int64_t b = 0; b < images; ++b) {
        const float* x = k.in[0] + b * g.image() + image;
        const float* y = k.in[1] + b * filters * g.plane() + plane;
        float part = 0.0f;
        for (int64_t i = 0; i < oh; ++i)
          for (int64_t j = 0; j < ow; ++j) part += x[i * g.width + j] * y[i * ow + j];
        acc += part;
      }
      k.out[t] = static_cast<float>(acc);
    });
  });
}
void Conv2dFilter::vjp(VjpBuilder& b) const {
  // <F(x, y), G> = sum x[b,c,i+u,j+v] y[b,k,i,j] G[k,c,u,v]
  if (b.wants(0)) b.give(0, b.emit(Conv2dTranspose{g}, {b.x(1), b.gy()}));
  if (b.wants(1)) b.give(1, b.emit(Conv2d{g}, {b.x(0), b.gy()}));
}

// ---- probabilistic max-pooling ----------------------------------------------

namespace {

constexpr int64_t kMaxPool = 16;  // blocks of at most 16 x 16 units (on the stack: nothing allocated)

Shape check_pool(Shape x, const PoolGeometry& g) {
  if (g.groups < 1 || g.pool < 1 || g.pool > kMaxPool || g.height < 1 || g.width < 1 || g.height % g.pool != 0 ||
      g.width % g.pool != 0)
    throw ShapeError{fmt::format("a pooling geometry of groups >= 1, blocks of 1 x 1 to 16 x 16 and planes whose "
                                 "sides divide by the block's (it has {} groups of {} x {}, blocks of {} x {})",
                                 g.groups, g.height, g.width, g.pool, g.pool)};
  if (x.cols != g.groups * g.plane())
    throw ShapeError{fmt::format("rows of {} values ({} groups of {} x {}), not {}", g.groups * g.plane(), g.groups,
                                 g.height, g.width, x.cols)};
  return {x.rows, g.groups * g.blocks()};
}

// Calls f(r, block, units) for every block of every row: `units` are the
// block's pool * pool offsets into the row, in row-major order.
template <typename F>
void for_each_block(const PoolGeometry& g, int64_t rows, F f) {
  const int64_t bw = g.width / g.pool, n = g.pool * g.pool;
  std::array<int64_t, kMaxPool * kMaxPool> buffer;
  const std::span<int64_t> units(buffer.data(), static_cast<size_t>(n));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t q = 0; q < g.groups; ++q)
      for (int64_t a = 0; a < g.blocks(); ++a) {
        const int64_t top = (a / bw) * g.pool, left = (a % bw) * g.pool;
        for (int64_t u = 0; u < n; ++u)
          units[static_cast<size_t>(u)] = q * g.plane() + (top + u / g.pool) * g.width + left + u % g.pool;
        f(r, q * g.blocks() + a, std::span<const int64_t>(units.data(), units.size()));
      }
}

// The block's largest input m (at least 0, the off state's) and
// log(1 + sum exp(x)) = m + log(exp(-m) + sum exp(x - m)).
struct BlockSums {
  double max = 0.0, shifted = 0.0;  // shifted: exp(-m) + sum exp(x - m)
  double log_total() const { return max + std::log(shifted); }
};
BlockSums block_sums(const float* x, std::span<const int64_t> units) {
  BlockSums s;
  for (int64_t u : units) s.max = std::max(s.max, static_cast<double>(x[u]));
  s.shifted = std::exp(-s.max);
  for (int64_t u : units) s.shifted += std::exp(x[u] - s.max);
  return s;
}

}  // namespace

Shape MaxPoolSoftplus::shape(std::span<const Shape> in) const { return check_pool(in[0], g); }
void MaxPoolSoftplus::forward(const Kernel& k) const {
  const int64_t cols = k.in_shape[0].cols, out_cols = k.out_shape.cols;
  for_each_block(g, k.in_shape[0].rows, [&](int64_t r, int64_t block, std::span<const int64_t> units) {
    k.out[r * out_cols + block] = static_cast<float>(block_sums(k.in[0] + r * cols, units).log_total());
  });
}
void MaxPoolSoftplus::vjp(VjpBuilder& b) const {
  if (b.wants(0)) b.give(0, b.emit(MaxPoolGrad{g}, {b.x(0), b.gy()}));
}

Shape MaxPoolProbs::shape(std::span<const Shape> in) const {
  (void)check_pool(in[0], g);
  return in[0];
}
void MaxPoolProbs::forward(const Kernel& k) const {
  const int64_t cols = k.in_shape[0].cols;
  for_each_block(g, k.in_shape[0].rows, [&](int64_t r, int64_t, std::span<const int64_t> units) {
    const float* x = k.in[0] + r * cols;
    const BlockSums s = block_sums(x, units);
    for (int64_t u : units) k.out[r * cols + u] = static_cast<float>(std::exp(x[u] - s.max) / s.shifted);
  });
}

void MaxPoolProbs::vjp(VjpBuilder& b) const {
  if (b.wants(0)) b.give(0, b.emit(MaxPoolProbsGrad{g}, {b.x(0), b.gy()}));
}

Shape MaxPoolProbsGrad::shape(std::span<const Shape> in) const {
  (void)check_pool(in[0], g);
  if (in[1] != in[0]) throw ShapeError{fmt::format("a gradient of the input's shape {}", in[0])};
  return in[0];
}
void MaxPoolProbsGrad::forward(const Kernel& k) const {
  const int64_t cols = k.in_shape[0].cols;
  for_each_block(g, k.in_shape[0].rows, [&](int64_t r, int64_t, std::span<const int64_t> units) {
    const float* x = k.in[0] + r * cols;
    const float* gy = k.in[1] + r * cols;
    const BlockSums s = block_sums(x, units);
    double dot = 0;  // sum_j p_j gy_j
    for (int64_t u : units) dot += std::exp(x[u] - s.max) / s.shifted * gy[u];
    for (int64_t u : units) k.out[r * cols + u] = static_cast<float>(std::exp(x[u] - s.max) / s.shifted * (gy[u] - dot));
  });
}

Shape MaxPoolGrad::shape(std::span<const Shape> in) const {
  const Shape pooled = check_pool(in[0], g);
  if (in[1] != pooled) throw ShapeError{fmt::format("a gradient of the pooled shape {}", pooled)};
  return in[0];
}
void MaxPoolGrad::forward(const Kernel& k) const {
  const int64_t cols = k.in_shape[0].cols, pooled = k.in_shape[1].cols;
  for_each_block(g, k.in_shape[0].rows, [&](int64_t r, int64_t block, std::span<const int64_t> units) {
    const float* x = k.in[0] + r * cols;
    const BlockSums s = block_sums(x, units);
    const double gy = k.in[1][r * pooled + block];
    for (int64_t u : units) k.out[r * cols + u] = static_cast<float>(gy * std::exp(x[u] - s.max) / s.shifted);
  });
}

Shape MaxPoolSample::shape(std::span<const Shape> in) const {
  (void)check_pool(in[0], g);
  return in[0];
}
void MaxPoolSample::forward(const Kernel& k) const {
  const int64_t cols = k.in_shape[0].cols, per_row = g.groups * g.blocks();
  for_each_block(g, k.in_shape[0].rows, [&](int64_t r, int64_t block, std::span<const int64_t> units) {
    const float* x = k.in[0] + r * cols;
    const BlockSums s = block_sums(x, units);
    const double u = uniform01(k.rng, static_cast<uint32_t>(r * per_row + block));
    double acc = std::exp(-s.max) / s.shifted;  // off
    int64_t on = -1;
    for (size_t i = 0; i < units.size() && u >= acc; ++i) {
      acc += std::exp(x[units[i]] - s.max) / s.shifted;
      if (u < acc) on = units[i];
    }
    if (u >= acc) on = units.back();  // rounding: a u above the total picks the last unit
    for (int64_t v : units) k.out[r * cols + v] = v == on ? 1.0f : 0.0f;
  });
}

}  // namespace ebm
