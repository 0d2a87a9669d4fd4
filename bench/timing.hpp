#pragma once
// Shared helpers for the benchmarks under bench/: steady-clock timing,
// medians over repeats, and the output format. Every figure is printed as
// one `key=value` line; free text (profiles, notes) goes on lines starting
// with "# " so a script can keep only the key=value lines. The headline
// figure of each benchmark is its last key=value line.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include "graph/executor.hpp"

namespace bench {

using Clock = std::chrono::steady_clock;

// The benches take no options but those in `flags` (a flag followed by its
// value when it ends in '=', given as `--flag V` or `--flag=V`): --help or
// -h prints `about` and exits; any other argument, or a valued flag without
// its value, is refused (exit 2) rather than ignored by a run of minutes, as
// is a bad EBM_GEMM. Internal flags (a child process's) are passed in `flags` too.
inline void command_line(int argc, char** argv, std::string_view about,
                         std::initializer_list<std::string_view> flags = {}) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      const std::string_view self = argv[0];
      fmt::print("{}\nPrints key=value lines (its headline figure last) and notes on lines starting with '# '; what "
                 "each key means is written at the top of bench/{}.cpp (other_cpu_pct, which every bench prints, in "
                 "bench/timing.hpp).\n",
                 about, self.substr(self.find_last_of('/') + 1));
      std::exit(0);
    }
    bool known = false;
    for (std::string_view f : flags) {
      if (!f.ends_with('=')) {
        known = known || a == f;
      } else if (a.starts_with(f)) {  // --flag=V
        known = true;
      } else if (a == f.substr(0, f.size() - 1)) {  // --flag V
        if (i + 1 >= argc) {
          fmt::print(stderr, "{}: {} needs a value; see --help\n", argv[0], a);
          std::exit(2);
        }
        known = true;
        ++i;
      }
    }
    if (!known) {
      fmt::print(stderr, "{}: unknown argument '{}'; see --help\n", argv[0], a);
      std::exit(2);
    }
  }
  try {  // a bad EBM_GEMM is refused here, as the samples refuse it, not aborted on later
    (void)ebm::default_gemm_backend();
  } catch (const ebm::Error& e) {
    fmt::print(stderr, "{}: {}\n", argv[0], e.what());
    std::exit(2);
  }
}

// The value of the integer flag `name` (`--name N` or `--name=N`), or
// `fallback` when it is absent; a value that is not a whole number in
// [lo, hi], or a second one, is refused (exit 2) with a message naming the
// flag.
inline long int_flag(int argc, char** argv, std::string_view name, long fallback, long lo, long hi) {
  long value = fallback;
  bool given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    std::string_view text;
    if (a == name && i + 1 < argc) {
      text = argv[++i];
    } else if (a.size() > name.size() && a.starts_with(name) && a[name.size()] == '=') {
      text = a.substr(name.size() + 1);
    } else {
      continue;
    }
    if (given) {  // the last would win
      fmt::print(stderr, "{}: {} given twice; expected once\n", argv[0], name);
      std::exit(2);
    }
    given = true;
    long v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi) {
      fmt::print(stderr, "{}: {} '{}': expected a whole number from {} to {}\n", argv[0], name, text, lo, hi);
      std::exit(2);
    }
    value = v;
  }
  return value;
}

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The median of the samples (the mean of the middle two for an even count).
inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 == 1 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

// The interquartile range as a percentage of the median: how noisy the
// samples were (a busy machine shows tens of percent).
inline double iqr_percent(std::vector<double> v) {
  if (v.size() < 4) return 0.0;
  std::sort(v.begin(), v.end());
  const double q1 = v[v.size() / 4], q3 = v[(3 * v.size()) / 4];
  return 100.0 * (q3 - q1) / median(v);
}

// Seconds one call of f() takes.
template <typename F>
double seconds_of(F&& f) {
  const Clock::time_point t0 = Clock::now();
  f();
  return seconds_since(t0);
}

// Calls f() `calls` times back to back; returns the mean seconds per call.
template <typename F>
double time_per_call(F&& f, int calls) {
  const Clock::time_point t0 = Clock::now();
  for (int i = 0; i < calls; ++i) f();
  return seconds_since(t0) / calls;
}

// Calls f() repeatedly for at least `seconds` (and at least once): lets the
// thread pool's workers, the CPU clocks and the page tables settle before
// anything is timed (the first ~0.1 s of a run here is often much slower).
template <typename F>
void warm_up(F&& f, double seconds) {
  const Clock::time_point t0 = Clock::now();
  do f();
  while (seconds_since(t0) < seconds);
}

inline void print_value(std::string_view key, double value, int precision = 3) {
  fmt::print("{}={:.{}f}\n", key, value, precision);
}

inline void print_count(std::string_view key, int64_t value) { fmt::print("{}={}\n", key, value); }

// Prints multi-line text with every line prefixed by "# ".
inline void print_comment(std::string_view text) {
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    fmt::print("# {}\n", text.substr(0, eol));
    if (eol == std::string_view::npos) break;
    text.remove_prefix(eol + 1);
  }
}

// The machine's busy CPU time so far, in seconds, over all its cores
// (/proc/stat's first line: user, nice, system, irq, softirq and steal
// ticks, the hypervisor's steal included); -1 where the system does not say.
inline double machine_busy_seconds() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  int64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (!(f >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) || cpu != "cpu") return -1;
  return static_cast<double>(user + nice + system + irq + softirq + steal) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// This process's CPU time so far (user and system), in seconds.
inline double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// Read when the bench starts.
inline const double kMachineBusyAtStart = machine_busy_seconds(), kOwnCpuAtStart = process_cpu_seconds();
inline const Clock::time_point kBenchStart = Clock::now();

// other_cpu_pct: the CPU time the machine spent on everything but this
// process (other processes, the kernel's own work, a hypervisor's steal)
// since the bench started, as a share of the machine's cores over that
// time. Such work stretches every timing: the ratios measured within a
// round share the stretch, the absolute seconds do not, and from 5% on a
// warning says so. Printed before the headline.
inline void print_other_load() {
  const double busy = machine_busy_seconds(), cores = static_cast<double>(std::thread::hardware_concurrency());
  if (busy < 0 || kMachineBusyAtStart < 0 || cores < 1)
    return print_comment("the system does not say how busy its cores were");
  const double others = std::max(0.0, (busy - kMachineBusyAtStart) - (process_cpu_seconds() - kOwnCpuAtStart)),
               share = 100.0 * others / (seconds_since(kBenchStart) * cores);
  print_value("other_cpu_pct", share, 1);
  if (share >= 5.0)
    print_comment(fmt::format("warning: other work took {:.1f} s of the cores' time while this ran ({:.1f}% of {} "
                              "cores): the seconds above are stretched by it; ratios taken within a round share "
                              "the stretch, but read them with care",
                              others, share, cores));
}

}  // namespace bench
