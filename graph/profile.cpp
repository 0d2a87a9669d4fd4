#include "graph/profile.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "ops/error.hpp"

namespace ebm {

Profile::Profile(size_t capacity) : events_(capacity), origin_ns_(now_ns()) {}

int64_t Profile::now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int32_t Profile::add_task(std::string label, double flops) {
  tasks_.push_back({std::move(label), flops});
  return static_cast<int32_t>(tasks_.size() - 1);
}

void Profile::record(int32_t task, int32_t thread, int64_t start_ns, int64_t end_ns) {
  TaskInfo& t = tasks_[static_cast<size_t>(task)];  // one writer per task per run
  ++t.calls;
  t.total_ns += end_ns - start_ns;
  const size_t k = n_events_.fetch_add(1, std::memory_order_relaxed);
  if (k < events_.size()) events_[k] = {task, thread, start_ns, end_ns};
}

void Profile::reset() {
  for (TaskInfo& t : tasks_) t.calls = t.total_ns = 0;
  n_events_ = 0;
  wall_ns_ = runs_ = 0;
  origin_ns_ = now_ns();
}

namespace {

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) o += c;
  }
  return o;
}

}  // namespace

void Profile::write_chrome_trace(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) throw Error("profile: cannot write '{}'", tmp);
  fmt::print(f, "{{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
  for (size_t i = 0; i < events(); ++i) {
    const Event& e = events_[i];
    const TaskInfo& t = tasks_[static_cast<size_t>(e.task)];
    fmt::print(f, "{}{{\"name\":\"{}\",\"cat\":\"op\",\"ph\":\"X\",\"pid\":1,\"tid\":{},\"ts\":{:.3f},\"dur\":{:.3f}}}",
               i ? ",\n" : "", json_escape(t.label), e.thread, static_cast<double>(e.start_ns - origin_ns_) * 1e-3,
               static_cast<double>(e.end_ns - e.start_ns) * 1e-3);
  }
  fmt::print(f, "\n]}}\n");
  const bool ok = std::fclose(f) == 0;
  if (!ok) throw Error("profile: failed writing '{}'", tmp);
  std::filesystem::rename(tmp, path);
}

std::string Profile::summary() const {
  struct Row {
    int64_t calls = 0, ns = 0;
    double flops = 0.0;
  };
  std::map<std::string, Row> rows;
  int64_t busy = 0;
  for (const TaskInfo& t : tasks_) {
    if (t.calls == 0) continue;
    Row& r = rows[t.label];
    r.calls += t.calls;
    r.ns += t.total_ns;
    r.flops += t.flops * static_cast<double>(t.calls);
    busy += t.total_ns;
  }
  std::vector<std::pair<std::string, Row>> sorted(rows.begin(), rows.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second.ns > b.second.ns; });
  const double wall = static_cast<double>(std::max<int64_t>(wall_ns_, 1));
  std::string s = fmt::format("{:<40} {:>9} {:>11} {:>8} {:>9}\n", "op", "calls", "total ms", "% wall", "GFLOP/s");
  for (const auto& [label, r] : sorted) {
    const std::string gf = r.flops > 0 ? fmt::format("{:.1f}", r.flops / static_cast<double>(r.ns)) : "";
    s += fmt::format("{:<40} {:>9} {:>11.3f} {:>7.1f}% {:>9}\n", label, r.calls, static_cast<double>(r.ns) * 1e-6,
                     100.0 * static_cast<double>(r.ns) / wall, gf);
  }
  s += fmt::format("{} runs, {:.3f} ms wall, {:.3f} ms in ops (busy/wall {:.2f})\n", runs_, wall_ms(),
                   static_cast<double>(busy) * 1e-6, static_cast<double>(busy) / wall);
  return s;
}

}  // namespace ebm
