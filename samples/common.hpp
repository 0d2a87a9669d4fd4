#pragma once
// Small helpers the sample programs share: key=value result lines, CSV
// metrics, and where the data lives.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "ops/error.hpp"

namespace ebm::samples {

// The data folder: --data if given, else data/mnist beside the build.
inline std::filesystem::path find_data(const std::string& given) {
  if (!given.empty()) return given;
  for (const char* p : {"data/mnist", "../data/mnist", "../../data/mnist"})
    if (std::filesystem::exists(p)) return p;
  return "data/mnist";
}

// Appends rows to a CSV file written header-first.
class Csv {
 public:
  Csv(const std::filesystem::path& path, const std::string& header, bool append) {
    const bool fresh = !append || !std::filesystem::exists(path);
    f_.open(path, fresh ? std::ios::trunc : std::ios::app);
    if (fresh) f_ << header << '\n';
  }
  template <typename... Args>
  void row(fmt::format_string<Args...> fs, Args&&... args) {
    f_ << fmt::format(fs, std::forward<Args>(args)...) << '\n';
    f_.flush();
  }

 private:
  std::ofstream f_;
};

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
inline const CLI::Validator kFraction =
    number_check([](double v) { return v >= 0.0 && v < 1.0; }, "a value in [0, 1)", "[0,1)");

// A result line for scripts: key=value on stdout.
template <typename T>
void result(const char* key, const T& value) {
  fmt::print("{}={}\n", key, value);
  std::fflush(stdout);
}

// Parses the command line, then runs `body`; a bad flag prints CLI11's
// message, an ebm::Error prints "<program>: <what was wrong>"; exit code 2.
template <typename Body>
int run_main(CLI::App& app, int argc, char** argv, const char* program, Body body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is a ParseError too, exit code 0
  }
  try {
    return body();
  } catch (const ebm::Error& e) {
    fmt::print(stderr, "{}: {}\n", program, e.what());
    return 2;
  }
}

}  // namespace ebm::samples
