#pragma once
// Small helpers the sample programs share: key=value result lines, CSV
// metrics (samples/csv.hpp), and where the data lives.

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <tbb/task_arena.h>

#include "graph/executor.hpp"
#include "graph/profile.hpp"
#include "models/checkpoint.hpp"
#include "io/batch.hpp"
#include "samples/csv.hpp"
#include "samples/progress.hpp"
#include "ops/error.hpp"

namespace ebm::samples {

// The data folder: --data if given, else data/mnist beside the build.
inline std::filesystem::path find_data(const std::string& given) {
  if (!given.empty()) return given;
  for (const char* p : {"data/mnist", "../data/mnist", "../../data/mnist"})
    if (std::filesystem::exists(p)) return p;
  return "data/mnist";
}

// Creates the --output folder (and its parents), or says why it cannot.
inline void make_output_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir))
    throw Error("--output '{}': cannot create the folder ({})", dir,
                ec ? ec.message() : "a file of that name is in the way");
}

// Checks, before a long run, that `path` (a file to write at the end, such
// as --profile's trace) lies in an existing folder.
inline void check_file_folder(const std::string& flag, const std::string& path) {
  if (path.empty()) return;
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  if (!folder.empty() && !std::filesystem::is_directory(folder))
    throw Error("{} '{}': there is no folder '{}' to write it in", flag, path, folder.string());
}

// Refuses a batch larger than the training set before anything takes one
// (a PCD chain's first batch, the epochs' batches).
inline void check_batch(int64_t batch, int64_t images, const std::string& what = "images") {
  if (batch > images)
    throw Error("--batch {}: more than the {} training {}; expected at most {}", batch, images, what, images);
}

// The training rows persistent chains start at: the first batch of a
// shuffle of its own (not an epoch's), so both samples start them alike.
inline std::vector<int64_t> chain_start_rows(int64_t images, int64_t batch, uint64_t data_seed) {
  std::vector<int64_t> order = io::shuffled_indices(images, data_seed, 999);
  order.resize(static_cast<size_t>(batch));
  return order;
}

// Those of `flags` given on the command line, joined by ", " (empty: none).
inline std::string given_flags(const CLI::App& app, std::initializer_list<const char*> flags) {
  std::string out;
  for (const char* f : flags)
    if (app.count(f) > 0) out += (out.empty() ? "" : ", ") + std::string(f);
  return out;
}

// --profile FILE: the Chrome trace of the whole run to FILE, a timeline of
// its last few steps beside it (FILE with the extension .timeline.svg), and
// the summary.
inline void write_profile(const Profile& p, const std::string& file) {
  p.write_chrome_trace(file);
  const std::string timeline = std::filesystem::path(file).replace_extension(".timeline.svg").string();
  p.write_svg_timeline(timeline);
  fmt::print("profile: trace in {} (Perfetto, chrome://tracing), the last steps drawn in {}\n{}", file, timeline,
             p.summary(12));
}

// Checks for numeric flags that name the rule and the value given
// ("--batch: expected a positive number, got 0"; CLI11's own print the
// whole range of a double): `ok` says whether a value passes, `expected`
// names the rule in the message, `name` in --help.
template <typename Ok>
CLI::Validator number_check(Ok ok, std::string expected, std::string name) {
  return CLI::Validator(
      [ok, expected](std::string& text) -> std::string {
        double v = 0.0;
        if (!CLI::detail::lexical_cast(text, v)) return "expected a number, got '" + text + "'";
        return ok(v) ? std::string() : "expected " + expected + ", got " + text;
      },
      std::move(name));
}
inline const CLI::Validator kPositive =
    number_check([](double v) { return v > 0.0; }, "a positive number", "POSITIVE");
inline const CLI::Validator kNonNegative =
    number_check([](double v) { return v >= 0.0; }, "zero or more", "NONNEGATIVE");
// --threads: 0 (every core) up to what the executor takes, checked as the
// flag is read (a task arena is made from it before any executor).
inline const CLI::Validator kThreads = number_check(
    [](double v) { return v >= 0.0 && v <= ebm::max_executor_threads() && v == static_cast<int>(v); },
    fmt::format("0 (every core) to {} threads (four per hardware thread, at least 8)", ebm::max_executor_threads()),
    "THREADS");
inline const CLI::Validator kFraction =
    number_check([](double v) { return v >= 0.0 && v < 1.0; }, "a value in [0, 1)", "[0,1)");

// Runs body() on a task arena of `threads` workers (0: every core), so that
// a sample's own parallel loops (retrieval scores, SVMs) use --threads too.
template <typename Body>
auto on_threads(int threads, Body body) {
  allow_threads(threads);
  tbb::task_arena arena(threads > 0 ? threads : tbb::task_arena::automatic);
  return arena.execute(body);
}

// With --resume and no checkpoint at <output>/<first> (the first one the
// run would load), says so: the run starts afresh.
inline void say_if_nothing_to_resume(std::string_view program, bool resume, const std::string& output,
                                     std::string_view first = "pretrain/layer0") {
  if (resume && !ebm::checkpoint_exists(fmt::format("{}/{}", output, first)))
    fmt::print("{}: --resume: no checkpoint in {}/{}; starting afresh\n", program, output, first);
}

// A result line for scripts: key=value on stdout.
template <typename T>
void result(const char* key, const T& value) {
  fmt::print("{}={}\n", key, value);
  std::fflush(stdout);
}

// The end of a sample's run: the summary table and the total_seconds
// result line, after the executor's profile when --profile named a file;
// main's exit code.
inline int finish(const Summary& sum) {
  sum.print();
  result("total_seconds", fmt::format("{:.1f}", sum.total()));
  return 0;
}
inline int finish(const Summary& sum, Executor& ex, const std::string& profile) {
  if (!profile.empty()) write_profile(ex.profile(), profile);
  return finish(sum);
}

// Parses the command line, then runs `body`; a bad flag prints CLI11's
// message, an ebm::Error prints "<program>: <what was wrong>"; exit code 2
// (1 for any other exception, printed the same way).
template <typename Body>
int run_main(CLI::App& app, int argc, char** argv, const char* program, Body body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is a ParseError too, exit code 0
  }
  ebm::retain_freed_memory();  // large temporaries reuse mapped pages (graph/executor.hpp)
  try {
    return body();
  } catch (const ebm::Error& e) {
    fmt::print(stderr, "{}: {}\n", program, e.what());
    return 2;
  } catch (const std::exception& e) {  // not foreseen (out of memory, a failing disk): said, not aborted on
    fmt::print(stderr, "{}: {}\n", program, e.what());
    return 1;
  }
}

}  // namespace ebm::samples
