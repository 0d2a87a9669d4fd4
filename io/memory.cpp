#include "io/memory.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include <unistd.h>

namespace ebm {

namespace {

// The first number in `path` (a /proc or /sys file), or -1 when the file is
// missing or holds none ("max": no limit).
int64_t number_in(const std::filesystem::path& path) {
  std::ifstream f(path);
  int64_t v = -1;
  return f >> v ? v : -1;
}

// The value of `key` in a file of "key value" lines (/proc/meminfo,
// memory.stat), times `unit`; -1 when absent.
int64_t keyed_value(const std::filesystem::path& path, std::string_view key, int64_t unit = 1) {
  std::ifstream f(path);
  std::string k;
  int64_t v = 0;
  while (f >> k >> v) {
    if (k == key) return v * unit;
    f.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return -1;
}

}  // namespace

namespace detail {

int64_t cgroup_memory_left(std::string_view self_cgroup, const std::filesystem::path& mount) {
  // The memory controller's line: v1 "N:...memory...:/path" (preferred, as on
  // hybrid hosts it is the one that limits), else v2 "0::/path".
  std::string path;
  bool v1 = false;
  for (size_t at = 0; at < self_cgroup.size();) {
    const size_t eol = std::min(self_cgroup.find('\n', at), self_cgroup.size());
    const std::string_view line = self_cgroup.substr(at, eol - at);
    at = eol + 1;
    const size_t c1 = line.find(':'), c2 = c1 == line.npos ? line.npos : line.find(':', c1 + 1);
    if (c2 == line.npos) continue;
    const std::string_view controllers = line.substr(c1 + 1, c2 - c1 - 1);
    const bool memory = (',' + std::string(controllers) + ',').find(",memory,") != std::string::npos;
    if (memory || (!v1 && line.substr(0, c1) == "0" && controllers.empty())) {
      path = std::string(line.substr(c2 + 1));
      v1 = memory;
    }
  }
  if (path.empty() || path[0] != '/') return -1;
  const std::filesystem::path base = v1 ? mount / "memory" : mount;
  int64_t left = -1;
  for (std::string p = path;; p = p.substr(0, std::max<size_t>(p.rfind('/'), 1))) {  // up to the root
    const std::filesystem::path dir = base / std::filesystem::path(p).relative_path();
    const int64_t limit = number_in(dir / (v1 ? "memory.limit_in_bytes" : "memory.max"));
    if (limit >= 0 && limit < (int64_t{1} << 60)) {  // v1 writes a huge number for no limit, v2 "max"
      const int64_t used = number_in(dir / (v1 ? "memory.usage_in_bytes" : "memory.current"));
      // The file cache the kernel would drop first is not counted as used (MemAvailable does the same).
      const int64_t cache = keyed_value(dir / "memory.stat", v1 ? "total_inactive_file" : "inactive_file");
      const int64_t here = std::max<int64_t>(0, limit - std::max<int64_t>(0, used - std::max<int64_t>(0, cache)));
      left = left < 0 ? here : std::min(left, here);
    }
    if (p == "/") break;
  }
  return left;
}

}  // namespace detail

int64_t available_memory_bytes() {
  int64_t have = -1;
  auto at_most = [&](int64_t v) {
    if (v >= 0 && (have < 0 || v < have)) have = v;
  };
  if (const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE); pages > 0 && page > 0)
    at_most(int64_t{pages} * int64_t{page});
  at_most(keyed_value("/proc/meminfo", "MemAvailable:", 1024));
  std::ifstream f("/proc/self/cgroup");
  const std::string self((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  at_most(detail::cgroup_memory_left(self, "/sys/fs/cgroup"));
  return have;
}

}  // namespace ebm
