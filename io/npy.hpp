#pragma once
// NumPy .npy files holding float32 matrices (checkpoints, and data of your
// own: numpy.save(f, numpy.ascontiguousarray(x, dtype=numpy.float32)); float64 and
// Fortran order are refused). write_npy writes
// format version 1.0, readable by numpy.load; read_npy reads versions 1.0
// and 2.0 of little-endian float32 ('<f4') C-order arrays with 1 or 2 dims.
//
// Layout: "\x93NUMPY", major, minor, header length (uint16 LE in 1.0,
// uint32 LE in 2.0), an ASCII Python dict padded with spaces and ended by
// '\n' so that the payload starts at a multiple of 64 bytes, then the payload.

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

namespace ebm::io {

struct NpyArray {
  int64_t rows = 0, cols = 0;  // a 1-D array (n,) reads as rows = 1, cols = n
  std::vector<float> data;     // rows * cols, row-major
};

// Writes a rows x cols array via "<path>.tmp" and a rename.
void write_npy(const std::filesystem::path& path, int64_t rows, int64_t cols, std::span<const float> values);

NpyArray read_npy(const std::filesystem::path& file);

}  // namespace ebm::io
