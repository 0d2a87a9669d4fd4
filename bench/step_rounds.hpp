#pragma once
// A training-step bench's timings against its GEMM floor (bench/gemm_floor.hpp):
// the step's profile, rounds of epochs beside the floor's products, the
// ratios within a round, the paired readings in quads of blocks, and the
// parameter updates' memory floor.

#include <algorithm>
#include <string_view>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include "bench/gemm_floor.hpp"
#include "bench/timing.hpp"
#include "graph/executor.hpp"
#include "ops/gemm.hpp"

namespace bench {

// Prints the executor's profile of `steps` training steps as comment lines
// (a separate executor with {.profile = true}, so a timed one pays
// nothing), then threads_busy_pct: the share of the threads' time spent in
// work (tiles and unsplit tasks) rather than waiting.
// step(ex, i) runs step i (feeding whatever it needs); the first tenth warm up.
template <typename Step>
void print_step_profile(ebm::Graph& g, int threads, int steps, Step step) {
  ebm::Executor prof(g, {.threads = threads, .seed = 1, .profile = true});
  const int warm = std::max(1, steps / 10);
  for (int i = 0; i < warm + steps; ++i) {
    if (i == warm) prof.profile().reset();
    step(prof, i);
  }
  print_comment(fmt::format("profile of {} steps, ExecutorOptions{{.threads = {}, .profile = true}}:", steps, threads));
  print_comment(prof.profile().summary(12));
  const ebm::Profile& p = prof.profile();
  print_value("threads_busy_pct", 100.0 * p.work_ms() / (p.wall_ms() * p.threads()), 1);
}

// A step bench's timings, in rounds: in each, one epoch with zero skipping
// on (epoch 2r - 1), one with it off (2r), and an epoch's worth of the
// floor's GEMMs alone (`calls` runs of each GemmSet: `dense` on uniform
// operands with zero skipping off, `same` on the step's own operands with
// it on, then the GemmFlow floors given), back to back, so that a slow
// stretch of the shared machine falls on all of them; the ratios are taken
// within a round and their medians reported. Leaves zero skipping on.
struct Rounds {
  std::vector<double> on, off, dense_floor, same_floor;  // seconds per epoch, per round
  std::vector<double> flow_dense, flow_same;             // the GemmFlow floors', when given
  std::vector<double> extra;                             // the optional extra epoch's
};

// The GemmFlow floors a bench times in each round, after the GemmSets:
// `dense` with zero skipping off, `same` (its operands the step's own) on.
struct FlowFloors {
  GemmFlow* dense = nullptr;
  GemmFlow* same = nullptr;
};

// `extra(i)`, when given, runs a variant of the epoch (the step without its
// parameter updates) last in each round, with zero skipping as
// `extra_skips` says.
template <typename Epoch, typename Extra = void (*)(int)>
Rounds time_rounds(int n, Epoch epoch, GemmSet& dense, GemmSet& same, int calls, FlowFloors flows = {},
                   Extra extra = nullptr, bool extra_skips = true) {
  Rounds r;
  auto timed = [](bool skip, auto f) {
    ebm::gemm::set_skip_zeros(skip);
    return seconds_of(f);
  };
  for (int i = 1; i <= n; ++i) {
    r.on.push_back(timed(true, [&] { epoch(2 * i - 1); }));
    r.off.push_back(timed(false, [&] { epoch(2 * i); }));
    ebm::gemm::set_skip_zeros(false);
    r.dense_floor.push_back(dense.seconds(calls));
    ebm::gemm::set_skip_zeros(true);
    r.same_floor.push_back(same.seconds(calls));
    if (flows.dense) {
      ebm::gemm::set_skip_zeros(false);
      r.flow_dense.push_back(flows.dense->seconds(calls));
      ebm::gemm::set_skip_zeros(true);
    }
    if (flows.same) r.flow_same.push_back(flows.same->seconds(calls));
    if constexpr (!std::is_same_v<Extra, void (*)(int)>) r.extra.push_back(timed(extra_skips, [&] { extra(i); }));
  }
  ebm::gemm::set_skip_zeros(true);
  return r;
}

// The median over rounds of x[i] / y[i].
inline double median_ratio(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<double> q;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) q.push_back(x[i] / y[i]);
  return median(q);
}

// Each round's floor at the best rate: its own ebm::gemm timing, or
// OpenBLAS's (measured once, GemmRates) when that is faster.
inline std::vector<double> best_floors(const std::vector<double>& ours, double epoch_flops, const GemmRates& rates) {
  std::vector<double> f;
  for (double t : ours) f.push_back(std::min(t, epoch_flops / (rates.openblas() * 1e9)));
  return f;
}

// The figures of the dense epochs (zero skipping off) against the floor,
// after print_floor: medians over rounds of the within-round ratios.
inline void print_dense(const Rounds& r, const std::vector<double>& floors) {
  print_value("epoch_dense_s", median(r.off));
  print_value("overhead_dense_vs_floor", median_ratio(r.off, floors));
  print_value("zero_skip_speedup", median_ratio(r.off, r.on));
}

// The seconds `threads` threads take, median of `rounds`, to run one
// momentum SGD step over n parameters held apart from everything else: each
// reads and writes a parameter and its velocity (16 bytes), the gradient
// coming from a small block in cache, as in an update fused into the GEMM
// that made the gradient. No training step can update its parameters in
// less; when the parameters and velocities outgrow the caches, it is the
// memory traffic a step adds beyond its GEMMs.
inline double measure_update_seconds(int64_t n, int threads, int rounds = 7) {
  constexpr int64_t kBlock = 4096;  // the gradient block, reread for every kBlock parameters
  std::vector<float> w(static_cast<size_t>(n), 0.01f), v(static_cast<size_t>(n), 0.0f), g(kBlock, 1e-3f);
  tbb::task_arena arena(threads);
  auto update = [](float* __restrict w, float* __restrict v, const float* __restrict g, int64_t len) {
    for (int64_t i = 0; i < len; ++i) {  // vectorized: the arrays are known apart
      v[i] = 0.9f * v[i] - 0.1f * (g[i] + 1e-5f * w[i]);
      w[i] += v[i];
    }
  };
  auto step = [&] {
    arena.execute([&] {
      tbb::parallel_for(0, threads, [&](int t) {
        const int64_t i0 = n * t / threads, i1 = n * (t + 1) / threads;
        for (int64_t i = i0; i < i1; i += kBlock) update(w.data() + i, v.data() + i, g.data(), std::min(kBlock, i1 - i));
      }, tbb::static_partitioner{});
    });
  };
  std::vector<double> secs;
  for (int r = 0; r < rounds; ++r) {
    warm_up(step, 0.02);
    secs.push_back(time_per_call(step, 10));
  }
  return median(secs);
}

// The floor with the parameter updates added (measure_update_seconds per
// step), after print_dense: a reading of the overhead, not a target.
inline void print_update_floor(double epoch_s, double floor_s, double update_floor_s) {
  print_value("update_floor_s", update_floor_s);
  print_value("overhead_vs_floor_plus_updates", epoch_s / (floor_s + update_floor_s));
}

// The floor of the same GEMMs on the operands the step itself multiplies
// (GemmShape::a: sampled states, pixels), zero skipping on: what the step's
// products cost alone, with the zeros the step skips skipped here too. The
// step against it is the like-for-like reading of the overhead when zero
// skipping is on; overhead_vs_floor stays the (dense flops).
inline void print_same_operands_floor(const Rounds& r, double epoch_flops, const GemmRates& rates) {
  const std::vector<double> floors = best_floors(r.same_floor, epoch_flops, rates);
  print_value("same_operands_floor_s", median(floors));
  print_value("overhead_vs_same_operands_floor", median_ratio(r.on, floors));
}

// The GemmFlow floors' figures, when timed: the dense one against the
// epoch with zero skipping off, the same-operands one against the epoch.
inline void print_flow_floors(const Rounds& r) {
  if (!r.flow_dense.empty()) {
    print_value("dataflow_floor_s", median(r.flow_dense));
    print_value("overhead_dense_vs_dataflow_floor", median_ratio(r.off, r.flow_dense));
  }
  if (!r.flow_same.empty()) {
    print_value("dataflow_same_operands_floor_s", median(r.flow_same));
    print_value("overhead_vs_dataflow_same_operands_floor", median_ratio(r.on, r.flow_same));
  }
}

// a() and b() once each, then `quads` times a b b a, each quad's ratio the
// seconds of its a's over its b's (b's seconds first passed through
// `b_seconds`); prints <key> (the median of the ratios) and <key>_iqr_pct
// (their interquartile range, in percent of the median).
template <typename A, typename B, typename BSeconds = double (*)(double)>
void print_quad_ratio(std::string_view key, int quads, A a, B b, BSeconds b_seconds = [](double t) { return t; }) {
  a();
  b();
  std::vector<double> q;
  for (int i = 0; i < quads; ++i) {
    const double a1 = seconds_of(a), b1 = b_seconds(seconds_of(b));
    const double b2 = b_seconds(seconds_of(b)), a2 = seconds_of(a);
    q.push_back((a1 + a2) / (b1 + b2));
  }
  print_value(key, median(q));
  print_value(fmt::format("{}_iqr_pct", key), iqr_percent(q), 1);
}

// Another reading of the step against a GemmFlow floor than the rounds
// give: blocks of `k` training steps (steps(k) runs the next k of an
// endless stream of epochs, each batch converted beside the step before
// it) and of `k` runs of the floor, timed back to back in the order
// S F F S, `quads` times; each quad's ratio is its steps' seconds over its
// floor's, so that the machine's drift over seconds and the position of a
// block (after a block of its own kind or of the other) fall on both
// sides. Zero skipping is set to `skip` for both and left on. Prints
// <key> (the median of the quads' ratios) and <key>_iqr_pct (their
// interquartile range, in percent of the median).
template <typename Steps>
void print_paired(std::string_view key, int quads, int k, Steps steps, GemmFlow& floor, bool skip) {
  ebm::gemm::set_skip_zeros(skip);
  print_quad_ratio(key, quads, [&] { steps(k); }, [&] {
    for (int i = 0; i < k; ++i) floor.run();
  });
  ebm::gemm::set_skip_zeros(true);
}

// The reading (the step against its flops at the best rate: the
// step's GEMMs alone, independent, on uniform operands with zero skipping
// off) taken the way print_paired takes its own: quads of blocks of `k`
// steps, zero skipping as `skip` says, and `k` runs of `dense`, S F F S, a
// block of the floor counted at OpenBLAS's rate (`openblas_gflops`,
// GemmRates) where that is faster, as best_floors counts a round's. The
// rounds' ratio sets an epoch beside a floor timed seconds later; this one
// sets the blocks side by side, so the machine's drift between them is
// smaller. Blocks of 10 read the fine-tuning step 1-2% lower against this
// floor than blocks of 50-600 do (a short block of the floor pays more for
// starting cold than the step, which streams its weights every step
// anyway: docs/performance.md, thirty-ninth session), so the benches take
// blocks of 150. Leaves zero skipping on.
template <typename Steps>
void print_paired_vs_floor(std::string_view key, int quads, int k, Steps steps, GemmSet& dense,
                           double openblas_gflops, bool skip) {
  const double openblas_s = openblas_gflops > 0 ? k * dense.flops() / (openblas_gflops * 1e9) : 0.0;
  auto floor = [&] {
    ebm::gemm::set_skip_zeros(false);
    for (int i = 0; i < k; ++i) dense.run();
  };
  auto step = [&] {
    ebm::gemm::set_skip_zeros(skip);
    steps(k);
  };
  print_quad_ratio(key, quads, step, floor, [&](double t) { return openblas_s > 0 ? std::min(t, openblas_s) : t; });
  ebm::gemm::set_skip_zeros(true);
}

// The write-ahead's gain inside the step (ebm::gemm::set_write_ahead: the
// weights' lines claimed while their gradient's tiles are computed), read
// in-process: blocks of `k` steps with it off and on, in the order
// off on on off, `quads` times, each quad's ratio its off blocks' seconds
// over its on blocks'. Prints <key> (the median) and <key>_iqr_pct, and
// leaves the switch as it found it.
template <typename Steps>
void print_write_ahead_speedup(std::string_view key, int quads, int k, Steps steps) {
  const bool was = ebm::gemm::write_ahead();
  auto with = [&](bool on) {
    return [&, on] {
      ebm::gemm::set_write_ahead(on);
      steps(k);
    };
  };
  print_quad_ratio(key, quads, with(false), with(true));
  ebm::gemm::set_write_ahead(was);
}

// What both step benches print from their rounds, after the step's
// profile: epoch_s, epoch_iqr_pct, epoch_flops, the floor figures
// (print_floor, with OpenBLAS's rates measured here on `shapes`), the dense
// epochs' (print_dense), the same-operands floor's and the GemmFlow
// floors' (print_flow_floors). Returns each round's
// best-rate floor, for the headline ratio.
struct RoundsReport {
  double epoch_s, floor_s;
  std::vector<double> floors;
  GemmRates rates;
};

inline RoundsReport print_rounds(const Rounds& r, double epoch_flops, const std::vector<GemmShape>& shapes, int threads,
                                 double avx512_gflops) {
  const GemmRates rates = measure_gemm_rates(shapes, threads);
  RoundsReport out{median(r.on), 0.0, best_floors(r.dense_floor, epoch_flops, rates), rates};
  out.floor_s = median(out.floors);
  print_value("epoch_s", out.epoch_s);
  print_value("epoch_iqr_pct", iqr_percent(r.on), 1);
  print_value("epoch_flops", epoch_flops, 0);
  print_floor(out.epoch_s, epoch_flops, rates, avx512_gflops, out.floor_s);
  print_dense(r, out.floors);
  print_same_operands_floor(r, epoch_flops, rates);
  print_flow_floors(r);
  return out;
}

}  // namespace bench
