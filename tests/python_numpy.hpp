#pragma once
// The Python 3 the tests hand .npy files to: the first of `python3` (PATH)
// and Debian's `/usr/bin/python3` that imports numpy (scripts/setup.sh
// installs python3-numpy; a pyenv or venv first on PATH may lack it).
// Empty when neither does, and the case then says "SKIPPED:".

#include <cstdlib>
#include <string>

#include <fmt/format.h>

inline std::string python_with_numpy() {
  for (const char* candidate : {"python3", "/usr/bin/python3"})
    if (std::system(fmt::format("{} -c 'import numpy' >/dev/null 2>&1", candidate).c_str()) == 0) return candidate;
  return {};
}
