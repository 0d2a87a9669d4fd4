// The io/ layer, part 1: IDX reading and its error paths on small synthetic
// files, (when data/mnist exists) the real MNIST files, batch conversion
// against plain loops, the epoch permutation (plain and stratified), the
// face patches and the synthetic curves.

#include <array>

#include <doctest/doctest.h>

#include "io/curves.hpp"
#include "io/face_patches.hpp"
#include "ops/rng.hpp"
#include "io_test_util.hpp"

using namespace ebm::io_test;

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
  for (uint32_t p = 0; p < 256; ++p) {  // u < pixel / 255 in exact arithmetic
    const double u = uniform01(key, p), prob = s.pixels[7 * 256 + p] / 255.0;
    CHECK(one[p] == (u < prob ? 1.0f : 0.0f));
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
  // More rows per batch than items: dropping the tail would leave an epoch
  // with no batch at all, which would train nothing without a word.
  CHECK_THROWS_WITH_AS(Batcher(10, 11, 1), doctest::Contains("expected a batch size of at most 10"), Error);
  CHECK(Batcher(10, 10, 1).batches() == 1);
  CHECK(Batcher(10, 11, 1, Batcher::Tail::keep).batches() == 1);
}

namespace {
// How many items of each stratum every batch of `b` holds.
std::vector<std::array<int, 4>> stratum_counts(const Batcher& b, const std::vector<uint8_t>& strata) {
  std::vector<std::array<int, 4>> out;
  for (int64_t k = 0; k < b.batches(); ++k) {
    std::array<int, 4> n{};
    for (int64_t i : b.batch(k)) ++n[strata[static_cast<size_t>(i)]];
    out.push_back(n);
  }
  return out;
}
}  // namespace

TEST_CASE("io/batch: stratified batches hold each stratum in proportion, in a new random order each epoch") {
  // Equal strata: 4 classes of 30 items, batches of 8 hold exactly 2 of each.
  std::vector<uint8_t> equal(120);
  for (size_t i = 0; i < equal.size(); ++i) equal[i] = static_cast<uint8_t>(i % 4);
  Batcher even(equal, 8, 3);
  CHECK(even.batches() == 15);
  std::vector<int64_t> first_batches;
  for (uint64_t e = 0; e < 3; ++e) {
    even.start_epoch(e);
    std::vector<int64_t> all;
    for (const auto& n : stratum_counts(even, equal)) CHECK(n == std::array<int, 4>{2, 2, 2, 2});
    for (int64_t k = 0; k < even.batches(); ++k) all.insert(all.end(), even.batch(k).begin(), even.batch(k).end());
    std::ranges::sort(all);
    CHECK(all == [] { std::vector<int64_t> v(120); std::iota(v.begin(), v.end(), 0); return v; }());
    first_batches.insert(first_batches.end(), even.batch(0).begin(), even.batch(0).end());
  }
  // Each epoch draws other items first (a fixed order would repeat them).
  CHECK(!std::equal(first_batches.begin(), first_batches.begin() + 8, first_batches.begin() + 8));
  CHECK(!std::equal(first_batches.begin() + 8, first_batches.begin() + 16, first_batches.begin() + 16));
  // Unequal strata (sizes 500, 300, 150, 50 of 1000, shuffled): a batch of 20
  // holds 10, 6, 3 and 1 give or take one; plain shuffled batches stray far further.
  std::vector<uint8_t> uneven;
  for (int c = 0; c < 4; ++c) uneven.insert(uneven.end(), std::array<size_t, 4>{500, 300, 150, 50}[c], uint8_t(c));
  const auto mix = shuffled_indices(1000, 9, 0);
  std::vector<uint8_t> mixed(1000);
  for (size_t i = 0; i < mixed.size(); ++i) mixed[i] = uneven[static_cast<size_t>(mix[i])];
  const std::array<double, 4> expected{10, 6, 3, 1};
  auto worst = [&](const Batcher& b) {
    double w = 0;
    for (const auto& n : stratum_counts(b, mixed))
      for (size_t c = 0; c < 4; ++c) w = std::max(w, std::abs(n[c] - expected[c]));
    return w;
  };
  Batcher stratified(mixed, 20, 4), plain(1000, 20, 4);
  for (uint64_t e = 0; e < 5; ++e) {
    stratified.start_epoch(e);
    plain.start_epoch(e);
    CHECK(worst(stratified) <= 1.0);
    CHECK(worst(plain) >= 3.0);  // 50 batches: some stratum strays by 3 or more (sd about 2.2 for the largest)
  }
  CHECK_THROWS_WITH_AS(Batcher(std::vector<uint8_t>(5, 0), 6, 1), doctest::Contains("at most 5"), Error);
}

TEST_CASE("io/batch: stratified batches of MNIST's first 50,000 training digits hold 8 to 12 of each per 100") {
  const auto dir = find_mnist();
  if (!dir) {
    MESSAGE("SKIPPED: data/mnist not found (run bash scripts/fetch_mnist.sh)");
    return;
  }
  const ImageSet train = slice(load_mnist(*dir, "train"), 0, 50000);
  Batcher stratified(train.labels, 100, 1), plain(train.count, 100, 1);
  auto range = [&](const Batcher& b) {
    std::pair<int, int> r{100, 0};
    for (int64_t k = 0; k < b.batches(); ++k) {
      std::array<int, 10> n{};
      for (int64_t i : b.batch(k)) ++n[train.labels[static_cast<size_t>(i)]];
      r = {std::min(r.first, *std::ranges::min_element(n)), std::max(r.second, *std::ranges::max_element(n))};
    }
    return r;
  };
  for (uint64_t e = 0; e < 3; ++e) {
    stratified.start_epoch(e);
    plain.start_epoch(e);
    const auto [lo, hi] = range(stratified);
    CHECK(lo >= 8);
    CHECK(hi <= 12);
    const auto [plain_lo, plain_hi] = range(plain);
    CHECK(plain_hi - plain_lo >= 12);  // a shuffle alone: 500 batches' counts (sd 3 each) spread far wider
  }
}


TEST_CASE("io/face_patches: unturned at a zoom of side / size, a patch is the centre crop") {
  ebm::io::ImageSet set{2, 8, 8, {}, {0, 1}};
  for (int i = 0; i < 2; ++i)
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x) set.pixels.push_back(static_cast<uint8_t>(100 * i + 10 * y + x));
  const ebm::io::FacePatches p(set, {1}, {.size = 4, .per_image = 3, .max_angle = 0.0f, .min_zoom = 2.0f, .max_zoom = 2.0f});
  REQUIRE(p.count() == 3);
  std::vector<float> out(16);
  for (int64_t v = 0; v < 3; ++v) {
    p.patch(v, out);
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 4; ++c) CHECK(out[static_cast<size_t>(r * 4 + c)] == doctest::Approx((100 + 10 * (2 + r) + 2 + c) / 255.0));
  }
  CHECK_THROWS_WITH_AS(p.patch(3, out), doctest::Contains("patch 3 of 3"), ebm::Error);
  CHECK(ebm::io::images_with_labels(set, 1, 2) == std::vector<int64_t>{1});
}

TEST_CASE("io/face_patches: turning a round blob changes nothing, the draws are the seed's") {
  ebm::io::ImageSet set{1, 64, 64, {}, {0}};
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) {
      const double r2 = (y + 0.5 - 32) * (y + 0.5 - 32) + (x + 0.5 - 32) * (x + 0.5 - 32);
      set.pixels.push_back(static_cast<uint8_t>(std::lround(240 * std::exp(-r2 / 200.0))));
    }
  const ebm::io::PatchConfig turned{.per_image = 8, .min_zoom = 1.6f, .max_zoom = 1.6f, .seed = 3};
  const ebm::io::FacePatches p(set, {0}, turned);
  std::vector<float> first(625), other(625);
  p.patch(0, first);
  double worst = 0, spread = 0;
  for (int64_t v = 1; v < 8; ++v) {
    p.patch(v, other);
    for (size_t k = 0; k < 625; ++k) worst = std::max(worst, std::abs(double{other[k]} - first[k]));
  }
  for (float f : first) spread = std::max(spread, double{f});
  CHECK(spread > 0.9);   // the blob is in the patch ...
  CHECK(worst < 0.02);   // ... and looks the same at every angle
  // An off-centre image: different variants differ, the same seed repeats them.
  ebm::io::ImageSet stripes{1, 64, 64, {}, {0}};
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) stripes.pixels.push_back(static_cast<uint8_t>(x < 32 ? 200 : 10));
  const ebm::io::FacePatches a(stripes, {0}, turned), b(stripes, {0}, turned);
  const ebm::io::FacePatches c(stripes, {0}, {.per_image = 8, .min_zoom = 1.6f, .max_zoom = 1.6f, .seed = 4});
  std::vector<float> pa(625), pb(625), pc(625), pa1(625);
  a.patch(0, pa), b.patch(0, pb), c.patch(0, pc), a.patch(1, pa1);
  CHECK(pa == pb);
  CHECK(pa != pc);
  CHECK(pa != pa1);
  const ebm::io::ImageSet oblong{1, 4, 6, std::vector<uint8_t>(24), {}};
  CHECK_THROWS_WITH_AS(ebm::io::FacePatches(oblong, {0}, {}), doctest::Contains("expected square ones"), ebm::Error);
  CHECK_THROWS_WITH_AS(ebm::io::FacePatches(stripes, {1}, {}), doctest::Contains("image 1 of a set of 1"), ebm::Error);
  CHECK_THROWS_WITH_AS(ebm::io::images_with_labels(ebm::io::ImageSet{1, 4, 4, std::vector<uint8_t>(16), {}}, 0, 1),
                       doctest::Contains("0 labels for 1 images"), ebm::Error);
}

TEST_CASE("io/face_patches: on a linear image every patch is the formula's, at the angle and zoom drawn for it") {
  // Image value x + 2y at pixel (y, x): bilinear sampling reproduces it
  // exactly between pixel centres, so each patch pixel must equal the value
  // at the point the documented geometry maps it to (no clamping: the
  // rotated patch stays inside). Two equal images get different draws.
  ebm::io::ImageSet set{2, 64, 64, {}, {0, 0}};
  for (int i = 0; i < 2; ++i)
    for (int y = 0; y < 64; ++y)
      for (int x = 0; x < 64; ++x) set.pixels.push_back(static_cast<uint8_t>(x + 2 * y));
  const ebm::io::PatchConfig cfg{.size = 5, .per_image = 40, .max_angle = 90.0f, .min_zoom = 1.5f, .max_zoom = 2.5f, .seed = 9};
  const ebm::io::FacePatches p(set, {0, 1}, cfg), swapped(set, {1, 0}, cfg);
  std::vector<float> out(25), twin(25);
  double lo = 1e9, hi = -1e9, worst = 0;
  for (int64_t v = 0; v < 40; ++v) {
    p.patch(v, out);
    const ebm::RngKey key = ebm::make_rng_key(9, 0, static_cast<uint64_t>(v));
    const double a = (2.0 * ebm::uniform01(key, 0) - 1.0) * 90.0 * 3.14159265358979 / 180.0;
    const double step = 64.0 / (1.5 + 1.0 * ebm::uniform01(key, 1)) / 5.0;
    lo = std::min(lo, a), hi = std::max(hi, a);
    CHECK(p.angle(v) == doctest::Approx(a * 180.0 / 3.14159265358979).epsilon(1e-12));
    CHECK(p.image(v) == 0);
    CHECK(p.image(40 + v) == 1);
    CHECK(swapped.image(v) == 1);  // the image's index, not its place in the list
    CHECK(swapped.angle(40 + v) == p.angle(v));
    for (int r = 0; r < 5; ++r)
      for (int c = 0; c < 5; ++c) {
        const double u = c + 0.5 - 2.5, w = r + 0.5 - 2.5;
        const double x = 32 + step * (std::cos(a) * u - std::sin(a) * w) - 0.5;
        const double y = 32 + step * (std::sin(a) * u + std::cos(a) * w) - 0.5;
        worst = std::max(worst, std::abs(out[static_cast<size_t>(r * 5 + c)] - (x + 2 * y) / 255.0));
      }
    p.patch(40 + v, twin);  // the same variant of the second, equal, image
    CHECK(twin != out);
  }
  CHECK(worst < 1e-5);
  CHECK(lo < -1.0);  // the angles cover both turns
  CHECK(hi > 1.0);
}

TEST_CASE("io/face_patches: angle() is how far the face in the patch is turned, counter-clockwise as drawn") {
  // The top half of the image is bright: in each patch, the bright pixels'
  // centroid, seen from the centre, points "up" turned by angle() degrees
  // counter-clockwise on screen (rows run downwards).
  ebm::io::ImageSet set{1, 64, 64, {}, {0}};
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) set.pixels.push_back(static_cast<uint8_t>(y < 32 ? 250 : 0));
  const ebm::io::FacePatches p(set, {0}, {.size = 28, .per_image = 30, .min_zoom = 1.5f, .max_zoom = 1.5f, .seed = 5});
  std::vector<float> out(28 * 28);
  double worst = 0;
  for (int64_t v = 0; v < 30; ++v) {
    p.patch(v, out);
    double cx = 0, cy = 0;
    for (int r = 0; r < 28; ++r)
      for (int c = 0; c < 28; ++c) {
        const double dx = c + 0.5 - 14, dy = r + 0.5 - 14;
        if (dx * dx + dy * dy > 14 * 14) continue;  // a disc: a square's corners would pull the centroid aside
        cx += out[static_cast<size_t>(r * 28 + c)] * dx;
        cy += out[static_cast<size_t>(r * 28 + c)] * dy;
      }
    const double a = p.angle(v) * 3.14159265358979 / 180.0;  // up (0, -1) turned counter-clockwise: (-sin a, -cos a)
    const double seen = std::atan2(-cx, -cy);
    worst = std::max(worst, std::abs(std::remainder(seen - a, 2 * 3.14159265358979)));
  }
  CHECK(worst < 0.02);  // radians
}

TEST_CASE("io/curves: the spline passes through its three points, straight at both ends, smooth at the middle one") {
  const ebm::io::Curves set(200, {.seed = 4});
  for (int64_t i = 0; i < set.count(); ++i) {
    const ebm::io::CurvePoints p = set.points(i);
    for (size_t k = 0; k < 3; ++k) CHECK(ebm::io::spline_value(p, p.x[k]) == doctest::Approx(p.y[k]).epsilon(1e-9));
    constexpr double h = 1e-4;
    auto fd_slope = [&](double x) { return (ebm::io::spline_value(p, x + h) - ebm::io::spline_value(p, x - h)) / (2 * h); };
    for (double x : {p.x[0] + 0.3, (p.x[0] + p.x[1]) / 2, (p.x[1] + p.x[2]) / 2, p.x[2] - 0.3})
      CHECK(ebm::io::spline_slope(p, x) == doctest::Approx(fd_slope(x)).epsilon(1e-5));
    // slope and curvature continuous at x1; curvature 0 at x0 and x2 (natural ends)
    CHECK(ebm::io::spline_slope(p, p.x[1] - 1e-9) == doctest::Approx(ebm::io::spline_slope(p, p.x[1] + 1e-9)).epsilon(1e-6));
    auto curvature = [&](double x) { return (ebm::io::spline_slope(p, x + h) - ebm::io::spline_slope(p, x - h)) / (2 * h); };
    CHECK(curvature(p.x[1] - 1e-3) == doctest::Approx(curvature(p.x[1] + 1e-3)).epsilon(1e-2).scale(1.0));
    CHECK(std::abs((ebm::io::spline_slope(p, p.x[0] + h) - ebm::io::spline_slope(p, p.x[0])) / h) < 1e-3);
    CHECK(std::abs((ebm::io::spline_slope(p, p.x[2]) - ebm::io::spline_slope(p, p.x[2] - h)) / h) < 1e-3);
  }
}

TEST_CASE("io/curves: points keep the margin and the gaps, x increasing, images are the seed's and the stream's") {
  const ebm::io::Curves a(2000, {.seed = 7}), b(2000, {.seed = 7}), other_stream(2000, {.seed = 7, .stream = 1});
  double min_x = 1e9, max_x = -1e9, min_y = 1e9, max_y = -1e9;
  for (int64_t i = 0; i < a.count(); ++i) {
    const ebm::io::CurvePoints p = a.points(i);
    CHECK(p.x[1] - p.x[0] >= 2.0 - 1e-9);
    CHECK(p.x[2] - p.x[1] >= 2.0 - 1e-9);
    for (size_t k = 0; k < 3; ++k) {
      min_x = std::min(min_x, p.x[k]), max_x = std::max(max_x, p.x[k]);
      min_y = std::min(min_y, p.y[k]), max_y = std::max(max_y, p.y[k]);
    }
  }
  // within [2, 25], and spread over it
  CHECK(min_x >= 2.0);
  CHECK(max_x <= 25.0);
  CHECK(min_y >= 2.0);
  CHECK(max_y <= 25.0);
  CHECK(min_x < 2.1);
  CHECK(max_x > 24.9);
  CHECK(min_y < 2.1);
  CHECK(max_y > 24.9);
  CHECK(a.images(10, 20) == b.images(10, 20));
  CHECK(a.images(10, 20) != other_stream.images(10, 20));
  CHECK(a.images(10, 20) != ebm::io::Curves(2000, {.seed = 8}).images(10, 20));
  const std::vector<float> one = a.images(13, 1), block = a.images(10, 20);
  CHECK(std::equal(one.begin(), one.end(), block.begin() + 3 * 784));
}

TEST_CASE("io/curves: a straight curve is one unit of ink per pixel, blurred by the kernel and clipped at 1") {
  // Points on row 10 from column 2 to 20: every column's centre gets one
  // unit of ink; blurred, row 10 has 0.3 + 0.8 + 0.3 (clipped to 1), rows 9
  // and 11 have 0.1 + 0.3 + 0.1, rows further away none.
  const ebm::io::CurvePoints flat{{2.0, 10.0, 20.0}, {10.0, 10.0, 10.0}};
  std::vector<float> img(28 * 28);
  ebm::io::draw_curve(flat, 28, img);
  for (int c = 4; c <= 18; ++c) {
    CAPTURE(c);
    CHECK(img[size_t(10 * 28 + c)] == 1.0f);
    CHECK(img[size_t(9 * 28 + c)] == doctest::Approx(0.5).epsilon(1e-6));
    CHECK(img[size_t(11 * 28 + c)] == doctest::Approx(0.5).epsilon(1e-6));
    for (int r : {0, 5, 8, 12, 20, 27}) CHECK(img[size_t(r * 28 + c)] == 0.0f);
  }
  for (int r = 0; r < 28; ++r)
    for (int c : {0, 22, 27}) CHECK(img[size_t(r * 28 + c)] == 0.0f);
}

TEST_CASE("io/curves: every image is ink on its curve, in [0, 1], and none away from it") {
  const ebm::io::Curves set(100, {.seed = 2});
  std::vector<float> img(784);
  for (int64_t i = 0; i < set.count(); ++i) {
    CAPTURE(i);
    const ebm::io::CurvePoints p = set.points(i);
    set.image(i, img);
    // the curve, walked by plain loops in steps of at most 0.01 pixel of arc
    std::vector<std::pair<double, double>> walk;
    for (double x = p.x[0]; x <= p.x[2];) {
      walk.emplace_back(x, ebm::io::spline_value(p, x));
      const double s = ebm::io::spline_slope(p, x);
      x += 0.01 / std::sqrt(1.0 + s * s);
    }
    walk.emplace_back(p.x[2], p.y[2]);
    int bad_range = 0, ink_far = 0;
    for (int r = 0; r < 28; ++r)
      for (int c = 0; c < 28; ++c) {
        const float v = img[size_t(r * 28 + c)];
        bad_range += !(v >= 0.0f && v <= 1.0f);
        double d2 = 1e9;
        for (auto [x, y] : walk) d2 = std::min(d2, (x - c) * (x - c) + (y - r) * (y - r));
        // ink reaches at most one pixel (bilinear) plus one (the blur) from the curve in each axis:
        // within a distance of 2 sqrt(2)
        if (d2 > 8.0) ink_far += v != 0.0f;
      }
    CHECK(bad_range == 0);
    CHECK(ink_far == 0);
    for (size_t k = 0; k < 3; ++k) {  // the pixels next to each point are well inked
      const auto r = static_cast<int>(std::lround(p.y[k])), c = static_cast<int>(std::lround(p.x[k]));
      float most = 0.0f;
      for (int dr = -1; dr <= 1; ++dr)
        for (int dc = -1; dc <= 1; ++dc) most = std::max(most, img[size_t((r + dr) * 28 + c + dc)]);
      CHECK(most >= 0.5f);
    }
  }
}

TEST_CASE("io/curves: bad sizes, margins, indices and buffers are refused, naming what was expected") {
  using ebm::io::Curves;
  CHECK_THROWS_WITH_AS(Curves(-1, {}), doctest::Contains("expected a count of at least 0"), ebm::Error);
  CHECK_THROWS_WITH_AS(Curves(1, {.side = 3}), doctest::Contains("expected at least 4"), ebm::Error);
  CHECK_THROWS_WITH_AS(Curves(1, {.side = 10, .margin = 3.0}), doctest::Contains("room for three points"), ebm::Error);
  CHECK_THROWS_WITH_AS(Curves(1, {.min_gap = 0.0}), doctest::Contains("gap > 0"), ebm::Error);
  const Curves set(5, {});
  std::vector<float> small(10);
  CHECK_THROWS_WITH_AS(set.points(5), doctest::Contains("image 5 of a set of 5; expected an index in [0, 5)"), ebm::Error);
  CHECK_THROWS_WITH_AS(set.image(0, small), doctest::Contains("an image has 784"), ebm::Error);
  CHECK_THROWS_WITH_AS(set.images(3, 3), doctest::Contains("expected a range within the set"), ebm::Error);
  const ebm::io::CurvePoints backwards{{5.0, 4.0, 9.0}, {1.0, 2.0, 3.0}};
  std::vector<float> img(784);
  CHECK_THROWS_WITH_AS(ebm::io::draw_curve(backwards, 28, img), doctest::Contains("expected them finite and increasing"),
                       ebm::Error);
  const ebm::io::CurvePoints nan_y{{1.0, 4.0, 9.0}, {1.0, std::nan(""), 3.0}};
  CHECK_THROWS_WITH_AS(ebm::io::draw_curve(nan_y, 28, img), doctest::Contains("expected finite coordinates"), ebm::Error);
}
