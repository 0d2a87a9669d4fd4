#pragma once
// ebm::Error: the one exception type the library throws for bad input.
// Its message names the thing that was wrong (node, file, shape, flag) and
// what was expected instead.

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace ebm {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}

  template <typename... Args>
  Error(fmt::format_string<Args...> f, Args&&... args)
      : std::runtime_error(fmt::format(f, std::forward<Args>(args)...)) {}
};

// Why the file operation just made failed, for a message: errno's text ("No
// space left on device", "Read-only file system"), or "an I/O error" when
// errno is 0. The caller sets errno to 0 before the operation.
std::string io_failure_cause();

}  // namespace ebm
