// Damaged files, byte by byte: every truncation and many single-byte
// changes of an IDX file, a .npy file and an RBM checkpoint (its manifest
// and each tensor). Each damaged file must either load (a change the format
// cannot see, such as a payload byte or a digit of a learning rate, which
// the resume then names or accepts) or be refused with an ebm::Error. No
// other exception, crash or hang is allowed: the hand-written cases of
// test_io.cpp, test_io_files.cpp and test_rbm_resume.cpp name each error,
// this sweep checks that no byte of a real file reaches a path they miss.

#include <algorithm>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <iterator>
#include <string>
#include <typeinfo>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "io/idx.hpp"
#include "io/npy.hpp"
#include "tests/rbm_fit_runs.hpp"

using namespace ebm;
namespace fs = std::filesystem;
using namespace ebm::rbm_fit_test;

namespace {

std::string slurp(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const fs::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// What one damaged file did: loaded, refused by an ebm::Error, or anything
// else (the failure this file looks for, with what was thrown).
struct Tally {
  int64_t loaded = 0, refused = 0;
  std::vector<std::string> other;

  void run(const std::string& damage, const std::function<void()>& load) {
    try {
      load();
      ++loaded;
    } catch (const Error&) {
      ++refused;
    } catch (const std::exception& e) {
      other.push_back(fmt::format("{}: {} ({})", damage, e.what(), typeid(e).name()));
    } catch (...) {
      other.push_back(damage + ": a non-standard exception");
    }
  }
};

// Every truncation of `good` (but the whole), and at every offset the byte
// replaced by each of `values` (where it differs): each damaged copy is
// handed to `write`, then `load` runs. Past the first `dense` bytes only
// every `stride`th offset is taken.
Tally sweep(const std::string& name, const std::string& good, const std::vector<unsigned char>& values,
            const std::function<void(const std::string&)>& write, const std::function<void()>& load,
            size_t dense = SIZE_MAX, size_t stride = 1) {
  Tally t;
  const auto next = [&](size_t i) { return i < dense ? i + 1 : i + stride; };
  for (size_t n = 0; n < good.size(); n = next(n)) {
    write(good.substr(0, n));
    t.run(fmt::format("{} cut to {} of {} bytes", name, n, good.size()), load);
  }
  for (size_t i = 0; i < good.size(); i = next(i))
    for (unsigned char v : values) {
      if (static_cast<unsigned char>(good[i]) == v) continue;
      std::string bad = good;
      bad[i] = static_cast<char>(v);
      write(bad);
      t.run(fmt::format("{} byte {} set to {:#04x}", name, i, v), load);
    }
  write(good);
  return t;
}

// The same for a file that stands alone.
Tally sweep_file(const fs::path& file, const std::string& good, const std::vector<unsigned char>& values,
                 const std::function<void()>& load) {
  return sweep(file.filename().string(), good, values, [&](const std::string& bytes) { spit(file, bytes); }, load);
}

void check_tally(const Tally& t) {
  INFO("loaded " << t.loaded << ", refused " << t.refused);
  MESSAGE("loaded " << t.loaded << ", refused " << t.refused);
  for (size_t i = 0; i < std::min<size_t>(t.other.size(), 20); ++i) FAIL_CHECK(t.other[i]);
  CHECK_MESSAGE(t.other.empty(), t.other.size() << " damaged copies threw something else than an ebm::Error");
  CHECK(t.refused > 0);  // the sweep reached the checks at all
}

const std::vector<unsigned char> kBytes = {0x00, 0x01, 0x08, 0x0d, 0x20, 0x22, 0x2c, 0x2d, 0x2e, 0x30,
                                           0x39, 0x3a, 0x5b, 0x5d, 0x7b, 0x7d, 0x7f, 0x80, 0xfe, 0xff};

// For a JSON manifest: nothing, a space, a quote, a comma, digits, a brace
// and a byte that is not UTF-8.
const std::vector<unsigned char> kJsonBytes = {0x00, 0x20, 0x22, 0x2c, 0x30, 0x39, 0x7d, 0xff};

}  // namespace

TEST_CASE("damaged files: every cut and byte of an IDX image file and its labels loads or is a named error") {
  const fs::path d = fresh_dir("damaged_idx");
  fs::create_directories(d);
  // 5 images of 3 x 2 pixels and their labels, written as MNIST's files are.
  std::string images = {0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0, 2};
  for (int i = 0; i < 30; ++i) images.push_back(static_cast<char>(i * 8));
  std::string labels = {0, 0, 8, 1, 0, 0, 0, 5, 0, 1, 2, 1, 0};
  const fs::path im = d / "images-idx3-ubyte", lb = d / "labels-idx1-ubyte";
  spit(im, images);
  spit(lb, labels);
  const auto load = [&] {
    const io::ImageSet s = io::load_idx_images(im, lb);
    // what loads is whole: the pixels and labels the header counts
    if (s.pixels.size() != static_cast<size_t>(s.count * s.dim()) || s.labels.size() != static_cast<size_t>(s.count))
      throw std::logic_error(fmt::format("loaded {} images of {} x {} with {} pixels and {} labels", s.count, s.height,
                                         s.width, s.pixels.size(), s.labels.size()));
  };
  load();  // the good files load
  check_tally(sweep_file(im, images, kBytes, load));
  check_tally(sweep_file(lb, labels, kBytes, load));
  fs::remove_all(d);
}

TEST_CASE("damaged files: every cut and byte of a .npy file loads or is a named error") {
  const fs::path d = fresh_dir("damaged_npy");
  fs::create_directories(d);
  const fs::path f = d / "w.npy";
  io::write_npy(f, 3, 4, std::vector<float>{0.5f, -1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  const std::string good = slurp(f);
  const auto load = [&] {
    const io::NpyArray a = io::read_npy(f);
    if (a.rows < 0 || a.cols < 0 || static_cast<int64_t>(a.data.size()) != a.rows * a.cols)
      throw std::logic_error(fmt::format("loaded {} values for a shape of {} x {}", a.data.size(), a.rows, a.cols));
  };
  load();
  check_tally(sweep_file(f, good, kBytes, load));
  fs::remove_all(d);
}

TEST_CASE("damaged files: every cut and byte of an RBM checkpoint resumes or is a named error") {
  // A PCD run's checkpoint after 2 of 3 epochs: manifest.json and the seven
  // tensors (W, b, c, their velocities and the persistent chains), kept
  // aside; each try damages one file of a fresh copy.
  const SmallData data;
  const fs::path kept = fresh_dir("damaged_rbm_kept"), d = fresh_dir("damaged_rbm");
  {
    Run first(CdMethod::pcd, kept, false, 2);
    first.fit.fit(data.train, data.valid);
  }
  // The checkpoint is read when the fitter is made; one that loads trains
  // its third epoch and saves it, so the folder is copied afresh before the
  // next try.
  bool rewritten = true;
  const auto resume = [&] {
    Run again(CdMethod::pcd, d, true, 3);
    rewritten = true;
    again.fit.fit(data.train, data.valid);
  };
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(kept)) files.push_back(e.path().filename());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() == 8);
  for (const fs::path& f : files) {
    CAPTURE(f.string());
    const auto write = [&](const std::string& bytes) {
      if (rewritten) {
        fs::remove_all(d);
        fs::copy(kept, d);
        rewritten = false;
      }
      spit(d / f, bytes);
    };
    const std::string good = slurp(kept / f);
    write(good);
    resume();  // the good copy resumes
    // A tensor's payload bytes only change its values (a NaN or inf is
    // refused on resume): every byte of its header is taken, then every
    // 13th; every byte of the manifest.
    check_tally(f.extension() == ".npy" ? sweep(f.string(), good, {0x00, 0x7f, 0xff}, write, resume, 128, 13)
                                         : sweep(f.string(), good, kJsonBytes, write, resume));
  }
  fs::remove_all(kept);
  fs::remove_all(d);
}
