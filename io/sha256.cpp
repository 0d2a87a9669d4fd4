#include "io/sha256.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <cstring>
#include <fstream>
#include <map>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "io/files.hpp"
#include "ops/error.hpp"

namespace ebm::io {
namespace {

// The first 32 bits of the fractional parts of the cube roots of the first
// 64 primes (FIPS 180-4, 4.2.2; tests/test_sha256.cpp recomputes them).
constexpr std::array<uint32_t, 64> kRound = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

// The first 32 bits of the fractional parts of the square roots of the
// first 8 primes (4.2.2 and 5.3.3).
constexpr std::array<uint32_t, 8> kStart = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                            0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

class Sha256 {
 public:
  void add(const unsigned char* p, size_t n) {
    bytes_ += n;
    if (held_ > 0) {  // complete the block begun by an earlier call
      const size_t take = std::min(n, block_.size() - held_);
      std::memcpy(block_.data() + held_, p, take);
      held_ += take, p += take, n -= take;
      if (held_ < block_.size()) return;
      compress(block_.data());
      held_ = 0;
    }
    for (; n >= 64; p += 64, n -= 64) compress(p);
    std::memcpy(block_.data(), p, n);
    held_ = n;
  }

  std::string hex() {
    // A 1 bit, zeros to 56 bytes mod 64, then the length in bits (big-endian).
    const uint64_t bits = bytes_ * 8;
    const unsigned char one = 0x80, zero = 0;
    add(&one, 1);
    while (held_ != 56) add(&zero, 1);
    unsigned char length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
    add(length, 8);
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (uint32_t word : h_)
      for (int shift = 28; shift >= 0; shift -= 4) out += kDigits[(word >> shift) & 0xf];
    return out;
  }

 private:
  void compress(const unsigned char* p) {
    std::array<uint32_t, 64> w;
    for (int t = 0; t < 16; ++t)
      w[t] = uint32_t{p[4 * t]} << 24 | uint32_t{p[4 * t + 1]} << 16 | uint32_t{p[4 * t + 2]} << 8 | p[4 * t + 3];
    for (int t = 16; t < 64; ++t) {
      const uint32_t s0 = std::rotr(w[t - 15], 7) ^ std::rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
      const uint32_t s1 = std::rotr(w[t - 2], 17) ^ std::rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
    for (int t = 0; t < 64; ++t) {
      const uint32_t t1 = h + (std::rotr(e, 6) ^ std::rotr(e, 11) ^ std::rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                          kRound[t] + w[t];
      const uint32_t t2 = (std::rotr(a, 2) ^ std::rotr(a, 13) ^ std::rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h_[0] += a, h_[1] += b, h_[2] += c, h_[3] += d, h_[4] += e, h_[5] += f, h_[6] += g, h_[7] += h;
  }

  std::array<uint32_t, 8> h_ = kStart;
  std::array<unsigned char, 64> block_{};
  size_t held_ = 0;
  uint64_t bytes_ = 0;
};

bool is_hex_digest(std::string_view s) {
  if (s.size() != 64) return false;
  for (char ch : s)
    if (!std::isxdigit(static_cast<unsigned char>(ch))) return false;
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

}  // namespace

std::string sha256_hex(std::span<const unsigned char> bytes) {
  Sha256 s;
  s.add(bytes.data(), bytes.size());
  return s.hex();
}

std::string file_sha256(const std::filesystem::path& path) {
  InputFile in = open_input(path, "a file to check against SHA256SUMS");
  Sha256 s;
  std::vector<unsigned char> piece(size_t{1} << 20);
  uint64_t total = 0;
  for (uint64_t n; (n = read_some(in.stream, piece.data(), piece.size())) > 0;) {
    s.add(piece.data(), n);
    total += n;
  }
  if (in.stream.bad() || total != in.size)
    throw Error("{}: read {} of its {} bytes; expected to read the whole file", path.string(), total, in.size);
  return s.hex();
}

int check_sha256sums(const std::filesystem::path& folder, std::span<const std::string_view> names) {
  const std::filesystem::path list = folder / "SHA256SUMS";
  std::error_code ec;
  const bool there = std::filesystem::exists(list, ec);
  if (ec)
    throw Error("{}: cannot look at it ({}); expected a readable list of SHA-256 digests, or none", list.string(),
                ec.message());
  if (!there) return 0;
  if (!std::filesystem::is_regular_file(list, ec))
    throw Error("{}: not a regular file; expected the folder's list of SHA-256 digests", list.string());
  std::ifstream in(list);
  if (!in) throw Error("{}: cannot be opened; expected the folder's list of SHA-256 digests", list.string());
  std::map<std::string, std::string, std::less<>> listed;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    // "<digest>  <name>" (text mode) or "<digest> *<name>" (binary mode).
    const bool shaped = line.size() > 66 && is_hex_digest(std::string_view(line).substr(0, 64)) && line[64] == ' ' &&
                        (line[65] == ' ' || line[65] == '*');
    if (!shaped)
      throw Error("{}: line {} is '{}'; expected 64 hex digits, two spaces and a file's name (sha256sum's format)",
                  list.string(), number, line.size() > 80 ? line.substr(0, 77) + "..." : line);
    std::string name = line.substr(66);
    if (name.starts_with("./")) name.erase(0, 2);  // as `sha256sum ./*` writes them
    listed[name] = lower(std::string_view(line).substr(0, 64));
  }
  if (std::ranges::none_of(names, [&](std::string_view name) { return listed.contains(name); }))
    throw Error("{}: lists none of {}; expected their digests in it (a list for other files would check nothing)",
                list.string(), fmt::format("{}", fmt::join(names, ", ")));
  int checked = 0;
  for (const std::string_view name : names) {
    const auto it = listed.find(name);
    if (it == listed.end()) continue;
    const std::string got = file_sha256(folder / name);
    if (got != it->second)
      throw Error("{}: SHA-256 {}; expected {}, as {} lists (a damaged or changed copy: copy the file again, or "
                  "remove its line from SHA256SUMS if you changed it on purpose)",
                  (folder / name).string(), got, it->second, list.string());
    ++checked;
  }
  return checked;
}

}  // namespace ebm::io
