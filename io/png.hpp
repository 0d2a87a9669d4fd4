#pragma once
// Grids of float tiles (filters, samples, reconstructions) as 8-bit
// greyscale PNG files.

#include <cstdint>
#include <filesystem>
#include <span>

namespace ebm::io {

struct GridOptions {
  // How tile values v map to grey levels 0..255:
  //   per_tile  (v - min) / (max - min) over the tile's finite values
  //   global    the same over all tiles
  //   fixed01   clamp(v, 0, 1)
  // A constant tile (max == min) is mid-grey (128); NaN and -inf are black,
  // +inf white.
  enum class Contrast { per_tile, global, fixed01 };

  int columns = 0;  // 0: ceil(sqrt(n_tiles)), a near-square grid
  int border = 1;   // grey pixels between and around tiles
  int upscale = 1;  // each tile pixel becomes upscale x upscale
  Contrast contrast = Contrast::per_tile;
};

// The grey level of borders and of grid cells without a tile.
inline constexpr uint8_t grid_border_grey = 64;

// `tiles` holds n_tiles tiles of tile_h x tile_w row-major floats, one after
// another; tile t goes to grid row t / columns, column t % columns. Written
// to "<path>.tmp" and renamed onto `path`. A tile without a finite value is
// drawn grey; a grid without one is refused (an ebm::Error).
void write_png_grid(const std::filesystem::path& path, std::span<const float> tiles, int64_t n_tiles, int64_t tile_h,
                    int64_t tile_w, GridOptions options = {});

}  // namespace ebm::io
