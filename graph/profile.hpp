#pragma once
// The scheduler's profiler. When an Executor runs with {.profile = true},
// every task records start, end and worker thread into a preallocated
// buffer (nothing is allocated while running). Off, it costs one branch.

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace ebm {

class Profile {
 public:
  struct Event {
    int32_t task;
    int32_t thread;
    int64_t start_ns;
    int64_t end_ns;
  };

  explicit Profile(size_t capacity = 0);

  // Registers a task at compile time; returns its id.
  int32_t add_task(std::string label, double flops);
  void record(int32_t task, int32_t thread, int64_t start_ns, int64_t end_ns);
  void add_run(int64_t wall_ns) {
    wall_ns_ += wall_ns;
    ++runs_;
  }
  void reset();

  int64_t runs() const { return runs_; }
  double wall_ms() const { return static_cast<double>(wall_ns_) * 1e-6; }
  size_t events() const { return std::min(n_events_.load(), events_.size()); }
  size_t dropped() const { return n_events_.load() - events(); }

  // Chrome trace-event JSON (opens in Perfetto and chrome://tracing),
  // written to a temporary file and renamed.
  void write_chrome_trace(const std::string& path) const;
  // Per op kind: calls, total ms, share of run wall time, GFLOP/s for GEMMs.
  std::string summary() const;

  static int64_t now_ns();

 private:
  struct TaskInfo {
    std::string label;
    double flops;
    int64_t calls = 0;
    int64_t total_ns = 0;
  };
  std::vector<TaskInfo> tasks_;
  std::vector<Event> events_;
  std::atomic<size_t> n_events_{0};
  int64_t wall_ns_ = 0;
  int64_t runs_ = 0;
  int64_t origin_ns_ = 0;
};

}  // namespace ebm
