#include "io/npy.hpp"

#include <array>
#include <bit>
#include <cctype>
#include <charconv>
#include <map>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "io/files.hpp"
#include "ops/error.hpp"

namespace ebm::io {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view npy_magic = "\x93NUMPY";
constexpr bool little_endian_host = std::endian::native == std::endian::little;

uint32_t byteswap32(uint32_t x) {
  return (x >> 24) | ((x >> 8) & 0xff00u) | ((x << 8) & 0xff0000u) | (x << 24);
}

void swap_float_bytes(std::span<float> v) {
  for (float& x : v) x = std::bit_cast<float>(byteswap32(std::bit_cast<uint32_t>(x)));
}

// The 1.0 header dict, padded so that 10 + its length is a multiple of 64.
std::string npy_v1_header(int64_t rows, int64_t cols) {
  std::string h = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}", rows, cols);
  const std::size_t unpadded = 10 + h.size() + 1;
  h.append((64 - unpadded % 64) % 64, ' ');
  h.push_back('\n');
  return h;
}

struct NpyHeader {
  std::string text;          // the dict and its padding
  uint64_t data_offset = 0;  // where the payload starts
};

NpyHeader read_npy_header(InputFile& f, const fs::path& file) {
  std::array<char, 12> pre{};
  if (read_some(f.stream, pre.data(), 8) != 8 || std::string_view(pre.data(), 6) != npy_magic)
    throw Error("{}: not a .npy file: expected the magic string \\x93NUMPY and a version", file.string());
  const int major = static_cast<uint8_t>(pre[6]), minor = static_cast<uint8_t>(pre[7]);
  if ((major != 1 && major != 2) || minor != 0)
    throw Error("{}: .npy format version {}.{}; expected 1.0 or 2.0", file.string(), major, minor);
  const uint64_t len_bytes = major == 1 ? 2 : 4;
  if (read_some(f.stream, pre.data() + 8, len_bytes) != len_bytes)
    throw Error("{}: header is truncated: expected a {}-byte header length", file.string(), len_bytes);
  uint64_t len = 0;
  for (uint64_t i = len_bytes; i-- > 0;) len = len << 8 | static_cast<uint8_t>(pre[8 + i]);
  // The length is checked against the file before the header is read into memory (a damaged one may say 4 GB).
  if (8 + len_bytes + len > f.size)
    throw Error("{}: header is truncated: {} header bytes declared, the file has {} bytes", file.string(), len,
                f.size);
  NpyHeader h{std::string(len, ' '), 8 + len_bytes + len};
  if (read_some(f.stream, h.text.data(), len) != len)
    throw Error("{}: header is truncated: {} header bytes declared, the file has {} bytes", file.string(), len,
                f.size);
  return h;
}

// The header dict's entries with values verbatim: 'descr' -> "'<f4'",
// 'fortran_order' -> "False", 'shape' -> "(3, 4)".
class DictParser {
 public:
  DictParser(std::string_view text, const fs::path& file) : s_(text), file_(file) {}

  std::map<std::string, std::string, std::less<>> parse() {
    std::map<std::string, std::string, std::less<>> out;
    expect('{');
    while (!peek('}')) {
      const std::string_view key = quoted();
      expect(':');
      out[std::string(key.substr(1, key.size() - 2))] = std::string(value());
      if (!peek('}')) expect(',');
    }
    ++pos_;
    skip_space();
    if (pos_ != s_.size()) fail("only padding after the closing '}'");
    return out;
  }

 private:
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool peek(char c) {
    skip_space();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  void expect(char c) {
    if (!peek(c)) fail(fmt::format("'{}'", c));
    ++pos_;
  }
  // Moves past the next `close`; returns the text from `begin` up to there.
  std::string_view through(std::size_t begin, char close) {
    const std::size_t end = s_.find(close, pos_ + 1);
    if (end == std::string_view::npos) fail(fmt::format("a closing {}", close));
    pos_ = end + 1;
    return s_.substr(begin, pos_ - begin);
  }
  std::string_view quoted() {
    if (!peek('\'') && !peek('"')) fail("a quoted key");
    return through(pos_, s_[pos_]);
  }
  std::string_view value() {
    skip_space();
    const std::size_t begin = pos_;
    if (peek('\'') || peek('"')) return through(begin, s_[pos_]);
    if (peek('(')) return through(begin, ')');
    if (peek('[')) return through(begin, ']');
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) ++pos_;
    if (pos_ == begin) fail("a value");
    return s_.substr(begin, pos_ - begin);
  }
  [[noreturn]] void fail(std::string_view expected) const {
    throw Error("{}: header dict is malformed: expected {} at offset {} of: {}", file_.string(), expected, pos_,
                s_.substr(0, s_.find_last_not_of(" \n") + 1));
  }

  std::string_view s_;
  const fs::path& file_;
  std::size_t pos_ = 0;
};

const std::string& dict_entry(const std::map<std::string, std::string, std::less<>>& dict, std::string_view key,
                              const fs::path& file) {
  const auto it = dict.find(key);
  if (it == dict.end()) throw Error("{}: header dict has no '{}' key; expected descr, fortran_order, shape", file.string(), key);
  return it->second;
}

// "(3, 4)" -> {3, 4}; "(5,)" -> {5}.
std::vector<int64_t> parse_shape(std::string_view text, const fs::path& file) {
  std::vector<int64_t> dims;
  std::string_view rest = text.substr(1, text.size() - 2);
  while (!rest.empty()) {
    const std::size_t comma = std::min(rest.find(','), rest.size());
    std::string_view item = rest.substr(0, comma);
    rest.remove_prefix(std::min(comma + 1, rest.size()));
    item.remove_prefix(std::min(item.find_first_not_of(' '), item.size()));
    item = item.substr(0, item.find_last_not_of(' ') + 1);
    if (item.empty() && rest.empty() && !dims.empty()) break;
    int64_t d = -1;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), d);
    if (ec != std::errc{} || end != item.data() + item.size() || d < 0)
      throw Error("{}: shape {} has a bad dimension '{}'; expected non-negative integers", file.string(), text, item);
    dims.push_back(d);
  }
  return dims;
}

// Checks descr, fortran_order and shape; returns the shape.
std::vector<int64_t> parse_npy_dict(std::string_view text, const fs::path& file) {
  const auto dict = DictParser(text, file).parse();
  const std::string& descr = dict_entry(dict, "descr", file);
  if (descr != "'<f4'" && descr != "\"<f4\"")
    throw Error("{}: descr is {}; expected '<f4' (little-endian float32)", file.string(), descr);
  const std::string& fortran = dict_entry(dict, "fortran_order", file);
  if (fortran != "False")
    throw Error("{}: fortran_order is {}; expected False (C order)", file.string(), fortran);
  const std::string& shape = dict_entry(dict, "shape", file);
  const std::vector<int64_t> dims = shape.front() == '(' ? parse_shape(shape, file) : std::vector<int64_t>{};
  if (dims.size() != 1 && dims.size() != 2)
    throw Error("{}: shape is {}; expected a tuple of 1 or 2 dimensions", file.string(), shape);
  return dims;
}

}  // namespace

void write_npy(const fs::path& path, int64_t rows, int64_t cols, std::span<const float> values) {
  uint64_t n = 0;
  if (rows < 0 || cols < 0 || !checked_mul(static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), n) ||
      values.size() != n)
    throw Error("{}: {} values given for a {} x {} array; expected rows x cols values", path.string(), values.size(),
                rows, cols);
  const std::string header = npy_v1_header(rows, cols);
  std::string prefix(npy_magic);
  prefix += {'\x01', '\x00', static_cast<char>(header.size() & 0xff), static_cast<char>(header.size() >> 8)};
  std::vector<float> swapped;
  if constexpr (!little_endian_host) {
    swapped.assign(values.begin(), values.end());
    swap_float_bytes(swapped);
    values = swapped;
  }
  write_atomically(path, {prefix, header, {reinterpret_cast<const char*>(values.data()), values.size_bytes()}});
}

NpyArray read_npy(const fs::path& file) {
  InputFile f = open_input(file, "a .npy file");
  const NpyHeader h = read_npy_header(f, file);
  const std::vector<int64_t> dims = parse_npy_dict(h.text, file);
  NpyArray a;
  a.rows = dims.size() == 2 ? dims[0] : 1;
  a.cols = dims.back();
  uint64_t n = 0, bytes = 0;
  if (!checked_mul(static_cast<uint64_t>(a.rows), static_cast<uint64_t>(a.cols), n) || !checked_mul(n, 4, bytes))
    throw Error("{}: shape ({}) overflows a 64-bit byte count", file.string(), fmt::join(dims, ", "));
  const uint64_t payload = f.size - h.data_offset;
  if (payload < bytes)
    throw Error("{}: payload is truncated: {} bytes expected after the header, {} found", file.string(), bytes, payload);
  if (payload > bytes)
    throw Error("{}: {} trailing bytes: {} bytes expected after the header, {} found", file.string(), payload - bytes,
                bytes, payload);
  a.data.resize(n);
  if (read_some(f.stream, a.data.data(), bytes) != bytes)
    throw Error("{}: read error inside the {}-byte payload", file.string(), bytes);
  if constexpr (!little_endian_host) swap_float_bytes(a.data);
  return a;
}

}  // namespace ebm::io
