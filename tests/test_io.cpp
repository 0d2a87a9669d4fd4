// The io/ layer: IDX reading and its error paths on small synthetic files,
// batch conversion against plain loops, the epoch permutation, PNG grids
// read back with stb_image, .npy round trips and error paths, and (when
// data/mnist exists) the real MNIST files.

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

#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "io/batch.hpp"
#include "io/idx.hpp"
#include "io/npy.hpp"
#include "io/png.hpp"
#include "ops/error.hpp"
#include "ops/rng.hpp"

using namespace ebm;
using namespace ebm::io;
namespace fs = std::filesystem;

namespace {

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

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// An IDX file: magic [0, 0, type, dims.size()], big-endian dims, then `payload` bytes 0, 1, 2, ...
std::string idx_bytes(std::vector<uint32_t> dims, std::size_t payload, uint8_t type = 0x08) {
  std::string s{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((d >> shift) & 0xff);
  for (std::size_t i = 0; i < payload; ++i) s += static_cast<char>(i % 256);
  return s;
}

// The ebm::Error message `f` throws, or "" when it throws none.
std::string error_of(const std::function<void()>& f) {
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

std::optional<fs::path> find_mnist() {
  for (const char* dir : {"../data/mnist", "data/mnist", "../../data/mnist"})
    if (fs::exists(fs::path(dir) / "train-images-idx3-ubyte")) return fs::path(dir);
  return std::nullopt;
}

}  // namespace

TEST_CASE("io/idx: a well-formed file reads back its dims and bytes") {
  TempDir dir("idx_ok");
  write_bytes(dir / "a.idx", idx_bytes({2, 3, 4}, 24));
  const IdxArray a = read_idx(dir / "a.idx");
  CHECK(a.dims == std::vector<uint32_t>{2, 3, 4});
  REQUIRE(a.data.size() == 24);
  CHECK(a.data[0] == 0);
  CHECK(a.data[23] == 23);
}

TEST_CASE("io/idx: each malformed file is an ebm::Error naming the file and what was expected") {
  TempDir dir("idx_bad");
  const std::map<std::string, std::pair<std::string, std::string>> cases = {
      {"missing", {"", "cannot open"}},
      {"short_magic", {std::string(2, '\0'), "header is truncated: expected a 4-byte IDX magic"}},
      {"magic", {std::string("\x01\x00\x08\x01", 4) + std::string(4, '\0'), "start with two zero bytes"}},
      {"type", {idx_bytes({4}, 16, 0x0D), "element type code 0x0d (float32); expected 0x08 (uint8)"}},
      {"zero_dims", {idx_bytes({}, 0), "0 dimensions declared; expected 1 to 4"}},
      {"five_dims", {idx_bytes({1, 1, 1, 1, 1}, 1), "5 dimensions declared; expected 1 to 4"}},
      {"short_dims", {idx_bytes({3, 2}, 0).substr(0, 9), "expected 2 dimension sizes (8 bytes)"}},
      {"overflow", {idx_bytes({~0u, ~0u, ~0u, ~0u}, 0), "overflow a 64-bit element count"}},
      {"too_big", {idx_bytes({1000}, 3), "declare 1000 bytes of data, more than the whole file (11 bytes)"}},
      {"truncated", {idx_bytes({10, 2}, 15), "payload is truncated: 20 bytes expected after the header, 15 found"}},
      {"trailing", {idx_bytes({10, 2}, 23), "3 trailing bytes: 20 bytes expected after the header, 23 found"}},
  };
  for (const auto& [name, c] : cases) {
    CAPTURE(name);
    const fs::path p = dir / name;
    if (name != "missing") write_bytes(p, c.first);
    const std::string msg = error_of([&] { read_idx(p); });
    CHECK(has(msg, p.string() + ": "));
    CHECK(has(msg, c.second));
  }
}

TEST_CASE("io/idx: load_idx_images checks ranks and that every image has a label") {
  TempDir dir("idx_images");
  write_bytes(dir / "img", idx_bytes({3, 2, 2}, 12));
  write_bytes(dir / "lab", idx_bytes({3}, 3));
  write_bytes(dir / "lab4", idx_bytes({4}, 4));
  write_bytes(dir / "flat", idx_bytes({3, 4}, 12));
  const ImageSet s = load_idx_images(dir / "img", dir / "lab");
  CHECK(s.count == 3);
  CHECK(s.dim() == 4);
  CHECK(s.pixels.size() == 12);
  CHECK(s.pixels[11] == 11);
  CHECK(s.labels == std::vector<uint8_t>{0, 1, 2});
  CHECK_THROWS_WITH_AS(load_idx_images(dir / "flat", dir / "lab"), doctest::Contains("expected a 3-D image array"),
                       Error);
  CHECK_THROWS_WITH_AS(load_idx_images(dir / "img", dir / "img"), doctest::Contains("expected a 1-D label array"),
                       Error);
  const std::string msg = error_of([&] { load_idx_images(dir / "img", dir / "lab4"); });
  CHECK(has(msg, (dir / "lab4").string() + " has 4 labels but " + (dir / "img").string() + " has 3 images"));
}

TEST_CASE("io/idx: load_mnist names the valid splits and the fetch script") {
  TempDir dir("mnist_missing");
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, "test"), doctest::Contains("expected \"train\" or \"t10k\""), Error);
  const std::string msg = error_of([&] { load_mnist(dir.path, "t10k"); });
  CHECK(has(msg, (dir / "t10k-images-idx3-ubyte").string() + ": file not found"));
  CHECK(has(msg, "bash scripts/fetch_mnist.sh"));
}

TEST_CASE("io/idx: slice copies a range of images and labels and range-checks it") {
  const ImageSet s = ramp_set(5, 2, 3);
  const ImageSet v = slice(s, 3, 2);
  CHECK(v.count == 2);
  CHECK(v.height == 2);
  CHECK(v.width == 3);
  CHECK(std::equal(v.pixels.begin(), v.pixels.end(), s.pixels.begin() + 18));
  CHECK(v.labels == std::vector<uint8_t>{3, 4});
  CHECK(slice(s, 5, 0).count == 0);
  CHECK_THROWS_WITH_AS(slice(s, 4, 2), doctest::Contains("first 4 and count 2 reach outside the set"), Error);
  CHECK_THROWS_AS(slice(s, -1, 1), Error);
  CHECK_THROWS_AS(slice(s, 0, -1), Error);
}

TEST_CASE("io/idx: MNIST train has 60000 28x28 images and t10k 10000, labelled 0..9") {
  const auto dir = find_mnist();
  if (!dir) {
    MESSAGE("SKIPPED: data/mnist not found (run bash scripts/fetch_mnist.sh)");
    return;
  }
  for (const auto& [split, count, first_label] : {std::tuple{"train", 60000, 5}, std::tuple{"t10k", 10000, 7}}) {
    CAPTURE(split);
    const ImageSet s = load_mnist(*dir, split);
    CHECK(s.count == count);
    CHECK(s.height == 28);
    CHECK(s.width == 28);
    CHECK(s.pixels.size() == static_cast<std::size_t>(count) * 784);
    REQUIRE(s.labels.size() == static_cast<std::size_t>(count));
    CHECK(*std::max_element(s.labels.begin(), s.labels.end()) == 9);
    CHECK(s.labels[0] == first_label);
    const double mean = std::accumulate(s.pixels.begin(), s.pixels.end(), 0.0) / static_cast<double>(s.pixels.size());
    CHECK(mean == doctest::Approx(33.5).epsilon(0.01));  // 33.32 (train), 33.79 (t10k)
  }
}

TEST_CASE("io/batch: scaled and threshold conversions equal plain loops") {
  const ImageSet s = ramp_set(40, 7, 37);  // 259 pixels: covers 0..255 and a SIMD tail
  const std::vector<int64_t> idx = {39, 0, 17, 17};
  const float t = 51.0f / 255.0f;  // pixel 51 sits exactly on the threshold and maps to 0
  std::vector<float> out(idx.size() * 259), thr(out.size());
  fill_batch(s, idx, out);
  fill_batch(s, idx, thr, {Pixels::threshold, t});
  for (std::size_t r = 0; r < idx.size(); ++r)
    for (std::size_t p = 0; p < 259; ++p) {
      const float x = static_cast<float>(s.pixels[static_cast<std::size_t>(idx[r]) * 259 + p]) / 255.0f;
      CHECK(out[r * 259 + p] == x);
      CHECK(thr[r * 259 + p] == (x > t ? 1.0f : 0.0f));
    }
  CHECK(thr[259 + 51] == 0.0f);  // row 1 is image 0, whose pixel p has value p
  CHECK(thr[259 + 52] == 1.0f);
  CHECK(std::count(thr.begin(), thr.end(), 1.0f) > 100);
  CHECK(std::count(thr.begin(), thr.end(), 0.0f) > 100);
}

TEST_CASE("io/batch: a sampled image binarizes identically in any batch of the same epoch") {
  const ImageSet s = ramp_set(10, 16, 16);
  const BatchOptions o{Pixels::sampled, 0.5f, 42, 3};
  std::vector<float> big(3 * 256), one(256), other_epoch(256);
  fill_batch(s, std::vector<int64_t>{2, 7, 5}, big, o);
  fill_batch(s, std::vector<int64_t>{7}, one, o);
  fill_batch(s, std::vector<int64_t>{7}, other_epoch, {Pixels::sampled, 0.5f, 42, 4});
  CHECK(std::equal(one.begin(), one.end(), big.begin() + 256));
  CHECK(one != other_epoch);
  const RngKey key = make_rng_key(42, 3, 7);
  for (uint32_t p = 0; p < 256; ++p) {
    const float prob = static_cast<float>(s.pixels[7 * 256 + p]) / 255.0f;
    CHECK(one[p] == (uniform01(key, p) < prob ? 1.0f : 0.0f));
  }
}

TEST_CASE("io/batch: the sampled mean over many images approximates pixel/255") {
  ImageSet s{2000, 1, 256, {}, {}};
  for (int64_t i = 0; i < s.count; ++i)
    for (int p = 0; p < 256; ++p) s.pixels.push_back(static_cast<uint8_t>(p));
  std::vector<int64_t> idx(static_cast<std::size_t>(s.count));
  std::iota(idx.begin(), idx.end(), 0);
  std::vector<float> out(idx.size() * 256);
  fill_batch(s, idx, out, {Pixels::sampled, 0.5f, 9, 0});
  for (std::size_t p = 0; p < 256; ++p) {
    double sum = 0;
    for (std::size_t i = 0; i < idx.size(); ++i) sum += out[i * 256 + p];
    CAPTURE(p);
    CHECK(std::abs(sum / 2000.0 - static_cast<double>(p) / 255.0) < 0.05);  // sd <= 0.012
    if (p == 0) CHECK(sum == 0.0);
    if (p == 255) CHECK(sum == 2000.0);
  }
}

TEST_CASE("io/batch: wrong sizes, indices and labels are ebm::Errors naming expected and got") {
  ImageSet s = ramp_set(4, 2, 2);
  std::vector<float> out(7);
  CHECK_THROWS_WITH_AS(fill_batch(s, std::vector<int64_t>{0, 1}, out),
                       doctest::Contains("fill_batch: out has 7 floats; expected 8 (2 rows x 4 columns)"), Error);
  out.resize(8);
  CHECK_THROWS_WITH_AS(fill_batch(s, std::vector<int64_t>{0, 4}, out),
                       doctest::Contains("row 1 asks for image 4; expected an index in [0, 4)"), Error);
  ImageSet broken = s;
  broken.pixels.pop_back();
  CHECK_THROWS_WITH_AS(fill_batch(broken, std::vector<int64_t>{0, 1}, out),
                       doctest::Contains("the set has 15 pixels for 4 images of 2 x 2"), Error);
  CHECK_THROWS_WITH_AS(fill_one_hot(s, std::vector<int64_t>{0}, 10, out),
                       doctest::Contains("fill_one_hot: out has 8 floats; expected 10"), Error);
  CHECK_THROWS_WITH_AS(fill_one_hot(s, std::vector<int64_t>{3, 1}, 3, std::span(out).first(6)),
                       doctest::Contains("image 3 has label 3; expected a label below 3 classes"), Error);
}

TEST_CASE("io/batch: one-hot rows put a single 1 at the label") {
  const ImageSet s = ramp_set(12, 1, 1);
  std::vector<float> out(3 * 10, -1.0f);
  fill_one_hot(s, std::vector<int64_t>{11, 0, 4}, 10, out);
  for (int r = 0; r < 3; ++r) {
    const int label = std::vector<int>{1, 0, 4}[static_cast<std::size_t>(r)];
    for (int c = 0; c < 10; ++c) CHECK(out[static_cast<std::size_t>(r * 10 + c)] == (c == label ? 1.0f : 0.0f));
  }
}

TEST_CASE("io/batch: the epoch permutation is a deterministic permutation of 0..n-1") {
  const auto p = shuffled_indices(1000, 5, 2);
  std::vector<int64_t> sorted = p, iota(1000);
  std::sort(sorted.begin(), sorted.end());
  std::iota(iota.begin(), iota.end(), 0);
  CHECK(sorted == iota);
  CHECK(p != iota);
  CHECK(p == shuffled_indices(1000, 5, 2));
  CHECK(p != shuffled_indices(1000, 5, 3));
  CHECK(p != shuffled_indices(1000, 6, 2));
  CHECK(shuffled_indices(0, 1, 1).empty());
  CHECK(shuffled_indices(1, 1, 1) == std::vector<int64_t>{0});
  CHECK_THROWS_AS(shuffled_indices(-1, 1, 1), Error);
}

TEST_CASE("io/batch: every permutation of three items is about equally likely over epochs") {
  std::map<std::vector<int64_t>, int> seen;
  for (uint64_t e = 0; e < 6000; ++e) ++seen[shuffled_indices(3, 11, e)];
  CHECK(seen.size() == 6);
  for (const auto& [perm, n] : seen) CHECK(std::abs(n - 1000) < 150);  // sd ~ 29
}

TEST_CASE("io/batch: Batcher splits each epoch's permutation into batches") {
  Batcher drop(10, 4, 8);
  Batcher keep(10, 4, 8, Batcher::Tail::keep);
  CHECK(drop.batches() == 2);
  CHECK(keep.batches() == 3);
  CHECK(keep.batch(2).size() == 2);
  keep.start_epoch(5);
  const auto order = shuffled_indices(10, 8, 5);
  std::vector<int64_t> joined;
  for (int64_t b = 0; b < keep.batches(); ++b) joined.insert(joined.end(), keep.batch(b).begin(), keep.batch(b).end());
  CHECK(joined == order);
  CHECK(keep.epoch() == 5);
  CHECK(std::equal(drop.batch(1).begin(), drop.batch(1).end(), shuffled_indices(10, 8, 0).begin() + 4));
  CHECK_THROWS_WITH_AS(drop.batch(2), doctest::Contains("batch 2; expected an index in [0, 2)"), Error);
  CHECK_THROWS_AS(Batcher(10, 0, 1), Error);
}

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
  if (std::system("python3 -c 'import numpy' >/dev/null 2>&1") != 0) {
    MESSAGE("SKIPPED: python3 with numpy is not available");
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
  CHECK(std::system(fmt::format("python3 '{}'", (dir / "check.py").string()).c_str()) == 0);
  const NpyArray t = read_npy(theirs), v = read_npy(vec);
  CHECK(t.rows == 3);
  CHECK(t.cols == 2);
  CHECK(t.data == std::vector<float>{0, 2, 4, 6, 8, 10});
  CHECK(v.rows == 1);
  CHECK(v.data == std::vector<float>{7, 8});
}
