// The graph and the scheduler: shape checks, error paths (feeds, the
// numerics check), serial/parallel equality on chains, diamonds, fan-outs
// and random DAGs, update ordering, buffer reuse, the generator and the DOT
// dump. The profiler's tests are in test_profile.cpp.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <thread>

#include <doctest/doctest.h>
#include <tbb/global_control.h>

#include "autodiff/grad.hpp"
#include "autodiff/optim.hpp"
#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "graph/plan.hpp"
#include "ops/gemm.hpp"
#include "tests/run_values.hpp"

using namespace ebm;
using test::run_values;

namespace {

std::vector<float> iota_values(Shape s, float scale) {
  std::vector<float> v(static_cast<size_t>(s.size()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = scale * std::sin(static_cast<float>(i) * 0.37f + 0.1f);
  return v;
}

void fill(Graph& g, Tensor p, float scale) {
  auto v = iota_values(p.shape(), scale);
  std::copy(v.begin(), v.end(), g.value(p).begin());
}

// A random DAG over [8,16] values: unary, binary, matmul, reductions with
// broadcasting back, and sampling. Returns the targets.
std::vector<Tensor> random_dag(Graph& g, int n_ops, uint32_t seed) {
  std::mt19937 gen(seed);
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(gen); };
  std::vector<Tensor> pool{g.param("x0", {8, 16}), g.param("x1", {8, 16})};
  fill(g, pool[0], 1.0f);
  fill(g, pool[1], 0.5f);
  Tensor w = g.param("w", {16, 16});
  fill(g, w, 0.3f);
  for (int i = 0; i < n_ops; ++i) {
    // prefer recent values so the DAG is deep as well as wide
    const size_t recent = std::min<size_t>(pool.size(), 12);
    Tensor a = pool[pool.size() - 1 - pick(recent)], b = pool[pick(pool.size())];
    Tensor y;
    switch (pick(8)) {
      case 0: y = ebm::tanh(a + b); break;
      case 1: y = sigmoid(a * b); break;
      case 2: y = ebm::tanh(matmul(a, w)); break;
      case 3: y = a - sum(b, 1) * 0.1f; break;
      case 4: y = bernoulli(sigmoid(a)); break;
      case 5: y = softplus(a) - b; break;
      case 6: y = ebm::tanh(a + mean(b, 0)); break;
      default: y = softmax(a) * 3.0f; break;
    }
    pool.push_back(y);
  }
  std::vector<Tensor> targets;
  for (int k = 0; k < 6; ++k) targets.push_back(pool[pool.size() - 1 - pick(pool.size() / 2)]);
  targets.push_back(sum(pool.back()));
  return targets;
}

}  // namespace

TEST_CASE("graph: a shape mismatch names the op, both nodes and both shapes") {
  Graph g;
  Tensor x = g.input("x", {3, 4});
  Tensor b = g.param("bias", {1, 5});
  CHECK_THROWS_WITH_AS(x + b, doctest::Contains("add: cannot take 'x' [3, 4], 'bias' [1, 5]"), Error);
  // a column with a row gives their outer shape, as the message says
  const Tensor col = g.param("col", {3, 1}, 2.0f), row = g.param("row", {1, 5}, 0.5f);
  CHECK((col * row).shape() == Shape{3, 5});
  CHECK_THROWS_WITH_AS(x * g.param("three", {3, 2}), doctest::Contains("each size equal, or 1 on one side"), Error);
  Tensor w = g.param("w", {5, 2});
  CHECK_THROWS_WITH_AS(matmul(x, w), doctest::Contains("'x' [3, 4], 'w' [5, 2]; expected inner dimensions"), Error);
  CHECK_THROWS_WITH_AS(sum(x, 2), doctest::Contains("axis"), Error);
  CHECK_THROWS_AS(g.param("bad", {0, 3}), Error);
  CHECK_THROWS_WITH_AS(slice(x, 1, 4, 0, 2), doctest::Contains("slice: cannot take 'x' [3, 4]; expected a non-empty "
                                                                "window [1:4, 0:2] inside the input's 3 rows and 4 columns"),
                       Error);
  CHECK_THROWS_WITH_AS(slice_cols(x, 2, 2), doctest::Contains("non-empty window [0:3, 2:2]"), Error);
  CHECK_THROWS_WITH_AS(pad(x, {3, 5}, 0, 2), doctest::Contains("an input that fits in 3 rows and 5 columns from row 0, column 2"),
                       Error);
  CHECK_THROWS_WITH_AS(concat({x, b}), doctest::Contains("'x' [3, 4], 'bias' [1, 5]; expected inputs with equal row counts"),
                       Error);
  CHECK_THROWS_WITH_AS(concat({x, b}, 0), doctest::Contains("expected inputs with equal column counts"), Error);
  CHECK_THROWS_WITH_AS(concat({x, x}, 2), doctest::Contains("axis 0 (stacked) or 1 (side by side), not 2"), Error);
  CHECK_THROWS_WITH_AS(concat(std::span<const Tensor>{}), doctest::Contains("concat: needs at least one input"), Error);
  CHECK(concat({x, x, x, x, x, x, x}, 0).shape() == Shape{21, 4});
}

TEST_CASE("graph: a trainable parameter's name is refused when the graph already has it") {
  Graph g;
  Tensor w = g.param("rbm.W", {3, 2});
  CHECK_THROWS_WITH_AS(g.param("rbm.W", {3, 2}),
                       doctest::Contains("param 'rbm.W': this graph already has a trainable parameter of that name (node #0)"),
                       Error);
  Tensor v = g.param("rbm.v", {3, 2});
  CHECK_THROWS_WITH_AS(g.rename(v, "rbm.W"), doctest::Contains("param 'rbm.W'"), Error);
  CHECK(v.name() == "rbm.v");
  g.rename(w, "rbm.W");  // its own name again
  g.rename(v, "rbm.V");
  CHECK(v.name() == "rbm.V");
  // State that is not trained may repeat a name (two optimizers over one
  // model each keep a "<param>.velocity"), and unnamed parameters are apart.
  g.param("rbm.W.velocity", {3, 2}, 0.0f, false);
  g.param("rbm.W.velocity", {3, 2}, 0.0f, false);
  g.param("", {1, 2});
  g.param("", {1, 2});
  CHECK_THROWS_AS(g.param("rbm.V", {1, 1}), Error);
  CHECK(g.params().size() == 4);
}

TEST_CASE("executor: feeding errors name the input and the shapes") {
  Graph g;
  Tensor x = g.input("x", {2, 3});
  Tensor y = sigmoid(x);
  Executor ex(g, {.threads = 2});
  CHECK_THROWS_WITH_AS(ex.value(y), doctest::Contains("'sigmoid#1' has no value yet: this executor has not run"), Error);
  CHECK_THROWS_WITH_AS(ex.run({y}), doctest::Contains("input 'x' of shape [2, 3] was not fed"), Error);
  std::vector<float> five(5, 0.0f), six(6, 0.5f);
  CHECK_THROWS_WITH_AS(ex.run({y}, {{x, five}}), doctest::Contains("'x' was fed 5 floats; expected 6 for shape [2, 3]"),
                       Error);
  CHECK_THROWS_WITH_AS(ex.run({y}, {{y, six}}), doctest::Contains("not an input"), Error);
  ex.run({y}, {{x, six}});
  CHECK(ex.value(y)[0] == doctest::Approx(1.0 / (1.0 + std::exp(-0.5))));
  CHECK_THROWS_WITH_AS(ex.value(x + 1.0f), doctest::Contains("was not a target"), Error);
}

TEST_CASE("executor: the numerics check names the first node that produced NaN") {
  Graph g;
  Tensor x = g.param("x", {2, 2}, -1.0f);
  Tensor bad = ebm::log(x);
  g.rename(bad, "log_of_negative");
  Tensor y = sum(ebm::exp(bad) + 1.0f);
  for (bool parallel : {false, true}) {
    Executor ex(g, {.threads = 2, .parallel = parallel, .check_numerics = true});
    CHECK_THROWS_WITH_AS(ex.run({y}), doctest::Contains("'log_of_negative' (log [2, 2]) produced NaN"), Error);
  }
  Executor quiet(g, {.threads = 2});
  CHECK_NOTHROW(quiet.run({y}));
  // With x's SGD step in the same run, the NaN reaches x by its update;
  // the check still names the node, not x.
  const std::vector<Tensor> xs{x}, gx = grad(y, xs);
  const Optimizer opt = sgd(xs, gx, {.lr = 0.1f});
  for (bool parallel : {false, true}) {
    std::ranges::fill(g.value(x), -1.0f);
    Executor ex(g, {.threads = 2, .parallel = parallel, .check_numerics = true});
    CHECK_THROWS_WITH_AS(ex.run({y, opt.step}), doctest::Contains("'log_of_negative' (log [2, 2]) produced NaN"), Error);
    CHECK(std::isnan(g.value(x)[0]));  // the update did write it
  }
}

TEST_CASE("executor: the numerics check names a fed batch or a parameter that already held NaN or Inf") {
  Graph g;
  Tensor v = g.input("batch", {3, 4});
  Tensor w = g.param("weights", {4, 2}, 0.5f);
  Tensor y = sum(sigmoid(matmul(v, w)));
  std::vector<float> data(12, 1.0f);
  for (bool parallel : {false, true}) {
    Executor ex(g, {.threads = 2, .parallel = parallel, .check_numerics = true});
    CHECK_NOTHROW(ex.run({y}, {{v, data}}));
    data[6] = std::numeric_limits<float>::quiet_NaN();  // row 1, column 2
    CHECK_THROWS_WITH_AS(ex.run({y}, {{v, data}}), doctest::Contains("input 'batch' was fed nan at [1, 2] at step 1"),
                         Error);
    data[6] = 1.0f;
    g.value(w)[5] = std::numeric_limits<float>::infinity();  // row 2, column 1
    CHECK_THROWS_WITH_AS(ex.run({y}, {{v, data}}), doctest::Contains("parameter 'weights' holds inf at [2, 1]"),
                         Error);
    g.value(w)[5] = 0.5f;
    CHECK_NOTHROW(ex.run({y}, {{v, data}}));  // nothing is left over from the failed runs
  }
}

TEST_CASE("scheduler: chain, diamond and fan-out give the same values serially and in parallel") {
  Graph g;
  Tensor x = g.param("x", {64, 32});
  fill(g, x, 1.0f);
  Tensor chain = x;
  for (int i = 0; i < 200; ++i) chain = ebm::tanh(chain * 1.01f + 0.01f);
  Tensor left = sigmoid(x), right = ebm::tanh(x);
  Tensor diamond = left * right + left;
  std::vector<Tensor> fan;
  for (int i = 0; i < 50; ++i) fan.push_back(sum(x * static_cast<float>(i), 1));
  Tensor gathered = fan[0];
  for (int i = 1; i < 50; ++i) gathered = gathered + fan[static_cast<size_t>(i)];
  const std::vector<Tensor> targets{chain, diamond, gathered};
  auto ref = run_values(g, targets, {.parallel = false}, 3);
  for (int threads : {1, 2, 4})
    for (bool fuse : {false, true}) {
      CAPTURE(threads);
      CAPTURE(fuse);
      CHECK(run_values(g, targets, {.threads = threads, .fuse = fuse}, 3) == ref);
    }
}

TEST_CASE("scheduler: random DAGs of hundreds of nodes are bitwise equal on 1, 2 and 4 threads") {
  for (uint32_t seed : {1u, 2u, 3u}) {
    Graph g;
    auto targets = random_dag(g, 300, seed);
    CHECK(g.size() > 400);
    auto ref = run_values(g, targets, {.seed = 5, .parallel = false}, 4);
    for (int threads : {1, 2, 4}) {
      CAPTURE(seed);
      CAPTURE(threads);
      CHECK(run_values(g, targets, {.threads = threads, .seed = 5}, 4) == ref);
      CHECK(run_values(g, targets, {.threads = threads, .seed = 5, .fuse = false, .reuse_buffers = false}, 4) == ref);
    }
    CHECK(run_values(g, targets, {.seed = 6, .parallel = false}, 4) != ref);  // the seed matters
  }
}

TEST_CASE("executor: ebm::gemm and CBLAS tiles give the same products to float rounding") {
  Graph g;
  const Tensor a = g.param("a", {300, 131}), b = g.param("b", {517, 131}), bias = g.param("bias", {1, 517});
  for (Tensor t : {a, b, bias}) fill_uniform(g.value(t), -1.0f, 1.0f, 11, static_cast<uint64_t>(t.id));
  const Tensor y = affine(a, b, bias, true), z = matmul_sum(a, y, a, y, {.ta = true});  // [131 x 517]
  const std::vector<Tensor> targets{y, z};
  const auto ours = run_values(g, targets, {.threads = 2, .gemm = GemmBackend::ebm}, 1);
  const auto theirs = run_values(g, targets, {.threads = 2, .gemm = GemmBackend::cblas}, 1);
  for (size_t t = 0; t < ours.size(); ++t) {
    float worst = 0.0f, scale = 0.0f;
    for (size_t i = 0; i < ours[t].size(); ++i) {
      worst = std::max(worst, std::abs(ours[t][i] - theirs[t][i]));
      scale = std::max(scale, std::abs(theirs[t][i]));
    }
    CAPTURE(t);
    CHECK(worst <= 1e-5f * scale);
    CHECK(scale > 1.0f);
  }
}

TEST_CASE("executor: work run alongside a step runs once and changes nothing") {
  Graph g;
  const Tensor x = g.input("x", {64, 48});
  const Tensor w = g.param("w", {48, 40});
  fill_uniform(g.value(w), -1.0f, 1.0f, 2, 1);
  const Tensor y = sum(sigmoid_bernoulli(matmul(x, w)), 1);
  std::vector<float> xs(64 * 48), next(64 * 48, 0.0f);
  fill_uniform(xs, 0.0f, 1.0f, 2, 2);
  for (bool parallel : {false, true}) {
    CAPTURE(parallel);
    Executor plain(g, {.threads = 2, .seed = 4, .parallel = parallel}), beside(g, {.threads = 2, .seed = 4, .parallel = parallel});
    int calls = 0;
    auto prepare = [&] {
      ++calls;
      std::copy(xs.begin(), xs.end(), next.begin());  // the next batch, into its own buffer
    };
    for (int step = 0; step < 3; ++step) {
      plain.run({y}, {{x, xs}});
      const std::vector<float> want(plain.value(y).begin(), plain.value(y).end());
      const Feed feeds[] = {{x, xs}};
      const Tensor targets[] = {y};
      beside.run(targets, feeds, prepare);
      CHECK(std::vector<float>(beside.value(y).begin(), beside.value(y).end()) == want);
    }
    CHECK(calls == 3);
    CHECK(next == xs);
    beside.run({y}, {{x, xs}}, prepare);  // the braced form takes it too
    CHECK(calls == 4);
  }
}

TEST_CASE("graph: a number divided by a tensor, element by element") {
  Graph g;
  const Tensor x = g.input("x", {2, 3});
  const Tensor y = 2.0f / x, z = 1.0f / (x + 1.0f);
  const std::vector<float> xs{1, 2, 4, -0.5f, 8, 0.25f};
  Executor ex(g, {.threads = 2});
  ex.run({y, z}, {{x, xs}});
  for (size_t i = 0; i < xs.size(); ++i) {
    CHECK(ex.value(y)[i] == doctest::Approx(2.0 / xs[i]).epsilon(1e-6));
    CHECK(ex.value(z)[i] == doctest::Approx(1.0 / (xs[i] + 1.0)).epsilon(1e-6));
  }
}

TEST_CASE("executor: more threads than the machine has raise oneTBB's worker cap, and a smaller count keeps it") {
  const auto cap = [] {
    return static_cast<int>(tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism));
  };
  const int want = static_cast<int>(std::thread::hardware_concurrency()) + 2;
  REQUIRE(want <= max_executor_threads());
  Graph g;
  const Tensor x = g.input("x", {256, 256});
  const Tensor y = sum(sigmoid(x), 1);
  std::vector<float> xs(256 * 256, 0.5f);
  Executor many(g, {.threads = want});
  CHECK(cap() >= want);
  Executor one(g, {.threads = 1});
  CHECK(cap() >= want);
  many.run({y}, {{x, xs}});
  one.run({y}, {{x, xs}});
  CHECK(std::vector<float>(many.value(y).begin(), many.value(y).end()) ==
        std::vector<float>(one.value(y).begin(), one.value(y).end()));
}

TEST_CASE("executor: buffers are shared by liveness") {
  Graph g;
  Tensor x = g.param("x", {100, 100});
  Tensor y = x;
  for (int i = 0; i < 50; ++i) y = matmul(y, x);  // no fusion possible
  Executor ex(g, {.threads = 2});
  const Tensor targets[] = {y};
  PlanStats s = ex.stats(targets);
  CHECK(s.tasks == 50);
  CHECK(ex.stats({y}).tasks == 50);  // a braced list too
  CHECK(s.unshared_bytes == 50 * 100 * 100 * 4);
  CHECK(s.arena_bytes <= 3 * 100 * 100 * 4);
}

TEST_CASE("executor: an update runs after every reader of the parameter it writes, and a second writer in the run is refused") {
  Graph g;
  Tensor x = g.input("x", {4, 3});
  Tensor w = g.param("w", {3, 2});
  fill(g, w, 0.7f);
  Tensor loss = mean(square(matmul(x, w)));
  auto grads = grad(loss, {w});
  const Tensor params[] = {w};
  Optimizer opt = sgd(params, grads, {.lr = 0.5f});
  auto xs = iota_values({4, 3}, 1.0f);
  for (bool parallel : {false, true}) {
    Graph& gg = g;
    fill(gg, w, 0.7f);
    std::fill(gg.value(opt.state[0]).begin(), gg.value(opt.state[0]).end(), 0.0f);
    Executor ex(g, {.threads = 2, .parallel = parallel});
    for (int step = 0; step < 20; ++step) {
      ex.run({loss}, {{x, xs}});
      const float before = ex.scalar(loss);
      ex.run({loss, opt.step}, {{x, xs}});
      CHECK(ex.scalar(loss) == before);  // computed from the weights before this step
    }
    // So a second writer in the run would start from w before it too, and undo the first: refused, naming both.
    const Tensor plus = assign(w, w + 1.0f), times = assign(w, w * 10.0f);
    fill(gg, w, 0.7f);
    CHECK_THROWS_WITH_AS(ex.run({plus, times}),
                         doctest::Contains("parameter 'w' is written by two ops of one run, assign"), Error);
    CHECK_THROWS_WITH_AS(ex.run({opt.step, times}, {{x, xs}}), doctest::Contains("expected one writer per parameter"),
                         Error);
    const float w1 = gg.value(w)[1];
    CHECK(w1 == iota_values({3, 2}, 0.7f)[1]);  // refused at compiling: nothing ran
    ex.run({plus});                              // one writer a run is fine
    ex.run({times});
    CHECK(gg.value(w)[1] == doctest::Approx((w1 + 1.0f) * 10.0f));
  }
}

TEST_CASE("executor: assign writes a persistent state after its readers") {
  Graph g;
  Tensor s = g.param("state", {1, 4}, 1.0f, false);
  Tensor next = s * 2.0f;
  Tensor upd = assign(s, next);
  Executor ex(g, {.threads = 2});
  for (int i = 1; i <= 5; ++i) {
    ex.run({next, upd});
    CHECK(ex.value(next)[0] == static_cast<float>(1 << i));
  }
  CHECK(g.value(s)[3] == 32.0f);
  Tensor in = g.input("in", {1, 4});
  CHECK_THROWS_WITH_AS(ex.run({assign(in, next)}, {}), doctest::Contains("not a parameter"), Error);
}

TEST_CASE("rng: samples depend on seed, node, step and element only") {
  Graph g;
  Tensor p = g.param("p", {256, 256}, 0.3f);
  Tensor h = bernoulli(p), z = gaussian(p, 2.0f);
  const std::vector<Tensor> targets{h, z};
  auto ref = run_values(g, targets, {.seed = 9, .parallel = false}, 2);
  CHECK(run_values(g, targets, {.threads = 4, .seed = 9}, 2) == ref);
  CHECK(ref[0] != ref[2]);  // a new step draws new bits
  double mean_h = 0, mean_z = 0, var_z = 0;
  for (float v : ref[0]) mean_h += v;
  for (float v : ref[1]) mean_z += v;
  mean_h /= 65536.0, mean_z /= 65536.0;
  for (float v : ref[1]) var_z += (v - mean_z) * (v - mean_z);
  var_z /= 65536.0;
  CHECK(std::abs(mean_h - 0.3) < 0.008);  // sd of the mean is 0.0018
  CHECK(std::abs(mean_z - 0.3) < 0.04);   // sd of the mean is 2 / 256 = 0.0078
  CHECK(var_z == doctest::Approx(4.0).epsilon(0.03));
}

TEST_CASE("rng: uniform draws pass a chi-square test and neighbours are uncorrelated") {
  const RngKey key = make_rng_key(3, 17, 5);
  constexpr int bins = 64, n = 1 << 20;
  std::vector<int> count(bins, 0);
  double corr = 0;
  float prev = uniform01(key, 0);
  for (uint32_t i = 0; i < n; ++i) {
    const float u = uniform01(key, i);
    ++count[static_cast<size_t>(u * bins)];
    if (i) corr += (u - 0.5) * (prev - 0.5);
    prev = u;
  }
  double chi2 = 0;
  for (int c : count) chi2 += (c - n / double(bins)) * (c - n / double(bins)) / (n / double(bins));
  CHECK(chi2 < 110.0);  // 63 degrees of freedom: p < 0.0002 above this
  CHECK(std::abs(corr / n) < 0.001);  // sd of the estimate is 0.00008
}

TEST_CASE("graph: dump_dot draws nodes and edges") {
  Graph g;
  Tensor x = g.input("visible", {2, 3});
  Tensor w = g.param("weights", {3, 4});
  Tensor h = sigmoid(matmul(x, w));
  const Tensor targets[] = {h};
  const std::string dot = g.dump_dot(targets);
  CHECK(g.dump_dot({h}) == dot);  // a braced list too
  CHECK(dot.find("digraph") == 0);
  CHECK(dot.find("visible") != std::string::npos);
  CHECK(dot.find("n0 -> n2") != std::string::npos);
  CHECK(dot.find("sigmoid") != std::string::npos);
}

// The sampling ops' forward against a plain loop over the documented
// generator: key = make_rng_key(seed, node, step), counter = element index
// (Box-Muller on counters 2i, 2i+1 for gaussian; the row index for categorical).
TEST_CASE("ops/sampling: bernoulli, sigmoid_bernoulli, categorical and gaussian equal a plain loop over the generator") {
  const uint64_t seed = 21, step = 0;
  Graph g;
  Tensor x = g.param("x", {7, 13});
  fill(g, x, 2.0f);
  Tensor p = sigmoid(x);
  Tensor hb = bernoulli(p), hs = sigmoid_bernoulli(x), hc = categorical(softmax(x)), hg = gaussian(x, 0.5f);
  Executor ex(g, {.threads = 2, .seed = seed});
  ex.run({p, hb, hs, hc, hg});
  const auto xs = g.value(x);
  const auto ps = ex.value(p);
  auto key = [&](Tensor t) { return make_rng_key(seed, static_cast<uint64_t>(t.id), step); };
  for (uint32_t i = 0; i < 91; ++i) {
    const double sig = 1.0 / (1.0 + std::exp(-double(xs[i])));
    CHECK(ex.value(hb)[i] == (uniform01(key(hb), i) < ps[i] ? 1.0f : 0.0f));
    const float u = uniform01(key(hs), i);
    if (std::abs(u - sig) > 1e-6) CHECK(ex.value(hs)[i] == (u < sig ? 1.0f : 0.0f));
    const double u1 = 1.0 - uniform01(key(hg), 2 * i), u2 = uniform01(key(hg), 2 * i + 1);
    const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.14159265358979 * u2);
    CHECK(ex.value(hg)[i] == doctest::Approx(xs[i] + 0.5 * z).epsilon(1e-5));
  }
  for (uint32_t r = 0; r < 7; ++r) {  // categorical: the first j whose cumulative probability exceeds u
    double m = -1e300, s = 0, acc = 0;
    for (int j = 0; j < 13; ++j) m = std::max(m, double(xs[r * 13 + j]));
    for (int j = 0; j < 13; ++j) s += std::exp(xs[r * 13 + j] - m);
    const double u = uniform01(key(hc), r);
    int pick = 12;
    for (int j = 0; j < 13; ++j) {
      acc += std::exp(xs[r * 13 + j] - m) / s;
      if (u < acc) {
        pick = j;
        break;
      }
    }
    for (int j = 0; j < 13; ++j) CHECK(ex.value(hc)[r * 13 + j] == (j == pick ? 1.0f : 0.0f));
  }
}

TEST_CASE("ops/sampling: bernoulli never fires at a probability of 0 or below and always at 1 or above") {
  const std::vector<float> q{0.0f, 1.0f, -0.5f, 1.5f, 0.0f, 1.0f, -1e30f, 1e30f};
  Graph g;
  Tensor p = g.param("p", {64, 8});
  for (size_t i = 0; i < 64 * q.size(); ++i) g.value(p)[i] = q[i % q.size()];
  Tensor h = bernoulli(p);
  Executor ex(g, {.threads = 2, .seed = 3});
  ex.run({h});
  for (size_t i = 0; i < 64 * q.size(); ++i) {
    CAPTURE(i);
    CHECK(ex.value(h)[i] == (q[i % q.size()] > 0.5f ? 1.0f : 0.0f));
  }
}

// multinomial: row r draws with the key {bits(2r), bits(2r + 1)} of the
// op's key, draw d on counter d, each the first j whose cumulative weight
// exceeds u times the row's total; rows keep their number of draws. A count
// below 0.5, negative or NaN draws nothing.
TEST_CASE("ops/sampling: multinomial equals a plain loop over the generator and keeps each row's count") {
  const uint64_t seed = 5;
  Graph g;
  Tensor x = g.param("x", {7, 11});
  fill(g, x, 1.5f);
  Tensor d = g.param("d", {7, 1});
  const float counts[] = {0, 1, 7, 40, 2.6f, -3, std::nanf("")};
  std::copy(std::begin(counts), std::end(counts), g.value(d).begin());
  Tensor p = softmax(x), y = multinomial(p, d);
  Executor ex(g, {.threads = 2, .seed = seed});
  ex.run({p, y});
  const RngKey key = make_rng_key(seed, static_cast<uint64_t>(y.id), 0);
  for (uint32_t r = 0; r < 7; ++r) {
    const auto ps = ex.value(p).subspan(r * 11, 11);
    std::vector<double> cdf;
    double acc = 0;
    for (float v : ps) cdf.push_back(acc += v);
    std::vector<float> want(11, 0.0f);
    const RngKey rk{random_bits<uint32_t>(key, 2 * r), random_bits<uint32_t>(key, 2 * r + 1)};
    const int draws = !(counts[r] >= 0.5f) ? 0 : static_cast<int>(std::lround(counts[r]));
    for (int k = 0; k < draws; ++k) {
      const double u = uniform01(rk, static_cast<uint32_t>(k)) * acc;
      int j = 0;
      while (j < 10 && !(u < cdf[static_cast<size_t>(j)])) ++j;
      want[static_cast<size_t>(j)] += 1.0f;
    }
    const auto got = ex.value(y).subspan(r * 11, 11);
    CAPTURE(r);
    CHECK(std::equal(got.begin(), got.end(), want.begin()));
    CHECK(std::accumulate(got.begin(), got.end(), 0.0f) == static_cast<float>(draws));
  }
  Tensor bad = g.param("bad", {7, 2});
  CHECK_THROWS_WITH_AS(multinomial(p, bad), doctest::Contains("trials of shape [7, 1]"), Error);
}

TEST_CASE("rng: multinomial draws are the same serial and on 4 threads, and new each step") {
  Graph g;
  Tensor x = g.param("x", {256, 40});
  fill(g, x, 1.0f);
  Tensor d = g.param("d", {256, 1}, 30.0f);
  const std::vector<Tensor> targets{multinomial(softmax(x), d)};
  const auto ref = run_values(g, targets, {.seed = 4, .parallel = false}, 2);
  CHECK(run_values(g, targets, {.threads = 4, .seed = 4}, 2) == ref);
  CHECK(ref[0] != ref[1]);
}

// poisson: element i draws with the key {bits(2i), bits(2i + 1)} of the op's
// key; at a rate under 10, the first k whose cumulative probability exceeds
// the uniform on counter 0.
TEST_CASE("ops/sampling: poisson at rates under 10 equals a plain inversion loop over the generator") {
  const uint64_t seed = 6;
  Graph g;
  Tensor rate = g.param("rate", {9, 8});
  auto rv = g.value(rate);
  for (size_t i = 0; i < rv.size(); ++i) rv[i] = static_cast<float>(i % 12) * 0.83f;  // 0 .. 9.13
  Tensor y = poisson(rate);
  Executor ex(g, {.threads = 2, .seed = seed});
  ex.run({y});
  const RngKey key = make_rng_key(seed, static_cast<uint64_t>(y.id), 0);
  for (uint32_t i = 0; i < rv.size(); ++i) {
    const RngKey ek{random_bits<uint32_t>(key, 2 * i), random_bits<uint32_t>(key, 2 * i + 1)};
    const double u = uniform01(ek, 0), lambda = rv[i];
    double p = std::exp(-lambda), cdf = p;
    int k = 0;
    while (u >= cdf) {
      ++k;
      p *= lambda / k;
      cdf += p;
    }
    CAPTURE(i);
    CAPTURE(lambda);
    CHECK(ex.value(y)[i] == static_cast<float>(k));
  }
}

TEST_CASE("ops/sampling: poisson draws follow the Poisson law on both sides of rate 10 (chi-square at a fixed seed)") {
  const float rates[] = {0.3f, 4.0f, 9.9f, 10.0f, 27.5f, 300.0f, 5000.0f};
  const int64_t n = 6000;  // draws per rate
  Graph g;
  Tensor rate = g.param("rate", {7, n});
  for (int64_t r = 0; r < 7; ++r) std::fill_n(g.value(rate).begin() + r * n, n, rates[r]);
  Tensor y = poisson(rate);
  Executor ex(g, {.threads = 2, .seed = 21});
  ex.run({y});
  for (int64_t r = 0; r < 7; ++r) {
    const double lambda = rates[r];
    CAPTURE(lambda);
    std::map<int64_t, double> seen;
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float v = ex.value(y)[static_cast<size_t>(r * n + i)];
      REQUIRE(v == std::floor(v));
      REQUIRE(v >= 0.0f);
      seen[static_cast<int64_t>(v)] += 1;
      sum += v;
      sq += double(v) * v;
    }
    const double mean = sum / n, var = sq / n - mean * mean;
    CHECK(std::abs(mean - lambda) < 4 * std::sqrt(lambda / n));
    CHECK(var == doctest::Approx(lambda).epsilon(0.08));
    // bins of consecutive counts, each expecting at least 20 draws; the last takes the upper tail
    double chi2 = 0, want = 0, got = 0, below = 0;
    int bins = 0;
    for (int64_t k = 0;; ++k) {
      const double pk = std::exp(k * std::log(lambda) - lambda - std::lgamma(k + 1.0));
      want += n * pk;
      got += seen.count(k) ? seen[k] : 0.0;
      below += pk;
      const bool last = n * (1 - below) < 20;
      if (want >= 20 || last) {
        if (last) {  // the tail beyond k joins this bin
          want += n * std::max(0.0, 1 - below);
          for (auto it = seen.upper_bound(k); it != seen.end(); ++it) got += it->second;
        }
        chi2 += (got - want) * (got - want) / want;
        ++bins;
        want = got = 0;
        if (last) break;
      }
    }
    // the critical value at p = 0.001 for bins - 1 degrees of freedom (Wilson and Hilferty's approximation)
    const double df = bins - 1, a = 2 / (9 * df), crit = df * std::pow(1 - a + 3.09 * std::sqrt(a), 3);
    CAPTURE(bins);
    CHECK(chi2 < crit);
  }
}

TEST_CASE("ops/sampling: poisson draws 0 at rate 0, refuses a negative, NaN, infinite or huge rate, and is the same on 4 threads") {
  {
    Graph g;
    Tensor rate = g.param("rate", {3, 50}, 0.0f);
    Tensor y = poisson(rate);
    Executor ex(g, {.threads = 2});
    ex.run({y});
    CHECK(std::ranges::all_of(ex.value(y), [](float v) { return v == 0.0f; }));
  }
  for (const float bad : {-1.0f, std::nanf(""), std::numeric_limits<float>::infinity(), 5e6f}) {
    CAPTURE(bad);
    Graph g;
    Tensor rate = g.param("rate", {2, 3}, 1.0f);
    g.value(rate)[4] = bad;
    Tensor y = poisson(rate);
    Executor ex(g, {.threads = 1});
    CHECK_THROWS_WITH_AS(ex.run({y}), doctest::Contains("poisson: element (1, 1) has rate"), Error);
  }
  Graph g;
  Tensor rate = g.param("rate", {64, 40});
  auto rv = g.value(rate);
  for (size_t i = 0; i < rv.size(); ++i) rv[i] = static_cast<float>(i % 37) * 1.3f;  // both algorithms
  const std::vector<Tensor> targets{poisson(rate)};
  const auto ref = run_values(g, targets, {.seed = 4, .parallel = false}, 2);
  CHECK(run_values(g, targets, {.threads = 4, .seed = 4}, 2) == ref);
  CHECK(ref[0] != ref[1]);
}

TEST_CASE("ops/sampling: multinomial counts follow the row's probabilities (chi-square at a fixed seed)") {
  Graph g;
  Tensor logits = g.param("logits", {200, 5});
  const float l[] = {0.0f, 1.0f, -1.0f, 0.5f, 2.0f};
  auto lv = g.value(logits);
  for (size_t i = 0; i < lv.size(); ++i) lv[i] = l[i % 5];
  Tensor d = g.param("d", {200, 1}, 50.0f);
  Tensor p = softmax(logits), y = multinomial(p, d);
  Executor ex(g, {.threads = 2, .seed = 17});
  ex.run({p, y});
  std::vector<double> total(5, 0.0);
  for (size_t i = 0; i < 1000; ++i) total[i % 5] += ex.value(y)[i];
  double chi2 = 0;
  for (size_t j = 0; j < 5; ++j) {
    const double want = 200.0 * 50.0 * ex.value(p)[j];
    chi2 += (total[j] - want) * (total[j] - want) / want;
  }
  CHECK(chi2 < 18.47);  // 4 degrees of freedom: p = 0.001
}

