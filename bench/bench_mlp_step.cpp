// bench_mlp_step: one SGD step of a 784-500-500-2000-10 sigmoid MLP (batch
// 100) on ebm::Executor{.threads = 2}, against the same GEMMs called
// directly on OpenBLAS with 2 threads.
//
// The model: h = affine_sigmoid(h, W, b) for the three hidden layers,
// logits = matmul(h, W4) + b4, loss = softmax_xent(logits, one-hot t),
// grads = ebm::grad(loss, params), step = ebm::sgd(params, grads, lr 0.1).
// The GEMMs are read from the compiled plan of `step` (every matmul and
// affine_sigmoid node, with its shapes and transpose flags): 4 forward, 4
// weight gradients dW = h^T g and 3 input gradients dX = g W^T (the first
// layer's input needs none), 11 in all, ~0.92 GFLOP per step.
//
// Figures (medians over kRounds interleaved rounds, each the mean of
// kCallsPerSample calls):
//   step_ms              wall time of executor.run({step}, feeds)
//   gemm_direct_ms       the same 11 cblas_sgemm calls, back to back, with
//                        openblas_set_num_threads(2) (the GEMM work alone:
//                        no sigmoid epilogue, no element-wise ops, no update)
//   gemm_direct_1thread_ms  the same with 1 OpenBLAS thread, for reference
//                        (if it is not clearly above gemm_direct_ms, the
//                        second core was busy elsewhere: rerun)
//   *_gflops             GEMM flops per step divided by those times
//   *_iqr_pct            interquartile range of the samples, % of the
//                        median: above ~10 the machine was busy; rerun
//   gemm_openblas_avx512_ms  the same calls on 2 BLAS threads with OpenBLAS's
//                        AVX-512 kernels forced (a child process with
//                        OPENBLAS_CORETYPE=SkylakeX, bench/gemm_floor.hpp):
//                        on a VM whose CPU OpenBLAS does not recognise, its
//                        own choice of kernel can be 4x slower, which would
//                        flatter the step
//   efficiency_vs_default_kernels  gemm_direct_ms / step_ms
// Then the executor's profile summary (lines starting with "# "), and the
// headline last: efficiency = the faster of gemm_direct_ms and
// gemm_openblas_avx512_ms, over step_ms (1.0 would mean the step costs no
// more than its GEMMs called directly on OpenBLAS with 2 threads and its
// better kernels).
//
// Threads: ebm::Executor's constructor calls openblas_set_num_threads(1),
// because the executor's own 2-thread arena runs GEMM tiles in parallel and
// BLAS must not spawn more threads under it. So every round sets 1 BLAS
// thread before timing the executor and 2 before timing the direct calls,
// and the executors are all constructed before the first round. OpenBLAS's
// idle threads may spin for a while after a call, so, as a precaution, each
// round pauses briefly after the BLAS calls before the executor runs again.

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "autodiff/grad.hpp"
#include "autodiff/optim.hpp"
#include "bench/gemm_floor.hpp"
#include "bench/timing.hpp"
#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/plan.hpp"

namespace {

constexpr int64_t kBatch = 100;
constexpr int64_t kLayers[] = {784, 500, 500, 2000, 10};
constexpr int kRounds = 11;
constexpr int kCallsPerSample = 5;
constexpr int kProfileSteps = 20;
constexpr double kWarmUpSeconds = 0.3;
constexpr double kTargetEfficiency = 0.85;

struct Mlp {
  ebm::Tensor x, t, step;
  std::vector<ebm::Tensor> params;
};

// Glorot-uniform weights, zero biases.
ebm::Tensor weight(ebm::Graph& g, int layer, int64_t in, int64_t out, std::mt19937& rng) {
  const ebm::Tensor w = g.param("W" + std::to_string(layer), {in, out});
  const float r = std::sqrt(6.0f / static_cast<float>(in + out));
  std::uniform_real_distribution<float> u(-r, r);
  for (float& v : g.value(w)) v = u(rng);
  return w;
}

Mlp build_mlp(ebm::Graph& g, std::mt19937& rng) {
  Mlp m;
  m.x = g.input("x", {kBatch, kLayers[0]});
  m.t = g.input("t", {kBatch, kLayers[4]});
  ebm::Tensor h = m.x;
  for (int l = 0; l < 4; ++l) {
    const ebm::Tensor w = weight(g, l + 1, kLayers[l], kLayers[l + 1], rng);
    const ebm::Tensor b = g.param("b" + std::to_string(l + 1), {1, kLayers[l + 1]});
    h = l < 3 ? ebm::affine_sigmoid(h, w, b) : ebm::matmul(h, w) + b;
    m.params.insert(m.params.end(), {w, b});
  }
  const ebm::Tensor loss = ebm::softmax_xent(h, m.t);
  const std::vector<ebm::Tensor> grads = ebm::grad(loss, m.params);
  m.step = ebm::sgd(m.params, grads, {.lr = 0.1f}).step;
  return m;
}

// One GEMM as the executor calls it: C[m,n] = op(A) op(B), row-major.
struct Gemm {
  std::string op;
  int64_t m = 0, n = 0, k = 0;
  bool ta = false, tb = false;
  std::vector<float> a, b, c;

  double flops() const { return 2.0 * static_cast<double>(m * n * k); }
  void run() {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0f, a.data(),
                static_cast<int>(ta ? m : k), b.data(), static_cast<int>(tb ? k : n), 0.0f, c.data(),
                static_cast<int>(n));
  }
};

Gemm make_gemm(std::string op, ebm::Shape sa, ebm::Shape out, bool ta, bool tb, std::mt19937& rng) {
  Gemm gm{std::move(op), out.rows, out.cols, ta ? sa.rows : sa.cols, ta, tb, {}, {}, {}};
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  gm.a.resize(static_cast<size_t>(gm.m * gm.k));
  gm.b.resize(static_cast<size_t>(gm.k * gm.n));
  gm.c.assign(static_cast<size_t>(gm.m * gm.n), 0.0f);
  for (float& v : gm.a) v = u(rng);
  for (float& v : gm.b) v = u(rng);
  return gm;
}

// Every matmul / affine_sigmoid node in the compiled plan of `target`.
std::vector<Gemm> plan_gemms(const ebm::Graph& g, ebm::Tensor target, std::mt19937& rng) {
  const ebm::Tensor targets[] = {target};
  const ebm::Plan plan = ebm::compile_plan(g, targets);
  std::vector<Gemm> out;
  for (const ebm::PlanNode& pn : plan.nodes) {
    const ebm::Node& n = g.node(pn.id);
    if (n.inputs.empty()) continue;
    const ebm::Shape sa = g.node(n.inputs[0]).shape;
    if (const auto* mm = std::get_if<ebm::MatMul>(&n.op))
      out.push_back(make_gemm("matmul", sa, n.shape, mm->ta, mm->tb, rng));
    else if (const auto* as = std::get_if<ebm::AffineSigmoid>(&n.op))
      out.push_back(make_gemm("affine_sigmoid", sa, n.shape, false, as->tb, rng));
  }
  return out;
}

void print_gemms(const std::vector<Gemm>& gemms) {
  bench::print_comment("GEMMs in the plan of one step (C[m,n] = op(A) op(B), inner dimension k):");
  for (const Gemm& gm : gemms)
    bench::print_comment(fmt::format("  {:<15} m={:<5} n={:<5} k={:<5} ta={} tb={}", gm.op, gm.m, gm.n, gm.k,
                                     int{gm.ta}, int{gm.tb}));
}

std::vector<float> random_batch(std::mt19937& rng) {
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(kBatch * kLayers[0]));
  for (float& v : x) v = u(rng);
  return x;
}

std::vector<float> onehot_targets(std::mt19937& rng) {
  std::uniform_int_distribution<int64_t> cls(0, kLayers[4] - 1);
  std::vector<float> t(static_cast<size_t>(kBatch * kLayers[4]), 0.0f);
  for (int64_t r = 0; r < kBatch; ++r) t[static_cast<size_t>(r * kLayers[4] + cls(rng))] = 1.0f;
  return t;
}

struct Samples {
  std::vector<double> step, direct2, direct1;
};

// One interleaved round: executor steps, then direct GEMMs on 2 and 1 BLAS threads.
void sample_round(Samples& s, ebm::Executor& exec, const Mlp& m, const std::vector<ebm::Feed>& feeds,
                  std::vector<Gemm>& gemms) {
  const ebm::Tensor targets[] = {m.step};
  const auto run_direct = [&] {
    for (Gemm& gm : gemms) gm.run();
  };
  openblas_set_num_threads(1);  // as the executor's constructor left it
  s.step.push_back(bench::time_per_call([&] { exec.run(targets, feeds); }, kCallsPerSample));
  openblas_set_num_threads(2);
  run_direct();  // wakes the BLAS threads
  s.direct2.push_back(bench::time_per_call(run_direct, kCallsPerSample));
  openblas_set_num_threads(1);
  s.direct1.push_back(bench::time_per_call(run_direct, kCallsPerSample));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let idle BLAS threads stop spinning
}

// A separate executor with {.profile = true}, so the timed one pays no profiling cost.
void print_profile(ebm::Graph& g, const Mlp& m, const std::vector<ebm::Feed>& feeds) {
  ebm::Executor prof(g, {.threads = 2, .profile = true});
  const ebm::Tensor targets[] = {m.step};
  bench::warm_up([&] { prof.run(targets, feeds); }, kWarmUpSeconds);  // compiles, then warms up
  prof.profile().reset();
  for (int i = 0; i < kProfileSteps; ++i) prof.run(targets, feeds);
  bench::print_comment(fmt::format("profile of {} steps, ExecutorOptions{{.threads = 2, .profile = true}}:",
                                   kProfileSteps));
  bench::print_comment(prof.profile().summary());
}

// The figures, headline last.
void print_results(const Samples& s, double flops, const ebm::PlanStats& st, size_t gemm_count,
                   double avx512_gflops) {
  const double step_ms = bench::median(s.step) * 1e3, direct_ms = bench::median(s.direct2) * 1e3;
  const double direct1_ms = bench::median(s.direct1) * 1e3;
  openblas_set_num_threads(2);
  bench::print_count("blas_threads_direct", openblas_get_num_threads());
  bench::print_count("plan_nodes", st.nodes);
  bench::print_count("plan_tasks", st.tasks);
  bench::print_count("gemm_count", static_cast<int64_t>(gemm_count));
  bench::print_value("gemm_gflop_per_step", flops * 1e-9, 4);
  bench::print_count("repeats", kRounds);
  bench::print_value("step_ms", step_ms);
  bench::print_value("gemm_direct_ms", direct_ms);
  bench::print_value("gemm_direct_1thread_ms", direct1_ms);
  bench::print_value("step_iqr_pct", bench::iqr_percent(s.step), 1);
  bench::print_value("gemm_direct_iqr_pct", bench::iqr_percent(s.direct2), 1);
  bench::print_value("step_gflops", flops * 1e-6 / step_ms, 1);
  bench::print_value("gemm_direct_gflops", flops * 1e-6 / direct_ms, 1);
  bench::print_value("gemm_direct_1thread_gflops", flops * 1e-6 / direct1_ms, 1);
  const double avx512_ms = avx512_gflops > 0 ? flops * 1e-6 / avx512_gflops : direct_ms;
  bench::print_value("gemm_openblas_avx512_ms", avx512_ms);
  bench::print_value("efficiency_vs_default_kernels", direct_ms / step_ms);
  bench::print_other_load();
  bench::print_value("target_efficiency", kTargetEfficiency, 2);
  bench::print_value("efficiency", std::min(direct_ms, avx512_ms) / step_ms);
}

}  // namespace

int main(int argc, char** argv) {
  bench::command_line(argc, argv,
                      "bench_mlp_step: one SGD step of a 784-500-500-2000-10 MLP on 2 threads against the same "
                      "GEMMs called directly on OpenBLAS.", {"--openblas-avx512-child"});
  std::mt19937 rng(42);
  ebm::Graph g;
  const Mlp m = build_mlp(g, rng);
  const std::vector<float> xdata = random_batch(rng), tdata = onehot_targets(rng);
  const std::vector<ebm::Feed> feeds = {{m.x, xdata}, {m.t, tdata}};
  std::vector<Gemm> gemms = plan_gemms(g, m.step, rng);
  std::vector<bench::GemmShape> shapes;
  for (const Gemm& gm : gemms) shapes.push_back({gm.m, gm.n, gm.k, gm.ta, gm.tb});
  // The same 11 calls on OpenBLAS's own 2 threads with its AVX-512 kernels (in the child: prints, exits).
  const double avx512_gflops = bench::openblas_avx512_gflops(argc, argv, shapes, 2, true);
  double flops = 0.0;
  for (const Gemm& gm : gemms) flops += gm.flops();

  ebm::Executor exec(g, {.threads = 2, .seed = 1});  // sets 1 BLAS thread
  const ebm::Tensor targets[] = {m.step};
  const ebm::PlanStats st = exec.stats(targets);  // compiles the plan
  bench::warm_up([&] { exec.run(targets, feeds); }, kWarmUpSeconds);
  openblas_set_num_threads(2);
  bench::warm_up([&] { for (Gemm& gm : gemms) gm.run(); }, kWarmUpSeconds);
  print_gemms(gemms);
  print_profile(g, m, feeds);  // its executor's constructor sets 1 BLAS thread again

  Samples s;
  for (int r = 0; r < kRounds; ++r) sample_round(s, exec, m, feeds, gemms);
  print_results(s, flops, st, gemms.size(), avx512_gflops);
  return 0;
}
