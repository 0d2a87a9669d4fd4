#pragma once
// Grids of float tiles (filters, samples, reconstructions) as 8-bit
// greyscale PNG files.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

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
  // Empty, or one caption per tile, drawn in white on a strip under it:
  // the digits 0-9, space and the marks '>' (drawn as an arrow), ':', '.',
  // '-', '%'; such as "4>9" for a 4 taken for a 9. The glyphs are 5 x 7
  // pixels, scaled by the largest factor up to `upscale` at which the
  // longest caption fits the tile's width.
  std::span<const std::string> captions = {};
};

// The grey level of borders and of grid cells without a tile.
inline constexpr uint8_t grid_border_grey = 64;

// `tiles` holds n_tiles tiles of tile_h x tile_w row-major floats, one after
// another; tile t goes to grid row t / columns, column t % columns. Written
// to "<path>.tmp" and renamed onto `path`. A tile without a finite value is
// drawn grey; a grid without one is refused (an ebm::Error), as are
// captions of another count than the tiles', a character the font lacks,
// or one wider than a tile.
void write_png_grid(const std::filesystem::path& path, std::span<const float> tiles, int64_t n_tiles, int64_t tile_h,
                    int64_t tile_w, GridOptions options = {});

}  // namespace ebm::io
