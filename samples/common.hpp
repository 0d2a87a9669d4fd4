#pragma once
// Small helpers the sample programs share: key=value result lines, CSV
// metrics (samples/csv.hpp), and where the data lives.

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <new>
#include <stdexcept>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <csignal>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <tbb/task_arena.h>

#include "graph/executor.hpp"
#include "graph/profile.hpp"
#include "models/checkpoint.hpp"
#include "io/batch.hpp"
#include "samples/csv.hpp"
#include "samples/progress.hpp"
#include "ops/blas.hpp"
#include "ops/error.hpp"

namespace ebm::samples {

// Throws, naming --data's folder, when it is there but this user may not
// list it or look at its files (a missing one is left to the loader, which
// names the file it wanted).
inline void check_data_readable(const std::filesystem::path& dir) {
  std::error_code ec;
  const auto kind = std::filesystem::status(dir, ec).type();
  if (!ec && kind != std::filesystem::file_type::directory) return;
  if (!ec)
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if ((void)it->status(ec); ec) break;
  if (ec && ec != std::errc::no_such_file_or_directory)
    throw Error("--data '{}': cannot read the folder ({}); expected a folder this user may list and read", dir.string(),
                ec.message());
}

// The data folder: --data if given, else data/mnist beside the build.
inline std::filesystem::path find_data(const std::string& given) {
  if (!given.empty()) {
    check_data_readable(given);
    return given;
  }
  for (const char* p : {"data/mnist", "../data/mnist", "../../data/mnist"})
    if (std::error_code ec; std::filesystem::exists(p, ec)) {
      check_data_readable(p);
      return p;
    }
  return "data/mnist";
}

// What Ctrl-C (SIGINT) or SIGTERM prints before the run ends by it: made
// when the --output folder is known (make_output_dir), since a signal
// handler may only write(2) what is ready.
inline std::string program_name = "sample";
// (a plain buffer, not a std::string: a signal during exit must not read a destroyed object)
inline char interrupt_line[2048];
inline size_t interrupt_length = 0;

inline void on_interrupt(int sig) {
  if (interrupt_length > 0) (void)!::write(STDERR_FILENO, interrupt_line, interrupt_length);
  std::signal(sig, SIG_DFL);  // then the signal's own end: the exit status a shell expects
  std::raise(sig);
}

// Says, on Ctrl-C or SIGTERM, that the checkpoints in `dir` keep the run
// and how to go on. A signal this process was started ignoring (a job
// started with & by a script, nohup's SIGHUP) stays ignored.
inline void note_interrupts(const std::string& dir) {
  if (interrupt_length > 0) return;  // the --output folder's, not a part's below it
  const auto r = fmt::format_to_n(interrupt_line, sizeof interrupt_line,
                                  "\n{}: interrupted; the same command with --resume goes on from the last checkpoint "
                                  "in '{}' (one is written after each epoch or step; stopped before the first, "
                                  "it starts afresh)\n",
                                  program_name, dir);
  interrupt_length = std::min(r.size, sizeof interrupt_line);
  for (int sig : {SIGINT, SIGTERM}) {
    struct sigaction old{};
    if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler != SIG_IGN) std::signal(sig, on_interrupt);
  }
}

// The folders make_output_dir created, outermost first: a run refused
// before it wrote a file removes them again (run_main), each only if empty.
inline std::vector<std::filesystem::path> created_output_dirs;

// Creates the --output folder (and its parents), or says why it cannot.
// Each level is made by create_directory, which says whether this call
// made it: a folder another run made at the same moment is not this run's.
inline void make_output_dir(const std::string& dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> missing;  // deepest first
  for (std::filesystem::path p = std::filesystem::absolute(dir, ec).lexically_normal(); !ec && p.has_relative_path();
       p = p.parent_path()) {
    if (std::filesystem::exists(p, ec)) break;
    missing.push_back(p);
  }
  for (auto it = missing.rbegin(); !ec && it != missing.rend(); ++it)
    if (std::filesystem::create_directory(*it, ec)) created_output_dirs.push_back(*it);
  if (ec || !std::filesystem::is_directory(dir))
    throw Error("--output '{}': cannot create the folder ({})", dir,
                ec ? ec.message() : "a file of that name is in the way");
  note_interrupts(dir);
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
// `held_out`: the held-out rows' flag and count, when a flag keeps some of
// the training file back (the message then names it too).
inline void check_batch(int64_t batch, int64_t images, const std::string& what = "images",
                        const std::pair<std::string, int64_t>& held_out = {}) {
  if (batch > images)
    throw Error("--batch {}: more than the {} training {}{}; expected at most {}", batch, images, what,
                held_out.first.empty() ? std::string()
                                       : fmt::format(" ({} {} holds out the rest)", held_out.first, held_out.second),
                images);
}

// The first image of each digit 0..9 in `set`: where the chains of the
// samples pictures start. A digit the set lacks (a small or edited test
// file) starts from image digit mod count instead.
inline std::vector<int64_t> first_of_each_digit(const io::ImageSet& set) {
  if (set.count < 1 || set.labels.size() != static_cast<size_t>(set.count))
    throw Error("samples: a set of {} images and {} labels; expected at least one image, each labelled", set.count,
                set.labels.size());
  std::vector<int64_t> idx;
  for (uint8_t digit = 0; digit < 10; ++digit) {
    const auto at = std::find(set.labels.begin(), set.labels.end(), digit);
    idx.push_back(at != set.labels.end() ? at - set.labels.begin() : digit % set.count);
  }
  return idx;
}

// Those of `flags` given on the command line, joined by ", " (empty: none).
inline std::string given_flags(const CLI::App& app, std::initializer_list<const char*> flags) {
  std::string out;
  for (const char* f : flags)
    if (app.count(f) > 0) out += (out.empty() ? "" : ", ") + std::string(f);
  return out;
}

// A per-layer flag: one value stands for every one of `layers` layers, or
// it gives one per layer. `note` follows the count in the error (for a
// layer the flag does not cover).
template <typename T>
void one_per_layer(std::vector<T>& values, size_t layers, std::string_view flag, std::string_view note = "") {
  if (values.size() == 1) {
    const T v = values[0];  // assign(n, x) must not be given one of its own elements
    values.assign(layers, v);
  }
  if (values.size() != layers)
    throw Error("{}: {} values for {} layers{}; give one, or one per layer", flag, values.size(), layers, note);
}

// Tells in --help what each preset gives `flag` when the command line leaves
// it out; a sample passes the same constants its preset applies.
inline void show_preset_default(CLI::App& app, const std::string& flag, const std::string& quick,
                                const std::string& paper) {
  CLI::Option* opt = app.get_option(flag);
  opt->description(fmt::format("{} (the preset's: quick {}, paper {})", opt->get_description(), quick, paper));
}

// Where --profile FILE's timeline goes: FILE with the extension .timeline.svg.
inline std::string profile_timeline(const std::string& file) {
  return std::filesystem::path(file).replace_extension(".timeline.svg").string();
}

// --profile FILE: the summary, then the Chrome trace of the whole run to
// FILE and a timeline of its last few steps beside it (profile_timeline);
// the summary first, so that a file that cannot be written loses nothing
// of it.
inline void write_profile(const Profile& p, const std::string& file) {
  fmt::print("{}", p.summary(12));
  p.write_chrome_trace(file);
  const std::string timeline = profile_timeline(file);
  p.write_svg_timeline(timeline);
  fmt::print("profile: trace in {} (Perfetto, chrome://tracing), the last steps drawn in {}\n", file, timeline);
}

// Whether `text` is an integer in digits: an optional sign, then digits.
inline bool is_integer_text(std::string_view text) {
  if (text.starts_with('+') || text.starts_with('-')) text.remove_prefix(1);
  return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
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
// A learning rate's factor per epoch: it shrinks the rate, or keeps it.
inline const CLI::Validator kDecay = number_check([](double v) { return v > 0.0 && v <= 1.0; },
                                                  "a factor in (0, 1] (each epoch's rate that of the one before times it)",
                                                  "(0,1]");
// --ais-scale: the paper's 14,500 temperatures times a factor that keeps
// the count an int (1000: 14.5 million, hours for a 500-unit RBM).
inline const CLI::Validator kAisScale = number_check([](double v) { return v > 0.0 && v <= 1000.0; },
                                                     "a positive factor of at most 1000", "(0,1000]");
// --threads: 0 (every core) up to what the executor takes, checked as the
// flag is read (a task arena is made from it before any executor).
inline const CLI::Validator kThreads = number_check(
    [](double v) { return v >= 0.0 && v <= ebm::max_executor_threads() && v == static_cast<int>(v); },
    fmt::format("0 (every core) to {} threads (four per hardware thread, at least 8)", ebm::max_executor_threads()),
    "THREADS");
// Patches cut from each face (gp_faces, autoencoder_faces): made on the fly,
// but listed, shuffled and drawn per epoch, so a count in the billions would
// run for hours before its first batch.
inline const CLI::Validator kPatchesPerFace = number_check(
    [](double v) { return v >= 1.0 && v <= 10000.0 && v == static_cast<int64_t>(v); }, "1 to 10000 patches per face",
    "[1,10000]");
inline const CLI::Validator kFraction =
    number_check([](double v) { return v >= 0.0 && v < 1.0; }, "a value in [0, 1)", "[0,1)");
// A whole number from `lo` to `hi`, for an integer flag: CLI::Range said
// "Value 2.5 not in range 1 to 16" of a fraction inside the range. A whole
// number in exponent form (1e3) passes here, and its conversion says to
// write it in digits (conversion_message).
inline CLI::Validator whole_number_check(int64_t lo, int64_t hi) {
  const std::string expected = fmt::format("a whole number from {} to {}", lo, hi);
  return CLI::Validator(
      [lo, hi, expected](std::string& text) -> std::string {
        double v = 0.0;
        const bool ok = CLI::detail::lexical_cast(text, v) && v == std::floor(v) && v >= static_cast<double>(lo) &&
                        v <= static_cast<double>(hi);
        return ok ? std::string() : "expected " + expected + ", got " + text;
      },
      fmt::format("[{},{}]", lo, hi));
}
// A name in --help only, for a range a later check holds the flag to, with
// a message that says why (--occluded-rows 28: "of MNIST's 28 rows").
inline CLI::Validator shown_range(std::string name) {
  return CLI::Validator([](std::string&) { return std::string(); }, std::move(name));
}

// Runs body() on a task arena of `threads` workers (0: every core), so that
// a sample's own parallel loops (retrieval scores, SVMs) use --threads too.
template <typename Body>
auto on_threads(int threads, Body body) {
  allow_threads(threads);
  tbb::task_arena arena(threads > 0 ? threads : tbb::task_arena::automatic);
  return arena.execute(body);
}

// Says that --resume finds nothing to resume, or that a fresh run replaces
// an earlier run's checkpoints (found by the first one a run would load,
// <output>/<first>).
inline void say_if_nothing_to_resume(std::string_view program, bool resume, const std::string& output,
                                     std::string_view first = "pretrain/layer0") {
  bool saved = false;
  try {
    saved = ebm::checkpoint_exists(fmt::format("{}/{}", output, first));
  } catch (const Error&) {  // a damaged one: a resume is refused by it, a fresh run replaces it
    if (resume) throw;
    saved = true;
  }
  if (resume && !saved) fmt::print("{}: --resume: no checkpoint in {}/{}; starting afresh\n", program, output, first);
  // A command retyped without --resume after a stop: said, since the earlier run's checkpoints go.
  if (!resume && saved)
    fmt::print("{}: a fresh run (no --resume) in {}, which holds an earlier run's checkpoints: this run replaces "
               "them (--resume would have continued that run)\n",
               program, output);
}

// AIS's error bar shows how its runs' importance weights spread; with few
// temperatures (a small --ais-scale) the weights can agree while all of
// them are far off, so a warning says what the bar leaves out.
inline void warn_if_few_temperatures(std::string_view program, int temperatures) {
  if (temperatures < 1000)
    fmt::print(stderr,
               "{}: warning: AIS walks through only {} temperatures (the paper's schedule has 14,500); its error bar "
               "shows how the runs' weights spread, not the bias of so few steps, which tends to put log Z too low "
               "and the log-likelihood too high\n",
               program, temperatures);
}

// --profile-events N, beside --profile: the trace's room
// (ExecutorOptions::profile_events). A long run's later phases need more
// than the default's 262,144 events, which the summary says it dropped.
inline void add_profile_events(CLI::App& app, int64_t& events) {
  app.add_option("--profile-events", events,
                 "with --profile: the trace keeps the first N events, later ones counted, not kept; their room, 64 bytes "
                 "an event, is taken when the run starts (the default: 16 MiB)")
      ->capture_default_str()
      ->check(CLI::Validator(  // CLI::Range said "Value 2.5 not in range" of 2.5 and 1e3; it still says so of 0
          [](std::string& text) {
            return is_integer_text(text) ? std::string()
                                         : fmt::format("expected a whole number from 1 to {} written in digits, got {}",
                                                       int64_t{1} << 27, text);
          },
          ""))
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 27));
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
  const double all = sum.total();  // the wall clock's, since the summary was made
  sum.print(all);
  result("total_seconds", fmt::format("{:.1f}", all));
  return 0;
}
inline int finish(const Summary& sum, Executor& ex, const std::string& profile) {
  if (!profile.empty()) write_profile(ex.profile(), profile);
  return finish(sum);
}

// Whether the digits of `r` (an optional sign, then digits) fit a 64-bit
// integer: an int64_t, or for an unsigned flag a uint64_t (CLI11 clamps what
// does not, 2^63 to 2^63 - 1).
inline bool fits_64_bits(const std::string& r, bool is_unsigned) {
  const char* first = r.data() + (r.starts_with('+') ? 1 : 0);
  if (!is_unsigned || r.starts_with('-')) {
    int64_t v = 0;
    return std::from_chars(first, r.data() + r.size(), v).ec != std::errc::result_out_of_range;
  }
  uint64_t v = 0;
  return std::from_chars(first, r.data() + r.size(), v).ec != std::errc::result_out_of_range;
}

// The words a switch may be given as a value, in any case.
inline constexpr const char* kSwitchWords[] = {"true", "false", "yes", "no", "on", "off", "1", "0"};
inline bool is_switch_word(std::string_view v) {
  std::string lower(v);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return std::find(std::begin(kSwitchWords), std::end(kSwitchWords), lower) != std::end(kSwitchWords);
}

// What CLI11 would take wrongly or refuse in its own words, checked on the
// words of the command line before it parses them (an ebm::Error naming the
// flag): a switch given a value that is not a yes or a no (--resume=2, which
// CLI11 reads as on), or given as both its spellings (--map --no-map); a
// BOOLEAN flag given anything else (--mean-field 10x, which CLI11 reads as
// true); a flag given twice, or with an alias (a list is one value, --hidden
// 500,500); an empty value (--lr=, which CLI11 would give the next word), or
// an empty element of a list (--hidden 5,,5).
inline void check_words(const CLI::App& app, int argc, char** argv) {
  std::vector<std::pair<const CLI::Option*, std::string>> seen;  // by option, so that an alias counts as the same flag
  for (int i = 1; i < argc; ++i) {
    const std::string_view token = argv[i];
    if (!token.starts_with("--")) continue;
    const size_t eq = token.find('=');
    const std::string name(token.substr(0, eq));
    const CLI::Option* o = app.get_option_no_throw(name);
    if (o == nullptr) continue;  // not ours (run_main names an unknown flag)
    const auto before = std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.first == o; });
    if (o->get_expected_min() == 0) {  // a switch: CLI11 would read --resume=2 as on and --resume=-1 as off
      if (eq != std::string_view::npos && !is_switch_word(token.substr(eq + 1)))
        throw Error("{}: a switch given the value '{}'; expected it alone (or ={})", name, token.substr(eq + 1),
                    fmt::join(kSwitchWords, ", ="));
      if (before != seen.end() && before->second != name)  // the last one would win
        throw Error("{} and {}: expected one or the other", before->second, name);
      seen.emplace_back(o, name);
      continue;
    }
    const bool list = o->get_expected_max() > 1;
    if (before != seen.end())
      throw Error("{}: given twice (or with an alias){}; expected once{}", name,
                  before->second == name ? std::string() : fmt::format(": {} is the same flag", before->second),
                  list ? " (a list is one value, such as --hidden 500,500)" : "");
    seen.emplace_back(o, name);
    if (eq == std::string_view::npos && i + 1 >= argc) continue;  // CLI11 says so
    const std::string_view value = eq != std::string_view::npos ? token.substr(eq + 1) : std::string_view(argv[++i]);
    if (value.empty()) throw Error("{}: an empty value; expected one (leave the flag out for its default)", name);
    // CLI11 would take the next flag as the value: --output --resume wrote to a folder named --resume.
    if (eq == std::string_view::npos && value.starts_with("--"))
      throw Error("{}: no value before the next flag, {}; expected a value (one that starts with -- is written "
                  "{}=VALUE)",
                  name, value, name);
    // CLI11 reads an integer's leading 0 as octal and 0x as hex: --batch 0100 would be 64, 08 an error.
    if (const std::string type = o->get_type_name(); type.starts_with("INT") || type.starts_with("UINT")) {
      const char d = o->get_delimiter();
      for (size_t at = 0; at <= value.size();) {
        const size_t stop = d == '\0' ? value.size() : std::min(value.find(d, at), value.size());
        std::string_view digits = value.substr(at, stop - at);
        if (digits.starts_with('+') || digits.starts_with('-')) digits.remove_prefix(1);
        if (digits.size() > 1 && digits[0] == '0' && (std::isdigit(static_cast<unsigned char>(digits[1])) != 0 ||
                                                      digits[1] == 'x' || digits[1] == 'X'))
          throw Error("{}: {} starts with 0, which would read as octal or hex (0100 as 64); expected a whole number "
                      "in decimal digits",
                      name, value.substr(at, stop - at));
        at = stop + 1;
      }
    }
    if (o->get_type_name().starts_with("BOOLEAN") && !is_switch_word(value))
      throw Error("{} {}: expected one of {}", name, value, fmt::join(kSwitchWords, ", "));
    const char d = o->get_delimiter();
    if (d != '\0' && (value.front() == d || value.back() == d || value.find(std::string{d, d}) != std::string_view::npos))
      throw Error("{} {}: an empty element in the list; expected values separated by single '{}'", name, value, d);
  }
}

// What CLI11 lets through, checked once the command line is parsed (an
// ebm::Error naming the flag): a number that is not finite, that a float
// cannot hold (1e40) or that rounds to zero in one (1e-320); an integer
// beyond 64 bits. A path flag that names an existing folder or device
// (--profile /tmp, --profile /dev/full) is refused too: the file is
// written at the end.
inline void check_command_line(const CLI::App& app) {
  if (const CLI::Option* e = app.get_option_no_throw("--profile-events"); e != nullptr && e->count() > 0 &&
                                                                          app.count("--profile") == 0)
    throw Error("--profile-events: it sets the room of --profile's trace, which is not asked for");
  for (const CLI::Option* o : app.get_options()) {
    // Numbers: every flag but the text ones (a validator may rename the type, as POSITIVE).
    const std::string type = o->get_type_name();
    if (type.empty() || type == "TEXT") continue;
    for (const std::string& r : o->results()) {
      char* end = nullptr;
      const double v = std::strtod(r.c_str(), &end);
      if (end == r.c_str() || *end != '\0') continue;  // CLI11 refuses what is not a number
      const std::string& name = o->get_name();
      if (!std::isfinite(v)) throw Error("{}: expected a finite number, got {}", name, r);
      if (std::fabs(v) > std::numeric_limits<float>::max())
        throw Error("{}: expected a number a float can hold (at most 3.4e38), got {}", name, r);
      if (v != 0.0 && std::fabs(v) < std::numeric_limits<float>::min())
        throw Error("{}: {} is zero or denormal in single precision; expected 0 or at least 1.2e-38", name, r);
      // only an integer flag's (a float's 1e20 may be written in digits too)
      const bool is_unsigned = type.starts_with("UINT");
      if ((is_unsigned || type.starts_with("INT")) && is_integer_text(r) && !fits_64_bits(r, is_unsigned))
        throw Error("{}: expected an integer of at most 64 bits ({} to {}), got {}", name,
                    is_unsigned ? "0" : std::to_string(std::numeric_limits<int64_t>::min()),
                    is_unsigned ? std::to_string(std::numeric_limits<uint64_t>::max())
                                : std::to_string(std::numeric_limits<int64_t>::max()),
                    r);
    }
  }
  auto given = [&](const char* flag) {  // the value given, or the default the run will use
    const CLI::Option* o = app.get_option_no_throw(flag);
    if (o == nullptr) return std::string();
    return o->count() == 0 || o->results().empty() ? o->get_default_str() : o->results().front();
  };
  const std::string profile = given("--profile"), output = given("--output");
  // --profile writes two files at the end of the run, FILE and its timeline
  struct Path {
    const char* flag;
    std::string given, path;  // path: what is written (the timeline for the second)
  };
  const Path paths[] = {{"--profile", profile, profile},
                        {"--profile", profile, profile.empty() ? "" : profile_timeline(profile)},
                        {"--output", output, output}};
  for (const Path& p : paths) {
    if (p.path.empty()) continue;
    std::error_code ec;
    const auto kind = std::filesystem::status(p.path, ec).type();
    const bool folder_wanted = std::string_view(p.flag) == "--output";
    if (kind == std::filesystem::file_type::not_found || kind == std::filesystem::file_type::none) continue;
    if (folder_wanted ? kind != std::filesystem::file_type::directory : kind != std::filesystem::file_type::regular)
      throw Error("{} '{}': {}exists and is not a {}; expected {}", p.flag, p.given,
                  p.path == p.given ? std::string() : fmt::format("its timeline '{}' ", p.path),
                  folder_wanted ? "folder" : "regular file", folder_wanted ? "a folder to write into" : "a file path");
  }
  if (!profile.empty() && !output.empty()) {  // the folders made for --output before the run, where a file would go
    auto normal = [](const std::string& p) {  // absolute, without "." or "..", nor a trailing separator
      std::filesystem::path n = std::filesystem::absolute(p).lexically_normal();
      return n.has_filename() ? n : n.parent_path();
    };
    const std::filesystem::path out = normal(output);
    auto made_for_output = [&](const std::string& file) {  // the --output folder or one of the folders above it
      const std::filesystem::path f = normal(file);
      return std::mismatch(f.begin(), f.end(), out.begin(), out.end()).first == f.end();
    };
    if (made_for_output(profile) || made_for_output(profile_timeline(profile)))
      throw Error("--profile '{}': names the --output folder '{}' or a folder above it (or its timeline does); "
                  "expected a file path outside it",
                  profile, output);
  }
}

// Removes the folders make_output_dir created, when the run wrote nothing
// in them (a run refused after making its --output leaves nothing behind).
// Only folders are removed, deepest first, each by rmdir
// (std::filesystem::remove on a folder), which fails on a folder that
// holds anything: no file is ever deleted, whoever wrote it and whenever.
inline void remove_unused_output_dir() {
  if (created_output_dirs.empty()) return;
  std::error_code ec;
  std::vector<std::filesystem::path> folders;  // empty subfolders the run made inside (checkpoint folders)
  for (auto it = std::filesystem::recursive_directory_iterator(created_output_dirs.back(), ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
    if (it->symlink_status(ec).type() == std::filesystem::file_type::directory) folders.push_back(it->path());
  std::sort(folders.begin(), folders.end(),
            [](const auto& a, const auto& b) { return a.native().size() > b.native().size(); });
  folders.insert(folders.end(), created_output_dirs.rbegin(), created_output_dirs.rend());
  for (const std::filesystem::path& f : folders) std::filesystem::remove(f, ec);  // fails, harmlessly, when not empty
  created_output_dirs.clear();
}

// A value CLI11 could not convert to its flag's type (a fraction for a
// whole number: --batch 1.5) said with what was expected; `what` is
// CLI11's "Could not convert: --batch = 1.5", returned as it is when it
// does not name one of the app's flags.
inline std::string conversion_message(const CLI::App& app, const std::string& what) {
  constexpr std::string_view kHead = "Could not convert: ";
  const size_t eq = what.find(" = ");
  if (!what.starts_with(kHead) || eq == std::string::npos) return what;
  const std::string name = what.substr(kHead.size(), eq - kHead.size()), value = what.substr(eq + 3);
  const CLI::Option* o = app.get_option_no_throw(name);
  if (o == nullptr) return what;
  const std::string type = o->get_type_name();
  const bool list = o->get_expected_max() > 1;
  std::string expected = type.starts_with("UINT") ? "a whole number, 0 or more"
                         : type.starts_with("INT") ? "a whole number"
                         : type.starts_with("FLOAT") ? "a number"
                                                     : type;
  if (type.starts_with("INT") || type.starts_with("UINT")) {
    // the first element that says more: a whole number not in digits (1e3,
    // 2.0), or one beyond an int (a 64-bit flag takes any, clamped, and
    // check_command_line refuses it)
    const char d = list ? o->get_delimiter() : '\0';
    for (size_t at = 0; at <= value.size();) {
      const size_t end = d == '\0' ? std::string::npos : value.find(d, at);
      const std::string e = value.substr(at, end == std::string::npos ? std::string::npos : end - at);
      char* stop = nullptr;
      const double v = std::strtod(e.c_str(), &stop);
      if (is_integer_text(e) && std::fabs(v) > std::numeric_limits<int>::max()) {
        expected += type.starts_with("UINT") ? fmt::format(", of at most {}", std::numeric_limits<unsigned>::max())
                    : e.starts_with('-')     ? fmt::format(" of at least {}", std::numeric_limits<int>::min())
                                             : fmt::format(" of at most {}", std::numeric_limits<int>::max());
        break;
      }
      if (!is_integer_text(e) && !e.empty() && *stop == '\0' && v == std::floor(v) && std::fabs(v) < 0x1p63) {
        expected += fmt::format("{} written in digits ({:.0f}, not {})", type.starts_with("UINT") ? "," : "", v, e);
        break;
      }
      if (end == std::string::npos) break;
      at = end + 1;
    }
  }
  if (list) expected = fmt::format("{}, or a list of them separated by '{}'", expected, o->get_delimiter());
  return fmt::format("{} {}: expected {}", name, value, expected);
}

// The spelling edits (insert, delete, replace a letter) that turn a into b.
inline size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The flags on the command line that are not the app's, each said with the
// closest of its flags (at most two edits away): "unknown flag --hiden; did
// you mean --hidden?". `all_close`: every one had a close flag.
inline std::vector<std::string> unknown_flags(const CLI::App& app, int argc, char** argv, bool& all_close) {
  std::vector<std::string> out;
  all_close = true;
  for (int i = 1; i < argc; ++i) {
    const std::string_view token = argv[i];
    if (!token.starts_with("--") || token.size() == 2) continue;
    const std::string name(token.substr(0, token.find('=')));
    if (app.get_option_no_throw(name) != nullptr ||
        std::any_of(out.begin(), out.end(), [&](const std::string& u) { return u.starts_with("unknown flag " + name + ";"); }))
      continue;
    std::string closest;
    size_t best = 3;
    for (const CLI::Option* o : app.get_options())
      for (const std::string& l : o->get_lnames())
        if (const size_t d = edit_distance(name.substr(2), l); d < best) {
          best = d;
          closest = "--" + l;
        }
    all_close = all_close && !closest.empty();
    out.push_back(fmt::format("unknown flag {}; {}", name,
                              closest.empty() ? std::string("see --help") : fmt::format("did you mean {}?", closest)));
  }
  return out;
}

// Parses the command line, then runs `body`; a bad flag prints CLI11's
// message, an ebm::Error prints "<program>: <what was wrong>"; exit code 2
// (1 for any other exception, printed the same way; running out of memory,
// a size no vector can hold, is said as such, with code 2).
template <typename Body>
int run_main(CLI::App& app, int argc, char** argv, const char* program, Body body) {
  // Line by line into a file or a pipe too, so that a log of both streams
  // holds the lines in the order they were printed (warnings go to stderr).
  std::setvbuf(stdout, nullptr, _IOLBF, 1 << 16);
  program_name = program;
  const bool help = std::any_of(argv + 1, argv + argc, [](std::string_view a) { return a == "--help" || a == "-h"; });
  try {
    if (!help) check_words(app, argc, argv);  // else --help, as CLI11 gives it
  } catch (const ebm::Error& e) {
    fmt::print(stderr, "{}: {}\n", program, e.what());
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ConversionError& e) {  // CLI11 says only "Could not convert: --batch = 1.5"
    fmt::print(stderr, "{}\nRun with --help for more information.\n", conversion_message(app, e.what()));
    return 2;
  } catch (const CLI::ExtrasError& e) {  // CLI11 says "The following arguments were not expected: 10 --hiden"
    bool all_close = false;
    const std::vector<std::string> unknown = unknown_flags(app, argc, argv, all_close);
    if (unknown.empty()) return app.exit(e) == 0 ? 0 : 2;  // no flag among them: a stray word
    for (const std::string& u : unknown) fmt::print(stderr, "{}: {}\n", program, u);
    if (!all_close) fmt::print(stderr, "{}\n", e.what());  // with no flag near, every word not taken
    return 2;
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is a ParseError too, exit code 0
  }
  ebm::retain_freed_memory();  // large temporaries reuse mapped pages (graph/executor.hpp)
  if (const ebm::blas::KernelChoice k = ebm::blas::use_cpu_kernels(); k.changed())  // ops/blas.hpp
    fmt::print("{}: {} took this CPU for a {}; its {} kernels run instead (OPENBLAS_CORETYPE, if set, decides)\n",
               program, ebm::blas::version(), k.chosen, k.in_use);
  try {
    check_command_line(app);
    (void)default_gemm_backend();  // a bad EBM_GEMM is refused here, like a bad flag, before any work
    return body();
  } catch (const ebm::Error& e) {
    std::fflush(stdout);  // what the run printed comes first in a log of both streams; the error ends it
    fmt::print(stderr, "{}: {}\n", program, e.what());
    remove_unused_output_dir();
    return 2;
  } catch (const std::bad_alloc&) {
    std::fflush(stdout);
    fmt::print(stderr, "{}: out of memory; a size given (--batch, --hidden, a count of images or runs) asks for more "
               "than this machine has\n", program);
    remove_unused_output_dir();
    return 2;
  } catch (const std::length_error& e) {
    std::fflush(stdout);
    fmt::print(stderr, "{}: a size given (--batch, --hidden, a count of images or runs) asks for more elements than "
               "memory can hold ({})\n", program, e.what());
    remove_unused_output_dir();
    return 2;
  } catch (const std::exception& e) {  // not foreseen (out of memory, a failing disk): said, not aborted on
    std::fflush(stdout);
    fmt::print(stderr, "{}: {}\n", program, e.what());
    remove_unused_output_dir();
    return 1;
  }
}

}  // namespace ebm::samples
