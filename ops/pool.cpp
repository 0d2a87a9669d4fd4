// Probabilistic max-pooling (Lee et al. 2009): in each block of P x P
// hidden units of a group's plane at most one unit is on, the block's
// pooling unit with it. The ops' values per block come from its units'
// inputs with the block's largest input (at least 0, the off state's)
// taken out, so no exponent overflows.
//
// A NaN or +inf input makes its block's sum NaN (through its own
// exponential: the block's maximum drops a NaN), so the block's values are
// NaN. The samplers keep it so: such a block draws NaN at every unit, not
// a state (the graph's numerics check and the fitters' divergence checks
// then see it); maxpool_sample writes its units' 0 as target - target
// (target = u sum: NaN with the sum), one subtraction a block, no branch.

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "ops/kernel_threads.hpp"
#include "ops/op.hpp"
#include "ops/rng.hpp"
#include "ops/simd.hpp"

namespace ebm {

using kernel_threads::split;
using kernel_threads::workspace;

namespace {

// blocks of at most 16 x 16 units (on the stack: nothing allocated); models/crbm.hpp's kMaxCrbmPool too
constexpr int64_t kMaxPool = 16;

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

// One group's plane of one row, ready for the pooling ops: each block a's
// largest input m_a (at least 0, the off state's), e_i = exp(x_i - m_a) for
// its units, off_a = exp(-m_a) and sum_a = off_a + sum_{i in a} e_i, so that
//   log(1 + sum_{i in a} exp(x_i)) = m_a + log(sum_a),  p_i = e_i / sum_a.
// Single precision: every exponent is at most 0 and every sum at least 1.
// The block maxima come from each block row's column maxima; each block's
// sums run over its units in row-major order.
struct Plane {
  const PoolGeometry& g;
  float *e, *m, *off, *sum;  // e: height x width; the others: one per block, row-major

  Plane(const PoolGeometry& geometry, float* buf) : g(geometry) {
    e = buf;
    m = e + g.plane();
    off = m + g.blocks();
    sum = off + g.blocks();
  }
  // The floats a plane needs: its own, fill()'s spread maxima (then free:
  // spare()) and its column maxima of a block row.
  static int64_t floats(const PoolGeometry& g) { return 2 * g.plane() + 3 * g.blocks() + g.width; }
  int64_t across() const { return g.width / g.pool; }  // blocks per block row
  // Room for one float per unit, free after fill().
  float* spare() const { return sum + g.blocks(); }
  // One float per column, for fill()'s column maxima.
  float* columns() const { return spare() + g.plane(); }
  // Calls f(a, top_left) for every block a, row-major, top_left its first
  // unit's offset (its units at top_left + i width + j, i and j below pw).
  template <typename Pool, typename F>
  void each_block(Pool pw, F f) const {
    int64_t a = 0;
    for (int64_t i = 0; i < g.height; i += pw)
      for (int64_t j = 0; j < g.width; j += pw) f(a++, i * g.width + j);
  }
  // e, m, off and sum from the plane x; pw is the pool's side (a constant
  // for the common 2, so that the loops over a block's columns unroll).
  template <typename Pool>
  void fill(const float* x, Pool pw) {
    const int64_t w = g.width, n = across();
    float* spread = spare();  // m_a at each of block a's units
    for (int64_t bi = 0; bi < g.height / pw; ++bi) {
      float* col = columns();  // each column's largest input in the block row, from 0
      const float* top = x + bi * pw * w;
      for (int64_t j = 0; j < w; ++j) col[j] = std::max(0.0f, top[j]);
      for (int64_t i = 1; i < pw; ++i)
        for (int64_t j = 0; j < w; ++j) col[j] = std::max(col[j], top[i * w + j]);
      float* mb = m + bi * n;
      for (int64_t b = 0; b < n; ++b) {
        float mx = col[b * pw];
        for (int64_t j = 1; j < pw; ++j) mx = std::max(mx, col[b * pw + j]);
        mb[b] = mx;
      }
      for (int64_t i = 0; i < pw; ++i)
        for (int64_t b = 0; b < n; ++b)
          for (int64_t j = 0; j < pw; ++j) spread[(bi * pw + i) * w + b * pw + j] = mb[b];
    }
    exp_of_difference(x, spread, e, g.plane());
    exp_of_difference(nullptr, m, off, g.blocks());
    for (int64_t bi = 0; bi < g.height / pw; ++bi)
      for (int64_t b = 0; b < n; ++b) {
        const float* u = e + bi * pw * w + b * pw;  // the block's top-left unit
        float t = off[bi * n + b];
        for (int64_t i = 0; i < pw; ++i)
          for (int64_t j = 0; j < pw; ++j) t += u[i * w + j];
        sum[bi * n + b] = t;
      }
  }
  // out[i] = exp(x[i] - y[i]) (x null: exp(-y[i])) for i < n; the last
  // vector overlaps the one before rather than leaving a scalar tail (a
  // lane's value does not depend on its neighbours).
  static void exp_of_difference(const float* x, const float* y, float* out, int64_t n) {
    using simd::B;
    if (n < simd::W) {
      for (int64_t i = 0; i < n; ++i) out[i] = std::exp((x ? x[i] : 0.0f) - y[i]);
      return;
    }
    const auto one = [&](int64_t i) {
      const B v = (x ? B::load_unaligned(x + i) : B(0.0f)) - B::load_unaligned(y + i);
      xsimd::exp(v).store_unaligned(out + i);
    };
    for (int64_t i = 0; i + simd::W <= n; i += simd::W) one(i);
    if (n % simd::W != 0) one(n - simd::W);
  }
};

// Calls f(r, q, plane, pw) for every group q of every row r, the rows split
// over the arena's threads; plane is filled from x's row r, group q, and pw
// is the pool's side (std::integral_constant for 2).
template <typename F>
void for_each_plane(const Kernel& k, const PoolGeometry& g, const float* x, F f) {
  const int64_t rows = k.in_shape[0].rows, cols = k.in_shape[0].cols;
  const auto planes = [&](auto pw) {
    split(k, rows, [&](int64_t r) {
      Plane p(g, workspace(k).scratch(Plane::floats(g)));
      for (int64_t q = 0; q < g.groups; ++q) {
        p.fill(x + r * cols + q * g.plane(), pw);
        f(r, q, static_cast<const Plane&>(p), pw);
      }
    });
  };
  if (g.pool == 2)
    planes(std::integral_constant<int64_t, 2>{});
  else
    planes(g.pool);
}

// The same pooling ops in 2 x 2 blocks (where pairs_apply, below): each
// plane's upper and lower rows of its blocks are copied apart into two
// half planes, so that the units of a block are two pairs of neighbouring
// lanes at the same place in both, and the ops run a vector of each half
// at a time with each block's values in its units' lanes. Every value is
// the one Plane computes, by the same operations in the same order, bit for
// bit (probs_grad's dot product in fused multiply-adds, as GCC contracts
// the block-by-block loop). maxpool_softplus keeps Plane: one log a block
// is most of its time, and this path takes each block's exp(-m) once per
// lane rather than once per block.
struct PairChunk {
  simd::B e0, e1;    // exp(x - m) of the upper and lower row's units
  simd::B off, sum;  // exp(-m) and off + the block's four e in row-major order
  int64_t at;        // the chunk's first unit in its bundle's half planes (even); its block is at / 2
};

struct LeftOfPair {
  static constexpr uint32_t get(unsigned i, unsigned) { return i & ~1u; }
};
struct RightOfPair {
  static constexpr uint32_t get(unsigned i, unsigned) { return i | 1u; }
};
// Each lane gets its pair's left (even) or right (odd) lane's value.
simd::B left_of_pair(simd::B v) {
  return xsimd::swizzle(v, xsimd::make_batch_constant<xsimd::batch<uint32_t>, LeftOfPair>());
}
simd::B right_of_pair(simd::B v) {
  return xsimd::swizzle(v, xsimd::make_batch_constant<xsimd::batch<uint32_t>, RightOfPair>());
}
// std::max(a, b) lane by lane (a unless a < b), as Plane::fill takes it.
simd::B std_max(simd::B a, simd::B b) { return xsimd::select(a < b, b, a); }

// The path applies to 2 x 2 blocks on planes of at least a vector (whose
// exponentials Plane takes with xsimd::exp) whose groups' half planes make
// at least a vector in all. Groups are taken in bundles of about 256 floats
// of half plane (at least one group), their halves side by side, so that
// small planes fill whole vectors; the bundles share the groups evenly, so
// each holds at least a vector.
bool pairs_apply(const PoolGeometry& g) {
  return g.pool == 2 && g.plane() >= simd::W && g.groups * g.plane() / 2 >= simd::W;
}
int64_t bundle_groups(const PoolGeometry& g) { return std::clamp<int64_t>(512 / g.plane(), 1, g.groups); }

// A plane's rows 0, 2, 4, ... into upper and 1, 3, 5, ... into lower (each
// half a plane), or back.
void split_rows(const PoolGeometry& g, const float* plane, float* upper, float* lower) {
  for (int64_t bi = 0; bi < g.height / 2; ++bi) {
    std::copy_n(plane + 2 * bi * g.width, g.width, upper + bi * g.width);
    std::copy_n(plane + (2 * bi + 1) * g.width, g.width, lower + bi * g.width);
  }
}
void join_rows(const PoolGeometry& g, const float* upper, const float* lower, float* plane) {
  for (int64_t bi = 0; bi < g.height / 2; ++bi) {
    std::copy_n(upper + bi * g.width, g.width, plane + 2 * bi * g.width);
    std::copy_n(lower + bi * g.width, g.width, plane + (2 * bi + 1) * g.width);
  }
}

// The half planes a pair op reads and writes: gy's (the input of x's shape
// given, else null) and the output's, which for_each_pair_chunk joins into
// the output's planes after the bundle's last chunk.
struct Halves {
  const float *gy0, *gy1;
  float *y0, *y1;
};

// exp(-m) lane by lane, as Plane takes it: with xsimd::exp, or with
// std::exp where a group has fewer blocks than a vector.
simd::B exp_of_negative(simd::B m, const PoolGeometry& g) {
  if (g.blocks() >= simd::W) return xsimd::exp(simd::B(0.0f) - m);
  alignas(64) std::array<float, 16> t;
  static_assert(simd::W <= 16);
  m.store_aligned(t.data());
  for (size_t j = 0; j < static_cast<size_t>(simd::W); ++j) t[j] = std::exp(0.0f - t[j]);
  return simd::B::load_aligned(t.data());
}

// When pairs_apply(g), calls f(r, q, chunk, halves) for every vector of the
// half planes of a bundle of groups from q on of row r (the rows split over
// the arena's threads; the last vector overlaps the one before rather than
// leaving a tail, its lanes getting the same values again), after
// splitting x's planes and gy's (when given) into halves, and joins the
// output's halves into k.out (shaped as x). A chunk's `at` counts from the
// bundle's first half plane, so its first block is q's block 0 plus at / 2.
// Returns pairs_apply(g).
template <typename F>
bool for_each_pair_chunk(const Kernel& k, const PoolGeometry& g, const float* x, const float* gy, F f) {
  using simd::B;
  if (!pairs_apply(g)) return false;
  const int64_t cols = k.in_shape[0].cols, half = g.plane() / 2;
  const int64_t bundles = (g.groups + bundle_groups(g) - 1) / bundle_groups(g), most = bundle_groups(g) * half;
  split(k, k.in_shape[0].rows, [&](int64_t r) {
    float* buf = workspace(k).scratch(6 * most);
    float *x0 = buf, *x1 = buf + most, *gy0 = buf + 2 * most, *gy1 = buf + 3 * most;
    const Halves h{gy0, gy1, buf + 4 * most, buf + 5 * most};
    for (int64_t bu = 0; bu < bundles; ++bu) {
      const int64_t q0 = bu * g.groups / bundles, q1 = (bu + 1) * g.groups / bundles, n = (q1 - q0) * half;
      const float* in = x + r * cols + q0 * g.plane();
      for (int64_t q = 0; q < q1 - q0; ++q) {
        split_rows(g, in + q * g.plane(), x0 + q * half, x1 + q * half);
        if (gy) split_rows(g, gy + (in - x) + q * g.plane(), gy0 + q * half, gy1 + q * half);
      }
      for (int64_t c = 0;; c = std::min(c + simd::W, n - simd::W)) {
        const B u0 = B::load_unaligned(x0 + c), u1 = B::load_unaligned(x1 + c);
        const B col = std_max(std_max(B(0.0f), u0), u1);
        const B m = std_max(left_of_pair(col), right_of_pair(col));
        PairChunk p{xsimd::exp(u0 - m), xsimd::exp(u1 - m), exp_of_negative(m, g), B(0.0f), c};
        p.sum = p.off + left_of_pair(p.e0);
        p.sum = p.sum + right_of_pair(p.e0);
        p.sum = p.sum + left_of_pair(p.e1);
        p.sum = p.sum + right_of_pair(p.e1);
        f(r, q0, p, h);
        if (c == n - simd::W) break;
      }
      float* out = k.out + r * cols + q0 * g.plane();
      for (int64_t q = 0; q < q1 - q0; ++q) join_rows(g, h.y0 + q * half, h.y1 + q * half, out + q * g.plane());
    }
  });
  return true;
}

// Lane j of the W values from[j / 2] (a block's value spread over its pair of lanes).
simd::B spread_pairs(const float* from) {
  alignas(64) std::array<float, 16> t;
  static_assert(simd::W <= 16);
  for (int64_t j = 0; j < simd::W; ++j) t[static_cast<size_t>(j)] = from[j / 2];
  return simd::B::load_aligned(t.data());
}

// The scratch floats of a pooling op with an output of x's shape: Plane's,
// or for_each_pair_chunk's six half planes of a bundle.
int64_t pooling_floats(const PoolGeometry& g) {
  return pairs_apply(g) ? 3 * bundle_groups(g) * g.plane() : Plane::floats(g);
}

}  // namespace

int64_t kernel_threads::pooling_scratch_floats(const Op& op) {
  if (const auto* p = std::get_if<MaxPoolSoftplus>(&op)) return Plane::floats(p->g);
  if (const auto* p = std::get_if<MaxPoolProbs>(&op)) return pooling_floats(p->g);
  if (const auto* p = std::get_if<MaxPoolProbsGrad>(&op)) return pooling_floats(p->g);
  if (const auto* p = std::get_if<MaxPoolGrad>(&op)) return pooling_floats(p->g);
  if (const auto* p = std::get_if<MaxPoolSample>(&op)) return pooling_floats(p->g);
  return 0;
}


Shape MaxPoolSoftplus::shape(std::span<const Shape> in) const { return check_pool(in[0], g); }
void MaxPoolSoftplus::forward(const Kernel& k) const {
  const int64_t out_cols = k.out_shape.cols;
  for_each_plane(k, g, k.in[0], [&](int64_t r, int64_t q, const Plane& p, auto) {
    float* y = k.out + r * out_cols + q * g.blocks();
    for (int64_t a = 0; a < g.blocks(); ++a) y[a] = p.m[a] + std::log(p.sum[a]);
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
  const int64_t cols = k.in_shape[0].cols, w = g.width;
  if (for_each_pair_chunk(k, g, k.in[0], nullptr, [](int64_t, int64_t, const PairChunk& p, const Halves& h) {
        const simd::B inv = simd::B(1.0f) / p.sum;
        (p.e0 * inv).store_unaligned(h.y0 + p.at);
        (p.e1 * inv).store_unaligned(h.y1 + p.at);
      }))
    return;
  for_each_plane(k, g, k.in[0], [&](int64_t r, int64_t q, const Plane& p, auto pw) {
    float* y = k.out + r * cols + q * g.plane();
    p.each_block(pw, [&](int64_t a, int64_t tl) {
      const float inv = 1.0f / p.sum[a];
      for (int64_t i = 0; i < pw; ++i)
        for (int64_t j = 0; j < pw; ++j) y[tl + i * w + j] = p.e[tl + i * w + j] * inv;
    });
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
  const int64_t cols = k.in_shape[0].cols, w = g.width;
  if (for_each_pair_chunk(k, g, k.in[0], k.in[1], [](int64_t, int64_t, const PairChunk& p, const Halves& h) {
        using simd::B;
        const B gy0 = B::load_unaligned(h.gy0 + p.at), gy1 = B::load_unaligned(h.gy1 + p.at);
        const B inv = B(1.0f) / p.sum, p0 = p.e0 * inv, p1 = p.e1 * inv;
        B dot(0.0f);  // sum_j p_j gy_j over the block, in row-major order
        for (const auto& [pj, gj] : {std::pair{p0, gy0}, std::pair{p1, gy1}}) {
          dot = xsimd::fma(left_of_pair(pj), left_of_pair(gj), dot);
          dot = xsimd::fma(right_of_pair(pj), right_of_pair(gj), dot);
        }
        (p0 * (gy0 - dot)).store_unaligned(h.y0 + p.at);
        (p1 * (gy1 - dot)).store_unaligned(h.y1 + p.at);
      }))
    return;
  for_each_plane(k, g, k.in[0], [&](int64_t r, int64_t q, const Plane& p, auto pw) {
    const float* gy = k.in[1] + r * cols + q * g.plane();
    float* y = k.out + r * cols + q * g.plane();
    p.each_block(pw, [&](int64_t a, int64_t tl) {
      const float inv = 1.0f / p.sum[a];
      float dot = 0.0f;  // sum_j p_j gy_j
      for (int64_t i = 0; i < pw; ++i)
        for (int64_t j = 0; j < pw; ++j) dot += p.e[tl + i * w + j] * inv * gy[tl + i * w + j];
      for (int64_t i = 0; i < pw; ++i)
        for (int64_t j = 0; j < pw; ++j) y[tl + i * w + j] = p.e[tl + i * w + j] * inv * (gy[tl + i * w + j] - dot);
    });
  });
}

Shape MaxPoolGrad::shape(std::span<const Shape> in) const {
  const Shape pooled = check_pool(in[0], g);
  if (in[1] != pooled) throw ShapeError{fmt::format("a gradient of the pooled shape {}", pooled)};
  return in[0];
}
void MaxPoolGrad::forward(const Kernel& k) const {
  const int64_t cols = k.in_shape[0].cols, pooled = k.in_shape[1].cols, w = g.width;
  if (for_each_pair_chunk(k, g, k.in[0], nullptr, [&](int64_t r, int64_t q, const PairChunk& p, const Halves& h) {
        const simd::B scale = spread_pairs(k.in[1] + r * pooled + q * g.blocks() + p.at / 2) / p.sum;
        (scale * p.e0).store_unaligned(h.y0 + p.at);
        (scale * p.e1).store_unaligned(h.y1 + p.at);
      }))
    return;
  for_each_plane(k, g, k.in[0], [&](int64_t r, int64_t q, const Plane& p, auto pw) {
    const float* gy = k.in[1] + r * pooled + q * g.blocks();
    float* y = k.out + r * cols + q * g.plane();
    p.each_block(pw, [&](int64_t a, int64_t tl) {
      const float scale = gy[a] / p.sum[a];
      for (int64_t i = 0; i < pw; ++i)
        for (int64_t j = 0; j < pw; ++j) y[tl + i * w + j] = scale * p.e[tl + i * w + j];
    });
  });
}

Shape MaxPoolSample::shape(std::span<const Shape> in) const {
  (void)check_pool(in[0], g);
  return in[0];
}
void MaxPoolSample::forward(const Kernel& k) const {
  const int64_t cols = k.in_shape[0].cols, per_row = g.groups * g.blocks(), blocks = g.blocks(), w = g.width;
  if (for_each_pair_chunk(k, g, k.in[0], nullptr, [&](int64_t r, int64_t q, const PairChunk& p, const Halves& h) {
        // as below, each lane with its block's draw (counter first + block)
        using simd::B;
        using U = xsimd::batch<uint32_t>;
        const U lane = simd::lane_indices();
        const auto first = static_cast<uint32_t>(r * per_row + q * blocks + p.at / 2);
        const B target = simd::uniform_batch_at(k.rng, U(first) + (lane >> 1)) * p.sum;
        B acc = p.off;
        B below = xsimd::select(target >= acc, B(1.0f), B(0.0f));
        for (const B e : {left_of_pair(p.e0), right_of_pair(p.e0), left_of_pair(p.e1), right_of_pair(p.e1)}) {
          acc = acc + e;
          below = below + xsimd::select(target >= acc, B(1.0f), B(0.0f));
        }
        const B on = xsimd::min(below, B(4.0f)) - B(1.0f);  // -1: off; 0 .. 3: the unit, row-major
        const B left = xsimd::to_float(xsimd::bitwise_cast<xsimd::batch<int32_t>>(lane & U(1u)));  // 0 or 1
        const B off = target - target;  // 0, or NaN with the sum (whose target compared as "off")
        xsimd::select(on == left, B(1.0f), off).store_unaligned(h.y0 + p.at);
        xsimd::select(on == left + B(2.0f), B(1.0f), off).store_unaligned(h.y1 + p.at);
      }))
    return;
  for_each_plane(k, g, k.in[0], [&](int64_t r, int64_t q, const Plane& p, auto pw) {
    float* y = k.out + r * cols + q * g.plane();
    const auto first = static_cast<uint32_t>(r * per_row + q * blocks);
    float* draws = p.spare();  // block a's uniform draw, counter first + a
    int64_t a = 0;
    for (; a + simd::W <= blocks; a += simd::W)
      simd::uniform_batch(k.rng, first + static_cast<uint32_t>(a)).store_unaligned(draws + a);
    for (; a < blocks; ++a) draws[a] = uniform01(k.rng, first + static_cast<uint32_t>(a));
    p.each_block(pw, [&](int64_t b, int64_t tl) {
      // the first state (off, then the units in row-major order) whose
      // cumulative probability exceeds the draw, compared unnormalised
      // (counted without branches: the draws are what a branch predictor cannot guess)
      const float target = draws[b] * p.sum[b];
      float acc = p.off[b];
      int64_t below = target >= acc;  // how many of the cumulative sums the target reaches
      for (int64_t i = 0; i < pw; ++i)
        for (int64_t j = 0; j < pw; ++j) {
          acc += p.e[tl + i * w + j];
          below += target >= acc;
        }
      // below = 0: off; u + 1: unit u; all units + 1 (rounding: a draw above the total): the last unit
      const int64_t on = std::min<int64_t>(below, pw * pw) - 1;
      const float off = target - target;  // 0, or NaN with the sum (whose target compared as "off")
      for (int64_t i = 0; i < pw; ++i)
        for (int64_t j = 0; j < pw; ++j) y[tl + i * w + j] = i * pw + j == on ? 1.0f : off;
    });
  });
}

Shape MaxPoolSampleGiven::shape(std::span<const Shape> in) const {
  const Shape pooled = check_pool(in[0], g);
  if (in[1] != pooled) throw ShapeError{fmt::format("pooling units of the shape {}", pooled)};
  return in[0];
}
void MaxPoolSampleGiven::forward(const Kernel& k) const {
  const int64_t cols = k.in_shape[0].cols, per_row = g.groups * g.blocks(), across = g.width / g.pool;
  const int64_t units = g.pool * g.pool;
  split(k, k.in_shape[0].rows, [&](int64_t r) {
    std::array<float, kMaxPool * kMaxPool> w;  // the block's exp(x_i - max x), then their running sums
    std::array<int64_t, kMaxPool * kMaxPool> at;
    for (int64_t a = 0; a < per_row; ++a) {  // groups' blocks in order
      const int64_t q = a / g.blocks(), block = a % g.blocks();
      const int64_t top = block / across * g.pool, left = block % across * g.pool;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t u = 0; u < units; ++u) {
        at[static_cast<size_t>(u)] = r * cols + q * g.plane() + (top + u / g.pool) * g.width + left + u % g.pool;
        k.out[at[static_cast<size_t>(u)]] = 0.0f;
        mx = std::max(mx, k.in[0][at[static_cast<size_t>(u)]]);
      }
      const float pooling_unit = k.in[1][r * per_row + a];
      if (pooling_unit == 0.0f) continue;
      float acc = 0.0f;
      for (int64_t u = 0; u < units; ++u)
        w[static_cast<size_t>(u)] = acc += std::exp(k.in[0][at[static_cast<size_t>(u)]] - mx);
      // NaN: a NaN input, a +inf one (inf - inf) or every one -inf (0 / 0), or a NaN pooling unit
      if (std::isnan(acc) || std::isnan(pooling_unit)) {
        for (int64_t u = 0; u < units; ++u) k.out[at[static_cast<size_t>(u)]] = std::numeric_limits<float>::quiet_NaN();
        continue;
      }
      // the first unit whose cumulative sum exceeds the draw's share of the total (rounding: else the last)
      const float target = uniform01(k.rng, static_cast<uint32_t>(r * per_row + a)) * acc;
      int64_t chosen = 0;
      while (chosen + 1 < units && !(target < w[static_cast<size_t>(chosen)])) ++chosen;
      k.out[at[static_cast<size_t>(chosen)]] = 1.0f;
    }
  });
}

// pool_sum and pool_spread: plain loops over each row's groups and blocks.
namespace {
template <typename F>
void for_each_block_unit(const Kernel& k, const PoolGeometry& g, F f) {
  const int64_t per_block_row = g.width / g.pool;
  split(k, k.in_shape[0].rows, [&](int64_t r) {
    for (int64_t q = 0; q < g.groups; ++q)
      for (int64_t i = 0; i < g.height; ++i)
        for (int64_t j = 0; j < g.width; ++j)
          f(r, q * g.plane() + i * g.width + j, q * g.blocks() + (i / g.pool) * per_block_row + j / g.pool);
  });
}
}  // namespace

Shape PoolSum::shape(std::span<const Shape> in) const { return check_pool(in[0], g); }
void PoolSum::forward(const Kernel& k) const {
  const int64_t cols = k.in_shape[0].cols, pooled = k.out_shape.cols;
  std::fill(k.out, k.out + k.out_shape.size(), 0.0f);
  for_each_block_unit(k, g, [&](int64_t r, int64_t unit, int64_t block) {
    k.out[r * pooled + block] += k.in[0][r * cols + unit];
  });
}
void PoolSum::vjp(VjpBuilder& b) const {
  if (b.wants(0)) b.give(0, b.emit(PoolSpread{g}, {b.gy()}));
}

Shape PoolSpread::shape(std::span<const Shape> in) const {
  const Shape units{in[0].rows, g.groups * g.plane()};
  if (check_pool(units, g) != in[0])
    throw ShapeError{fmt::format("rows of {} pooling units ({} groups of {} blocks), not {}", g.groups * g.blocks(),
                                 g.groups, g.blocks(), in[0].cols)};
  return units;
}
void PoolSpread::forward(const Kernel& k) const {
  const int64_t cols = k.out_shape.cols, pooled = k.in_shape[0].cols;
  for_each_block_unit(k, g, [&](int64_t r, int64_t unit, int64_t block) {
    k.out[r * cols + unit] = k.in[0][r * pooled + block];
  });
}
void PoolSpread::vjp(VjpBuilder& b) const {
  if (b.wants(0)) b.give(0, b.emit(PoolSum{g}, {b.gy()}));
}

}  // namespace ebm
