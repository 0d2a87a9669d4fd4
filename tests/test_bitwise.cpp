// Bit-for-bit reproducibility of the kernels, element by element: an
// element's value must not depend on which span, row tile, thread's block
// of rows or GEMM tile it falls in. The executor splits a large element-wise
// op's rows over the threads as the schedule goes, a fused chain runs row
// tile by row tile and a GEMM's epilogue runs on its output tiles, so a
// kernel that computed a span's last elements (past its last full SIMD
// register) by another rule than the others — std::exp on the tail, xsimd's
// exp on registers — gave different bits on 1 and 2 threads, between reruns
// of one executor, and between fused and unfused plans. Every comparison
// here is of the bits (memcmp), so -0 / +0 and NaNs count too.

#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "autodiff/grad.hpp"
#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "ops/op.hpp"

using namespace ebm;

namespace {

using Values = std::vector<std::vector<float>>;  // one per target (and run)

// Elements whose bits differ between a and b (sizes must agree), with the
// first of them for the message.
struct Diff {
  int64_t count = 0;
  std::string first;
};

std::string exact(float x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(x));
  return buf;
}

Diff bit_diff(const std::vector<float>& a, const std::vector<float>& b) {
  Diff d;
  if (a.size() != b.size()) return {1, "sizes differ"};
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0 && d.count++ == 0)
      d.first = "element " + std::to_string(i) + ": " + exact(a[i]) + " vs " + exact(b[i]);
  return d;
}

// Each run's values of each target: out[run * targets.size() + t].
Values run_values(Graph& g, const std::vector<Tensor>& targets, ExecutorOptions o, int runs) {
  Executor ex(g, o);
  Values out;
  for (int r = 0; r < runs; ++r) {
    ex.run(targets);
    for (Tensor t : targets) out.emplace_back(ex.value(t).begin(), ex.value(t).end());
  }
  return out;
}

// Checks got against want target by target, naming the target and config.
void check_same_bits(const Values& got, const Values& want, const std::vector<std::string>& names,
                     const std::string& config) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const Diff d = bit_diff(got[i], want[i]);
    INFO(config << ", " << names[i % names.size()] << " (run " << i / names.size() << "): " << d.count
                << " elements differ, first " << d.first);
    CHECK(d.count == 0);
  }
}

}  // namespace

TEST_CASE("bitwise: large element-wise ops give the same bits on 1 and 2 threads, serially and in 10 reruns") {
  // [4000, 301]: 1.2M elements, split over the threads by rows; 301 columns
  // is no multiple of a register, so every row and every block of rows ends
  // inside one.
  constexpr int64_t R = 4000, C = 301;
  Graph g;
  const Tensor x = g.param("x", {R, C}), y = g.param("y", {R, C}), pos = g.param("pos", {R, C});
  const Tensor col = g.param("col", {R, 1}), row = g.param("row", {1, C});
  fill_normal(g.value(x), 3.0f, 11, 1);
  fill_normal(g.value(y), 1.0f, 11, 2);
  fill_uniform(g.value(pos), 0.01f, 10.0f, 11, 3);
  fill_uniform(g.value(col), -2.0f, 2.0f, 11, 4);
  fill_uniform(g.value(row), 0.5f, 2.0f, 11, 5);
  const Tensor half = g.constant({1, 1}, 0.37f);
  // Each target reads only sources: one task per op, alone, split by rows.
  const std::vector<Tensor> targets{
      exp(x), sigmoid(x), softplus(x), tanh(x), log(pos), scale(x, 1.7f, 0.3f), square(x),
      apply(SoftplusGrad{}, {x, col}),  // a broadcast column
      apply(SigmoidGrad{}, {y, x}),     // g y (1 - y)
      apply(TanhGrad{}, {y, x}),
      x / row,     // a broadcast row, divided by
      col / pos,   // a broadcast column on the left
      x * half,    // a scalar
      x - y,
      sigmoid_bernoulli(x),  // the draw's probability by the vector rule in the tail too
  };
  const std::vector<std::string> names{"exp", "sigmoid", "softplus", "tanh", "log", "scale", "square",
                                       "softplus_grad (column)", "sigmoid_grad", "tanh_grad", "div (row)",
                                       "div (column / matrix)", "mul (scalar)", "sub", "sigmoid_bernoulli"};
  REQUIRE(names.size() == targets.size());
  constexpr int kRuns = 10;
  const Values serial = run_values(g, targets, {.seed = 5, .parallel = false}, kRuns);
  const Values two = run_values(g, targets, {.threads = 2, .seed = 5}, kRuns);
  const Values one = run_values(g, targets, {.threads = 1, .seed = 5}, 2);
  check_same_bits(two, serial, names, "2 threads vs serial");
  check_same_bits(one, Values(serial.begin(), serial.begin() + static_cast<std::ptrdiff_t>(one.size())), names,
                  "1 thread vs serial");
  // The deterministic ops' reruns on one 2-thread executor: each like the first.
  for (int r = 1; r < kRuns; ++r)
    for (size_t t = 0; t + 1 < targets.size(); ++t) {
      const Diff d = bit_diff(two[static_cast<size_t>(r) * targets.size() + t], two[t]);
      INFO("2 threads, rerun " << r << " of " << names[t] << ": " << d.count << " elements differ, first " << d.first);
      CHECK(d.count == 0);
    }
}

TEST_CASE("bitwise: fused and unfused plans agree on a log_softmax gradient and sigmoid chains") {
  constexpr int64_t N = 300;  // 300 = 18 registers + 12: each row ends past its last full register
  Graph g;
  const Tensor x = g.param("x", {N, N}), w = g.param("w", {N, N}), b = g.param("b", {1, N});
  const Tensor t = g.param("t", {N, N});
  fill_normal(g.value(x), 1.0f, 7, 1);
  fill_normal(g.value(w), 1.0f, 7, 2);
  fill_normal(g.value(b), 1.0f, 7, 3);
  fill_uniform(g.value(t), 0.0f, 1.0f, 7, 4);
  // log_softmax's gradient gy - exp(y) rowsum(gy): a chain of exp, mul and sub
  const Tensor lsm = log_softmax(x);
  const Tensor g_slice = grad(mean(slice_cols(lsm, 0, 1)), {x})[0];
  const Tensor g_weighted = grad(mean(sum(lsm * w, 1)), {x})[0];
  // An element-wise chain (fused into row tiles) and one on a GEMM's tiles
  // (its epilogue: 256 | 44 columns), with their gradients.
  const Tensor chain = sigmoid(x * 1.5f + 0.5f) * x - tanh(x);
  const Tensor z = matmul(x, w);
  const Tensor h = sigmoid(z + b);
  const Tensor loss = mean(sum(square(h - t), 1)) + mean(sum(softplus(chain), 1));
  const std::vector<Tensor> gs = grad(loss, {x, w, b});
  const Tensor as = affine_sigmoid(x, w, b);  // its bias and sigmoid per GEMM tile row
  const std::vector<Tensor> targets{g_slice, g_weighted, chain, h, gs[0], gs[1], gs[2], as};
  const std::vector<std::string> names{"log_softmax gradient (slice)", "log_softmax gradient (weighted)",
                                       "sigmoid chain", "sigmoid(x w + b)", "chain loss gradient x",
                                       "chain loss gradient w", "chain loss gradient b", "affine_sigmoid"};
  const Values ref = run_values(g, targets, {.parallel = false, .fuse = false}, 1);
  check_same_bits(run_values(g, targets, {.threads = 2, .fuse = false}, 1), ref, names, "unfused, 2 threads");
  check_same_bits(run_values(g, targets, {.parallel = false}, 1), ref, names, "fused, serial");
  for (int threads : {1, 2})
    check_same_bits(run_values(g, targets, {.threads = threads}, 1), ref, names,
                    "fused, " + std::to_string(threads) + " threads");
  check_same_bits(run_values(g, targets, {.threads = 2, .tile_outputs = false}, 1), ref, names,
                  "fused, no tile outputs");
  // The sigmoid in the GEMM's epilogue (affine_sigmoid) against sigmoid on the stored affine output.
  const Tensor plain = sigmoid(affine(x, w, b));
  const Values two = run_values(g, {as, plain}, {.parallel = false, .fuse = false}, 1);
  const Diff d = bit_diff(two[0], two[1]);
  INFO("affine_sigmoid vs sigmoid(affine): " << d.count << " elements differ, first " << d.first);
  CHECK(d.count == 0);
}

TEST_CASE("bitwise: an element-wise op's value does not depend on the column it sits at") {
  // One row of 301 values, rolled by every shift: each value passes through
  // a full register at some shifts and through the row's last, partial one
  // at others (columns 288-300); its result must be the same bits.
  constexpr int64_t C = 301;
  std::vector<float> a0(C), b0(C), p0(C);
  fill_normal(a0, 3.0f, 13, 1);
  fill_normal(b0, 1.0f, 13, 2);
  fill_uniform(p0, 0.01f, 10.0f, 13, 3);
  Graph g;
  const Tensor a = g.input("a", {1, C}), b = g.input("b", {1, C}), p = g.input("p", {1, C});
  const Tensor s = g.constant({1, 1}, 0.37f);
  const std::vector<Tensor> targets{exp(a),           sigmoid(a),      softplus(a),
                                    tanh(a),          log(p),          scale(a, 1.7f, 0.3f),
                                    abs(a),           relu(a),         apply(SoftplusGrad{}, {a, b}),
                                    apply(SigmoidGrad{}, {b, a}),      apply(TanhGrad{}, {b, a}),
                                    a / p,            a * s,           s / p,
                                    a * b + a,        exp(a * 0.1f) - sigmoid(b),  // a fused chain
                                    exp(a + 80.0f)};  // near where exp overflows (from 88.72)
  const std::vector<std::string> names{"exp", "sigmoid", "softplus", "tanh", "log", "scale", "abs", "relu",
                                       "softplus_grad", "sigmoid_grad", "tanh_grad", "div", "mul (scalar)",
                                       "div (scalar / row)", "mul, add", "exp, sigmoid, sub (fused)",
                                       "exp near overflow"};
  REQUIRE(names.size() == targets.size());
  for (bool fuse : {false, true}) {
    const std::string plan = fuse ? "fused" : "unfused";
    Executor ex(g, {.parallel = false, .fuse = fuse});
    auto run = [&](int64_t shift) {
      std::vector<float> ra(C), rb(C), rp(C);  // r[j] = v[(j + shift) % C]
      for (int64_t j = 0; j < C; ++j) {
        const auto from = static_cast<size_t>((j + shift) % C);
        ra[static_cast<size_t>(j)] = a0[from], rb[static_cast<size_t>(j)] = b0[from], rp[static_cast<size_t>(j)] = p0[from];
      }
      ex.run(targets, std::vector<Feed>{{a, ra}, {b, rb}, {p, rp}});
      Values out;
      for (Tensor t : targets) out.emplace_back(ex.value(t).begin(), ex.value(t).end());
      return out;
    };
    const Values base = run(0);
    int64_t bad = 0;
    for (int64_t shift = 1; shift < C; ++shift) {
      const Values got = run(shift);
      for (size_t t = 0; t < targets.size(); ++t) {
        std::vector<float> unrolled(C);
        for (int64_t j = 0; j < C; ++j) unrolled[static_cast<size_t>((j + shift) % C)] = got[t][static_cast<size_t>(j)];
        const Diff d = bit_diff(unrolled, base[t]);
        if (d.count && bad++ < 8) {
          INFO(plan << ", " << names[t] << " rolled by " << shift << ": " << d.count
                    << " elements differ, first (unrolled) " << d.first);
          CHECK(d.count == 0);
        }
      }
    }
    INFO(plan << ": (op, shift) pairs whose values moved with the column: " << bad);
    CHECK(bad == 0);
  }
}

TEST_CASE("bitwise: the update kernels give each element the same bits in a GEMM tile as in a whole pass") {
  // SGD runs on a GEMM's tiles in a fused epilogue (rows of 256 | 45
  // columns here) and over the whole parameter otherwise; Adam over chunks.
  // The compiler vectorizes their loops: the scalar remainder must round
  // like the vector body (the same contraction into FMA).
  constexpr int64_t R = 3, C = 301;
  const Shape shape{R, C};
  std::vector<float> w0(R * C), v0(R * C), g0(R * C), m0(R * C), s0(R * C);
  fill_normal(w0, 1.0f, 17, 1);
  fill_normal(v0, 0.1f, 17, 2);
  fill_normal(g0, 0.5f, 17, 3);
  fill_normal(m0, 0.1f, 17, 4);
  fill_uniform(s0, 0.0f, 0.1f, 17, 5);
  std::vector<float> sgd_hyper{0.013f, 0.9f, 0.0007f, 0.0f};
  auto sgd = [&](std::vector<std::pair<int64_t, int64_t>> windows) {
    std::vector<float> w = w0, v = v0, gr = g0;
    Kernel k;
    k.in = {w.data(), v.data(), gr.data(), sgd_hyper.data(), nullptr};
    k.in_shape = {shape, shape, shape, Shape{1, 4}, Shape{}};
    k.n_in = 4;
    k.row_begin = 0, k.row_end = R;
    if (windows.empty()) run_forward(SgdUpdate{}, k);
    for (auto [c0, c1] : windows) {
      k.col_begin = c0, k.col_end = c1;
      run_forward(SgdUpdate{}, k);
    }
    w.insert(w.end(), v.begin(), v.end());
    return w;
  };
  const std::vector<float> whole = sgd({});
  for (auto windows : {std::vector<std::pair<int64_t, int64_t>>{{0, 256}, {256, C}},
                       std::vector<std::pair<int64_t, int64_t>>{{0, 37}, {37, 200}, {200, C}}}) {
    const Diff d = bit_diff(sgd(windows), whole);
    INFO("sgd in " << windows.size() << " tiles vs whole: " << d.count << " elements differ, first " << d.first);
    CHECK(d.count == 0);
  }
  // Adam, whole, against each element alone at a shifted position: roll the inputs.
  auto adam = [&](int64_t shift) {
    auto roll = [&](const std::vector<float>& v) {
      std::vector<float> r(v.size());
      for (size_t i = 0; i < v.size(); ++i) r[i] = v[(i + static_cast<size_t>(shift)) % v.size()];
      return r;
    };
    std::vector<float> w = roll(w0), m = roll(m0), s = roll(s0), gr = roll(g0);
    std::vector<float> hyper{0.001f, 0.9f, 0.999f, 1e-8f, 0.0003f, 4.0f};
    Kernel k;
    k.in = {w.data(), m.data(), s.data(), gr.data(), hyper.data()};
    k.in_shape = {shape, shape, shape, shape, Shape{1, 6}};
    k.n_in = 5;
    k.row_begin = 0, k.row_end = R;
    run_forward(AdamUpdate{}, k);
    std::vector<float> out(w.size() * 3);
    for (size_t i = 0; i < w.size(); ++i) {  // back to the unrolled positions
      const size_t at = (i + static_cast<size_t>(shift)) % w.size();
      out[at] = w[i], out[w.size() + at] = m[i], out[2 * w.size() + at] = s[i];
    }
    return out;
  };
  const std::vector<float> base = adam(0);
  int64_t bad = 0;
  for (int64_t shift = 1; shift < 2 * 16; ++shift) bad += bit_diff(adam(shift), base).count;
  INFO("adam: elements whose bits moved with their position: " << bad);
  CHECK(bad == 0);
}
