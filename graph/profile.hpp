#pragma once
// The scheduler's profiler. When an Executor runs with {.profile = true},
// every task records start, end and worker thread into a preallocated
// buffer (nothing is allocated while running), and so does every piece of
// work a task hands to the threads: each output tile of a GEMM (with its
// epilogue) and each row block of a split element-wise op. A task's span
// can then hold waits (for the other thread's tiles) and, nested in them,
// work of other tasks the thread picked up meanwhile; the pieces, and the
// spans of tasks that were not split, are the threads' real work. Off, it
// costs one branch per task.

#include <atomic>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ebm {

class Profile {
 public:
  struct Event {
    int32_t task;
    int32_t thread;
    int64_t start_ns;
    int64_t end_ns;
    // A piece of a task (a GEMM tile, a row block): rows [i0, i1), columns
    // [j0, j1) of its output. A task's own span has piece == false.
    bool piece = false;
    // Work: a piece, or the span of a task that handed out no pieces.
    bool work = false;
    int32_t i0 = 0, i1 = 0, j0 = 0, j1 = 0;
  };

  // threads: how many run tasks (the summary's share of busy threads).
  explicit Profile(size_t capacity = 0, int threads = 1);

  // Registers a task at compile time; returns its id. `about` names what it
  // works on (the parameters and inputs it reads), shown in the trace.
  int32_t add_task(std::string label, double flops, std::string about = {});
  // A task's span; `work`: it handed out no pieces (its span is all work).
  void record(int32_t task, int32_t thread, int64_t start_ns, int64_t end_ns, bool work = true);
  // One piece of a task's output, computed by `thread`.
  void record_piece(int32_t task, int32_t thread, int64_t start_ns, int64_t end_ns, int64_t i0, int64_t i1, int64_t j0,
                    int64_t j1);
  // A run of the executor, from start to end (steady_now_ns), of its plan
  // number `plan` (which targets it computed).
  void add_run(int64_t start_ns, int64_t end_ns, int32_t plan = 0) {
    wall_ns_ += end_ns - start_ns;
    ++runs_;
    const size_t events = n_events_.load();  // all of the run's were pushed before it ended
    if (events <= events_.size() && run_spans_.size() < run_spans_.capacity())  // never allocates
      run_spans_.push_back({start_ns, end_ns, events, plan});
  }
  void reset();

  int64_t runs() const { return runs_; }
  int threads() const { return threads_; }
  double wall_ms() const { return static_cast<double>(wall_ns_) * 1e-6; }
  // The threads' work over all tasks (pieces, and spans of unsplit tasks).
  double work_ms() const;
  size_t events() const { return std::min(n_events_.load(), events_.size()); }
  size_t dropped() const { return n_events_.load() - events(); }
  std::span<const Event> recorded() const { return {events_.data(), events()}; }

  // Chrome trace-event JSON (opens in Perfetto and chrome://tracing),
  // written to a temporary file and renamed: one track per thread, task
  // spans with their pieces nested under them or on the other thread.
  void write_chrome_trace(const std::string& path) const;
  // Per op kind: calls, total ms of the spans, share of run wall time, the
  // threads' work ms, GFLOP/s for GEMMs (flops over span time); then the
  // share of the threads that was busy with work, and (where the system
  // says) how long the process's threads waited for a core since the
  // profile began: idle time a busy machine's other processes took. With top_tasks > 0, then
  // the tasks themselves, the longest first (at most top_tasks of them),
  // each with what it works on (`about`) and its mean span per call: which
  // layer's product is the slow one; and then waits(top_tasks).
  std::string summary(size_t top_tasks = 0) const;
  // Where the threads waited: over the runs whose events were all kept,
  // each thread's idle time between its pieces of work (and from a run's
  // start to its first, from its last to the run's end), summed by the
  // pair of tasks around the gap — what the thread had just done and what
  // it did next — the largest `top` pairs first, with their share of the
  // threads' time and microseconds per run. A serialization point shows as
  // one large pair (a thread done with its share of a product, waiting for
  // the other's tiles before the next task can start). summary(n) with
  // n > 0 ends with it.
  std::string waits(size_t top = 10) const;
  // A picture of a few runs as SVG (any browser shows it; a tooltip on
  // each bar): one lane per thread, each piece of work a bar coloured by
  // op, the gaps between them idle time, on a time axis in microseconds.
  // Drawn: the last `runs` runs whose events were all kept of the plan
  // that took the most time (a training step, rather than the forward
  // pass or the monitoring run beside it), apart by dotted lines, with
  // the other plans' runs between them; not the plan's first run (its
  // buffers touched for the first time) when it has more. Written to a
  // temporary file and renamed; an ebm::Error names the path it cannot
  // write, or a `runs` below 1.
  void write_svg_timeline(const std::string& path, int runs = 3) const;

  static int64_t now_ns();

 private:
  struct TaskInfo {
    std::string label;
    std::string about;
    double flops;
    int64_t calls = 0;
    int64_t total_ns = 0;
  };
  void push(const Event& e);  // into the preallocated buffer, from any thread
  // `text` to "<path>.tmp", renamed onto `path`; an ebm::Error names the path.
  static void write_file(const std::string& path, std::string_view text);

  std::vector<TaskInfo> tasks_;
  std::deque<std::atomic<int64_t>> work_ns_;  // per task; pieces are recorded from several threads
  std::vector<Event> events_;
  struct RunSpan {
    int64_t start_ns, end_ns;
    size_t events;  // recorded by the end of the run: its events were all kept if at most the room
    int32_t plan;
  };
  std::vector<RunSpan> run_spans_;  // the runs while the events' room lasts (room reserved with it)
  std::atomic<size_t> n_events_{0};
  int threads_ = 1;
  int64_t wall_ns_ = 0;
  int64_t runs_ = 0;
  int64_t origin_ns_ = 0;
  // Each of the process's threads' time waiting for a core when the profile
  // began (thread id, ns; Linux's schedstat), for the summary's line on how
  // much of the threads' time the operating system gave other processes.
  std::vector<std::pair<int64_t, int64_t>> os_waits_at_origin_;
};

}  // namespace ebm
