// SHA-256 against its published test vectors, coreutils' sha256sum and the
// issue's MNIST digests; the SHA256SUMS check of a data folder, and the
// loaders that use it (Reuters, Olivetti, MNIST).

#include <doctest/doctest.h>

#include <cstdio>
#include <numeric>
#include <random>
#include <string>

#include "io/idx.hpp"
#include "io/reuters.hpp"
#include "io/sha256.hpp"
#include "io_test_util.hpp"

using namespace ebm;
using namespace ebm::io_test;

namespace {

std::string digest_of(std::string_view text) {
  return io::sha256_hex({reinterpret_cast<const unsigned char*>(text.data()), text.size()});
}

// coreutils' digest of a file, or "" when sha256sum cannot be run.
std::string coreutils_digest(const fs::path& file) {
  FILE* pipe = ::popen(fmt::format("sha256sum '{}' 2>/dev/null", file.string()).c_str(), "r");
  if (!pipe) return "";
  char line[256] = {};
  const bool read = std::fgets(line, sizeof line, pipe) != nullptr;
  ::pclose(pipe);
  return read ? std::string(line).substr(0, 64) : "";
}

}  // namespace

TEST_CASE("sha256: FIPS 180-4's examples and a million a's") {
  CHECK(digest_of("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(digest_of("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(digest_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(digest_of(std::string(1000000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256: every length around the padding's edges equals coreutils' sha256sum") {
  TempDir dir("sha_lengths");
  std::mt19937 rng(7);
  // 55 and 56 bytes: the last length that fits the padding in one block, the first that does not;
  // 119 and 120 the same for two; past 1 MiB the file is read in pieces.
  std::vector<size_t> lengths(131);  // every length to two blocks and past, then one read in pieces
  std::iota(lengths.begin(), lengths.end(), size_t{0});
  lengths.push_back((size_t{1} << 20) + 3);
  for (const size_t n : lengths) {
    std::string bytes(n, '\0');
    for (char& b : bytes) b = static_cast<char>(rng());
    const fs::path file = dir / fmt::format("f{}", n);
    write_bytes(file, bytes);
    const std::string want = coreutils_digest(file);
    if (want.empty()) {
      MESSAGE("SKIPPED: sha256sum cannot be run here");
      return;
    }
    CAPTURE(n);
    CHECK(io::file_sha256(file) == want);
    CHECK(digest_of(bytes) == want);
  }
}

TEST_CASE("sha256: MNIST's four files have the digests the issue lists") {
  const auto dir = find_mnist();
  if (!dir) {
    MESSAGE("SKIPPED: data/mnist not found (run bash scripts/fetch_mnist.sh)");
    return;
  }
  CHECK(io::file_sha256(*dir / "t10k-images-idx3-ubyte") ==
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7");
  CHECK(io::file_sha256(*dir / "t10k-labels-idx1-ubyte") ==
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2");
  CHECK(io::file_sha256(*dir / "train-images-idx3-ubyte") ==
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db");
  CHECK(io::file_sha256(*dir / "train-labels-idx1-ubyte") ==
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5");
}

TEST_CASE("sha256: a folder's SHA256SUMS passes its own files and names a changed one") {
  TempDir dir("sha_sums");
  write_bytes(dir / "a.bin", "first file");
  write_bytes(dir / "b.bin", "second file");
  const std::string_view both[] = {"a.bin", "b.bin"};
  CHECK(io::check_sha256sums(dir.path, both) == 0);  // no SHA256SUMS: the user's own files, not checked
  write_bytes(dir / "SHA256SUMS", fmt::format("{}  a.bin\n{} *b.bin\n", digest_of("first file"), digest_of("second file")));
  CHECK(io::check_sha256sums(dir.path, both) == 2);
  const std::string_view one_more[] = {"a.bin", "c.bin"};
  CHECK(io::check_sha256sums(dir.path, one_more) == 1);  // c.bin not listed: not checked
  const std::string_view other[] = {"c.bin"};
  CHECK(has(error_of([&] { io::check_sha256sums(dir.path, other); }), "SHA256SUMS: lists none of c.bin"));
  write_bytes(dir / "SHA256SUMS", fmt::format("{}  ./a.bin\n", digest_of("first file")));  // as `sha256sum ./*` writes
  CHECK(io::check_sha256sums(dir.path, both) == 1);
  write_bytes(dir / "SHA256SUMS", fmt::format("{}  a.bin\n{} *b.bin\n", digest_of("first file"), digest_of("second file")));

  write_bytes(dir / "b.bin", "second file, edited");
  const std::string e = error_of([&] { io::check_sha256sums(dir.path, both); });
  CHECK(has(e, (dir / "b.bin").string() + ": SHA-256 " + digest_of("second file, edited")));
  CHECK(has(e, "expected " + digest_of("second file")));
  CHECK(has(e, "SHA256SUMS lists"));

  write_bytes(dir / "SHA256SUMS", "not a digest  a.bin\n");
  CHECK(has(error_of([&] { io::check_sha256sums(dir.path, both); }), "line 1 is 'not a digest  a.bin'; expected 64 hex"));
  write_bytes(dir / "SHA256SUMS", fmt::format("{}  a.bin\n{}\n", digest_of("first file"), digest_of("x")));
  CHECK(has(error_of([&] { io::check_sha256sums(dir.path, both); }), "line 2 is"));  // a digest without a name
  fs::remove(dir / "SHA256SUMS");
  fs::create_directory(dir / "SHA256SUMS");
  CHECK(has(error_of([&] { io::check_sha256sums(dir.path, both); }), "SHA256SUMS: not a regular file"));
}

TEST_CASE("sha256: MNIST read from a folder whose SHA256SUMS disagrees is refused, naming the file") {
  TempDir dir("sha_mnist");
  write_bytes(dir / "t10k-images-idx3-ubyte", idx_bytes({3, 28, 28}, 3 * 28 * 28));
  write_bytes(dir / "t10k-labels-idx1-ubyte", idx_bytes({3}, 3));
  CHECK(io::load_mnist(dir.path, "t10k").count == 3);
  // A file the IDX reader refuses too (a wrong magic): the digest is what is named, checked before parsing.
  write_bytes(dir / "t10k-images-idx3-ubyte", "\x01\x02\x03\x04 not an IDX file");
  write_bytes(dir / "SHA256SUMS", fmt::format("{}  t10k-images-idx3-ubyte\n", digest_of("other bytes")));
  const std::string e = error_of([&] { io::load_mnist(dir.path, "t10k"); });
  CHECK(has(e, "t10k-images-idx3-ubyte: SHA-256"));
  CHECK(has(e, "expected " + digest_of("other bytes")));
}

TEST_CASE("sha256: Reuters files that SHA256SUMS disagrees with are refused before they are parsed") {
  TempDir dir("sha_reuters");
  const std::string open_story = "<REUTERS NEWID=\"1\">story left open";  // the SGML reader refuses it too
  for (int f = 0; f <= 21; ++f) write_bytes(dir / fmt::format("reut2-{:03d}.sgm", f), open_story);
  write_bytes(dir / "SHA256SUMS", fmt::format("{}  reut2-000.sgm\n", digest_of("the real story file")));
  const std::string e = error_of([&] { io::load_reuters(dir.path); });
  CHECK(has(e, "reut2-000.sgm: SHA-256 " + digest_of(open_story)));  // named by its digest, not by its SGML
  CHECK(has(e, "expected " + digest_of("the real story file")));
}
