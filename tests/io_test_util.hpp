#pragma once
// Helpers shared by the io test files: synthetic files, error capture, MNIST lookup.

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "io/batch.hpp"
#include "io/idx.hpp"
#include "io/npy.hpp"
#include "io/png.hpp"
#include "ops/error.hpp"
#include "ops/rng.hpp"



namespace ebm::io_test {

using namespace ebm;
using namespace ebm::io;
namespace fs = std::filesystem;


// A fresh directory under the system temp dir, removed with its contents.
struct TempDir {
  fs::path path;
  explicit TempDir(std::string_view tag)
      : path(fs::temp_directory_path() / fmt::format("ebm_test_io_{}_{}", ::getpid(), tag)) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path operator/(std::string_view name) const { return path / name; }
};

inline void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// An IDX file: magic [0, 0, type, dims.size()], big-endian dims, then `payload` bytes 0, 1, 2, ...
inline std::string idx_bytes(std::vector<uint32_t> dims, std::size_t payload, uint8_t type = 0x08) {
  std::string s{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((d >> shift) & 0xff);
  for (std::size_t i = 0; i < payload; ++i) s += static_cast<char>(i % 256);
  return s;
}

// The ebm::Error message `f` throws, or "" when it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

ImageSet ramp_set(int64_t count, int64_t h, int64_t w) {  // pixel = (image * 7 + position) % 256
  ImageSet s{count, h, w, {}, {}};
  for (int64_t i = 0; i < count; ++i) {
    for (int64_t p = 0; p < h * w; ++p) s.pixels.push_back(static_cast<uint8_t>((i * 7 + p) % 256));
    s.labels.push_back(static_cast<uint8_t>(i % 10));
  }
  return s;
}

inline std::optional<fs::path> find_mnist() {
  for (const char* dir : {"../data/mnist", "data/mnist", "../../data/mnist"})
    if (fs::exists(fs::path(dir) / "train-images-idx3-ubyte")) return fs::path(dir);
  return std::nullopt;
}


}  // namespace ebm::io_test
