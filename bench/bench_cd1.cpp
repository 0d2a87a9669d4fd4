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
// Output (key=value; medians over the repeats): the pixels' sparsity
// (bench::print_pixel_sparsity), then after the step's profile:
//   epoch_s             wall time of one epoch (batch conversion included),
//                       zero skipping on (the default); the kernels issue's
//                       target is <= 1.2
//   *_gflops            GEMM rates on the step's shapes (bench/gemm_floor.hpp):
//                       ebm::gemm and CBLAS tiles in the executor, OpenBLAS
//                       direct, and OpenBLAS's AVX-512 kernels (child process)
//   avx512_floor_s, overhead_vs_avx512_floor
//                       the floor at OpenBLAS's AVX-512 rate (target <= 1.2)
//   gemm_floor_s        2.35e11 flops / the best rate of all
//   epoch_dense_s, overhead_dense_vs_floor, zero_skip_speedup
//                       the same epoch with zero skipping off (every GEMM
//                       dense), its ratio to the floor, and dense / default
//   update_floor_s, overhead_vs_floor_plus_updates
//                       the memory floor of the parameter update (bench::
//                       measure_update_seconds) and the epoch against the
//                       GEMM floor plus it: a reading, not a target
//   peak_rss_mib        the process's peak resident memory (data included)
//   overhead_vs_floor   epoch_s / gemm_floor_s (target <= 1.15), headline last

#include <sys/resource.h>

#include "bench/gemm_floor.hpp"
#include "bench/mnist.hpp"
#include "io/batch.hpp"
#include "io/idx.hpp"
#include "models/cd.hpp"

int main(int argc, char** argv) {
  constexpr int kThreads = 2, kEpochs = 5;
  const std::vector<bench::GemmShape> shapes{{100, 500, 784, false, false}, {100, 784, 500, false, true},
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
  auto epoch = [&](int e) {  // as RbmFitter does: batch b + 1 is converted beside step b
    batches.start_epoch(static_cast<uint64_t>(e));
    const ebm::io::BatchOptions o{.mode = ebm::io::Pixels::sampled, .seed = 1, .epoch = uint64_t(e)};
    ebm::io::fill_batch(train, batches.batch(0), x, o);
    for (int64_t b = 0; b < batches.batches(); ++b) {
      auto prepare = [&] {
        if (b + 1 < batches.batches()) ebm::io::fill_batch(train, batches.batch(b + 1), next, o);
      };
      const ebm::Feed feeds[] = {{t.v0, x}};
      ex.run(targets, feeds, prepare);
      x.swap(next);
    }
  };
  epoch(0);  // compiles the plan and warms the caches
  const auto [secs, dense_secs] = bench::time_epochs_skip_on_off(kEpochs, epoch);
  const bench::GemmRates rates = bench::measure_gemm_rates(shapes, kThreads);
  const double flops = 600.0 * 5 * 2 * 100 * 784 * 500, floor_s = flops / (rates.best() * 1e9);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  bench::print_value("epoch_s", bench::median(secs));
  bench::print_value("epoch_iqr_pct", bench::iqr_percent(secs), 1);
  bench::print_value("epoch_flops", flops, 0);
  bench::print_floor(bench::median(secs), flops, rates, avx512_gflops);
  bench::print_dense(bench::median(secs), bench::median(dense_secs), floor_s);
  const int64_t params = 784 * 500 + 784 + 500;
  bench::print_update_floor(bench::median(secs), floor_s, 600.0 * bench::measure_update_seconds(params, kThreads));
  bench::print_value("peak_rss_mib", static_cast<double>(ru.ru_maxrss) / 1024.0, 1);
  bench::print_value("target_overhead_vs_floor", 1.15, 2);
  bench::print_value("overhead_vs_floor", bench::median(secs) / floor_s);
  return 0;
}
