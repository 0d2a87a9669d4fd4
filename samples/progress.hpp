#pragma once
// A live progress line for long phases: "<label> 12/50 [=====     ] 24% 31 s, ETA 1:38".
// Redrawn in place on a terminal; elsewhere (logs) one line per update, or
// per tenth of a long count that asks for it. And the per-phase summary
// table the samples print at the end.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <unistd.h>

namespace ebm::samples {

class Progress {
 public:
  // tenths_in_logs: a long count (AIS's temperatures) whose every update
  // would flood a log prints there a line per tenth only. unlike_steps: a
  // phase of steps that are not alike (a baseline, then another), whose
  // time so far says nothing of the rest: no ETA.
  Progress(std::string label, int64_t total, bool tenths_in_logs = false, bool unlike_steps = false)
      : label_(std::move(label)), total_(total), t0_(std::chrono::steady_clock::now()), tty_(isatty(1) != 0),
        tenths_(tenths_in_logs), unlike_(unlike_steps) {}

  // `note` is appended (e.g. the epoch's error); done counts finished units.
  void update(int64_t done, const std::string& note = {}) {
    const auto now = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(now - t0_).count();
    // The rate counts only the units done since the clock started (a
    // resumed run's earlier epochs took no time here), and once two are
    // done, those after the first (whose time holds the phase's setting up).
    if (done == start_ + 1) first_ = s;
    const bool past_first = done >= start_ + 2 && first_ >= 0;
    const double per_unit = past_first      ? (s - first_) / static_cast<double>(done - start_ - 1)
                            : done > start_ ? s / static_cast<double>(done - start_)
                                            : 0.0;
    const double eta = per_unit * static_cast<double>(std::max<int64_t>(total_ - done, 0));
    const int bar = total_ > 0 ? static_cast<int>(20 * done / total_) : 20;
    const std::string eta_text =
        unlike_ ? std::string() : fmt::format(", ETA {}:{:02}", static_cast<int>(eta) / 60, static_cast<int>(eta) % 60);
    line_ = fmt::format("{} {}/{} [{:<20}] {:3}% {:.0f} s{}  {}", label_, done, total_,
                        std::string(static_cast<size_t>(bar), '='), total_ > 0 ? 100 * done / total_ : 100, s, eta_text,
                        note);
    const bool logged = !tenths_ || total_ <= 0 || done >= total_ || done * 10 / total_ != printed_ * 10 / total_;
    if (tty_)
      fmt::print("\r{}\033[K", line_);
    else if (logged)
      fmt::print("{}\n", line_);
    if (logged) printed_ = done;
    done_ = done >= total_;
    if (tty_ && done_) fmt::print("\n");
    std::fflush(stdout);
  }
  // `done` units were finished before this process (a checkpoint's
  // epochs): they count towards the bar but not towards the rate the ETA
  // extrapolates. Restarts the clock and draws the line.
  void resumed(int64_t done, const std::string& note = "resumed from the checkpoint") {
    counted_before(done);
    update(done, note);
  }
  // The same without drawing: for a phase whose checkpoint is read (and
  // may be refused) only once it starts, so no line says "resumed" first.
  void counted_before(int64_t done) {
    start_ = done;
    first_ = -1;
    t0_ = std::chrono::steady_clock::now();
  }
  // A line of its own on `to` (stdout or stderr), above the live line,
  // which is then drawn again.
  void print_above(std::FILE* to, const std::string& text) const {
    if (tty_ && !done_) fmt::print("\r\033[K");
    std::fflush(stdout);
    fmt::print(to, "{}\n", text);
    std::fflush(to);
    if (tty_ && !done_) fmt::print("{}", line_);
    std::fflush(stdout);
  }
  void warn(const std::string& text) const { print_above(stderr, text); }
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count(); }

 private:
  std::string label_;
  int64_t total_;
  std::chrono::steady_clock::time_point t0_;
  bool tty_;
  std::string line_;
  bool tenths_;
  bool unlike_;
  double first_ = -1;  // seconds to the first unit done since the clock started (-1: none yet)
  bool done_ = false;
  int64_t printed_ = 0;  // the count last printed
  int64_t start_ = 0;    // the count done before the clock started (resumed)
};

// The per-phase summary table printed at the end, and notes under it (how
// to read a picture, say).
class Summary {
 public:
  void add(std::string phase, double seconds, std::string outcome) {
    rows_.push_back({std::move(phase), seconds, std::move(outcome)});
  }
  void note(std::string text) { notes_.push_back(std::move(text)); }
  // The wall time since the summary was made (the run's, from just after
  // its data were read): the phases' rows and whatever ran between them.
  double total() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count(); }
  // The table, its total `all` (total() when negative).
  void print(double all = -1) const {
    if (all < 0) all = total();
    size_t w = 32;  // as wide as the longest phase, so that the columns line up
    for (const auto& r : rows_) w = std::max(w, r.phase.size());
    fmt::print("\n{:<{}} {:>9}  {}\n", "phase", w, "seconds", "result");
    double phases = 0;
    for (const auto& r : rows_) {
      fmt::print("{:<{}} {:>9.1f}  {}\n", r.phase, w, r.seconds, r.outcome);
      phases += r.seconds;
    }
    // (evaluations, pictures and set-up outside the timed phases: the total is the wall clock's)
    if (const double rest = all - phases; rest >= 0.05)
      fmt::print("{:<{}} {:>9.1f}  {}\n", "between the phases", w, rest, "evaluations, pictures and set-up");
    fmt::print("{:<{}} {:>9.1f}\n\n", "total", w, all);
    for (const std::string& n : notes_) fmt::print("{}\n", n);
    if (!notes_.empty()) fmt::print("\n");
  }

 private:
  struct Row {
    std::string phase;
    double seconds;
    std::string outcome;
  };
  std::vector<Row> rows_;
  std::vector<std::string> notes_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

}  // namespace ebm::samples
