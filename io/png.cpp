#include "io/png.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include "io/files.hpp"
#include "ops/error.hpp"

namespace ebm::io {
namespace {

namespace fs = std::filesystem;

// Limits every grid side and the pixel count so that stb's int arithmetic
// cannot overflow.
constexpr int64_t max_side = int64_t{1} << 16;
constexpr int64_t max_pixels = int64_t{1} << 28;

struct Range {
  float lo = 0.0f, hi = 1.0f;
};

struct Layout {
  int64_t columns = 0, rows = 0;
  int64_t cell_h = 0, cell_w = 0;  // a tile's size in pixels after upscaling
  int64_t strip_h = 0;             // the caption strip under each tile (0: no captions)
  int64_t glyph_scale = 1;         // each font pixel becomes glyph_scale x glyph_scale
  int64_t width = 0, height = 0;   // the whole grid, borders included
};

// The caption font: 5 x 7 glyphs, a row per byte, its low five bits left to
// right (bit 4 the leftmost pixel).
constexpr int64_t glyph_w = 5, glyph_h = 7;
struct Glyph {
  char c;
  uint8_t rows[glyph_h];
};
constexpr Glyph font[] = {
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}}, {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}}, {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}}, {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}}, {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}}, {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'>', {0x00, 0x04, 0x02, 0x1F, 0x02, 0x04, 0x00}}, {':', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}}, {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}}, {' ', {0, 0, 0, 0, 0, 0, 0}},
};

const Glyph* glyph_of(char c) {
  for (const Glyph& g : font)
    if (g.c == c) return &g;
  return nullptr;
}

// A caption's width in font pixels: glyphs one pixel apart.
int64_t caption_width(const std::string& s) { return s.empty() ? 0 : static_cast<int64_t>(s.size()) * (glyph_w + 1) - 1; }

Range finite_range(std::span<const float> v) {
  Range r{std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  for (float x : v)
    if (std::isfinite(x)) r = {std::min(r.lo, x), std::max(r.hi, x)};
  return r.lo <= r.hi ? r : Range{0.0f, 0.0f};
}

uint8_t to_grey(float v, Range r) {
  if (!(r.hi > r.lo)) return 128;
  const float t = (v - r.lo) / (r.hi - r.lo);
  if (!(t > 0.0f)) return 0;
  if (t >= 1.0f) return 255;
  return static_cast<uint8_t>(std::lround(t * 255.0f));
}

void check_grid_args(const fs::path& path, std::size_t n_values, int64_t n, int64_t h, int64_t w,
                     const GridOptions& o) {
  if (n < 1 || h < 1 || w < 1 || h > max_side || w > max_side)
    throw Error("{}: {} tiles of {} x {}; expected at least one tile of sides 1..{}", path.string(), n, h, w,
                max_side);
  if (o.columns < 0 || o.border < 0 || o.upscale < 1 || o.columns > max_side || o.border > max_side ||
      o.upscale > max_side)
    throw Error("{}: columns {}, border {}, upscale {}; expected 0 <= columns, 0 <= border, 1 <= upscale, all <= {}",
                path.string(), o.columns, o.border, o.upscale, max_side);
  uint64_t want = 0;
  if (!checked_mul(static_cast<uint64_t>(n), static_cast<uint64_t>(h * w), want) || n_values != want)
    throw Error("{}: {} tile values given; expected {} tiles x {} x {} values", path.string(), n_values, n, h, w);
  if (o.captions.empty()) return;
  if (o.captions.size() != static_cast<std::size_t>(n))
    throw Error("{}: {} captions for {} tiles; expected one per tile, or none", path.string(), o.captions.size(), n);
  for (std::size_t t = 0; t < o.captions.size(); ++t)
    for (char c : o.captions[t])
      if (!glyph_of(c))
        throw Error("{}: caption {} (\"{}\") holds '{}'; expected digits, spaces and the marks > : . - %",
                    path.string(), t, o.captions[t], c);
}

Layout grid_layout(const fs::path& path, int64_t n, int64_t h, int64_t w, const GridOptions& o) {
  Layout g;
  g.columns = o.columns > 0 ? o.columns : static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  g.rows = (n + g.columns - 1) / g.columns;
  g.cell_h = h * o.upscale;
  g.cell_w = w * o.upscale;
  if (!o.captions.empty()) {
    const auto widest = std::ranges::max_element(o.captions, {}, caption_width);
    const int64_t need = caption_width(*widest);
    if (need > g.cell_w)
      throw Error("{}: caption \"{}\" is {} pixels wide; expected it to fit the tiles' {}", path.string(), *widest,
                  need, g.cell_w);
    g.glyph_scale = need > 0 ? std::clamp<int64_t>(g.cell_w / need, 1, o.upscale) : 1;
    g.strip_h = (glyph_h + 2) * g.glyph_scale;
  }
  g.width = g.columns * (g.cell_w + o.border) + o.border;
  g.height = g.rows * (g.cell_h + g.strip_h + o.border) + o.border;
  if (g.width > max_side || g.height > max_side || g.width * g.height > max_pixels)
    throw Error("{}: a grid of {} x {} pixels; expected at most {} per side and {} in all", path.string(), g.height,
                g.width, max_side, max_pixels);
  return g;
}

void draw_tile(std::vector<uint8_t>& img, const Layout& g, int64_t t, std::span<const float> tile, int64_t tile_w,
               const GridOptions& o, Range r) {
  const int64_t y0 = o.border + (t / g.columns) * (g.cell_h + g.strip_h + o.border);
  const int64_t x0 = o.border + (t % g.columns) * (g.cell_w + o.border);
  for (int64_t y = 0; y < g.cell_h; ++y) {
    uint8_t* row = img.data() + (y0 + y) * g.width + x0;
    const float* src = tile.data() + (y / o.upscale) * tile_w;
    for (int64_t x = 0; x < g.cell_w; ++x) row[x] = to_grey(src[x / o.upscale], r);
  }
  if (o.captions.empty()) return;
  // White glyphs on the border grey, centred under the tile, a font pixel's
  // height of space above and below.
  const std::string& text = o.captions[static_cast<std::size_t>(t)];
  const int64_t s = g.glyph_scale;
  const int64_t top = y0 + g.cell_h + s, left = x0 + (g.cell_w - caption_width(text) * s) / 2;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const Glyph& glyph = *glyph_of(text[i]);
    for (int64_t gy = 0; gy < glyph_h * s; ++gy)
      for (int64_t gx = 0; gx < glyph_w * s; ++gx)
        if (glyph.rows[gy / s] >> (glyph_w - 1 - gx / s) & 1)
          img[static_cast<std::size_t>((top + gy) * g.width + left + static_cast<int64_t>(i) * (glyph_w + 1) * s + gx)] =
              255;
  }
}

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<char>*>(context);
  const char* p = static_cast<const char*>(data);
  out->insert(out->end(), p, p + size);
}

}  // namespace

void write_png_grid(const fs::path& path, std::span<const float> tiles, int64_t n_tiles, int64_t tile_h,
                    int64_t tile_w, GridOptions o) {
  check_grid_args(path, tiles.size(), n_tiles, tile_h, tile_w, o);
  // A tile without a finite value is drawn flat grey; a grid of nothing but
  // such tiles shows nothing (the values of a model that turned NaN, say).
  if (std::ranges::none_of(tiles, [](float v) { return std::isfinite(v); }))
    throw Error("{}: all {} tile values are NaN or inf (the first is {}); expected some finite values to draw",
                path.string(), tiles.size(), tiles.front());
  const Layout g = grid_layout(path, n_tiles, tile_h, tile_w, o);
  std::vector<uint8_t> img(static_cast<std::size_t>(g.width * g.height), grid_border_grey);
  const auto tile_size = static_cast<std::size_t>(tile_h * tile_w);
  const Range shared = o.contrast == GridOptions::Contrast::global ? finite_range(tiles) : Range{0.0f, 1.0f};
  for (int64_t t = 0; t < n_tiles; ++t) {
    const auto tile = tiles.subspan(static_cast<std::size_t>(t) * tile_size, tile_size);
    const Range r = o.contrast == GridOptions::Contrast::per_tile ? finite_range(tile) : shared;
    draw_tile(img, g, t, tile, tile_w, o, r);
  }
  std::vector<char> png;
  const int w = static_cast<int>(g.width), h = static_cast<int>(g.height);
  if (stbi_write_png_to_func(append_bytes, &png, w, h, 1, img.data(), w) == 0)
    throw Error("{}: PNG encoding of a {} x {} grid failed", path.string(), h, w);
  write_atomically(path, {png});
}

}  // namespace ebm::io
