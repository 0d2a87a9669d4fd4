// bench_cd1: one CD-1 epoch over the 60,000 MNIST training images for a
// 784-500 binary RBM, batch 100, 2 threads, exactly as models/cd.hpp trains
// it (sampled binarisation of each batch, the CD-1 step by autodiff of the
// free-energy objective, momentum and weight decay) — against its GEMM floor
// measured in the same run.
//
// A CD-1 step has five GEMMs of 2 x 100 x 784 x 500 flops each: v0 W, h0 W',
// v1 W and the two weight gradients v0' dF and v1' dF; 600 steps make
// 2.35e11 flops. The floor is that at the best rate GEMM reaches on these
// shapes here (bench/gemm_floor.hpp).
//
// ebm::gemm multiplies a sparse A block (at most 36% nonzero for binary
// states) by its nonzeros only (ops/gemm.hpp), with the same bits: here the
// sampled pixels (about 13% on), the sampled hidden states when sparse
// enough, and the weight statistics' A. Epochs with zero skipping on and
// off alternate; the floor is dense GEMM either way.
//
// The bench runs in rounds (bench::time_rounds): an epoch with zero
// skipping on, one with it off, and 600 steps' worth of the five GEMMs
// alone, dense and on a step's own operands, then dense again with the
// step's data flow, and last a dense epoch without the parameter updates,
// back to back; each ratio is taken within a round, and the medians over
// rounds are printed.
//
// Output (key=value): the pixels' sparsity (bench::print_pixel_sparsity),
// then the step's profile and threads_busy_pct (bench::print_step_profile),
// then:
//   hidden_on_pct, reconstruction_on_pct
//                       the share of states on in h0 ~ p(h | v0) and
//                       v1 ~ p(v | h0), drawn from the model after its first
//                       epoch: the operands of the same-operands floor
//   epoch_s             wall time of one epoch (batch conversion included),
//                       zero skipping on (the default); the kernels issue's
//                       target is <= 1.2
//   *_gflops            GEMM rates on the step's shapes (bench/gemm_floor.hpp):
//                       ebm::gemm and CBLAS tiles in the executor, OpenBLAS
//                       direct, and OpenBLAS's AVX-512 kernels (child process)
//   avx512_floor_s, overhead_vs_avx512_floor
//                       the floor at OpenBLAS's AVX-512 rate (target <= 1.2)
//   gemm_floor_s        2.35e11 flops at the best rate: each round's own
//                       timing of the dense GEMMs (or OpenBLAS's, if faster)
//   epoch_dense_s, overhead_dense_vs_floor, zero_skip_speedup
//                       the same epoch with zero skipping off (every GEMM
//                       dense), its ratio to the floor, and dense / default
//   same_operands_floor_s, overhead_vs_same_operands_floor
//                       the five GEMMs on a step's own operands (a sampled
//                       batch, h0 and v1 above), zero skipping on: the
//                       like-for-like reading of epoch_s
//   dataflow_floor_s, overhead_dense_vs_dataflow_floor
//                       the five GEMMs alone, dense, wired as the step wires
//                       them (bench::GemmFlow: each waits for the products
//                       it reads), and the dense epoch against them
//   paired_dense_vs_dataflow_floor, paired_dense_vs_dataflow_floor_iqr_pct
//                       the same reading taken another way (bench::
//                       print_paired): 100 quads of blocks of 10 dense
//                       steps and 10 runs of that floor (S F F S), the
//                       median of the quads' ratios and their spread
//   paired_dense_vs_floor, paired_vs_floor (each with an _iqr_pct)
//                       the dense step and the step as it trains against
//                       the best-rate floor, in 12 quads of blocks of 150
//                       steps and 150 runs of the floor (bench::
//                       print_paired_vs_floor): the second is the issue's
//                       reading again, each step block beside its floor
//   write_ahead_speedup, write_ahead_speedup_iqr_pct
//                       the step (zero skipping on) without and with the
//                       weights' lines claimed ahead (bench::
//                       print_write_ahead_speedup): 100 quads of blocks of
//                       10 steps, off on on off, the median ratio off / on
//   epoch_dense_without_updates_s, overhead_dense_without_updates_vs_dataflow_floor,
//   updates_share_of_dense_epoch
//                       the dense epoch without its parameter updates (the
//                       chain and the gradients, written out whole; each
//                       round's last), against the dataflow floor, and
//                       1 - the median over rounds of its seconds over the
//                       dense epoch's: what the updates cost inside the
//                       dense step beyond writing the gradients whole
//   update_floor_s, overhead_vs_floor_plus_updates
//                       the memory floor of the parameter update (bench::
//                       measure_update_seconds) and the epoch against the
//                       GEMM floor plus it: a reading, not a target
//   peak_rss_mib        the process's peak resident memory after the first
//                       epoch (data included; later epochs allocate nothing)
//   overhead_vs_floor   epoch_s / gemm_floor_s (target <= 1.15), headline last

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "autodiff/grad.hpp"
#include "bench/step_rounds.hpp"
#include "bench/mnist.hpp"
#include "io/batch.hpp"
#include "io/idx.hpp"
#include "models/cd.hpp"

namespace {

// The A operands of one CD-1 step of `rbm` as the step draws them: v0 a
// sampled batch, h0 ~ p(h | v0), v1 ~ p(v | h0), as `shapes` lists the
// products (v0 W, h0 W', v1 W, v0' P0, v1' P1).
void draw_step_operands(const ebm::Graph& g, const ebm::Rbm& rbm, const ebm::io::ImageSet& train,
                        std::vector<bench::GemmShape>& shapes) {
  constexpr int64_t B = 100, V = 784, H = 500;
  const auto w = g.value(rbm.w), hidden = g.value(rbm.b), visible = g.value(rbm.c);
  std::vector<float> v0(B * V), h0(B * H), v1(B * V), pre(B * V);
  ebm::io::Batcher batches(train.count, B, 7);
  ebm::io::fill_batch(train, batches.batch(0), v0, {.mode = ebm::io::Pixels::sampled, .seed = 7});
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  auto sample = [&](std::vector<float>& out, std::span<const float> bias, bool tb, const std::vector<float>& in) {
    const int64_t n = static_cast<int64_t>(bias.size()), k = static_cast<int64_t>(in.size()) / B;
    ebm::gemm::sgemm(false, tb, B, n, k, 1.0f, in.data(), k, w.data(), H, 0.0f, pre.data(), n);
    for (int64_t i = 0; i < B * n; ++i)
      out[size_t(i)] = u(rng) < 1.0f / (1.0f + std::exp(-(pre[size_t(i)] + bias[size_t(i % n)]))) ? 1.0f : 0.0f;
  };
  sample(h0, hidden, false, v0);
  sample(v1, visible, true, h0);
  for (auto [i, a] : {std::pair{0, &v0}, {1, &h0}, {2, &v1}, {3, &v0}, {4, &v1}}) shapes[size_t(i)].a = *a;
  auto on_pct = [](const std::vector<float>& x) { return 100.0 * std::count(x.begin(), x.end(), 1.0f) / double(x.size()); };
  bench::print_value("hidden_on_pct", on_pct(h0), 1);
  bench::print_value("reconstruction_on_pct", on_pct(v1), 1);
}

}  // namespace

int main(int argc, char** argv) {
  bench::command_line(argc, argv,
                      "bench_cd1: one CD-1 epoch of a 784-500 RBM over the 60,000 MNIST images (batch 100, 2 "
                      "threads) against its GEMM floor measured in the same run.", {"--openblas-avx512-child"});
  constexpr int kThreads = 2, kEpochs = 5, kQuads = 100;
  std::vector<bench::GemmShape> shapes{{100, 500, 784, false, false}, {100, 784, 500, false, true},
                                             {100, 500, 784, false, false}, {784, 500, 100, true, false},
                                             {784, 500, 100, true, false}};
  const double avx512_gflops = bench::openblas_avx512_gflops(argc, argv, shapes, kThreads);
  const ebm::io::ImageSet train = bench::mnist_training_images();
  bench::print_pixel_sparsity(train);
  ebm::Graph g;
  ebm::Rbm rbm = ebm::Rbm::make(g, "rbm", {.visible = 784, .hidden = 500});
  rbm.init_visible_bias(ebm::io::pixel_means(train));
  ebm::CdTrainer t = ebm::make_cd_trainer(rbm, {.batch = 100, .lr = 0.1f, .momentum = 0.9f});
  ebm::Executor ex(g, {.threads = kThreads, .seed = 1});
  ebm::io::Batcher batches(train.count, 100, 1);
  std::vector<float> x(100 * 784);
  const ebm::Tensor targets[] = {t.step};
  bench::print_step_profile(g, kThreads, 600, [&](ebm::Executor& ex, int b) {
    ebm::io::fill_batch(train, batches.batch(b % batches.batches()), x, {.mode = ebm::io::Pixels::sampled, .seed = 1});
    const ebm::Feed feeds[] = {{t.v0, x}};
    ex.run(targets, feeds);
  });
  std::vector<float> next(x.size());
  // The same steps without the parameter updates: the Gibbs chain and the
  // gradients, written out whole (as the floor's products are).
  const std::vector<ebm::Tensor> grads = ebm::grad(t.objective, rbm.params());
  // Step b of epoch e running `run_targets`, as RbmFitter runs it: x holds
  // batch b, and batch b + 1 is converted beside the step.
  auto step_of = [&](std::span<const ebm::Tensor> run_targets, int64_t b, uint64_t e) {
    const ebm::io::BatchOptions o{.mode = ebm::io::Pixels::sampled, .seed = 1, .epoch = e};
    if (b == 0) {
      batches.start_epoch(e);
      ebm::io::fill_batch(train, batches.batch(0), x, o);
    }
    auto prepare = [&] {
      if (b + 1 < batches.batches()) ebm::io::fill_batch(train, batches.batch(b + 1), next, o);
    };
    const ebm::Feed feeds[] = {{t.v0, x}};
    ex.run(run_targets, feeds, prepare);
    x.swap(next);
  };
  auto step = [&](int64_t b, uint64_t e) { step_of(targets, b, e); };
  auto epoch_of = [&](std::span<const ebm::Tensor> run_targets, int e) {
    for (int64_t b = 0; b < batches.batches(); ++b) step_of(run_targets, b, static_cast<uint64_t>(e));
  };
  auto epoch = [&](int e) { epoch_of(targets, e); };
  auto no_updates = [&](int e) { epoch_of(grads, e); };
  int64_t streamed = 0;  // the paired readings' steps, through epochs 1000, 1001, ...
  auto steps = [&](int k) {
    for (int i = 0; i < k; ++i, ++streamed)
      step(streamed % batches.batches(), 1000 + static_cast<uint64_t>(streamed / batches.batches()));
  };
  epoch(0);  // compiles the plan and warms the caches
  rusage ru{};  // training allocates nothing after its first step; the floor's GEMM sets below are not counted
  getrusage(RUSAGE_SELF, &ru);
  no_updates(0);  // its own plan, not counted either
  std::vector<bench::GemmShape> own = shapes;
  draw_step_operands(g, rbm, train, own);
  bench::GemmSet dense(shapes, kThreads), same(own, kThreads);
  bench::GemmFlow flow(  // the five products as the step wires them: v0 W, h0 W', v1 W, v0' h0, v1' h1
      [](ebm::Graph& f) {
        const ebm::Tensor v0 = bench::uniform_param(f, "v0", {100, 784}, 0.0f, 1.0f, 1);
        const ebm::Tensor w = bench::uniform_param(f, "w", {784, 500}, -0.05f, 0.05f, 2);
        const ebm::Tensor h0 = ebm::matmul(v0, w), v1 = ebm::matmul(h0, w, {.tb = true}), h1 = ebm::matmul(v1, w);
        return std::vector{ebm::matmul(v0, h0, {.ta = true}), ebm::matmul(v1, h1, {.ta = true})};
      },
      kThreads);
  const bench::Rounds r = bench::time_rounds(kEpochs, epoch, dense, same, 600, {.dense = &flow}, no_updates, false);
  const bench::RoundsReport rep = bench::print_rounds(r, 600 * dense.flops(), shapes, kThreads, avx512_gflops);
  bench::print_paired("paired_dense_vs_dataflow_floor", kQuads, 10, steps, flow, false);
  bench::print_paired_vs_floor("paired_dense_vs_floor", 12, 150, steps, dense, rep.rates.openblas(), false);
  bench::print_paired_vs_floor("paired_vs_floor", 12, 150, steps, dense, rep.rates.openblas(), true);
  bench::print_write_ahead_speedup("write_ahead_speedup", kQuads, 10, steps);
  const int64_t params = 784 * 500 + 784 + 500;
  bench::print_update_floor(rep.epoch_s, rep.floor_s, 600.0 * bench::measure_update_seconds(params, kThreads));
  bench::print_value("epoch_dense_without_updates_s", bench::median(r.extra));
  bench::print_value("overhead_dense_without_updates_vs_dataflow_floor", bench::median_ratio(r.extra, r.flow_dense));
  bench::print_value("updates_share_of_dense_epoch", 1.0 - bench::median_ratio(r.extra, r.off));
  bench::print_value("peak_rss_mib", static_cast<double>(ru.ru_maxrss) / 1024.0, 1);
  bench::print_other_load();
  bench::print_value("target_overhead_vs_floor", 1.15, 2);
  bench::print_value("overhead_vs_floor", bench::median_ratio(r.on, rep.floors));
  return 0;
}
