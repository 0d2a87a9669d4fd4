#include "ops/error.hpp"

#include <cerrno>
#include <system_error>

namespace ebm {

std::string io_failure_cause() {
  return errno != 0 ? std::generic_category().message(errno) : std::string("an I/O error");
}

}  // namespace ebm
