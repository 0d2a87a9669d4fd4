#pragma once
// What memory this process can still have: the check a long run makes
// before it builds a large matrix (check_matrix_fits in models/svm.hpp),
// so that it stops at the start rather than halfway.

#include <cstdint>
#include <filesystem>
#include <string_view>

namespace ebm {

// The bytes this process can still have now (-1 if unknown): the least of
// the machine's physical memory, what the kernel counts as available
// (MemAvailable: free memory and caches it can drop) and, where the
// process's memory cgroup or one above it has a limit (cgroup v1 or v2),
// that limit less the group's use (its inactive file cache not counted).
int64_t available_memory_bytes();
namespace detail {
// The least room left under the memory limits of the cgroup named in
// `self_cgroup` (the text of /proc/self/cgroup) and of its ancestors, their
// files read under `mount` (/sys/fs/cgroup); -1 when none has a limit.
int64_t cgroup_memory_left(std::string_view self_cgroup, const std::filesystem::path& mount);
}  // namespace detail

}  // namespace ebm
