// bench_finetune: one backprop epoch (600 steps, batch 100, 2 threads) of the
// 784-500-500-2000-10 sigmoid net of the DBN fine-tuning (models/
// classifier.hpp, the same graph dbn_mnist trains), against its GEMM floor
// measured in the same run.
//
// A step has 11 GEMMs: 4 forward (h W), 4 weight gradients (h' g) and 3
// input gradients (g W'; the pixels need none): 9.15e8 flops, 5.49e11 per
// epoch. The floor is that at the best rate GEMM reaches on these shapes
// here (bench/gemm_floor.hpp).
//
// The batches are MNIST's, shuffled and scaled to [0, 1] as models/
// finetune.cpp feeds them, converted beside the step. Most pixels are
// exactly 0 (pixels_nonzero_pct, printed first), so ebm::gemm multiplies
// the first layer's products (x W1 and the gradient x' g) by the nonzero
// pixels only (ops/gemm.hpp), with the same bits; no other operand has
// zeros. Epochs with zero skipping on and off alternate; the floor is
// dense GEMM either way.
//
// The bench runs in rounds, as bench_cd1 does (bench::time_rounds): an
// epoch with zero skipping on, one off, and 600 steps' worth of the 11 GEMMs
// alone, dense and with the first layer's A a real batch of pixels, then
// wired as the step wires them (zero skipping off and on), back to back;
// ratios are taken within a round and their medians printed.
//
// Output (key=value), after the step's profile and threads_busy_pct (the
// share of the threads' time in work: bench::print_step_profile): epoch_s (zero skipping on,
// the default; the kernels issue's target is <= 2.9), the floor figures of
// bench/gemm_floor.hpp (GEMM rates, the floor at OpenBLAS's AVX-512 rate,
// gemm_floor_s), the dense epoch's (epoch_dense_s, overhead_dense_vs_floor,
// zero_skip_speedup), the same-operands floor (same_operands_floor_s,
// overhead_vs_same_operands_floor: zero skipping on, the like-for-like
// reading), the same 11 GEMMs wired as the step wires them (bench::GemmFlow,
// the first layer's A that batch: dataflow_floor_s and
// overhead_dense_vs_dataflow_floor with zero skipping off,
// dataflow_same_operands_floor_s and overhead_vs_dataflow_same_operands_floor
// with it on; paired_dense_vs_dataflow_floor and
// paired_vs_dataflow_same_operands_floor, each with an _iqr_pct, take
// the same two readings another way: 50 quads of blocks of 10 steps and
// 10 runs of that floor, S F F S, bench::print_paired), paired_dense_vs_floor
// and paired_vs_floor with their _iqr_pct (the dense step and the step as
// it trains against the best-rate floor, in 12 quads of blocks of 150
// steps and 150 runs of the floor: bench::print_paired_vs_floor; the
// second is the reading again, each step block beside its floor
// blocks rather than seconds away), write_ahead_speedup
// and its _iqr_pct (the step with the weights' lines claimed ahead, the
// default, against without: bench::print_write_ahead_speedup, 50 quads of
// blocks of 10 steps), the parameter updates' memory floor (update_floor_s,
// overhead_vs_floor_plus_updates: see bench::measure_update_seconds), the
// same epoch without its parameter updates (each round's last: forward and
// backward with every gradient written out whole; epoch_without_updates_s,
// overhead_without_updates_vs_floor, and updates_share_of_epoch = 1 - its
// seconds / epoch_s, what the updates cost inside the step), and
// overhead_vs_floor = epoch_s / gemm_floor_s (target <= 1.15) last.

#include <cmath>

#include "bench/step_rounds.hpp"
#include "bench/mnist.hpp"
#include "io/batch.hpp"
#include "autodiff/grad.hpp"
#include "models/classifier.hpp"

int main(int argc, char** argv) {
  bench::command_line(argc, argv,
                      "bench_finetune: one backprop epoch of the 784-500-500-2000-10 net (600 steps, batch 100, "
                      "2 threads) against its GEMM floor measured in the same run.", {"--openblas-avx512-child"});
  constexpr int kThreads = 2, kEpochs = 5, kSteps = 600, kQuads = 50;
  std::vector<bench::GemmShape> shapes;
  const int64_t sizes[] = {784, 500, 500, 2000, 10};
  for (int l = 0; l < 4; ++l) {
    shapes.push_back({100, sizes[l + 1], sizes[l], false, false});              // forward
    shapes.push_back({sizes[l], sizes[l + 1], 100, true, false});               // dW = h' g
    if (l > 0) shapes.push_back({100, sizes[l], sizes[l + 1], false, true});    // dX = g W'
  }
  const double avx512_gflops = bench::openblas_avx512_gflops(argc, argv, shapes, kThreads);
  const ebm::io::ImageSet train = bench::mnist_training_images();
  bench::print_pixel_sparsity(train);
  ebm::Graph g;
  ebm::Classifier c = ebm::Classifier::make(g, "net", {.layers = {784, 500, 500, 2000}, .batch = 100});
  std::vector<float> x(100 * 784), t(100 * 10), next_x(x.size()), next_t(t.size());
  ebm::Executor ex(g, {.threads = kThreads, .seed = 1});
  ebm::io::Batcher batches(train.count, 100, 1);
  auto fill = [&](int64_t b, std::vector<float>& xs, std::vector<float>& ts) {
    ebm::io::fill_batch(train, batches.batch(b), xs, {.mode = ebm::io::Pixels::scaled});
    ebm::io::fill_one_hot(train, batches.batch(b), 10, ts);
  };
  const ebm::Tensor targets[] = {c.opt.step};
  bench::print_step_profile(g, kThreads, kSteps, [&](ebm::Executor& e, int s) {
    fill(s % batches.batches(), x, t);
    const ebm::Feed feeds[] = {{c.x, x}, {c.t, t}};
    e.run(targets, feeds);
  });
  // Step s of epoch e running `run_targets`: x and t hold batch s, and
  // batch s + 1 is converted beside the step.
  auto step_of = [&](std::span<const ebm::Tensor> run_targets, int64_t s, uint64_t e) {
    if (s == 0) {
      batches.start_epoch(e);
      fill(0, x, t);
    }
    const ebm::Feed feeds[] = {{c.x, x}, {c.t, t}};
    auto prepare = [&] {
      if (s + 1 < kSteps) fill(s + 1, next_x, next_t);
    };
    ex.run(run_targets, feeds, prepare);
    x.swap(next_x);
    t.swap(next_t);
  };
  auto epoch_of = [&](std::span<const ebm::Tensor> run_targets, int e) {
    for (int64_t s = 0; s < kSteps; ++s) step_of(run_targets, s, static_cast<uint64_t>(e));
  };
  int64_t streamed = 0;  // the paired readings' steps, through epochs 1000, 1001, ...
  auto steps = [&](int k) {
    for (int i = 0; i < k; ++i, ++streamed) step_of(targets, streamed % kSteps, 1000 + uint64_t(streamed / kSteps));
  };
  auto epoch = [&](int e) { epoch_of(targets, e); };
  // The same steps without the parameter updates: forward and backward
  // only, every gradient written out whole (as the floor's products are).
  const std::vector<ebm::Tensor> grads = ebm::grad(c.loss, c.params());
  auto no_updates = [&](int e) { epoch_of(grads, e); };
  epoch(0);  // compiles the plan and warms the caches
  no_updates(0);
  std::vector<bench::GemmShape> own = shapes;
  fill(0, x, t);  // the first layer's products on a real batch (x W1, and x' g stored as x)
  own[0].a = x;
  own[1].a = x;
  bench::GemmSet dense(shapes, kThreads), same(own, kThreads);
  bench::GemmFlow flow(  // the 11 products as the step wires them, the first layer's A the same batch
      [&](ebm::Graph& f) {
        const ebm::Tensor pixels = f.param("x", {100, 784}, 0.0f, false);
        std::copy(x.begin(), x.end(), f.value(pixels).begin());
        std::vector<ebm::Tensor> w, h{pixels}, outs;
        for (int l = 0; l < 4; ++l) {  // weights keeping activations near unit scale
          const float a = std::sqrt(3.0f / static_cast<float>(sizes[l]));
          w.push_back(bench::uniform_param(f, fmt::format("w{}", l), {sizes[l], sizes[l + 1]}, -a, a, uint64_t(l) + 2));
          h.push_back(ebm::matmul(h.back(), w.back()));
        }
        ebm::Tensor g = h[4];  // the output's gradient, back through the layers
        for (int l = 3; l >= 0; --l) {
          outs.push_back(ebm::matmul(h[size_t(l)], g, {.ta = true}));
          if (l > 0) g = ebm::matmul(g, w[size_t(l)], {.tb = true});
        }
        return outs;
      },
      kThreads);
  const bench::Rounds r =
      bench::time_rounds(kEpochs, epoch, dense, same, kSteps, {.dense = &flow, .same = &flow}, no_updates);
  const bench::RoundsReport rep = bench::print_rounds(r, kSteps * dense.flops(), shapes, kThreads, avx512_gflops);
  bench::print_paired("paired_dense_vs_dataflow_floor", kQuads, 10, steps, flow, false);
  bench::print_paired("paired_vs_dataflow_same_operands_floor", kQuads, 10, steps, flow, true);
  bench::print_paired_vs_floor("paired_dense_vs_floor", 12, 150, steps, dense, rep.rates.openblas(), false);
  bench::print_paired_vs_floor("paired_vs_floor", 12, 150, steps, dense, rep.rates.openblas(), true);
  bench::print_write_ahead_speedup("write_ahead_speedup", kQuads, 10, steps);
  int64_t params = 0;  // weights and biases
  for (int l = 0; l < 4; ++l) params += (sizes[l] + 1) * sizes[l + 1];
  bench::print_update_floor(rep.epoch_s, rep.floor_s, kSteps * bench::measure_update_seconds(params, kThreads));
  bench::print_value("epoch_without_updates_s", bench::median(r.extra));
  bench::print_value("overhead_without_updates_vs_floor", bench::median_ratio(r.extra, rep.floors));
  bench::print_value("updates_share_of_epoch", 1.0 - bench::median_ratio(r.extra, r.on));
  bench::print_other_load();
  bench::print_value("target_overhead_vs_floor", 1.15, 2);
  bench::print_value("overhead_vs_floor", bench::median_ratio(r.on, rep.floors));
  return 0;
}
