// The file system failing under a run: a disk that fills up (simulated by
// /dev/full, which fails every write with ENOSPC, and by RLIMIT_FSIZE, which
// fails writes past a size with EFBIG; a small tmpfs when this user may
// mount one), a rename that fails, and a run killed part way through a
// checkpoint's save. Every writer must say which file failed and why, leave
// the file it would have replaced as it was, and leave no "<file>.tmp" in the
// way of the next save; a checkpoint must load after any of these.

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "graph/graph.hpp"
#include "io/npy.hpp"
#include "io/plot.hpp"
#include "io/png.hpp"
#include "io_test_util.hpp"
#include "misuse_util.hpp"
#include "models/checkpoint.hpp"
#include "samples/csv.hpp"
#include "samples/rbm_metrics.hpp"

// Fault injection: every rename of this program (std::filesystem::rename
// calls it) goes through here (were it not, the cases that rely on it would
// fail, not pass). A rename onto `g_fail_rename_to` fails with EIO; one onto
// `g_kill_at_rename_to` ends the process (_exit, no cleanup), as kill -9
// would just before that rename.
namespace {
std::string g_fail_rename_to, g_kill_at_rename_to;
constexpr int kKilledStatus = 9;
}  // namespace

extern "C" int rename(const char* from, const char* to) noexcept {
  if (!g_kill_at_rename_to.empty() && g_kill_at_rename_to == to) _exit(kKilledStatus);
  if (!g_fail_rename_to.empty() && g_fail_rename_to == to) {
    errno = EIO;
    return -1;
  }
  return ::renameat(AT_FDCWD, from, AT_FDCWD, to);  // what rename() does, by the call this file does not replace
}

using namespace ebm;
using misuse_test::error_of;
using misuse_test::has;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

fs::path with_suffix(const fs::path& p, const char* suffix) {
  fs::path out = p;
  out += suffix;
  return out;
}

bool have_dev_full() {
  std::error_code ec;
  if (fs::is_character_file("/dev/full", ec)) return true;
  MESSAGE("SKIPPED: /dev/full is not on this machine");
  return false;
}

// A one-tensor model: W, rows x cols, every entry `fill`.
struct Model {
  Graph g;
  Tensor w;
  Model(int64_t rows, int64_t cols) : w(g.param("W", {rows, cols})) {}
  void fill(float v) {
    for (float& x : g.value(w)) x = v;
  }
  // Saves W (all `v`) with meta {"epoch": epoch}.
  void save(const fs::path& dir, float v, int epoch) {
    fill(v);
    const NamedTensor t{"W", w};
    save_checkpoint(dir, "disk_test", {&t, 1}, fmt::format(R"({{"epoch": {}}})", epoch));
  }
  // Loads the checkpoint at `dir` into W; returns its epoch, and checks that every entry is `v`.
  int load_epoch(const fs::path& dir, float v) {
    fill(-1.0f);
    const NamedTensor t{"W", w};
    const std::string meta = load_checkpoint(dir, "disk_test", {&t, 1});
    const auto loaded = g.value(w);
    REQUIRE(std::count(loaded.begin(), loaded.end(), v) == static_cast<std::ptrdiff_t>(loaded.size()));
    const size_t at = meta.find("\"epoch\":");
    REQUIRE(at != std::string::npos);
    return std::stoi(meta.substr(at + 8));
  }
};

// Writes past `bytes` into any file fail with EFBIG ("File too large") while
// it lives, as on a disk that has that much room left; SIGXFSZ is ignored so
// that the write fails instead of ending the process.
struct FileSizeLimit {
  rlimit before{};
  void (*handler)(int) = nullptr;
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &before);
    handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit lower = before;
    lower.rlim_cur = bytes;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &lower) == 0);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &before);
    std::signal(SIGXFSZ, handler);
  }
};

// A tmpfs of `size` mounted on `dir` while it lives; mounted() is false
// (and says why) when this user may not mount one.
struct Tmpfs {
  fs::path dir;
  bool ok = false;
  Tmpfs(fs::path where, const char* size) : dir(std::move(where)) {
    fs::create_directories(dir);
    if (::geteuid() != 0) return;
    ok = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, fmt::format("size={}", size).c_str()) == 0;
  }
  bool read_only() { return ::mount("tmpfs", dir.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) == 0; }
  ~Tmpfs() {
    if (ok) ::umount2(dir.c_str(), MNT_DETACH);
  }
};

}  // namespace

TEST_CASE("disk_faults: a checkpoint's tensor that meets a full disk names the checkpoint and keeps the one before") {
  const io_test::TempDir scratch("disk_npy_full");
  const fs::path& root = scratch.path;
  const fs::path dir = root / "ckpt";
  Model m(64, 64);  // 16 KiB of floats
  m.save(dir, 1.0f, 1);
  std::string msg;
  {
    const FileSizeLimit limit(4096);  // room for 4 KiB per file: W.npy does not fit
    msg = error_of([&] { m.save(dir, 2.0f, 2); });
  }
  CHECK(has(msg, fmt::format("checkpoint '{}': cannot write it (", dir.string())));
  CHECK(has(msg, "W.npy"));
  CHECK(has(msg, "the checkpoint saved before, if any, is kept"));
  CHECK(!fs::exists(with_suffix(dir, ".tmp")));  // nothing in the way of the next save
  CHECK(m.load_epoch(dir, 1.0f) == 1);
  m.save(dir, 3.0f, 3);  // room again: the next save goes through
  CHECK(m.load_epoch(dir, 3.0f) == 3);
  CHECK(!fs::exists(with_suffix(dir, ".tmp")));
  CHECK(!fs::exists(with_suffix(dir, ".old")));
}

TEST_CASE("disk_faults: a checkpoint's manifest that meets a full disk names the file and the cause") {
  const io_test::TempDir scratch("disk_manifest_full");
  const fs::path& root = scratch.path;
  const fs::path dir = root / "ckpt";
  Model m(2, 2);  // a W.npy of 144 bytes
  m.save(dir, 1.0f, 1);
  m.fill(2.0f);
  const NamedTensor t{"W", m.w};
  const std::string big_meta = fmt::format(R"({{"epoch": 2, "note": "{}"}})", std::string(8000, 'x'));
  std::string msg;
  {
    const FileSizeLimit limit(4096);  // the npy fits, the manifest of 8 KB does not
    msg = error_of([&] { save_checkpoint(dir, "disk_test", {&t, 1}, big_meta); });
  }
  CHECK(has(msg, fmt::format("checkpoint '{}': cannot write it ({}: writing manifest.json failed: {})", dir.string(),
                             with_suffix(dir, ".tmp").string(), std::generic_category().message(EFBIG))));
  CHECK(has(msg, "the checkpoint saved before, if any, is kept"));
  CHECK(!fs::exists(with_suffix(dir, ".tmp")));
  CHECK(m.load_epoch(dir, 1.0f) == 1);
}

TEST_CASE("disk_faults: a checkpoint whose rename fails keeps the last whole one, also when the next save fails too") {
  const io_test::TempDir scratch("disk_rename_fails");
  const fs::path& root = scratch.path;
  const fs::path dir = root / "ckpt", old = with_suffix(dir, ".old");
  Model m(8, 8);
  m.save(dir, 1.0f, 1);
  // The rename of <dir> to <dir>.old fails: <dir> stays as it was.
  g_fail_rename_to = old.string();
  std::string msg = error_of([&] { m.save(dir, 2.0f, 2); });
  CHECK(has(msg, fmt::format("checkpoint '{}': cannot write it (", dir.string())));
  CHECK(has(msg, std::generic_category().message(EIO)));
  CHECK(m.load_epoch(dir, 1.0f) == 1);
  // The rename of the new copy onto <dir> fails, after <dir> became <dir>.old: loading reads <dir>.old.
  g_fail_rename_to = dir.string();
  msg = error_of([&] { m.save(dir, 3.0f, 3); });
  CHECK(has(msg, fmt::format("checkpoint '{}': cannot write it (", dir.string())));
  CHECK(has(msg, "the checkpoint saved before, if any, is kept"));
  CHECK(!fs::exists(dir));
  CHECK(m.load_epoch(dir, 1.0f) == 1);
  // It fails again (the disk still ails): <dir>.old, the only whole checkpoint, must not be removed first.
  msg = error_of([&] { m.save(dir, 4.0f, 4); });
  CHECK(has(msg, fmt::format("checkpoint '{}': cannot write it (", dir.string())));
  CHECK(checkpoint_exists(dir));
  CHECK(m.load_epoch(dir, 1.0f) == 1);
  g_fail_rename_to.clear();
  m.save(dir, 5.0f, 5);
  CHECK(m.load_epoch(dir, 5.0f) == 5);
  CHECK(!fs::exists(old));
  CHECK(!fs::exists(with_suffix(dir, ".tmp")));
}

TEST_CASE("disk_faults: a save killed before either rename, twice in a row, leaves the last whole checkpoint") {
  const io_test::TempDir scratch("disk_killed");
  const fs::path& root = scratch.path;
  const fs::path dir = root / "ckpt", old = with_suffix(dir, ".old"), tmp = with_suffix(dir, ".tmp");
  Model m(8, 8);
  m.save(dir, 1.0f, 1);
  // Each save runs in a child that dies (as by kill -9: no cleanup) just before the rename onto `at`.
  const auto killed_save = [&](const fs::path& at, float v, int epoch) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      g_kill_at_rename_to = at.string();
      try {
        m.save(dir, v, epoch);
      } catch (...) {
        _exit(1);
      }
      _exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  CHECK(killed_save(old, 2.0f, 2) == kKilledStatus);  // before <dir> became <dir>.old
  CHECK(m.load_epoch(dir, 1.0f) == 1);
  CHECK(killed_save(dir, 3.0f, 3) == kKilledStatus);  // between the two renames: <dir> is gone, <dir>.old is whole
  CHECK(!fs::exists(dir));
  CHECK(m.load_epoch(dir, 1.0f) == 1);
  CHECK(killed_save(dir, 4.0f, 4) == kKilledStatus);  // the resumed run killed at the same point of its first save
  CHECK(checkpoint_exists(dir));
  CHECK(m.load_epoch(dir, 1.0f) == 1);
  m.save(dir, 5.0f, 5);  // the stray <dir>.tmp a kill left is no obstacle
  CHECK(m.load_epoch(dir, 5.0f) == 5);
  CHECK(!fs::exists(old));
  CHECK(!fs::exists(tmp));
}

TEST_CASE("disk_faults: npy, PNG and SVG files written onto a full disk say so and leave the file before") {
  if (!have_dev_full()) return;
  const io_test::TempDir scratch("disk_writers_full");
  const fs::path& root = scratch.path;
  const std::vector<float> values(16, 0.5f);
  const io::Panel panel{.title = "loss", .x_label = "epoch", .y_label = "loss",
                        .series = {io::Series{.label = "train", .x = {1, 2}, .y = {1.0, 0.5}}}};
  struct Writer {
    const char* file;
    std::function<void(const fs::path&)> write;
  };
  const Writer writers[] = {
      {"a.npy", [&](const fs::path& p) { io::write_npy(p, 4, 4, values); }},
      {"a.png", [&](const fs::path& p) { io::write_png_grid(p, values, 1, 4, 4); }},
      {"a.svg", [&](const fs::path& p) { io::write_svg_plot(p, std::span(&panel, 1), "title"); }},
  };
  for (const Writer& w : writers) {
    CAPTURE(w.file);
    const fs::path p = root / w.file, tmp = with_suffix(p, ".tmp");
    std::ofstream(p) << "the file before";
    fs::create_symlink("/dev/full", tmp);  // the write goes to <file>.tmp: onto a disk with no room
    const std::string msg = error_of([&] { w.write(p); });
    CHECK(has(msg, p.string() + ": writing " + tmp.string() + " failed (" + std::generic_category().message(ENOSPC) +
                       "); expected a disk with room"));
    CHECK(slurp(p) == "the file before");
    CHECK(!fs::exists(fs::symlink_status(tmp)));
    CHECK(fs::is_character_file("/dev/full"));
    w.write(p);  // room again: written whole
    CHECK(slurp(p) != "the file before");
    CHECK(!fs::exists(fs::symlink_status(tmp)));
  }
}

TEST_CASE("disk_faults: a CSV row written onto a full disk names the file and no space left on device") {
  if (!have_dev_full()) return;
  const io_test::TempDir scratch("disk_csv_full");
  const fs::path& root = scratch.path;
  const fs::path p = root / "metrics.csv";
  fs::create_symlink("/dev/full", p);
  samples::Csv csv(p, "epoch,loss", false);
  const std::string msg = error_of([&] { csv.row("{},{}", 1, 0.5); });
  CHECK(has(msg, fmt::format("'{}': writing a row failed ({})", p.string(), std::generic_category().message(ENOSPC))));
  CHECK(fs::is_character_file("/dev/full"));
  // A resumed run does not read a device as its earlier rows (/dev/full reads as endless zeros).
  CHECK(has(error_of([&] { samples::Csv(p, "epoch,loss", true); }), "not a regular file; expected the CSV file"));
}

TEST_CASE("disk_faults: a resumed CSV cut back to its checkpoint on a full disk keeps its rows") {
  if (!have_dev_full()) return;
  const io_test::TempDir scratch("disk_csv_rewrite");
  const fs::path& root = scratch.path;
  const fs::path p = root / "metrics.csv", tmp = with_suffix(p, ".tmp");
  const std::string rows = "epoch,loss\n1,0.5\n2,0.25\n3,0.125\n";
  std::ofstream(p) << rows;
  fs::create_symlink("/dev/full", tmp);  // the rewrite goes to <file>.tmp, onto a disk with no room
  {
    samples::Csv csv(p, "epoch,loss", true);
    const std::string msg = error_of([&] { csv.keep_rows_through(2); });
    CHECK(has(msg, fmt::format("'{}': rewriting it failed ({})", p.string(), std::generic_category().message(ENOSPC))));
    CHECK(has(msg, "the file is left as it was"));
  }
  CHECK(slurp(p) == rows);  // not truncated
  CHECK(!fs::exists(fs::symlink_status(tmp)));
  CHECK(fs::is_character_file("/dev/full"));
  {
    samples::Csv csv(p, "epoch,loss", true);
    csv.keep_rows_through(2);
    csv.row("{},{}", 3, 0.1);
  }
  CHECK(slurp(p) == "epoch,loss\n1,0.5\n2,0.25\n3,0.1\n");
  CHECK(!fs::exists(fs::symlink_status(tmp)));
}

TEST_CASE("disk_faults: a tmpfs that fills up and turns read-only keeps the checkpoint and names the cause") {
  const io_test::TempDir scratch("disk_tmpfs");
  const fs::path& root = scratch.path;
  Tmpfs disk(root / "disk", "32k");
  if (!disk.ok) {
    MESSAGE("SKIPPED: cannot mount a tmpfs here (not root, or mounting is not allowed)");
    return;
  }
  const fs::path dir = disk.dir / "ckpt";
  Model m(64, 64);  // 16 KiB a copy: a second copy beside the first does not fit in 32 KiB
  m.save(dir, 1.0f, 1);
  std::string msg = error_of([&] { m.save(dir, 2.0f, 2); });
  CHECK(has(msg, fmt::format("checkpoint '{}': cannot write it (", dir.string())));
  CHECK(has(msg, "W.npy"));
  CHECK(!fs::exists(with_suffix(dir, ".tmp")));
  CHECK(m.load_epoch(dir, 1.0f) == 1);
  // A CSV row on the full disk: the cause named.
  {
    samples::Csv csv(disk.dir / "metrics.csv", "epoch,loss", false);  // its header written while there is room
    {
      const fs::path filler = disk.dir / "filler";
      std::ofstream f(filler, std::ios::binary);
      const std::string block(4096, 'x');
      for (int i = 0; i < 16 && f; ++i) f.write(block.data(), static_cast<std::streamsize>(block.size())), f.flush();
    }
    msg = error_of([&] { csv.row("{},{}", 1, std::string(8192, '1')); });
    CHECK(has(msg, fmt::format("writing a row failed ({})", std::generic_category().message(ENOSPC))));
    // A new CSV on the full disk: its header cannot be written, said as it is made, not at its first row.
    CHECK(has(error_of([&] { samples::Csv(disk.dir / "more.csv", "epoch,loss", false); }),
              fmt::format("cannot open for writing ({})", std::generic_category().message(ENOSPC))));
  }  // closed: a file open for writing would keep the remount below from making the tmpfs read-only
  fs::remove(disk.dir / "filler");
  // Read-only: the save names the cause, the checkpoint still loads.
  if (!disk.read_only()) {
    MESSAGE("SKIPPED: cannot remount the tmpfs read-only");
    return;
  }
  msg = error_of([&] { m.save(dir, 3.0f, 3); });
  CHECK(has(msg, fmt::format("checkpoint '{}': cannot write it (", dir.string())));
  CHECK(has(msg, std::generic_category().message(EROFS)));
  CHECK(m.load_epoch(dir, 1.0f) == 1);
  CHECK(has(error_of([&] { samples::Csv(disk.dir / "m2.csv", "epoch", false); }),
            fmt::format("cannot open for writing ({})", std::generic_category().message(EROFS))));
}

TEST_CASE("disk_faults: a resumed metrics file without the rows of the checkpoint's last epochs says which are gone") {
  const io_test::TempDir scratch("disk_csv_gap");
  const fs::path& root = scratch.path;
  const fs::path p = root / "metrics.csv";
  const std::string header = "epoch,seconds,recon_error,recon_baseline,fe_train,fe_valid,fe_gap,pseudo_ll,diverging\n";
  std::ofstream(p) << header << "1,0.2,55,66,11,9,-1.8,-158,0\n2,0.2,51,66,7.8,6.6,-1.2,-167,0\n";
  {
    const samples::RbmEpochCsv csv(p.string(), true);
    CHECK(csv.missing_rows(2).empty());  // every epoch the checkpoint holds has its row
    CHECK(has(csv.missing_rows(3), fmt::format("'{}' has no rows for epoch 3 (a run stopped between saving", p.string())));
    CHECK(has(csv.missing_rows(5), "has no rows for epochs 3..5 (a run stopped"));
    CHECK(has(csv.missing_rows(5), "the checkpoint holds 5 epochs"));
  }
  std::ofstream(p) << header;  // a header only: every epoch's row is gone
  const samples::RbmEpochCsv csv(p.string(), true);
  CHECK(has(csv.missing_rows(2), "has no rows for epochs 1..2"));
  CHECK(csv.missing_rows(0).empty());
}
