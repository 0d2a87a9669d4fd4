// bench_elementwise: memory throughput of the element-wise kernels, run as
// 1-op graphs on ebm::Executor{.threads = 2}, against a plain memory copy.
//
// Each op maps a [1000, 4096] float input (16.4 MB) to an output of the
// same shape; bytes moved = read + write = 32.8 MB per call. The ops:
//   sigmoid, softplus            on logits in [-4, 4]
//   bernoulli                    on probabilities in [0, 1)
//   sigmoid_bernoulli            on logits in [-4, 4] (fused sigmoid + draw)
// The references copy the same bytes (16.4 MB source to 16.4 MB
// destination): copy_1t is one std::memcpy; copy_2t splits it in two halves
// run on a 2-thread oneTBB arena (as the executor's element-wise ops are).
//
// Every figure is GB/s (1e9 bytes/s) from the median of kRounds interleaved
// rounds, each the mean of kCallsPerSample calls, after kWarmUpSeconds of
// warm-up calls per figure (the first also compiles each op's plan; the
// first ~0.1 s of 2-thread work here is often half speed).
// <op>_ratio_to_copy divides by the
// faster copy (copy_best_gbs). Headline last: min_ratio_to_copy, the
// slowest op's ratio (1.0 would be copy speed; compute-heavy ops such as
// softplus can be below it without the scheduler being at fault).

#include <algorithm>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include "bench/timing.hpp"
#include "graph/executor.hpp"
#include "graph/functions.hpp"

namespace {

constexpr int64_t kRows = 1000;
constexpr int64_t kCols = 4096;
constexpr size_t kFloats = static_cast<size_t>(kRows * kCols);
constexpr double kBytes = 2.0 * sizeof(float) * kFloats;  // read + write
constexpr int kRounds = 11;
constexpr int kCallsPerSample = 10;
constexpr double kWarmUpSeconds = 0.2;

std::vector<float> uniform_floats(float lo, float hi, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(kFloats);
  for (float& x : v) x = u(rng);
  return v;
}

// One timed figure: a callable and its per-call seconds.
struct Figure {
  std::string name;
  std::function<void()> call;
  std::vector<double> seconds;

  double gbs() const { return kBytes / bench::median(seconds) * 1e-9; }
};

Figure copy_figure(std::string name, std::function<void()> call) {
  return Figure{std::move(name), std::move(call), {}};
}

// src -> dst in two halves on a 2-thread arena.
void copy_2t(tbb::task_arena& arena, const float* src, float* dst) {
  arena.execute([&] {
    tbb::parallel_for(
        tbb::blocked_range<size_t>(0, 2, 1),
        [&](const tbb::blocked_range<size_t>& r) {
          for (size_t h = r.begin(); h < r.end(); ++h) {
            const size_t begin = h * kFloats / 2, end = (h + 1) * kFloats / 2;
            std::memcpy(dst + begin, src + begin, (end - begin) * sizeof(float));
          }
        },
        tbb::static_partitioner{});
  });
}

// The single-op graph: two inputs, the four ops reading them.
struct OpGraph {
  ebm::Graph g;
  ebm::Tensor logits, probs;
  std::vector<std::pair<std::string, ebm::Tensor>> ops;

  OpGraph() {
    logits = g.input("logits", {kRows, kCols});
    probs = g.input("probs", {kRows, kCols});
    ops = {{"sigmoid", ebm::sigmoid(logits)},
           {"softplus", ebm::softplus(logits)},
           {"bernoulli", ebm::bernoulli(probs)},
           {"sigmoid_bernoulli", ebm::sigmoid_bernoulli(logits)}};
  }
};

void sample_all(std::vector<Figure>& figures) {
  for (int r = 0; r < kRounds; ++r)
    for (Figure& f : figures) f.seconds.push_back(bench::time_per_call(f.call, kCallsPerSample));
}

}  // namespace

int main(int argc, char** argv) {
  bench::command_line(argc, argv,
                      "bench_elementwise: memory throughput of the element-wise kernels on 2 threads against a "
                      "plain memory copy.");
  std::mt19937 rng(7);
  const std::vector<float> logit_data = uniform_floats(-4.0f, 4.0f, rng);
  const std::vector<float> prob_data = uniform_floats(0.0f, 1.0f, rng);
  std::vector<float> dst(kFloats, 0.0f);
  OpGraph og;
  ebm::Executor exec(og.g, {.threads = 2, .seed = 3});
  tbb::task_arena arena(2);
  const std::vector<ebm::Feed> feeds = {{og.logits, logit_data}, {og.probs, prob_data}};

  std::vector<Figure> figures;
  figures.push_back(copy_figure("copy_1t", [&] { std::memcpy(dst.data(), logit_data.data(), kFloats * sizeof(float)); }));
  figures.push_back(copy_figure("copy_2t", [&] { copy_2t(arena, logit_data.data(), dst.data()); }));
  for (const auto& [name, t] : og.ops)
    figures.push_back(copy_figure(name, [&exec, &feeds, t = t] {
      const ebm::Tensor targets[] = {t};
      exec.run(targets, feeds);
    }));
  for (Figure& f : figures) bench::warm_up(f.call, kWarmUpSeconds);  // also compiles each plan
  sample_all(figures);

  const double copy_best = std::max(figures[0].gbs(), figures[1].gbs());
  bench::print_count("elements", static_cast<int64_t>(kFloats));
  bench::print_value("bytes_per_call_mb", kBytes * 1e-6, 1);
  bench::print_count("repeats", kRounds);
  bench::print_value("copy_1t_gbs", figures[0].gbs(), 2);
  bench::print_value("copy_2t_gbs", figures[1].gbs(), 2);
  bench::print_value("copy_best_gbs", copy_best, 2);
  double min_ratio = 1e30;
  for (size_t i = 2; i < figures.size(); ++i) {
    const double ratio = figures[i].gbs() / copy_best;
    min_ratio = std::min(min_ratio, ratio);
    bench::print_value(figures[i].name + "_gbs", figures[i].gbs(), 2);
    bench::print_value(figures[i].name + "_ratio_to_copy", ratio);
  }
  bench::print_other_load();
  bench::print_value("min_ratio_to_copy", min_ratio);
  return 0;
}
