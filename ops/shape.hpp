#pragma once
// Every value in an ebmflow graph is a dense row-major float32 matrix
// [rows, cols]. A batch is rows; a scalar is [1, 1]; a row vector (a bias) is
// [1, n]. Higher-rank data (images, convolution maps) is flattened into the
// columns by the op that needs it.

#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace ebm {

struct Shape {
  int64_t rows = 1;
  int64_t cols = 1;

  constexpr int64_t size() const { return rows * cols; }
  constexpr bool is_scalar() const { return rows == 1 && cols == 1; }
  friend constexpr bool operator==(Shape, Shape) = default;
};

inline std::string to_string(Shape s) { return fmt::format("[{}, {}]", s.rows, s.cols); }

}  // namespace ebm

template <>
struct fmt::formatter<ebm::Shape> : fmt::formatter<std::string> {
  auto format(ebm::Shape s, format_context& ctx) const {
    return fmt::formatter<std::string>::format(ebm::to_string(s), ctx);
  }
};
