#include "graph/profile.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <system_error>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "ops/clock.hpp"
#include "ops/error.hpp"

namespace ebm {

namespace {

// Each of this process's threads' time runnable but waiting for a core
// (the second field of /proc/self/task/<tid>/schedstat, in ns): empty
// where the system does not say.
std::vector<std::pair<int64_t, int64_t>> os_waits() {
  std::vector<std::pair<int64_t, int64_t>> out;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/task", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::ifstream f(it->path() / "schedstat");
    int64_t ran = 0, waited = 0;
    if (f >> ran >> waited) out.emplace_back(std::atoll(it->path().filename().c_str()), waited);
  }
  return out;
}

}  // namespace

Profile::Profile(size_t capacity, int threads)
    : events_(capacity), threads_(std::max(threads, 1)), origin_ns_(now_ns()) {
  run_spans_.reserve(capacity / 2 + 16);  // a run records a task or two at least
  if (capacity > 0) os_waits_at_origin_ = os_waits();
}

int64_t Profile::now_ns() { return steady_now_ns(); }

int32_t Profile::add_task(std::string label, double flops, std::string about) {
  tasks_.push_back({std::move(label), std::move(about), flops});
  work_ns_.emplace_back(0);
  return static_cast<int32_t>(tasks_.size() - 1);
}

void Profile::record(int32_t task, int32_t thread, int64_t start_ns, int64_t end_ns, bool work) {
  TaskInfo& t = tasks_[static_cast<size_t>(task)];  // one writer per task per run
  ++t.calls;
  t.total_ns += end_ns - start_ns;
  if (work) work_ns_[static_cast<size_t>(task)].fetch_add(end_ns - start_ns, std::memory_order_relaxed);
  push({task, thread, start_ns, end_ns, false, work});
}

void Profile::record_piece(int32_t task, int32_t thread, int64_t start_ns, int64_t end_ns, int64_t i0, int64_t i1,
                           int64_t j0, int64_t j1) {
  work_ns_[static_cast<size_t>(task)].fetch_add(end_ns - start_ns, std::memory_order_relaxed);
  auto at = [](int64_t x) { return static_cast<int32_t>(x); };
  push({task, thread, start_ns, end_ns, true, true, at(i0), at(i1), at(j0), at(j1)});
}

void Profile::push(const Event& e) {
  const size_t k = n_events_.fetch_add(1, std::memory_order_relaxed);
  if (k < events_.size()) events_[k] = e;  // beyond the room: counted (dropped()), not kept
}

void Profile::reset() {
  for (TaskInfo& t : tasks_) t.calls = t.total_ns = 0;
  for (std::atomic<int64_t>& w : work_ns_) w = 0;
  n_events_ = 0;
  run_spans_.clear();
  wall_ns_ = runs_ = 0;
  origin_ns_ = now_ns();
  os_waits_at_origin_ = os_waits();
}

double Profile::work_ms() const {
  int64_t ns = 0;
  for (const std::atomic<int64_t>& w : work_ns_) ns += w.load();
  return static_cast<double>(ns) * 1e-6;
}

namespace {

// A task's `about`, cut to fit a 28-character column.
std::string short_about(const std::string& about) { return about.size() > 28 ? about.substr(0, 25) + "..." : about; }

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) o += c;
  }
  return o;
}

}  // namespace

void Profile::write_file(const std::string& path, std::string_view text) {
  if (path.empty()) throw Error("profile: an empty path; expected a file path");
  std::error_code kind_ec;
  const auto kind = std::filesystem::status(path, kind_ec).type();
  if (kind != std::filesystem::file_type::not_found && kind != std::filesystem::file_type::regular)
    throw Error("profile: '{}' exists and is not a regular file (a folder or a device); expected a file path", path);
  const std::string tmp = path + ".tmp";
  errno = 0;
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) throw Error("profile: cannot write '{}' (nor its temporary '{}': {})", path, tmp, io_failure_cause());
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const bool closed = std::fclose(f) == 0;
  const std::string why = io_failure_cause();
  std::error_code ec;
  if (!closed || !ok) {
    std::filesystem::remove(tmp, ec);
    throw Error("profile: failed writing '{}' ({}); expected a disk with room", path, why);
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    const std::string cause = ec.message();  // (before remove() sets ec again)
    std::filesystem::remove(tmp, ec);
    throw Error("profile: cannot write '{}' ({})", path, cause);
  }
}

void Profile::write_chrome_trace(const std::string& path) const {
  std::string json = "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n";
  auto out = std::back_inserter(json);
  // Records are separated, not ended, by commas: a trace of no events is valid JSON too.
  for (int t = 0; t < threads_; ++t)
    fmt::format_to(out, "{}{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{},\"args\":{{\"name\":\"thread {}\"}}}}",
                   t ? ",\n" : "", t, t);
  for (size_t i = 0; i < events(); ++i) {
    const Event& e = events_[i];
    const TaskInfo& t = tasks_[static_cast<size_t>(e.task)];
    const std::string args =
        e.piece ? fmt::format("\"task\":{},\"rows\":\"{}-{}\",\"cols\":\"{}-{}\"", e.task, e.i0, e.i1, e.j0, e.j1)
                : fmt::format("\"task\":{},\"about\":\"{}\"", e.task, json_escape(t.about));
    // every event follows a record (the thread names: there is at least one thread)
    fmt::format_to(out, ",\n{{\"name\":\"{}\",\"cat\":\"{}\",\"ph\":\"X\",\"pid\":1,\"tid\":{},\"ts\":{:.3f},\"dur\":{:.3f},"
                        "\"args\":{{{}}}}}",
                   json_escape(t.label), e.piece ? "piece" : "task", e.thread,
                   static_cast<double>(e.start_ns - origin_ns_) * 1e-3, static_cast<double>(e.end_ns - e.start_ns) * 1e-3,
                   args);
  }
  json += "\n]}\n";
  write_file(path, json);
}

std::string Profile::summary(size_t top_tasks) const {
  struct Row {
    int64_t calls = 0, ns = 0, work_ns = 0;
    double flops = 0.0;
  };
  std::map<std::string, Row> rows;
  int64_t busy = 0;
  for (size_t i = 0; i < tasks_.size(); ++i) {
    const TaskInfo& t = tasks_[i];
    if (t.calls == 0) continue;
    Row& r = rows[t.label];
    r.calls += t.calls;
    r.ns += t.total_ns;
    r.work_ns += work_ns_[i].load();
    r.flops += t.flops * static_cast<double>(t.calls);
    busy += work_ns_[i].load();
  }
  std::vector<std::pair<std::string, Row>> sorted(rows.begin(), rows.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second.ns > b.second.ns; });
  const double wall = static_cast<double>(std::max<int64_t>(wall_ns_, 1));
  size_t width = 40;  // the label column: wide enough for the longest label, so the columns stay in line
  for (const auto& [label, r] : sorted) width = std::max(width, label.size());
  std::string s = fmt::format("{:<{}} {:>9} {:>11} {:>8} {:>11} {:>9}\n", "op", width, "calls", "total ms", "% wall",
                              "work ms", "GFLOP/s");
  for (const auto& [label, r] : sorted) {
    const std::string gf = r.flops > 0 ? fmt::format("{:.1f}", r.flops / static_cast<double>(r.ns)) : "";
    s += fmt::format("{:<{}} {:>9} {:>11.3f} {:>7.1f}% {:>11.3f} {:>9}\n", label, width, r.calls,
                     static_cast<double>(r.ns) * 1e-6, 100.0 * static_cast<double>(r.ns) / wall,
                     static_cast<double>(r.work_ns) * 1e-6, gf);
  }
  s += fmt::format("{} runs, {:.3f} ms wall; {:.3f} ms of work on {} thread{}: busy {:.1f}% of the time\n", runs_,
                   wall_ms(), static_cast<double>(busy) * 1e-6, threads_, threads_ == 1 ? "" : "s",
                   100.0 * static_cast<double>(busy) / (wall * threads_));
  if (const auto waits_now = os_waits(); !waits_now.empty() && !os_waits_at_origin_.empty()) {
    int64_t waited = 0;  // since the profile began, over threads alive now (those born since from 0)
    for (const auto& [tid, ns] : waits_now) {
      int64_t before = 0;
      for (const auto& [t0, ns0] : os_waits_at_origin_)
        if (t0 == tid) before = ns0;
      waited += std::max<int64_t>(0, ns - before);
    }
    const double window = static_cast<double>(std::max<int64_t>(now_ns() - origin_ns_, 1)) * threads_,
                 share = std::min(100.0, 100.0 * static_cast<double>(waited) / window);  // other threads count too
    s += fmt::format("the process's threads waited {:.3f} ms for a core since the profile began ({:.1f}% of {} "
                     "{} time){}\n",
                     static_cast<double>(waited) * 1e-6, share, threads_, threads_ == 1 ? "thread's" : "threads'",
                     share >= 5.0 ? ": more threads wanted the cores than there were (other processes, or this "
                                    "one's own); the times above are the wall clock's and include such waits (as "
                                    "work inside a piece of work, as idle between pieces), and the GFLOP/s are "
                                    "lower for them"
                                  : "");
  }
  // The tasks that ran, the longest first; tasks with the same label and
  // the same names (the steps of an unrolled Gibbs chain), which a reader
  // could not tell apart anyway, are one row.
  struct TaskRow {
    std::string label, about;
    int64_t calls = 0, ns = 0, work_ns = 0;
  };
  std::map<std::pair<std::string, std::string>, TaskRow> task_rows;
  for (size_t i = 0; top_tasks > 0 && i < tasks_.size(); ++i) {
    const TaskInfo& t = tasks_[i];
    if (t.calls == 0) continue;
    TaskRow& r = task_rows[{t.label, t.about}];
    r.label = t.label;
    r.about = t.about;
    r.calls += t.calls;
    r.ns += t.total_ns;
    r.work_ns += work_ns_[i].load();
  }
  std::vector<TaskRow> by_span;
  for (auto& [key, r] : task_rows) by_span.push_back(std::move(r));
  std::sort(by_span.begin(), by_span.end(), [](const TaskRow& a, const TaskRow& b) { return a.ns > b.ns; });
  if (!by_span.empty()) {
    s += fmt::format("{:<{}} {:<28} {:>9} {:>11} {:>11} {:>11}\n", "task (longest first)", width, "about", "calls",
                     "total ms", "work ms", "us / call");
    for (size_t r = 0; r < by_span.size() && r < top_tasks; ++r) {
      const TaskRow& t = by_span[r];
      s += fmt::format("{:<{}} {:<28} {:>9} {:>11.3f} {:>11.3f} {:>11.1f}\n", t.label, width, short_about(t.about),
                       t.calls, static_cast<double>(t.ns) * 1e-6, static_cast<double>(t.work_ns) * 1e-6,
                       static_cast<double>(t.ns) * 1e-3 / static_cast<double>(t.calls));
    }
  }
  if (top_tasks > 0) s += waits(top_tasks);
  if (dropped() > 0)
    s += fmt::format("the trace keeps the first {} events; {} later ones were not recorded (the table counts them; "
                     "ExecutorOptions::profile_events, a sample's --profile-events, sets the room)\n",
                     events(), dropped());
  return s;
}

std::string Profile::waits(size_t top) const {
  constexpr int32_t kEdge = -1;  // the run's start (before the first work) or end (after the last)
  std::map<std::pair<int32_t, int32_t>, std::pair<int64_t, int64_t>> idle;  // (after, before) -> ns, gaps
  int64_t wall = 0, runs = 0;
  std::vector<std::vector<const Event*>> by_thread(static_cast<size_t>(threads_));
  size_t first = 0;  // a run's events follow the previous run's
  for (const RunSpan& run : run_spans_) {  // runs whose events were all kept (add_run)
    for (auto& t : by_thread) t.clear();
    for (size_t i = first; i < run.events; ++i) {
      const Event& e = events_[i];  // not those of a run that threw before it (ended before this one began)
      if (e.work && e.thread >= 0 && e.thread < threads_ && e.end_ns > run.start_ns)
        by_thread[static_cast<size_t>(e.thread)].push_back(&e);
    }
    first = run.events;
    for (auto& work : by_thread) {
      std::sort(work.begin(), work.end(), [](const Event* a, const Event* b) { return a->start_ns < b->start_ns; });
      int64_t at = run.start_ns;
      int32_t after = kEdge;
      auto gap = [&](int64_t until, int32_t before) {
        if (until <= at) return;
        auto& [ns, gaps] = idle[{after, before}];
        ns += until - at;
        ++gaps;
      };
      for (const Event* e : work) {
        gap(e->start_ns, e->task);
        if (e->end_ns > at) {  // work nested in a longer piece leaves the longer one as what came before a gap
          at = e->end_ns;
          after = e->task;
        }
      }
      gap(run.end_ns, kEdge);
    }
    wall += run.end_ns - run.start_ns;
    ++runs;
  }
  if (runs == 0) return "waits: no run whose events were all kept\n";
  auto name = [&](int32_t task, const char* edge) {
    if (task == kEdge) return std::string(edge);
    const TaskInfo& t = tasks_[static_cast<size_t>(task)];
    return t.about.empty() ? t.label : fmt::format("{} [{}]", t.label, short_about(t.about));
  };
  // Summed by the names around the gap: the same pair of ops on the same
  // values (an unrolled chain's steps) is one row.
  std::map<std::pair<std::string, std::string>, std::pair<int64_t, int64_t>> named;
  for (const auto& [pair, v] : idle) {
    auto& [ns, gaps] = named[{name(pair.first, "the run's start"), name(pair.second, "the run's end")}];
    ns += v.first;
    gaps += v.second;
  }
  std::vector<std::pair<std::pair<std::string, std::string>, std::pair<int64_t, int64_t>>> rows(named.begin(),
                                                                                                  named.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  int64_t total = 0;
  for (const auto& r : rows) total += r.second.first;
  const double threads_ns = static_cast<double>(wall) * threads_;
  std::string s = fmt::format("threads idle {:.1f}% of their time over {} runs; where they waited (after -> before):\n",
                              100.0 * static_cast<double>(total) / threads_ns, runs);
  s += fmt::format("{:>9} {:>8} {:>9} {:>7}  {}\n", "idle ms", "% time", "us / run", "gaps", "after -> before");
  for (size_t r = 0; r < rows.size() && r < top; ++r) {
    const auto& [pair, v] = rows[r];
    // A thread that did nothing in a run waited from its start to its end (a busy machine, or a run too small to share).
    const std::string where = pair.first == "the run's start" && pair.second == "the run's end"
                                  ? std::string("(no work in the run: the run's start -> its end)")
                                  : fmt::format("{} -> {}", pair.first, pair.second);
    s += fmt::format("{:>9.3f} {:>7.1f}% {:>9.1f} {:>7}  {}\n", static_cast<double>(v.first) * 1e-6,
                     100.0 * static_cast<double>(v.first) / threads_ns,
                     static_cast<double>(v.first) * 1e-3 / static_cast<double>(runs), v.second, where);
  }
  return s;
}

}  // namespace ebm
