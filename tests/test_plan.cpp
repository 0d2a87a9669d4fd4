// Plan fusions and rewrites (GEMM epilogues, SGD updates on a GEMM's
// tiles, sums of products, skipped stop_gradients) and the executor's cache
// of packed parameters: each checked bit for bit against the unfused,
// uncached run.

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "autodiff/grad.hpp"
#include "autodiff/optim.hpp"
#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "graph/plan.hpp"
#include "tests/run_values.hpp"

using namespace ebm;
using test::run_values;

namespace {

// The targets' values over two runs, fused (serial and parallel, one and two
// threads, with and without tile outputs) against the unfused serial plan.
void check_same_bits_as_unfused(Graph& g, const std::vector<Tensor>& targets, uint64_t seed) {
  const auto ref = run_values(g, targets, {.seed = seed, .parallel = false, .fuse = false}, 2);
  for (bool parallel : {false, true})
    for (int threads : {1, 2}) {
      CAPTURE(parallel);
      CAPTURE(threads);
      CHECK(run_values(g, targets, {.threads = threads, .seed = seed, .parallel = parallel}, 2) == ref);
    }
  CHECK(run_values(g, targets, {.threads = 2, .seed = seed, .tile_outputs = false}, 2) == ref);
}

}  // namespace

TEST_CASE("plan: element-wise consumers of a GEMM run on its output tiles, with the same bits") {
  Graph g;
  const Tensor x = g.param("x", {300, 200}), w = g.param("w", {200, 517}), b = g.param("b", {1, 517});
  const Tensor col = g.param("col", {300, 1});
  for (Tensor t : {x, w, b, col}) fill_uniform(g.value(t), -1.0f, 1.0f, 7, static_cast<uint64_t>(t.id));
  const Tensor a = affine(x, w, b);  // a 2 x 3 grid of tiles with ragged edges
  const Tensor h = sigmoid_bernoulli(a);  // random: counters by element, never by tile
  const Tensor d = apply(SoftplusGrad{}, {a, col});  // a broadcast column
  const Tensor s = stop_gradient(h) * 2.0f + gaussian(a, 0.5f);
  const Tensor wide = a * broadcast_to(sum(a, 1), a.shape());  // needs all of a: must stay outside
  const Tensor r = relu(matmul(x, w, {.tb = false}) - b);
  const Tensor back = apply(SigmoidGrad{}, {col * 0.5f + 0.25f, matmul(x, w)});  // a backprop step: the product
  const Tensor ret = matmul(x, w, {.tb = false}) * 3.0f - b;                   // lives in tile buffers only
  const Tensor m2 = matmul(x, w);
  const Tensor sq = m2 * m2;  // one op reading the product twice: stays stored
  const std::vector<Tensor> targets{h, d, s, wide, r, back, ret, sq};
  check_same_bits_as_unfused(g, targets, 3);
  // back's product and r's are read only by the binary ops on their tiles;
  // a's by softplus_grad and by sampling and scaling, which read whole buffers
  CHECK(Executor(g, {.threads = 2}).stats(targets).tile_outputs == 2);
  const Plan p = compile_plan(g, targets);
  const PlanTask& fused = p.tasks[static_cast<size_t>(p.nodes[static_cast<size_t>(p.find(a.id))].task)];
  CHECK(fused.label.starts_with("fused(affine+sigmoid_bernoulli+softplus_grad+"));
  CHECK(p.nodes[static_cast<size_t>(p.find(h.id))].task == p.nodes[static_cast<size_t>(p.find(s.id))].task);
  CHECK(p.nodes[static_cast<size_t>(p.find(wide.id))].task != p.nodes[static_cast<size_t>(p.find(a.id))].task);
  const Tensor rt = r;
  CHECK(p.tasks[static_cast<size_t>(p.nodes[static_cast<size_t>(p.find(rt.id))].task)].label == "fused(matmul+sub+relu)");
}

TEST_CASE("plan: a sum of two products runs as one matmul_sum, and a stop_gradient as its input, with the same bits") {
  Graph g;
  const Tensor p = g.param("p", {300, 200}), w = g.param("w", {200, 517}), y = g.param("y", {300, 10});
  const Tensor u = g.param("u", {10, 517}), b = g.param("b", {1, 517}), v = g.param("v", {517, 10});
  const Tensor wt = g.param("wt", {517, 200});
  for (Tensor t : {p, w, y, u, b, v, wt}) fill_uniform(g.value(t), -1.0f, 1.0f, 9, static_cast<uint64_t>(t.id));
  const Tensor h = sigmoid_bernoulli(matmul(p, w) + matmul(stop_gradient(y), u) + b);  // the joint model's hidden input
  const Tensor shared = matmul(p, w);  // read twice: must stay a product of its own
  const Tensor kept = shared + matmul(y, u);
  const Tensor twice = shared * 2.0f;
  const Tensor transposed = matmul(h, v, {.tb = false}) + matmul(h, v, {.tb = false});
  const Tensor mixed = matmul(p, w) + matmul(p, wt, {.tb = true});  // two forms: no sum
  const std::vector<Tensor> targets{h, kept, twice, transposed, mixed};
  const auto ref = run_values(g, targets, {.seed = 4, .parallel = false, .fuse = false}, 2);
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    CHECK(run_values(g, targets, {.threads = threads, .seed = 4}, 2) == ref);
  }
  const Plan plan = compile_plan(g, targets);
  auto label_of = [&](Tensor t) { return plan.tasks[static_cast<size_t>(plan.nodes[static_cast<size_t>(plan.find(t.id))].task)].label; };
  CHECK(label_of(h) == "fused(matmul_sum+add+sigmoid_bernoulli)");
  CHECK(label_of(transposed) == "matmul_sum");
  CHECK(label_of(kept).find("matmul_sum") == std::string::npos);
  CHECK(label_of(mixed).find("matmul_sum") == std::string::npos);
  const Plan unfused = compile_plan(g, targets, {.fuse = false});
  int sums = 0;
  for (const PlanTask& t : unfused.tasks) sums += t.label.find("matmul_sum") != std::string::npos;
  CHECK(sums == 0);
  int stops = 0;  // the stop_gradient is never a task, fused or not
  for (const PlanTask& t : unfused.tasks) stops += t.label.find("stop_gradient") != std::string::npos;
  CHECK(stops == 0);
}

TEST_CASE("plan: a sum over the rows of a GEMM's tile values runs on its tiles when they span every row, same bits") {
  Graph g;
  const Tensor x = g.param("x", {100, 200}), w = g.param("w", {200, 517}), y = g.param("y", {100, 517});
  const Tensor tall = g.param("tall", {300, 200}), thin = g.param("thin", {200, 10});
  for (Tensor t : {x, w, y, tall, thin}) fill_uniform(g.value(t), -1.0f, 1.0f, 5, static_cast<uint64_t>(t.id));
  const Tensor back = apply(SigmoidGrad{}, {y, matmul(x, w)});  // a backprop step: the product in tile buffers
  const Tensor bias_grad = sum(back, 0);                        // on each of its three column tiles
  const Tensor a = matmul(x, w, {.tb = false});
  const Tensor direct = sum(a, 0);                        // the product itself, so it is stored
  const Tensor across = sum(a, 1);                        // needs whole rows: stays outside
  const Tensor two_rows = sum(matmul(tall, w), 0);        // two rows of tiles: stays outside
  const Tensor narrow = sum(matmul(x, thin), 0);          // a narrow product's two row tiles: stays outside
  const std::vector<Tensor> targets{back, bias_grad, direct, across, two_rows, narrow};
  check_same_bits_as_unfused(g, targets, 6);
  CHECK(Executor(g, {.threads = 2}).stats(targets).tile_outputs == 1);
  const Plan p = compile_plan(g, targets);
  auto task_of = [&](Tensor t) { return p.nodes[static_cast<size_t>(p.find(t.id))].task; };
  CHECK(p.tasks[static_cast<size_t>(task_of(back))].label == "fused(matmul+sigmoid_grad+sum)");
  CHECK(task_of(bias_grad) == task_of(back));
  CHECK(task_of(direct) == task_of(a));
  CHECK(task_of(across) != task_of(a));
  for (Tensor t : {two_rows, narrow}) CHECK(p.tasks[static_cast<size_t>(task_of(t))].label == "sum");
}

TEST_CASE("plan: a sum or mean along rows ends the element-wise chain that computes its input, same bits") {
  Graph g;
  const Tensor base = g.param("base", {1000, 300}), u = g.param("u", {1, 300}), x = g.param("x", {1000, 40});
  const Tensor w = g.param("w", {40, 300});
  for (Tensor t : {base, u, x, w}) fill_uniform(g.value(t), -3.0f, 3.0f, 9, static_cast<uint64_t>(t.id));
  // A free energy's hidden term, as the joint model scores each label:
  // big enough that the chain's row tiles run on both threads.
  const Tensor free = sum(softplus(base + u), 1);
  const Tensor mean_sq = mean(sigmoid(base) * 2.0f, 1);
  const Tensor shared = softplus(base - u);  // read twice: the sum stays a task of its own
  const Tensor twice = sum(shared, 1) + sum(shared * 0.5f, 1);
  const Tensor tiled = sum(softplus(matmul(x, w)), 1);  // softplus on the GEMM's column tiles: the sum stays outside
  const Tensor total = sum(softplus(base), -1);          // not along rows: stays outside
  const std::vector<Tensor> targets{free, mean_sq, twice, tiled, total};
  check_same_bits_as_unfused(g, targets, 4);
  const Plan p = compile_plan(g, targets);
  auto task = [&](Tensor t) { return p.tasks[static_cast<size_t>(p.nodes[static_cast<size_t>(p.find(t.id))].task)]; };
  CHECK(task(free).label == "fused(add+softplus+sum)");
  CHECK(task(mean_sq).label == "fused(sigmoid+scale+mean)");
  CHECK(task(shared).label == "fused(sub+softplus)");
  CHECK(task(tiled).label == "sum");
  CHECK(task(total).label == "sum");
  // Against a plain loop in double, for every row of the fused sum.
  Executor ex(g, {.threads = 2});
  ex.run(targets);
  const auto bv = g.value(base), uv = g.value(u);
  const auto got = ex.value(free);
  double worst = 0.0;
  for (int64_t r = 0; r < 1000; ++r) {
    double want = 0.0;
    for (int64_t c = 0; c < 300; ++c) {
      const double z = static_cast<double>(bv[static_cast<size_t>(r * 300 + c)]) + uv[static_cast<size_t>(c)];
      want += std::max(z, 0.0) + std::log1p(std::exp(-std::abs(z)));
    }
    worst = std::max(worst, std::abs(got[static_cast<size_t>(r)] - want) / want);
  }
  CHECK(worst < 1e-5);
}

TEST_CASE("executor: a weight several products read is packed once per run, with the same bits") {
  // A CD-2 step: W is read as B by the three up-passes and, transposed, by
  // the two down-passes; the update writes it after all of them.
  Graph g;
  const Tensor v = g.input("v", {100, 300});
  const Tensor w = g.param("w", {300, 200}), b = g.param("b", {1, 300}), c = g.param("c", {1, 200});
  Tensor h = sigmoid_bernoulli(affine(v, w, c)), vk = v;
  for (int i = 0; i < 2; ++i) {
    vk = sigmoid_bernoulli(affine(h, w, b, true));
    h = sigmoid_bernoulli(affine(vk, w, c));
  }
  const Tensor loss = mean(softplus(affine(stop_gradient(vk), w, c))) - mean(softplus(affine(v, w, c)));
  const Tensor params[] = {w};
  const Optimizer opt = sgd(params, grad(loss, params), {.lr = 0.1f, .momentum = 0.5f});
  std::vector<float> xs(100 * 300);
  fill_uniform(xs, 0.0f, 1.0f, 3, 1);
  auto train = [&](ExecutorOptions o) {
    fill_uniform(g.value(w), -0.3f, 0.3f, 3, 2);
    std::ranges::fill(g.value(opt.state[0]), 0.0f);
    Executor ex(g, o);
    for (int step = 0; step < 3; ++step) ex.run({opt.step}, {{v, xs}});
    return std::vector<float>(g.value(w).begin(), g.value(w).end());
  };
  const auto ref = train({.seed = 2, .cache_packs = false});
  CHECK(train({.threads = 1, .seed = 2}) == ref);
  CHECK(train({.threads = 2, .seed = 2}) == ref);
  CHECK(train({.threads = 2, .seed = 2, .tile_outputs = false}) == ref);
  Executor ex(g, {.threads = 2});
  const Tensor targets[] = {opt.step};
  CHECK(ex.stats(targets).shared_b == 6);  // 2 live up-passes, the 2 free energies, the 2 down-passes (as W^T)
  CHECK(ex.stats(targets).row_shared_b == 2);  // W's gradient: 300 rows, two row tiles over each B panel
  // W's gradient (a matmul_sum read only by its update) and the two free
  // energies' affine outputs (read only by the softplus_grad on their tiles)
  CHECK(ex.stats(targets).tile_outputs == 3);
  Executor off(g, {.threads = 2, .cache_packs = false});
  CHECK(off.stats(targets).shared_b == 0);
  CHECK(off.stats(targets).row_shared_b == 0);
}

TEST_CASE("executor: a value several row tiles read as B is packed once per thread, told apart from a later value in its buffer") {
  // d1 and d2 each feed a 300-row product a' d (two row tiles over one B
  // panel); d2 is made after d1's last reader, in d1's buffer, so a cache
  // keyed by address alone would hand d2's product d1's panels.
  Graph g;
  const Tensor a = g.param("a", {50, 300}), x = g.param("x", {50, 40});
  for (Tensor t : {a, x}) fill_uniform(g.value(t), -1.0f, 1.0f, 5, static_cast<uint64_t>(t.id));
  const Tensor d1 = tanh(x);
  const Tensor p1 = matmul(a, d1, {.ta = true});  // [300, 40]
  const Tensor d2 = matmul(a, p1);                // [50, 40], after p1
  const Tensor p2 = matmul(a, d2, {.ta = true});
  const Tensor targets[] = {p2};
  const Plan plan = compile_plan(g, targets);
  CHECK(plan.nodes[static_cast<size_t>(plan.find(d1.id))].offset == plan.nodes[static_cast<size_t>(plan.find(d2.id))].offset);
  const auto ref = run_values(g, targets, {.threads = 2, .seed = 1, .cache_packs = false}, 2);
  CHECK(run_values(g, targets, {.threads = 2, .seed = 1}, 2) == ref);
  CHECK(run_values(g, targets, {.threads = 1, .seed = 1}, 2) == ref);
  CHECK(Executor(g, {.threads = 2}).stats(targets).row_shared_b == 2);
  CHECK(Executor(g, {.threads = 2, .cache_packs = false}).stats(targets).row_shared_b == 0);
}

TEST_CASE("plan: an SGD update runs on the tiles of the GEMM that computes its gradient, with the same bits") {
  Graph g;
  const Tensor x = g.input("x", {300, 200});
  const Tensor w = g.param("w", {200, 517});
  const Tensor y = matmul(x, w);
  const Tensor loss = mean(square(y - 0.5f)) + mean(square(y));
  const Tensor params[] = {w};
  const auto grads = grad(loss, params);
  const Optimizer opt = sgd(params, grads, {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 1e-3f});
  std::vector<float> xs(300 * 200);
  fill_uniform(xs, 0.0f, 1.0f, 3, 1);
  auto train = [&](ExecutorOptions o) {
    fill_uniform(g.value(w), -0.1f, 0.1f, 3, 2);
    std::ranges::fill(g.value(opt.state[0]), 0.0f);
    Executor ex(g, o);
    for (int step = 0; step < 3; ++step) ex.run({loss, opt.step}, {{x, xs}});
    return std::vector<float>(g.value(w).begin(), g.value(w).end());
  };
  const auto ref = train({.parallel = false, .fuse = false});
  CHECK(train({.parallel = false}) == ref);
  CHECK(train({.threads = 2}) == ref);  // the gradient's 1 x 3 tiles in the threads' tile buffers
  CHECK(train({.threads = 1}) == ref);
  CHECK(train({.threads = 2, .tile_outputs = false}) == ref);
  {  // OpenBLAS rounds its sums in another order: the same weights within float tolerance
    const auto other = train({.threads = 2, .gemm = GemmBackend::cblas});
    REQUIRE(other.size() == ref.size());
    for (size_t i = 0; i < ref.size(); ++i) CHECK(other[i] == doctest::Approx(ref[i]).epsilon(1e-4).scale(1e-3));
  }
  // The weights' tiles are claimed for writing while each is computed
  // (gemm::WriteAhead): every line of w at least once a step, and a line
  // two tiles or two rows share twice (at most three a row: 1 x 3 tiles,
  // rows of 2,068 bytes); the same bits.
  gemm::set_write_ahead(true);
  const auto* w_bytes = reinterpret_cast<const char*>(g.value(w).data());
  const auto first = reinterpret_cast<uintptr_t>(w_bytes);
  const auto lines = static_cast<int64_t>(((first + 200 * 517 * 4 - 1) >> 6) - (first >> 6) + 1);
  const int64_t claimed = gemm::claimed_lines();
  CHECK(train({.threads = 2}) == ref);
  const int64_t per_step = (gemm::claimed_lines() - claimed) / 3;
  CHECK(per_step >= lines);
  CHECK(per_step <= lines + 3 * 200);
  gemm::set_write_ahead(false);
  CHECK(train({.threads = 2}) == ref);
  CHECK(gemm::claimed_lines() - claimed == 3 * per_step);  // none while off
  gemm::set_write_ahead(true);
  const Tensor targets[] = {loss, opt.step};
  const Plan p = compile_plan(g, targets);
  int fused_updates = 0;
  for (const PlanTask& t : p.tasks) fused_updates += t.label == "fused(matmul+sgd_update)";
  CHECK(fused_updates == 1);
  // The gradient is stored whole only when something else needs it; else
  // it has no buffer at all.
  CHECK(Executor(g, {.threads = 2}).stats(targets).tile_outputs == 1);
  const Plan tiled = compile_plan(g, targets, {.tile_outputs = true});
  const PlanNode& gn = tiled.nodes[static_cast<size_t>(tiled.find(grads[0].id))];
  CHECK((gn.tile_only && gn.offset == -1));
  CHECK(p.unshared_floats - tiled.unshared_floats == 200 * 517);
  CHECK(Executor(g, {.threads = 2, .tile_outputs = false}).stats(targets).unshared_bytes -
            Executor(g, {.threads = 2}).stats(targets).unshared_bytes ==
        200 * 517 * 4);
  CHECK(Executor(g, {.threads = 2, .tile_outputs = false}).stats(targets).tile_outputs == 0);
  CHECK(Executor(g, {.threads = 2, .check_numerics = true}).stats(targets).tile_outputs == 0);
  CHECK(Executor(g, {.parallel = false}).stats(targets).tile_outputs == 0);
  const Tensor with_grad[] = {loss, opt.step, grads[0]};
  CHECK(Executor(g, {.threads = 2}).stats(with_grad).tile_outputs == 0);
  Executor ex(g, {.threads = 2});
  fill_uniform(g.value(w), -0.1f, 0.1f, 3, 2);
  std::ranges::fill(g.value(opt.state[0]), 0.0f);
  const std::vector<float> w0(g.value(w).begin(), g.value(w).end());
  const Feed feeds[] = {{x, xs}};
  ex.run(with_grad, feeds);
  const auto gw = ex.value(grads[0]);  // the stored gradient is the one the update applied (to an ulp or two)
  const auto w1 = g.value(w);
  int wrong = 0;
  for (size_t i = 0; i < w0.size(); ++i) wrong += std::abs(w1[i] - (w0[i] - 0.1f * (gw[i] + 1e-3f * w0[i]))) > 1e-7f;
  CHECK(wrong == 0);
}


// The profiler's `about`: a task that reads only unnamed values is named by
// the nearest named tasks up its inputs, however many unnamed tasks lie
// between (a Gibbs sweep's slices of slices were left blank).
TEST_CASE("plan: a task reading only unnamed values is named from the nearest named tasks upstream") {
  Graph g;
  const Tensor x = g.param("x", {8, 8});
  const Tensor w = g.input("w", {8, 8});
  const Tensor a = matmul(x, x);          // reads x
  const Tensor b = exp(a);                // one unnamed task away: from x
  const Tensor c = slice_cols(exp(b), 0, 4);  // three away
  const Tensor d = concat({c, slice_cols(w * 2.0f, 0, 4)});  // from x and w
  const Tensor targets[] = {d};
  const Plan plan = compile_plan(g, targets, {.fuse = false});
  auto about_of = [&](Tensor t) {
    return plan.tasks[static_cast<size_t>(plan.nodes[static_cast<size_t>(plan.find(t.id))].task)].about;
  };
  CHECK(about_of(a) == "x");
  CHECK(about_of(b) == "from x");
  CHECK(about_of(c) == "from x");
  CHECK(about_of(d) == "from x, w");
}
