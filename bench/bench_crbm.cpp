// bench_crbm: CD-1 steps of a convolutional RBM on MNIST — 24 filters of
// 9 x 9 over 28 x 28 binary pixels, probabilistic max-pooling in 2 x 2
// blocks, batch 100, 2 threads, with sparsity, exactly as cdbn_mnist trains
// its first layer (models/crbm.hpp) — against the GEMM floor of its
// convolutions, measured in the same run.
//
// The convolutions are GEMMs on unrolled patches (ops/conv.cpp): per image,
// conv2d of v0 and of v1 are [24 x 81] x [81 x 400], conv2d_transpose of h0
// is [81 x 24] x [24 x 400], and the two filter gradients are
// [24 x 400] x [400 x 81] (in four blocks of 20 or 21 taps): 5 x 2 x 24 x 81 x 400
// flops, 7.78e8 a step of 100 images, 4.67e11 an epoch of 600 steps. The
// floor runs the same products on ready patch matrices, the images split
// over the same 2 threads, so it leaves out everything else a step does:
// unrolling the patches, the pooling ops (their exponentials and the
// draws), the biases, the sparsity term and the update.
//
// Each step converts its batch (sampled binarisation) before it runs, not
// beside it as RbmFitter does. In rounds (a block of steps, then the floor
// for as many steps, back to back), the medians over rounds:
//   step_ms, conv_gemm_floor_ms   per step
//   epoch_s                       600 steps (60,000 images; cdbn_mnist's
//                                 epochs are 500, its training split)
//   conv_gemm_gflops              the floor's rate
//   overhead_vs_conv_gemm_floor   step / floor (the headline)
// and, before them, a profile of 50 more steps on an executor of its own
// (the ops' shares of the threads' work).

#include <cstdint>
#include <vector>

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "bench/mnist.hpp"
#include "bench/timing.hpp"
#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "io/batch.hpp"
#include "models/crbm.hpp"
#include "ops/gemm.hpp"

namespace {

using namespace ebm;

constexpr int64_t kBatch = 100, kFilters = 24, kTaps = 81, kPlane = 400;
constexpr int64_t kTapBlocks = 4;  // as conv2d_filter on 2 threads
constexpr int kSteps = 50, kRounds = 7;

// The calling thread's GEMM buffers (constructed on its first call).
gemm::Workspace& thread_workspace() {
  thread_local gemm::Workspace ws;
  return ws;
}

// One step's convolution products on ready patch matrices (conv2d twice,
// conv2d_transpose, conv2d_filter twice), images split over the arena.
struct ConvFloor {
  std::vector<float> patches, w, y, out, dw;
  ConvFloor()
      : patches(static_cast<size_t>(kBatch * kTaps * kPlane)), w(static_cast<size_t>(kFilters * kTaps)),
        y(static_cast<size_t>(kBatch * kFilters * kPlane)), out(y.size()), dw(w.size()) {
    for (size_t i = 0; i < patches.size(); ++i)  // about 1 in 8 on, like sampled MNIST pixels
      patches[i] = static_cast<float>((static_cast<uint32_t>(i * 2654435761u) >> 29) == 0);
    for (size_t i = 0; i < w.size(); ++i) w[i] = 0.01f * static_cast<float>(i % 7);
    for (size_t i = 0; i < y.size(); ++i) y[i] = static_cast<float>((i * 40503u >> 12) % 5) * 0.2f;
  }
  void step() {
    tbb::parallel_for(int64_t{0}, kBatch, [&](int64_t b) {
      gemm::Workspace& ws = thread_workspace();
      const float* p = patches.data() + b * kTaps * kPlane;
      float* o = out.data() + b * kFilters * kPlane;
      for (int rep = 0; rep < 2; ++rep)  // conv2d of v0 and of v1
        gemm::sgemm(ws, false, false, kFilters, kPlane, kTaps, 1.0f, w.data(), kTaps, p, kPlane, 0.0f, o, kPlane);
    });
    tbb::parallel_for(int64_t{0}, kBatch, [&](int64_t b) {
      thread_local std::vector<float> col(static_cast<size_t>(kTaps * kPlane));  // the patches' sums
      gemm::sgemm(thread_workspace(), true, false, kTaps, kPlane, kFilters, 1.0f, w.data(), kTaps,
                  y.data() + b * kFilters * kPlane, kPlane, 0.0f, col.data(), kPlane);
    });
    for (int rep = 0; rep < 2; ++rep)  // conv2d_filter of (v0, h0) and of (v1, h1): two blocks of taps a thread
      tbb::parallel_for(int64_t{0}, kTapBlocks, [&](int64_t blk) {
        const int64_t t0 = blk * kTaps / kTapBlocks, t1 = (blk + 1) * kTaps / kTapBlocks;
        for (int64_t b = 0; b < kBatch; ++b)
          gemm::sgemm(thread_workspace(), false, true, kFilters, t1 - t0, kPlane, 1.0f,
                      y.data() + b * kFilters * kPlane, kPlane, patches.data() + (b * kTaps + t0) * kPlane, kPlane,
                      b == 0 ? 0.0f : 1.0f, dw.data() + t0, kTaps);
      });
  }
};

}  // namespace

int main(int argc, char** argv) {
  bench::command_line(argc, argv,
                      "bench_crbm: CD-1 steps of the convolutional RBM cdbn_mnist trains first (24 9x9 filters, "
                      "2x2 pooling, batch 100, 2 threads) against the GEMM floor of its convolutions.");
  const io::ImageSet images = bench::mnist_training_images();
  Graph g;
  const Crbm m = Crbm::make(g, "crbm", {.visible = {.channels = 1, .height = 28, .width = 28, .size = 9},
                                        .filters = kFilters, .pool = 2});
  const CrbmTrainer t = make_crbm_trainer(m, {.batch = kBatch, .lr = 0.001f, .momentum = 0.5f,
                                              .weight_decay = 1e-4f, .sparsity_target = 0.03f,
                                              .sparsity_cost = 1.0f});
  Executor ex(g, {.threads = 2, .seed = 1});
  tbb::task_arena arena(2);
  io::Batcher batches(images.count, kBatch, 1);
  batches.start_epoch(0);
  std::vector<float> v(static_cast<size_t>(kBatch * 784));
  int64_t next = 0;
  auto one_step = [&] {
    io::fill_batch(images, batches.batch(next++ % batches.batches()), v,
                   {.mode = io::Pixels::sampled, .seed = 1, .epoch = 0});
    const Feed feeds[] = {{t.v0, v}};
    ex.run({t.step}, feeds);
  };
  ConvFloor floor;
  bench::warm_up(one_step, 1.0);
  arena.execute([&] { bench::warm_up([&] { floor.step(); }, 0.5); });
  std::vector<double> step_s, floor_s;
  for (int r = 0; r < kRounds; ++r) {
    step_s.push_back(bench::time_per_call(one_step, kSteps));
    floor_s.push_back(arena.execute([&] { return bench::time_per_call([&] { floor.step(); }, kSteps); }));
  }
  {  // the profile, on an executor of its own (profiling costs time: the timed steps above ran without)
    Executor prof(g, {.threads = 2, .seed = 1, .profile = true});
    for (int i = 0; i < kSteps; ++i) {
      io::fill_batch(images, batches.batch(i), v, {.mode = io::Pixels::sampled, .seed = 1, .epoch = 0});
      const Feed feeds[] = {{t.v0, v}};
      prof.run({t.step}, feeds);
    }
    bench::print_comment(fmt::format("profile of {} steps, ExecutorOptions{{.threads = 2, .profile = true}}:", kSteps));
    bench::print_comment(prof.profile().summary(10));
  }
  std::vector<double> ratios;
  for (size_t i = 0; i < step_s.size(); ++i) ratios.push_back(step_s[i] / floor_s[i]);
  const double flops = 5.0 * 2 * kFilters * kTaps * kPlane * kBatch;
  bench::print_value("step_ms", 1e3 * bench::median(step_s));
  bench::print_value("step_iqr_pct", bench::iqr_percent(step_s), 1);
  bench::print_value("conv_gemm_floor_ms", 1e3 * bench::median(floor_s));
  bench::print_value("epoch_s", 600 * bench::median(step_s));
  bench::print_value("conv_gemm_gflops", flops / bench::median(floor_s) / 1e9, 1);
  bench::print_other_load();
  bench::print_value("overhead_vs_conv_gemm_floor", bench::median(ratios));
  return 0;
}
