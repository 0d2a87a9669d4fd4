// The io/ layer, part 2: PNG grids read back with stb_image, .npy round trips
// and error paths, and numpy interoperability when numpy is installed.

#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

#include <doctest/doctest.h>

#include "io_test_util.hpp"
#include "python_numpy.hpp"

using namespace ebm::io_test;

TEST_CASE("io/png: a grid reads back with its size, borders and per-tile contrast") {
  TempDir dir("png");
  // tile 0: a 2x3 ramp 0..5; tile 1: constant (mid-grey); 2 tiles -> 2 columns, 1 row
  const std::vector<float> tiles = {0, 1, 2, 3, 4, 5, 7, 7, 7, 7, 7, 7};
  const fs::path p = dir / "grid.png";
  write_png_grid(p, tiles, 2, 2, 3, {0, 1, 2});
  CHECK_FALSE(fs::exists(dir / "grid.png.tmp"));
  int w = 0, h = 0, c = 0;
  uint8_t* img = stbi_load(p.string().c_str(), &w, &h, &c, 1);
  REQUIRE(img != nullptr);
  CHECK(w == 2 * 6 + 3);
  CHECK(h == 1 * 4 + 2);
  CHECK(c == 1);
  auto at = [&](int y, int x) { return static_cast<int>(img[y * w + x]); };
  CHECK(at(0, 0) == grid_border_grey);
  CHECK(at(5, 14) == grid_border_grey);
  CHECK(at(1, 7) == grid_border_grey);  // between the tiles
  CHECK(at(1, 1) == 0);                 // tile 0 value 0, upscaled 2x2
  CHECK(at(2, 2) == 0);
  CHECK(at(1, 3) == 51);   // value 1 of 0..5
  CHECK(at(4, 6) == 255);  // value 5
  CHECK(at(2, 10) == 128);
  stbi_image_free(img);
}

TEST_CASE("io/png: global and fixed01 contrast map values as documented") {
  TempDir dir("png_contrast");
  const std::vector<float> tiles = {0.0f, 0.5f, 2.0f, -1.0f};  // two 1x2 tiles
  auto pixels = [&](GridOptions::Contrast contrast) {
    write_png_grid(dir / "g.png", tiles, 2, 1, 2, {2, 0, 1, contrast});
    int w = 0, h = 0, c = 0;
    uint8_t* img = stbi_load((dir / "g.png").string().c_str(), &w, &h, &c, 1);
    REQUIRE(img != nullptr);
    std::vector<int> v(img, img + w * h);
    stbi_image_free(img);
    return v;
  };
  CHECK(pixels(GridOptions::Contrast::global) == std::vector<int>{85, 128, 255, 0});
  CHECK(pixels(GridOptions::Contrast::fixed01) == std::vector<int>{0, 128, 255, 0});
  CHECK(pixels(GridOptions::Contrast::per_tile) == std::vector<int>{0, 255, 255, 0});
}

TEST_CASE("io/png: captions are drawn in white under their tiles, centred, and bad ones are refused") {
  TempDir dir("png_captions");
  const std::vector<float> tiles(2 * 7 * 17, 0.0f);  // two black 7 x 17 tiles
  const std::vector<std::string> captions = {"1", "4>9"};
  const fs::path p = dir / "c.png";
  write_png_grid(p, tiles, 2, 7, 17, {.columns = 2, .contrast = GridOptions::Contrast::fixed01, .captions = captions});
  int w = 0, h = 0, c = 0;
  uint8_t* img = stbi_load(p.string().c_str(), &w, &h, &c, 1);
  REQUIRE(img != nullptr);
  CHECK(w == 2 * 18 + 1);
  CHECK(h == 7 + 9 + 2);  // the tiles, a strip of 7 + 2 under them, the borders
  auto at = [&](int y, int x) { return static_cast<int>(img[y * w + x]); };
  CHECK(at(1, 1) == 0);  // the tiles are drawn as before
  // "1" under tile 0 (5 pixels wide, centred in 17: from x = 1 + 6), its
  // top a pixel below the tile (y = 1 + 7 + 1); '>' the middle of "4>9".
  const char* one[] = {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."};
  const char* arrow[] = {".....", "..#..", "...#.", "#####", "...#.", "..#..", "....."};
  for (int y = 0; y < 7; ++y)
    for (int x = 0; x < 5; ++x) {
      CHECK(at(9 + y, 7 + x) == (one[y][x] == '#' ? 255 : grid_border_grey));
      CHECK(at(9 + y, 19 + 6 + x) == (arrow[y][x] == '#' ? 255 : grid_border_grey));
    }
  int white = 0;  // nothing else in the strip's margins
  for (int x = 0; x < w; ++x) white += (at(8, x) == 255) + (at(16, x) == 255);
  CHECK(white == 0);
  stbi_image_free(img);

  const std::vector<std::string> wrong_count = {"1"}, odd = {"1", "4 as 9"}, wide = {"1", "4>9>1"};
  CHECK(has(error_of([&] { write_png_grid(p, tiles, 2, 7, 17, {.captions = wrong_count}); }),
            "1 captions for 2 tiles; expected one per tile, or none"));
  CHECK(has(error_of([&] { write_png_grid(p, tiles, 2, 7, 17, {.captions = odd}); }),
            "caption 1 (\"4 as 9\") holds 'a'; expected digits"));
  CHECK(has(error_of([&] { write_png_grid(p, tiles, 2, 7, 17, {.captions = wide}); }),
            "caption \"4>9>1\" is 29 pixels wide; expected it to fit the tiles' 17"));
}

TEST_CASE("io/png: a size mismatch or an unwritable path is an ebm::Error naming the path") {
  TempDir dir("png_bad");
  const std::vector<float> tiles(11);
  const fs::path p = dir / "g.png", q = dir / "no_such_dir" / "g.png";
  CHECK(has(error_of([&] { write_png_grid(p, tiles, 2, 2, 3); }),
            p.string() + ": 11 tile values given; expected 2 tiles x 2 x 3"));
  CHECK(has(error_of([&] { write_png_grid(q, std::vector<float>(12), 2, 2, 3); }), q.string() + ": cannot open"));
  CHECK_FALSE(fs::exists(p));
}

namespace {

// A .npy file: magic, version, header length, `dict` padded to a multiple of 64, then `payload`.
std::string npy_bytes(std::string_view dict, const std::vector<float>& payload, int major = 1) {
  std::string h(dict);
  const std::size_t prefix = major == 1 ? 10 : 12;
  h.append((64 - (prefix + h.size() + 1) % 64) % 64, ' ');
  h += '\n';
  std::string s = "\x93NUMPY";
  s += {static_cast<char>(major), '\0'};
  for (std::size_t i = 0; i < prefix - 8; ++i) s += static_cast<char>((h.size() >> (8 * i)) & 0xff);
  return s + h + std::string(reinterpret_cast<const char*>(payload.data()), payload.size() * sizeof(float));
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("io/npy: a written array reads back bit-exactly after a 64-byte aligned 1.0 header") {
  TempDir dir("npy");
  const std::vector<float> v = {1.5f, -0.0f, 3e-39f, INFINITY, -7.25f, 1e30f};
  const fs::path p = dir / "w.npy";
  write_npy(p, 2, 3, v);
  CHECK_FALSE(fs::exists(dir / "w.npy.tmp"));
  const NpyArray a = read_npy(p);
  CHECK(a.rows == 2);
  CHECK(a.cols == 3);
  REQUIRE(a.data.size() == 6);
  for (std::size_t i = 0; i < 6; ++i) CHECK(std::bit_cast<uint32_t>(a.data[i]) == std::bit_cast<uint32_t>(v[i]));
  const std::string raw = read_all(p);
  REQUIRE(raw.size() > 10);
  CHECK(raw.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t header = static_cast<uint8_t>(raw[8]) | static_cast<std::size_t>(static_cast<uint8_t>(raw[9])) << 8;
  CHECK((10 + header) % 64 == 0);
  CHECK(raw.size() == 10 + header + 24);
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  CHECK(raw.substr(10, dict.size() + 1) == dict + ' ');
  CHECK(raw[9 + header] == '\n');
}

TEST_CASE("io/npy: a 1-D array reads as one row, and a 2.0 header is accepted") {
  TempDir dir("npy_1d");
  write_bytes(dir / "a.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", {1, 2, 3}));
  const NpyArray a = read_npy(dir / "a.npy");
  CHECK(a.rows == 1);
  CHECK(a.cols == 3);
  CHECK(a.data == std::vector<float>{1, 2, 3});
  write_bytes(dir / "b.npy", npy_bytes("{\"shape\": (2, 1), \"descr\": \"<f4\", \"fortran_order\": False}", {4, 5}, 2));
  const NpyArray b = read_npy(dir / "b.npy");
  CHECK(b.rows == 2);
  CHECK(b.cols == 1);
  CHECK(b.data == std::vector<float>{4, 5});
}

TEST_CASE("io/npy: each malformed file is an ebm::Error naming the file and what was expected") {
  TempDir dir("npy_bad");
  auto dict = [](std::string_view descr, std::string_view fortran, std::string_view shape) {
    return fmt::format("{{'descr': {}, 'fortran_order': {}, 'shape': {}, }}", descr, fortran, shape);
  };
  const std::vector<float> six(6);
  std::string bad_magic = npy_bytes(dict("'<f4'", "False", "(2, 3)"), six);
  bad_magic[5] = 'X';
  const std::map<std::string, std::pair<std::string, std::string>> cases = {
      {"missing", {"", "cannot open"}},
      {"magic", {bad_magic, "not a .npy file"}},
      {"version", {npy_bytes(dict("'<f4'", "False", "(2, 3)"), six, 3), "format version 3.0; expected 1.0 or 2.0"}},
      {"short_header", {npy_bytes(dict("'<f4'", "False", "(2, 3)"), {}).substr(0, 40), "header is truncated"}},
      // a 2.0 header that declares 4 GB of dict: refused by the file's size, before the dict is read into memory
      {"huge_header", {std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12) + "{'descr': '<f4'}",
                       "header is truncated: 4294967295 header bytes declared, the file has 28 bytes"}},
      {"descr", {npy_bytes(dict("'<f8'", "False", "(2, 3)"), six), "descr is '<f8'; expected '<f4'"}},
      {"fortran", {npy_bytes(dict("'<f4'", "True", "(2, 3)"), six), "fortran_order is True; expected False"}},
      {"rank3", {npy_bytes(dict("'<f4'", "False", "(1, 2, 3)"), six), "shape is (1, 2, 3); expected a tuple of 1 or 2"}},
      {"rank0", {npy_bytes(dict("'<f4'", "False", "()"), six), "shape is (); expected a tuple of 1 or 2"}},
      {"bad_dim", {npy_bytes(dict("'<f4'", "False", "(2, x)"), six), "bad dimension 'x'"}},
      {"no_key", {npy_bytes("{'descr': '<f4', 'fortran_order': False}", six), "no 'shape' key"}},
      {"syntax", {npy_bytes("{'descr' '<f4'}", six), "header dict is malformed: expected ':'"}},
      {"truncated", {npy_bytes(dict("'<f4'", "False", "(2, 3)"), std::vector<float>(5)),
                     "payload is truncated: 24 bytes expected after the header, 20 found"}},
      {"trailing", {npy_bytes(dict("'<f4'", "False", "(2, 3)"), std::vector<float>(7)),
                    "4 trailing bytes: 24 bytes expected after the header, 28 found"}},
  };
  for (const auto& [name, c] : cases) {
    CAPTURE(name);
    const fs::path p = dir / name;
    if (name != "missing") write_bytes(p, c.first);
    const std::string msg = error_of([&] { read_npy(p); });
    CHECK(has(msg, p.string() + ": "));
    CHECK(has(msg, c.second));
  }
}

TEST_CASE("io/npy: a size mismatch or an unwritable path is an ebm::Error naming the path") {
  TempDir dir("npy_write_bad");
  const fs::path p = dir / "w.npy", q = dir / "no_such_dir" / "w.npy";
  CHECK(has(error_of([&] { write_npy(p, 2, 3, std::vector<float>(5)); }), p.string() + ": 5 values given for a 2 x 3"));
  CHECK(has(error_of([&] { write_npy(q, 1, 1, std::vector<float>(1)); }), q.string() + ": cannot open"));
  CHECK_FALSE(fs::exists(p));
}

TEST_CASE("io/npy: numpy reads our files and we read numpy's (skipped without numpy)") {
  const std::string python = python_with_numpy();
  if (python.empty()) {
    MESSAGE("SKIPPED: no python3 with numpy (python3 or /usr/bin/python3)");
    return;
  }
  TempDir dir("npy_numpy");
  const fs::path ours = dir / "ours.npy", theirs = dir / "theirs.npy", vec = dir / "vec.npy";
  write_npy(ours, 2, 3, std::vector<float>{0, 1, 2, 3, 4, 5.5f});
  const std::string script = fmt::format(
      "import numpy as n, sys\n"
      "a = n.load('{}')\n"
      "n.save('{}', n.arange(6, dtype='<f4').reshape(3, 2) * 2)\n"
      "n.save('{}', n.array([7, 8], dtype='<f4'))\n"
      "sys.exit(0 if a.dtype == n.float32 and a.tolist() == [[0, 1, 2], [3, 4, 5.5]] else 1)\n",
      ours.string(), theirs.string(), vec.string());
  write_bytes(dir / "check.py", script);
  CHECK(std::system(fmt::format("{} '{}'", python, (dir / "check.py").string()).c_str()) == 0);
  const NpyArray t = read_npy(theirs), v = read_npy(vec);
  CHECK(t.rows == 3);
  CHECK(t.cols == 2);
  CHECK(t.data == std::vector<float>{0, 2, 4, 6, 8, 10});
  CHECK(v.rows == 1);
  CHECK(v.data == std::vector<float>{7, 8});
}
