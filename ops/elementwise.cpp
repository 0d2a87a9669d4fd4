// Element-wise kernels and their VJP rules. Every kernel is one scalar rule
// applied by a shared applier over the kernel's window of output rows and
// columns (whole rows, or one GEMM tile in a fused epilogue); the
// rule is written once as a generic lambda that serves both float and
// xsimd::batch<float>. The appliers run it on registers only, a window's
// last elements too (through a partial register, simd::load_partial), so
// an element's bits never depend on the window it falls in: the executor
// splits a large op's rows over threads by the schedule, fuses chains into
// row tiles and runs epilogues on GEMM tiles, and all must agree bit for bit.

#include <algorithm>
#include <limits>
#include <array>
#include <cmath>
#include <numbers>
#include <vector>

#include "ops/error.hpp"
#include "ops/op.hpp"
#include "ops/simd.hpp"
#include "ops/vjp_util.hpp"

namespace ebm {
namespace {

using simd::B;
using simd::sigmoid_rule;
using simd::W;
using U = xsimd::batch<uint32_t>;

// Calls row(r, c0, c1) for each output row of the kernel's window.
template <typename Row>
void for_rows(const Kernel& k, Row row) {
  const int64_t c0 = k.col_begin, c1 = k.col_stop();
  for (int64_t r = k.row_begin; r < k.row_end; ++r) row(r, c0, c1);
}

// y[i] = f(x[i]) for i < n, every element through the vector rule (the
// tail too: simd::unary_span), so a value does not depend on where the
// span ends (a thread's block of rows, a fused chain's row tile, a GEMM
// epilogue's tile).
using simd::load_partial;
using simd::store_partial;
using simd::unary_span;

template <typename F>
void apply_unary(const Kernel& k, F f) {
  const int64_t c = k.out_shape.cols;
  if (k.full_rows()) {  // whole rows are one contiguous span
    unary_span(k.in[0] + k.row_begin * c, k.out + k.row_begin * c, (k.row_end - k.row_begin) * c, f);
    return;
  }
  for_rows(k, [&](int64_t r, int64_t c0, int64_t c1) { unary_span(k.in[0] + r * c + c0, k.out + r * c + c0, c1 - c0, f); });
}

// One output row of a binary op. A side whose row has one column is
// broadcast along the row (a column vector or a scalar). The row's last
// n % W elements take the vector rule too, through a partial register.
template <bool AVec, bool BVec, typename F>
void binary_row(const float* a, const float* b, float* y, int64_t n, F f) {
  auto la = [&](int64_t i) { if constexpr (AVec) return B::load_unaligned(a + i); else return B(a[0]); };
  auto lb = [&](int64_t i) { if constexpr (BVec) return B::load_unaligned(b + i); else return B(b[0]); };
  auto pa = [&](int64_t i, int64_t m) { if constexpr (AVec) return load_partial(a + i, m); else return B(a[0]); };
  auto pb = [&](int64_t i, int64_t m) { if constexpr (BVec) return load_partial(b + i, m); else return B(b[0]); };
  int64_t i = 0;
  for (; i + W <= n; i += W) f(la(i), lb(i)).store_unaligned(y + i);
  if (i < n) store_partial(f(pa(i, n - i), pb(i, n - i)), y + i, n - i);
}

// Row r of input `slot` from column c0 on (broadcast sides: their one row
// or element); in a GEMM's epilogue, the GEMM's output is read from the
// tile it was left in (Kernel::tile).
const float* in_row(const Kernel& k, int slot, int64_t r, int64_t c0) {
  if (slot == k.tile_slot && k.tile) return k.tile + (r - k.row_begin) * k.tile_ld + (c0 - k.col_begin);
  const Shape s = k.in_shape[static_cast<size_t>(slot)];
  return k.in[static_cast<size_t>(slot)] + (s.rows == 1 ? 0 : r) * s.cols + (s.cols == k.out_shape.cols ? c0 : 0);
}

template <typename F>
void apply_binary(const Kernel& k, F f) {
  const int64_t n = k.out_shape.cols;
  const bool av = k.in_shape[0].cols == n, bv = k.in_shape[1].cols == n;
  for_rows(k, [&](int64_t r, int64_t c0, int64_t c1) {
    const float* a = in_row(k, 0, r, c0);
    const float* b = in_row(k, 1, r, c0);
    float* y = k.out + r * n + c0;
    if (av && bv) binary_row<true, true>(a, b, y, c1 - c0, f);
    else if (av) binary_row<true, false>(a, b, y, c1 - c0, f);
    else if (bv) binary_row<false, true>(a, b, y, c1 - c0, f);
    else binary_row<false, false>(a, b, y, c1 - c0, f);
  });
}

using simd::uniform_batch;

// Writes [u < p(x)] over the kernel's window; the counter of an element is
// its flat index in the whole output, so tiling never changes bits.
template <typename P>
void apply_bernoulli(const Kernel& k, P prob) {
  const int64_t c = k.out_shape.cols;
  const float* x = k.in[0];
  float* y = k.out;
  // A NaN probability draws NaN, not the 0 that u < NaN would give, so that
  // the numerics check and the fitters' divergence checks see it (a
  // probability outside [0, 1] draws as if clipped to it).
  const B nan(std::numeric_limits<float>::quiet_NaN());
  auto draw = [&](B u, B p) { return xsimd::select(xsimd::isnan(p), nan, xsimd::select(u < p, B(1.0f), B(0.0f))); };
  auto span = [&](int64_t first, int64_t last) {
    int64_t i = first;
    for (; i + W <= last; i += W)
      draw(uniform_batch(k.rng, static_cast<uint32_t>(i)), prob(B::load_unaligned(x + i))).store_unaligned(y + i);
    if (i < last)  // the tail as one more register: its probabilities by the vector rule too
      store_partial(draw(uniform_batch(k.rng, static_cast<uint32_t>(i)), prob(load_partial(x + i, last - i))), y + i,
                    last - i);
  };
  if (k.full_rows()) span(k.row_begin * c, k.row_end * c);
  else for_rows(k, [&](int64_t r, int64_t c0, int64_t c1) { span(r * c + c0, r * c + c1); });
}

}  // namespace

// ---- unary ---------------------------------------------------------------
void Scale::forward(const Kernel& k) const {
  apply_unary(k, [a = a, b = b](auto x) { return decltype(x)(a) * x + decltype(x)(b); });
}
void Scale::vjp(VjpBuilder& b) const { b.give(0, vjp::scale(b, b.gy(), a)); }

void Sigmoid::forward(const Kernel& k) const { apply_unary(k, sigmoid_rule); }
void Sigmoid::vjp(VjpBuilder& b) const { b.give(0, b.emit(SigmoidGrad{}, {b.y(), b.gy()})); }

void Tanh::forward(const Kernel& k) const {
  apply_unary(k, [](auto x) { using std::tanh; return tanh(x); });
}
void Tanh::vjp(VjpBuilder& b) const { b.give(0, b.emit(TanhGrad{}, {b.y(), b.gy()})); }

void Relu::forward(const Kernel& k) const {
  apply_unary(k, [](auto x) { using std::max; return max(x, decltype(x)(0.0f)); });
}
void Relu::vjp(VjpBuilder& b) const { b.give(0, b.emit(ReluGrad{}, {b.x(0), b.gy()})); }

void Softplus::forward(const Kernel& k) const {
  apply_unary(k, [](auto x) {
    using std::abs, std::exp, std::log1p, std::max;
    using T = decltype(x);
    return max(x, T(0.0f)) + log1p(exp(-abs(x)));
  });
}
void Softplus::vjp(VjpBuilder& b) const { b.give(0, b.emit(SoftplusGrad{}, {b.x(0), b.gy()})); }

namespace {
// exp(x) up to where a float overflows (88.7228, as std::exp): xsimd::exp
// gives inf from about 88.3763 on (its maxlog), so above 88 this takes
// exp(x - ln2_hi) * 2 exp(ln2_hi - ln 2) instead (x - ln2_hi is exact:
// ln2_hi is a multiple of 2^-15), within 2 ulps of std::exp; up to 88,
// xsimd::exp's bits. Every element by this one rule, a span's tail too.
constexpr auto exp_rule = [](B x) {
  constexpr float kShiftAbove = 88.0f;
  constexpr float kLn2Hi = 0.693145751953125f;        // 0x3f317200
  constexpr float kTwiceCorrection = 1.99999714279f;  // 2 exp(ln2_hi - ln 2)
  const auto big = x > B(kShiftAbove);
  const B e = xsimd::exp(xsimd::select(big, x - B(kLn2Hi), x));
  return xsimd::select(big, e * B(kTwiceCorrection), e);
};
}  // namespace

void Exp::forward(const Kernel& k) const { apply_unary(k, exp_rule); }
void Exp::vjp(VjpBuilder& b) const { b.give(0, vjp::mul(b, b.gy(), b.y())); }

void Log::forward(const Kernel& k) const {
  apply_unary(k, [](auto x) { using std::log; return log(x); });
}
void Log::vjp(VjpBuilder& b) const { b.give(0, vjp::div(b, b.gy(), b.x(0))); }

void Abs::forward(const Kernel& k) const {
  apply_unary(k, [](auto x) { using std::abs; return abs(x); });
}
void Abs::vjp(VjpBuilder& b) const { b.give(0, vjp::mul(b, b.gy(), b.emit(Sign{}, {b.x(0)}))); }

void Sign::forward(const Kernel& k) const {
  apply_unary(k, [](auto x) {
    using T = decltype(x);
    if constexpr (std::is_same_v<T, float>) return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
    else return xsimd::select(x > T(0.0f), T(1.0f), xsimd::select(x < T(0.0f), T(-1.0f), T(0.0f)));
  });
}

void Square::forward(const Kernel& k) const { apply_unary(k, [](auto x) { return x * x; }); }
void Square::vjp(VjpBuilder& b) const {
  b.give(0, vjp::mul(b, b.gy(), vjp::scale(b, b.x(0), 2.0f)));
}

void StopGradient::forward(const Kernel& k) const { apply_unary(k, [](auto x) { return x; }); }

Shape BroadcastTo::shape(std::span<const Shape> in) const {
  const Shape s = in[0];
  if ((s.rows != 1 && s.rows != to.rows) || (s.cols != 1 && s.cols != to.cols))
    throw ShapeError{fmt::format("a shape that stretches to {} (each axis equal or 1)", to)};
  return to;
}

void BroadcastTo::forward(const Kernel& k) const {
  const Shape s = k.in_shape[0];
  const int64_t n = k.out_shape.cols;
  for_rows(k, [&](int64_t r, int64_t c0, int64_t c1) {
    const float* x = k.in[0] + (s.rows == 1 ? 0 : r) * s.cols;
    float* y = k.out + r * n;
    for (int64_t c = c0; c < c1; ++c) y[c] = x[s.cols == 1 ? 0 : c];
  });
}
void BroadcastTo::vjp(VjpBuilder& b) const { vjp::give_reduced(b, 0, b.gy()); }

// ---- gradient helpers ----------------------------------------------------------
void SigmoidGrad::forward(const Kernel& k) const {
  apply_binary(k, [](auto y, auto g) { return g * y * (decltype(y)(1.0f) - y); });
}
void TanhGrad::forward(const Kernel& k) const {
  apply_binary(k, [](auto y, auto g) { return g * (decltype(y)(1.0f) - y * y); });
}
void SoftplusGrad::forward(const Kernel& k) const {
  apply_binary(k, [](auto x, auto g) { return g * sigmoid_rule(x); });
}
void ReluGrad::forward(const Kernel& k) const {
  apply_binary(k, [](auto x, auto g) {
    using T = decltype(x);
    if constexpr (std::is_same_v<T, float>) return x > 0.0f ? g : 0.0f;
    else return xsimd::select(x > T(0.0f), g, T(0.0f));
  });
}

// ---- binary --------------------------------------------------------------------
void Add::forward(const Kernel& k) const { apply_binary(k, [](auto a, auto b) { return a + b; }); }
void Add::vjp(VjpBuilder& b) const {
  vjp::give_reduced(b, 0, b.gy());
  vjp::give_reduced(b, 1, b.gy());
}

void Sub::forward(const Kernel& k) const { apply_binary(k, [](auto a, auto b) { return a - b; }); }
void Sub::vjp(VjpBuilder& b) const {
  vjp::give_reduced(b, 0, b.gy());
  if (b.wants(1)) vjp::give_reduced(b, 1, vjp::scale(b, b.gy(), -1.0f));
}

void Mul::forward(const Kernel& k) const { apply_binary(k, [](auto a, auto b) { return a * b; }); }
void Mul::vjp(VjpBuilder& b) const {
  if (b.wants(0)) vjp::give_reduced(b, 0, vjp::mul(b, b.gy(), b.x(1)));
  if (b.wants(1)) vjp::give_reduced(b, 1, vjp::mul(b, b.gy(), b.x(0)));
}

void Div::forward(const Kernel& k) const { apply_binary(k, [](auto a, auto b) { return a / b; }); }
void Div::vjp(VjpBuilder& b) const {  // y = a / b:  ga = g / b,  gb = -g y / b
  if (b.wants(0)) vjp::give_reduced(b, 0, vjp::div(b, b.gy(), b.x(1)));
  if (b.wants(1)) {
    Val gyb = vjp::div(b, vjp::mul(b, b.gy(), b.y()), b.x(1));
    vjp::give_reduced(b, 1, vjp::scale(b, gyb, -1.0f));
  }
}

// ---- sampling --------------------------------------------------------------------
void Bernoulli::forward(const Kernel& k) const {
  apply_bernoulli(k, [](auto p) { return p; });
}
void SigmoidBernoulli::forward(const Kernel& k) const { apply_bernoulli(k, sigmoid_rule); }

void Categorical::forward(const Kernel& k) const {
  // One uniform draw per row (counter = row): the first j with cumsum(p)_j > u.
  const int64_t c = k.out_shape.cols;
  for (int64_t r = k.row_begin; r < k.row_end; ++r) {
    const float* p = k.in[0] + r * c;
    float* y = k.out + r * c;
    const float u = uniform01(k.rng, static_cast<uint32_t>(r));
    float acc = 0.0f, least = 0.0f;
    double total = 0.0;  // the check's sum, in double: a wide row's float sum drifts
    int64_t pick = c - 1;  // rounding: a u above the float total picks the last
    for (int64_t j = 0; j < c; ++j) {
      acc += p[j];
      total += p[j];
      least = std::min(least, p[j]);
      if (u < acc && pick == c - 1) pick = j;
    }
    // A row that is not a distribution would bias the draw silently (a
    // total under 1 piles the rest on the last class), so it is refused.
    if (std::isnan(total))
      throw Error("categorical: row {} holds NaN; expected probabilities (a softmax of NaN: has the model diverged? a "
                  "smaller learning rate usually cures it)",
                  r);
    if (!(std::abs(total - 1.0) <= 1e-3) || least < 0.0f)
      throw Error("categorical: row {} holds {} summing to {}; expected probabilities (each at least 0) summing to 1, "
                  "a softmax's output",
                  r, least < 0.0f ? "a negative value" : "values", total);
    std::fill(y, y + c, 0.0f);
    y[pick] = 1.0f;
  }
}

Shape Multinomial::shape(std::span<const Shape> in) const {
  if (in[1].rows != in[0].rows || in[1].cols != 1)
    throw ShapeError{fmt::format("trials of shape [{}, 1], one count per row of the probabilities", in[0].rows)};
  return in[0];
}

namespace {
constexpr float kMostTrials = 16777216.0f;  // 2^24: a float count is exact up to it
}  // namespace

void Multinomial::forward(const Kernel& k) const {
  const int64_t c = k.out_shape.cols;
  thread_local std::vector<double> cdf;
  cdf.resize(static_cast<size_t>(c));
  for (int64_t r = k.row_begin; r < k.row_end; ++r) {
    const float* p = k.in[0] + r * c;
    float* y = k.out + r * c;
    std::fill(y, y + c, 0.0f);
    const float t = k.in[1][r];
    if (!(t >= 0.5f)) continue;  // also NaN
    if (t > kMostTrials)
      throw Error("multinomial: row {} asks for {} trials; expected at most 2^24 (counts are floats, exact to 2^24; "
                  "each trial is one draw)",
                  r, t);
    double acc = 0.0;
    for (int64_t j = 0; j < c; ++j) cdf[static_cast<size_t>(j)] = acc += std::max(0.0f, p[j]);
    if (!(acc > 0.0)) continue;
    const auto row = static_cast<uint32_t>(r);
    const RngKey key{random_bits<uint32_t>(k.rng, 2 * row), random_bits<uint32_t>(k.rng, 2 * row + 1)};
    const auto draws = static_cast<uint64_t>(std::llround(t));
    for (uint64_t d = 0; d < draws; ++d) {
      const double u = uniform01(key, static_cast<uint32_t>(d)) * acc;
      const auto j = std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin();
      y[std::min<int64_t>(j, c - 1)] += 1.0f;  // rounding: a u at the total picks the last
    }
  }
}

namespace {
constexpr float kMostPoissonRate = 4194304.0f;  // 2^22: a draw stays far below 2^24, where float counts stop being exact

// log k! : summed below 32, by Stirling's series (error under 1e-12) above.
double log_factorial(double k) {
  static const auto small = [] {
    std::array<double, 32> t{};
    for (size_t i = 1; i < t.size(); ++i) t[i] = t[i - 1] + std::log(static_cast<double>(i));
    return t;
  }();
  if (k < 32) return small[static_cast<size_t>(k)];
  const double x = k + 1, r = 1 / (x * x);
  return (x - 0.5) * std::log(x) - x + 0.5 * std::log(2 * std::numbers::pi) + (1.0 / 12 - r * (1.0 / 360 - r / 1260)) / x;
}

// One draw from Poisson(rate), rate in [0, 2^22], its uniforms on counters 0, 1, ... of `key`.
double poisson_draw(RngKey key, double rate) {
  uint32_t next = 0;
  auto uniform = [&] { return static_cast<double>(uniform01(key, next++)); };
  if (rate < 10) {  // inversion: the first k whose cumulative probability exceeds u
    const double u = uniform();
    double term = std::exp(-rate), cdf = term;
    int k = 0;
    for (; u >= cdf && k < 200; cdf += term) term *= rate / ++k;  // 200: far past where the sum stops growing
    return k;
  }
  // Transformed rejection with squeeze: k = floor((2a / us + b) u + rate + 0.43) for u uniform on
  // [-1/2, 1/2), us = 1/2 - |u|, accepted outright in the box where the hat is known to lie under
  // the density (us >= 0.07, v <= v_r), and otherwise by comparing v times the hat with the pmf.
  const double root = std::sqrt(rate), log_rate = std::log(rate);
  const double b = 0.931 + 2.53 * root, a = -0.059 + 0.02483 * b;
  const double inv_alpha = 1.1239 + 1.1328 / (b - 3.4), v_r = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    // v in (0, 1]: a v of 0 would pass the last test whatever k, and with us near 0, k is huge.
    const double u = uniform() - 0.5, v = 1.0 - uniform(), us = 0.5 - std::abs(u);
    const double k = std::floor((2 * a / us + b) * u + rate + 0.43);
    if (us >= 0.07 && v <= v_r) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (std::log(v * inv_alpha / (a / (us * us) + b)) <= k * log_rate - rate - log_factorial(k)) return k;
  }
}
}  // namespace

void Poisson::forward(const Kernel& k) const {
  const int64_t c = k.out_shape.cols;
  for_rows(k, [&](int64_t r, int64_t c0, int64_t c1) {
    for (int64_t i = r * c + c0; i < r * c + c1; ++i) {
      const float rate = k.in[0][i];
      if (!(rate >= 0.0f && rate <= kMostPoissonRate))
        throw Error("poisson: element ({}, {}) has rate {}; expected a finite rate from 0 to 2^22{}", r, i - r * c, rate,
                    std::isfinite(rate) ? "" : " (has the model diverged?)");
      const auto e = static_cast<uint32_t>(i);
      const RngKey key{random_bits<uint32_t>(k.rng, 2 * e), random_bits<uint32_t>(k.rng, 2 * e + 1)};
      k.out[i] = rate == 0.0f ? 0.0f : static_cast<float>(poisson_draw(key, rate));
    }
  });
}

void Gaussian::forward(const Kernel& k) const {
  // Box-Muller on draws 2i and 2i+1: z = sqrt(-2 log(1 - u1)) cos(2 pi u2).
  const int64_t c = k.out_shape.cols;
  const float two_pi = 2.0f * std::numbers::pi_v<float>;
  for_rows(k, [&](int64_t r, int64_t c0, int64_t c1) {
    for (int64_t i = r * c + c0; i < r * c + c1; ++i) {
      const auto j = static_cast<uint32_t>(2 * i);
      float u1 = 1.0f - uniform01(k.rng, j), u2 = uniform01(k.rng, j + 1);
      k.out[i] = k.in[0][i] + stddev * std::sqrt(-2.0f * std::log(u1)) * std::cos(two_pi * u2);
    }
  });
}

}  // namespace ebm
