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
// Output (key=value; medians over the repeats), after the step's profile:
// epoch_s (the kernels issue's target is <= 2.9), the floor figures of
// bench/gemm_floor.hpp (GEMM rates, the floor at OpenBLAS's AVX-512 rate),
// and overhead_vs_floor = epoch_s / gemm_floor_s (target <= 1.15) last.

#include "bench/gemm_floor.hpp"
#include "io/batch.hpp"
#include "models/classifier.hpp"

int main(int argc, char** argv) {
  constexpr int kThreads = 2, kEpochs = 5, kSteps = 600;
  std::vector<bench::GemmShape> shapes;
  const int64_t sizes[] = {784, 500, 500, 2000, 10};
  for (int l = 0; l < 4; ++l) {
    shapes.push_back({100, sizes[l + 1], sizes[l], false, false});              // forward
    shapes.push_back({sizes[l], sizes[l + 1], 100, true, false});               // dW = h' g
    if (l > 0) shapes.push_back({100, sizes[l], sizes[l + 1], false, true});    // dX = g W'
  }
  const double avx512_gflops = bench::openblas_avx512_gflops(argc, argv, shapes, kThreads);
  ebm::Graph g;
  ebm::Classifier c = ebm::Classifier::make(g, "net", {.layers = {784, 500, 500, 2000}, .batch = 100});
  std::vector<float> x(100 * 784), t(100 * 10, 0.0f);
  ebm::fill_uniform(x, 0.0f, 1.0f, 1, 1);
  for (int i = 0; i < 100; ++i) t[static_cast<size_t>(i * 10 + i % 10)] = 1.0f;
  ebm::Executor ex(g, {.threads = kThreads, .seed = 1});
  const ebm::Tensor targets[] = {c.opt.step};
  const ebm::Feed feeds[] = {{c.x, x}, {c.t, t}};
  bench::print_step_profile(g, kThreads, kSteps, [&](ebm::Executor& e, int) { e.run(targets, feeds); });
  auto epoch = [&] {
    for (int s = 0; s < kSteps; ++s) {
      ex.run(targets, feeds);
      x[static_cast<size_t>(s)] = 0.5f;  // the batch changes like a real one would (cheaply)
    }
  };
  ex.run(targets, feeds);
  std::vector<double> secs;
  for (int e = 0; e < kEpochs; ++e) {
    const auto t0 = bench::Clock::now();
    epoch();
    secs.push_back(bench::seconds_since(t0));
  }
  double step_flops = 0;
  for (const auto& s : shapes) step_flops += s.flops();
  const bench::GemmRates rates = bench::measure_gemm_rates(shapes, kThreads);
  const double floor_s = kSteps * step_flops / (rates.best() * 1e9);
  bench::print_value("epoch_s", bench::median(secs));
  bench::print_value("epoch_iqr_pct", bench::iqr_percent(secs), 1);
  bench::print_value("epoch_flops", kSteps * step_flops, 0);
  bench::print_floor(bench::median(secs), kSteps * step_flops, rates, avx512_gflops);
  bench::print_value("target_overhead_vs_floor", 1.15, 2);
  bench::print_value("overhead_vs_floor", bench::median(secs) / floor_s);
  return 0;
}
