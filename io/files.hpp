#pragma once
// Byte-level file helpers shared by the io/ readers and writers. Every
// failure is an ebm::Error whose message starts with the path.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <span>
#include <string_view>

namespace ebm::io {

// An open binary input stream and the size of the file behind it.
struct InputFile {
  std::ifstream stream;
  uint64_t size = 0;
};

// Opens `path` for reading; `expected` says what the file should be
// ("an IDX file") and is quoted by the error when it cannot be opened.
InputFile open_input(const std::filesystem::path& path, std::string_view expected);

// Reads up to `n` bytes into `dst`; returns how many were read.
uint64_t read_some(std::ifstream& in, void* dst, uint64_t n);

// Writes the concatenated `parts` to "<path>.tmp", then renames it onto
// `path`: a reader sees the previous file or the complete new one, never a
// partial write.
void write_atomically(const std::filesystem::path& path, std::initializer_list<std::span<const char>> parts);

// a * b, or false when the product does not fit in 64 bits.
constexpr bool checked_mul(uint64_t a, uint64_t b, uint64_t& product) {
  if (b != 0 && a > UINT64_MAX / b) return false;
  product = a * b;
  return true;
}

}  // namespace ebm::io
