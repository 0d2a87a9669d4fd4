#pragma once
// The samples' per-epoch CSV files: written header-first, one flushed row
// per epoch, appended to when a run resumes from a checkpoint, and read
// back by column name (for the learning curves).

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "ops/error.hpp"

namespace ebm::samples {

inline std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  std::stringstream s(line);
  while (std::getline(s, cell, ',')) cells.push_back(cell);
  if (!line.empty() && line.back() == ',') cells.emplace_back();
  return cells;
}

using CsvColumns = std::map<std::string, std::vector<double>>;

// The columns of a CSV file with a header line, by name; a cell that is not
// a number reads as NaN. No file: no columns.
inline CsvColumns read_csv_columns(const std::filesystem::path& path) {
  CsvColumns out;
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return out;
  const std::vector<std::string> names = split_csv_line(line);
  for (const std::string& name : names) out[name];
  while (std::getline(in, line)) {
    const std::vector<std::string> cells = split_csv_line(line);
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string cell = i < cells.size() ? cells[i] : std::string();
      char* end = nullptr;
      const double v = std::strtod(cell.c_str(), &end);
      out[names[i]].push_back(end != cell.c_str() ? v : std::nan(""));
    }
  }
  return out;
}

// A fresh run's file is rewritten from its first row on (until then an
// earlier run's rows stay, beside the pictures drawn from them: a run
// killed before its first epoch ended leaves them, though the checkpoints
// they came from are gone), or, if the run ends without a row, left
// holding the header only. A file that was not there gets its header at
// once, so no run leaves an empty one. A resumed run's rows are appended;
// a file of an older version whose columns are a subset of these is
// rewritten under the new header first (empty cells for the new columns),
// any other is moved to <path>.old (or .old.1, ...).
class Csv {
 public:
  Csv(std::filesystem::path path, std::string header, bool append) : path_(std::move(path)), header_(std::move(header)) {
    std::error_code there_ec;
    const bool there = std::filesystem::exists(path_, there_ec);
    if (there_ec)
      throw Error("'{}': cannot look at it ({}); expected a file this user may write in the --output folder",
                  path_.string(), there_ec.message());
    fresh_ = !append || !there;
    // A resumed run reads the file first: a device (/dev/zero) or a pipe would be read without end.
    if (std::error_code ec; !fresh_ && !std::filesystem::is_regular_file(path_, ec))
      throw Error("'{}': not a regular file; expected the CSV file an earlier run wrote, to append to (move it aside)",
                  path_.string());
    if (!fresh_) adopt_existing();
    errno = 0;
    std::ofstream probe(path_, std::ios::app);  // created if missing, never truncated here
    if (probe && !there) probe << header_ << '\n' << std::flush;
    if (!probe)
      throw Error("'{}': cannot open for writing ({}); expected a writable file in the --output folder",
                  path_.string(), io_failure_cause());
  }
  const std::filesystem::path& path() const { return path_; }
  // Where a resumed run's file of other columns was moved (empty: it was not).
  const std::filesystem::path& moved_to() const { return moved_to_; }
  Csv(const Csv&) = delete;
  Csv& operator=(const Csv&) = delete;
  // A resumed run's file cut back to the rows whose first column is at
  // most `last` (the step its checkpoint holds): rows a killed run wrote
  // after its last checkpoint are written again when the run redoes them.
  void keep_rows_through(double last) {
    if (fresh_) return;
    std::ifstream in(path_);
    std::string text, line;
    std::getline(in, line);
    text = line + '\n';
    while (std::getline(in, line)) {
      const std::vector<std::string> cells = split_csv_line(line);
      if (cells.empty() || cells[0].empty()) continue;
      char* end = nullptr;
      const double key = std::strtod(cells[0].c_str(), &end);
      if (*end == '\0' && key <= last) text += line + '\n';
    }
    in.close();
    rewrite(text);
  }
  // The first column's value in the file's last row (an epoch, a step), or
  // NaN when it has none: a resumed run compares it with its checkpoint's.
  double last_key() const {
    std::ifstream in(path_);
    std::string line, last;
    std::getline(in, line);  // the header
    while (std::getline(in, line))
      if (!line.empty()) last = line;
    const std::vector<std::string> cells = split_csv_line(last);
    if (cells.empty() || cells[0].empty()) return std::nan("");
    char* end = nullptr;
    const double key = std::strtod(cells[0].c_str(), &end);
    return *end == '\0' ? key : std::nan("");
  }
  ~Csv() {
    if (!fresh_ || f_.is_open() || std::uncaught_exceptions() != 0) return;
    errno = 0;
    std::ofstream out(path_, std::ios::trunc);
    out << header_ << '\n';
    out.close();
    if (!out)  // a destructor cannot throw: said, so that a short file is not taken for a whole one
      fmt::print(stderr, "warning: '{}': writing its header failed ({})\n", path_.string(), io_failure_cause());
  }
  template <typename... Args>
  void row(fmt::format_string<Args...> fs, Args&&... args) {
    errno = 0;
    if (!f_.is_open()) {
      f_.open(path_, fresh_ ? std::ios::trunc : std::ios::app);
      if (!f_) throw Error("'{}': cannot open for writing ({})", path_.string(), io_failure_cause());
      if (fresh_) f_ << header_ << '\n';
    }
    f_ << fmt::format(fs, std::forward<Args>(args)...) << '\n';
    f_.flush();
    if (!f_)
      throw Error("'{}': writing a row failed ({}); expected a writable file on a disk with room", path_.string(),
                  io_failure_cause());
  }

 private:
  // The whole file replaced by `text`, checked. A regular file is replaced
  // by a rename of "<path>.tmp", so that a full disk or a killed run leaves
  // the old rows, never a file cut short; anything else (a link to a file
  // elsewhere, a device) is written in place rather than replaced.
  void rewrite(const std::string& text) const {
    std::error_code ec;
    const bool regular = std::filesystem::symlink_status(path_, ec).type() == std::filesystem::file_type::regular;
    std::filesystem::path to = path_;
    if (regular) to += ".tmp";
    errno = 0;
    std::ofstream out(to, std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
      const std::string why = io_failure_cause();
      if (regular) std::filesystem::remove(to, ec);
      throw Error("'{}': rewriting it failed ({}); expected a writable file on a disk with room{}", path_.string(), why,
                  regular ? " (the file is left as it was)" : "");
    }
    if (!regular) return;
    std::filesystem::rename(to, path_, ec);
    if (ec) {
      std::error_code ignored;
      std::filesystem::remove(to, ignored);
      throw Error("'{}': rewriting it failed (renaming '{}' onto it: {}); the file is left as it was", path_.string(),
                  to.string(), ec.message());
    }
  }
  // A resumed run's file: kept if its header is ours, converted if its
  // columns are a subset of ours, else moved aside.
  void adopt_existing() {
    std::ifstream in(path_);
    std::string first;
    std::getline(in, first);
    if (first == header_) return;
    if (first.empty()) {  // left empty by a run stopped before its first row: nothing to keep
      fresh_ = true;
      return;
    }
    const std::vector<std::string> ours = split_csv_line(header_), theirs = split_csv_line(first);
    std::vector<int> at;  // where each of our columns is in theirs (-1: absent)
    size_t found = 0;
    for (const std::string& c : ours) {
      int i = -1;
      for (size_t j = 0; j < theirs.size(); ++j)
        if (theirs[j] == c) i = static_cast<int>(j);
      at.push_back(i);
      found += i >= 0;
    }
    if (found == theirs.size()) {  // every old column is still ours: rewrite the rows in place
      std::string text = header_ + '\n';
      for (std::string line; std::getline(in, line);) {
        const std::vector<std::string> cells = split_csv_line(line);
        for (size_t k = 0; k < at.size(); ++k) {
          if (k > 0) text += ',';
          if (at[k] >= 0 && static_cast<size_t>(at[k]) < cells.size()) text += cells[static_cast<size_t>(at[k])];
        }
        text += '\n';
      }
      in.close();
      rewrite(text);
      return;
    }
    in.close();
    std::filesystem::path old = path_;
    old += ".old";
    for (int n = 1; std::filesystem::exists(old); ++n) (old = path_) += fmt::format(".old.{}", n);
    std::error_code ec;
    std::filesystem::rename(path_, old, ec);
    if (ec)
      throw Error("'{}': its columns are not '{}' and it cannot be moved aside ({})", path_.string(), header_,
                  ec.message());
    fmt::print(stderr, "note: '{}' had other columns; moved to '{}', a new one starts here\n", path_.string(),
               old.string());
    fresh_ = true;
    moved_to_ = old;
  }

  std::filesystem::path path_, moved_to_;
  std::string header_;
  bool fresh_ = true;
  std::ofstream f_;
};

}  // namespace ebm::samples
