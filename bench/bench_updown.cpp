// bench_updown: one up-down step of the joint image-label model of the
// paper preset (784-500-500 DBN, labelled top RBM 500 + 10 <-> 2000, CD-20
// in the top memory: the refit's step), batch 100, 2 threads, on random
// weights and pixels; with the executor's cache of packed parameters on
// and off, alternated in the same run.
//
// Output (key=value; medians over 7 rounds of 20 steps), after the step's
// profile (cache on):
//   step_ms, step_ms_no_pack_cache   one step, with and without the cache
//   shared_b                         products that read a cached B
//   pack_cache_speedup               step_ms_no_pack_cache / step_ms, headline last

#include <vector>

#include "bench/step_rounds.hpp"
#include "models/joint.hpp"

int main(int argc, char** argv) {
  bench::command_line(argc, argv,
                      "bench_updown: one up-down step of the joint image-label model of dbn_mnist's paper "
                      "preset (batch 100, 2 threads), profiled.");
  constexpr int kThreads = 2, kTopK = 20, kBatch = 100, kSteps = 20, kRounds = 7;
  ebm::Graph g;
  const ebm::Dbn lower = ebm::Dbn::make(g, "dbn", {.layers = {784, 500, 500}, .seed = 1});
  const ebm::LabelledRbm top = ebm::LabelledRbm::make(g, "top", 500, 10, 2000, 0.01f, 51);
  const ebm::UpDown ud = ebm::make_up_down(lower, top, kBatch, kTopK, {.lr = 0.01f, .momentum = 0.9f});
  std::vector<float> v(kBatch * 784), y(kBatch * 10, 0.0f);
  ebm::fill_uniform(v, 0.0f, 1.0f, 7, 1);
  for (float& x : v) x = x < 0.13f ? 1.0f : 0.0f;  // about MNIST's share of ink
  for (int i = 0; i < kBatch; ++i) y[static_cast<size_t>(i * 10 + i % 10)] = 1.0f;
  const ebm::Tensor targets[] = {ud.step};
  const ebm::Feed feeds[] = {{ud.v, v}, {ud.y, y}};
  bench::print_step_profile(g, kThreads, 60, [&](ebm::Executor& ex, int) { ex.run(targets, feeds); });
  ebm::Executor cached(g, {.threads = kThreads, .seed = 1});
  ebm::Executor uncached(g, {.threads = kThreads, .seed = 1, .cache_packs = false});
  std::vector<double> on, off;
  for (int r = 0; r < kRounds; ++r)  // alternated, so a noisy moment hits both
    for (auto [ex, out] : {std::pair{&cached, &on}, std::pair{&uncached, &off}}) {
      auto run = [&] { ex->run(targets, feeds); };
      bench::warm_up(run, 0.05);
      out->push_back(bench::time_per_call(run, kSteps) * 1e3);
    }
  bench::print_value("step_ms", bench::median(on));
  bench::print_value("step_ms_no_pack_cache", bench::median(off));
  bench::print_count("shared_b", cached.stats(targets).shared_b);
  bench::print_other_load();
  bench::print_value("pack_cache_speedup", bench::median(off) / bench::median(on));
  return 0;
}
