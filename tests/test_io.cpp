// The io/ layer, part 1: IDX reading and its error paths on small synthetic
// files, (when data/mnist exists) the real MNIST files, batch conversion
// against plain loops, and the epoch permutation (plain and stratified).
// The images io/ draws itself (face patches, curves) are in
// test_io_drawn.cpp.

#include <array>

#include <doctest/doctest.h>

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
  // an image file whose dimension count was damaged to 1: the rank is named, not the bytes after [3]
  std::string one_d = idx_bytes({3, 2, 2}, 12);
  one_d[3] = 1;
  write_bytes(dir / "one_d", one_d);
  const ImageSet s = load_idx_images(dir / "img", dir / "lab");
  CHECK(s.count == 3);
  CHECK(s.dim() == 4);
  CHECK(s.pixels.size() == 12);
  CHECK(s.pixels[11] == 11);
  CHECK(s.labels == std::vector<uint8_t>{0, 1, 2});
  CHECK_THROWS_WITH_AS(load_idx_images(dir / "one_d", dir / "lab"),
                       doctest::Contains("dims [3]; expected a 3-D image array [count, height, width]"), Error);
  CHECK_THROWS_WITH_AS(load_idx_images(dir / "flat", dir / "lab"), doctest::Contains("expected a 3-D image array"),
                       Error);
  CHECK_THROWS_WITH_AS(load_idx_images(dir / "img", dir / "img"), doctest::Contains("expected a 1-D label array"),
                       Error);
  const std::string msg = error_of([&] { load_idx_images(dir / "img", dir / "lab4"); });
  CHECK(has(msg, (dir / "lab4").string() + " has 4 labels but " + (dir / "img").string() + " has 3 images"));
  // labels 0, 1, 2: within 3 classes, not within 2
  CHECK(load_idx_images(dir / "img", dir / "lab", 3).labels.size() == 3);
  const std::string range = error_of([&] { load_idx_images(dir / "img", dir / "lab", 2); });
  CHECK(has(range, (dir / "lab").string() + ": label 2 for image 2; expected 0 to 1"));
  const ImageSet unlabelled = load_idx_images(dir / "img", "");  // no label file: an unlabelled set
  CHECK(unlabelled.count == 3);
  CHECK(unlabelled.pixels == s.pixels);
  CHECK(unlabelled.labels.empty());
}

TEST_CASE("io/idx: load_mnist names the valid splits and the fetch script") {
  TempDir dir("mnist_missing");
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, "test"), doctest::Contains("expected \"train\" or \"t10k\""), Error);
  const std::string msg = error_of([&] { load_mnist(dir.path, "t10k"); });
  CHECK(has(msg, (dir / "t10k-images-idx3-ubyte").string() + ": file not found"));
  CHECK(has(msg, "bash scripts/fetch_mnist.sh"));
  // well-formed IDX files, but not MNIST's images: 20 x 20, or none
  write_bytes(dir / "t10k-images-idx3-ubyte", idx_bytes({3, 20, 20}, 1200));
  write_bytes(dir / "t10k-labels-idx1-ubyte", idx_bytes({3}, 3));
  const std::string small = (dir / "t10k-images-idx3-ubyte").string() + ": images of 20 x 20 pixels; expected MNIST's 28 x 28";
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, "t10k"), doctest::Contains(small.c_str()), Error);
  write_bytes(dir / "t10k-images-idx3-ubyte", idx_bytes({0, 28, 28}, 0));
  write_bytes(dir / "t10k-labels-idx1-ubyte", idx_bytes({0}, 0));
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, "t10k"), doctest::Contains(": holds no images; expected at least one"),
                       Error);
  write_bytes(dir / "t10k-images-idx3-ubyte", idx_bytes({2, 28, 28}, 2 * 784));
  write_bytes(dir / "t10k-labels-idx1-ubyte", idx_bytes({2}, 2));
  CHECK(load_mnist(dir.path, "t10k").count == 2);
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
