// bench_scheduler: the per-node scheduling overhead of ebm::Executor.
//
// Two graphs of 10,000 trivial nodes (scale on a [1, 16] row, so the kernel
// itself costs a few nanoseconds and the time is the scheduler's):
//   chain  — x = scale(x, 1, 1) repeated: every node waits for the previous
//            one (the result, 1 + 10,000, checks that every node ran);
//   fanout — one source read by 10,000 independent scale nodes, joined by
//            one ebm::group node (10,001 plan nodes).
// Each graph runs on its own Executor in these modes:
//   parallel — ExecutorOptions{.threads = 2, .fuse = false}: one oneTBB flow
//              node per op (fusion would collapse the chain into one task);
//   serial   — {.parallel = false, .fuse = false}: the same plan in order on
//              the calling thread;
//   fused    — chain only, {.threads = 2, .fuse = true}: one task that calls
//              the 10,000 kernels in a loop (the per-kernel dispatch cost).
// The first run compiles the plan (reported as *_compile_ms); runs for
// kWarmUpSeconds warm up; then every mode is sampled in turn, kRounds
// times, each sample the mean of kRunsPerSample runs. Reported: median
// microseconds per plan node (run wall time / nodes in the plan), and each
// mode's interquartile range as a % of its median (*_iqr_pct; large values
// mean a noisy machine).
//
// Headline (last line): sched_overhead_us_per_node, the larger of the two
// parallel medians (chain, fanout), to compare with target_us_per_node.

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "bench/timing.hpp"
#include "graph/executor.hpp"
#include "graph/functions.hpp"

namespace {

constexpr int kNodes = 10000;
constexpr int kRounds = 11;
constexpr int kRunsPerSample = 20;
constexpr double kWarmUpSeconds = 0.2;
constexpr double kTargetUsPerNode = 1.0;

ebm::Tensor build_chain(ebm::Graph& g) {
  ebm::Tensor x = g.param("x0", {1, 16}, 1.0f);
  for (int i = 0; i < kNodes; ++i) x = ebm::scale(x, 1.0f, 1.0f);
  return x;
}

// Every element of the chain's result must be 1 + kNodes (exact in float).
bool chain_ran(const ebm::Executor& exec, ebm::Tensor chain) {
  const auto v = exec.value(chain);
  return std::all_of(v.begin(), v.end(), [](float y) { return y == 1.0f + kNodes; });
}

ebm::Tensor build_fanout(ebm::Graph& g) {
  const ebm::Tensor src = g.param("src", {1, 16}, 1.0f);
  std::vector<ebm::Tensor> leaves;
  leaves.reserve(kNodes);
  for (int i = 0; i < kNodes; ++i) leaves.push_back(ebm::scale(src, 1.0f, 0.0f));
  return ebm::group(leaves);
}

// One graph run in one mode, with its samples.
struct Mode {
  std::string key;
  ebm::Tensor target;
  std::unique_ptr<ebm::Executor> exec;
  int plan_nodes = 0;
  double compile_ms = 0.0;
  std::vector<double> seconds_per_run;

  void sample() {
    seconds_per_run.push_back(bench::time_per_call([&] { exec->run({target}); }, kRunsPerSample));
  }
  double us_per_node() const { return bench::median(seconds_per_run) * 1e6 / plan_nodes; }
};

Mode make_mode(std::string key, ebm::Graph& g, ebm::Tensor target, ebm::ExecutorOptions opt) {
  Mode m;
  m.key = std::move(key);
  m.target = target;
  m.exec = std::make_unique<ebm::Executor>(g, opt);
  const bench::Clock::time_point t0 = bench::Clock::now();
  m.exec->run({target});  // compiles the plan and builds the flow graph
  m.compile_ms = bench::seconds_since(t0) * 1e3;
  bench::warm_up([&] { m.exec->run({target}); }, kWarmUpSeconds);
  const ebm::Tensor targets[] = {target};
  m.plan_nodes = m.exec->stats(targets).nodes;
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  bench::command_line(argc, argv,
                      "bench_scheduler: the executor's per-node scheduling overhead on graphs of 10,000 trivial "
                      "nodes.");
  ebm::Graph chain_graph, fanout_graph;
  const ebm::Tensor chain = build_chain(chain_graph);
  const ebm::Tensor fanout = build_fanout(fanout_graph);
  const ebm::ExecutorOptions parallel{.threads = 2, .fuse = false};
  const ebm::ExecutorOptions serial{.threads = 2, .parallel = false, .fuse = false};
  const ebm::ExecutorOptions fused{.threads = 2, .fuse = true};

  std::vector<Mode> modes;
  modes.push_back(make_mode("chain_parallel", chain_graph, chain, parallel));
  modes.push_back(make_mode("chain_serial", chain_graph, chain, serial));
  modes.push_back(make_mode("chain_fused", chain_graph, chain, fused));
  modes.push_back(make_mode("fanout_parallel", fanout_graph, fanout, parallel));
  modes.push_back(make_mode("fanout_serial", fanout_graph, fanout, serial));

  // Interleaved rounds, so a burst of load from elsewhere hits every mode alike.
  for (int r = 0; r < kRounds; ++r)
    for (Mode& m : modes) m.sample();
  for (int i = 0; i < 3; ++i)
    if (!chain_ran(*modes[static_cast<size_t>(i)].exec, chain)) {
      fmt::print(stderr, "bench_scheduler: {} computed a wrong chain result\n", modes[static_cast<size_t>(i)].key);
      return 1;
    }

  bench::print_count("nodes_per_graph", kNodes);
  bench::print_count("repeats", kRounds);
  bench::print_count("runs_per_repeat", kRunsPerSample);
  bench::print_value("chain_compile_ms", modes[0].compile_ms, 1);
  bench::print_value("fanout_compile_ms", modes[3].compile_ms, 1);
  for (const Mode& m : modes) bench::print_value(m.key + "_us_per_node", m.us_per_node());
  for (const Mode& m : modes) bench::print_value(m.key + "_iqr_pct", bench::iqr_percent(m.seconds_per_run), 1);
  bench::print_other_load();
  bench::print_value("target_us_per_node", kTargetUsPerNode, 1);
  bench::print_value("sched_overhead_us_per_node",
                     std::max(modes[0].us_per_node(), modes[3].us_per_node()));
  return 0;
}
