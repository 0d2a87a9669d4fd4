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

}  // namespace ebm
