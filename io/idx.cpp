#include "io/idx.hpp"

#include <array>

#include <fmt/ranges.h>

#include "io/files.hpp"
#include "io/sha256.hpp"
#include "ops/error.hpp"

namespace ebm::io {
namespace {

namespace fs = std::filesystem;

std::string_view idx_type_name(uint8_t code) {
  switch (code) {
    case 0x08: return "uint8";
    case 0x09: return "int8";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return "not an IDX type";
  }
}

uint32_t big_endian32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

// Reads and checks the magic number and the dimension sizes.
std::vector<uint32_t> read_idx_header(InputFile& f, const fs::path& file) {
  std::array<uint8_t, 4> magic{};
  if (read_some(f.stream, magic.data(), 4) != 4)
    throw Error("{}: header is truncated: expected a 4-byte IDX magic number, the file has {} bytes",
                file.string(), f.size);
  if (magic[0] != 0 || magic[1] != 0)
    throw Error("{}: not an IDX file: expected the magic number to start with two zero bytes, found {:#04x} {:#04x}",
                file.string(), magic[0], magic[1]);
  if (magic[2] != 0x08)
    throw Error("{}: element type code {:#04x} ({}); expected 0x08 (uint8)", file.string(), magic[2],
                idx_type_name(magic[2]));
  const uint32_t ndims = magic[3];
  if (ndims < 1 || ndims > 4)
    throw Error("{}: {} dimensions declared; expected 1 to 4", file.string(), ndims);
  std::array<uint8_t, 16> raw{};
  if (read_some(f.stream, raw.data(), 4 * ndims) != 4 * ndims)
    throw Error("{}: header is truncated: expected {} dimension sizes ({} bytes) after the magic number",
                file.string(), ndims, 4 * ndims);
  std::vector<uint32_t> dims(ndims);
  for (uint32_t i = 0; i < ndims; ++i) dims[i] = big_endian32(raw.data() + 4 * i);
  return dims;
}

// prod(dims), checked against 64-bit overflow and against the file size.
uint64_t idx_element_count(const std::vector<uint32_t>& dims, const fs::path& file, uint64_t file_size) {
  uint64_t n = 1;
  for (uint32_t d : dims)
    if (!checked_mul(n, d, n))
      throw Error("{}: dims [{}] overflow a 64-bit element count", file.string(), fmt::join(dims, ", "));
  if (n > file_size)
    throw Error("{}: dims [{}] declare {} bytes of data, more than the whole file ({} bytes)", file.string(),
                fmt::join(dims, ", "), n, file_size);
  return n;
}

}  // namespace

IdxArray read_idx(const fs::path& file, uint32_t rank, std::string_view what) {
  InputFile f = open_input(file, "an IDX file");
  IdxArray a;
  a.dims = read_idx_header(f, file);
  if (rank > 0 && a.dims.size() != rank)
    throw Error("{}: dims [{}]; expected a {}-D {}", file.string(), fmt::join(a.dims, ", "), rank, what);
  const uint64_t n = idx_element_count(a.dims, file, f.size);
  const uint64_t payload = f.size - 4 * (a.dims.size() + 1);
  if (payload < n)
    throw Error("{}: payload is truncated: {} bytes expected after the header, {} found", file.string(), n, payload);
  if (payload > n)
    throw Error("{}: {} trailing bytes: {} bytes expected after the header, {} found", file.string(), payload - n, n,
                payload);
  a.data.resize(n);
  if (read_some(f.stream, a.data.data(), n) != n)
    throw Error("{}: read error inside the {}-byte payload", file.string(), n);
  return a;
}

ImageSet load_idx_images(const fs::path& images, const fs::path& labels, int classes) {
  IdxArray im = read_idx(images, 3, "image array [count, height, width]");
  if (labels.empty())
    return {.count = im.dims[0], .height = im.dims[1], .width = im.dims[2], .pixels = std::move(im.data), .labels = {}};
  IdxArray lb = read_idx(labels, 1, "label array [count]");
  if (lb.dims[0] != im.dims[0])
    throw Error("{} has {} labels but {} has {} images; expected one label per image", labels.string(),
                lb.dims[0], images.string(), im.dims[0]);
  ImageSet s;
  s.count = im.dims[0];
  s.height = im.dims[1];
  s.width = im.dims[2];
  s.pixels = std::move(im.data);
  s.labels = std::move(lb.data);
  for (size_t i = 0; classes > 0 && i < s.labels.size(); ++i)
    if (s.labels[i] >= classes)
      throw Error("{}: label {} for image {}; expected 0 to {} (a damaged file?)", labels.string(), s.labels[i], i,
                  classes - 1);
  return s;
}

ImageSet load_mnist(const fs::path& dir, std::string_view split) {
  if (split != "train" && split != "t10k")
    throw Error("mnist: unknown split '{}'; expected \"train\" or \"t10k\"", split);
  const fs::path images = dir / fmt::format("{}-images-idx3-ubyte", split);
  const fs::path labels = dir / fmt::format("{}-labels-idx1-ubyte", split);
  for (const fs::path& p : {images, labels}) {
    std::error_code ec;  // a folder this user may not read: named, not a raw filesystem_error
    if (!fs::exists(p, ec))
      throw Error("{}: {}; expected the MNIST IDX files there (run `bash scripts/fetch_mnist.sh`)", p.string(),
                  ec ? fmt::format("cannot look at it ({})", ec.message()) : std::string("file not found"));
  }
  const std::string image_name = images.filename().string(), label_name = labels.filename().string();
  const std::string_view names[] = {image_name, label_name};
  check_sha256sums(dir, names);  // when the folder lists their digests (scripts/fetch_mnist.sh writes them)
  ImageSet s = load_idx_images(images, labels, 10);
  if (s.height != 28 || s.width != 28)
    throw Error("{}: images of {} x {} pixels; expected MNIST's 28 x 28", images.string(), s.height, s.width);
  if (s.count < 1) throw Error("{}: holds no images; expected at least one", images.string());
  return s;
}

ImageSet slice(const ImageSet& set, int64_t first, int64_t count) {
  if (first < 0 || count < 0 || first > set.count - count)
    throw Error("slice: first {} and count {} reach outside the set; expected 0 <= first <= first + count <= {}",
                first, count, set.count);
  if (set.pixels.size() != static_cast<std::size_t>(set.count * set.dim()) ||
      (!set.labels.empty() && set.labels.size() != static_cast<std::size_t>(set.count)))
    throw Error("slice: the set has {} pixels and {} labels for {} images of {} x {}; expected count x height x "
                "width pixels and count (or no) labels",
                set.pixels.size(), set.labels.size(), set.count, set.height, set.width);
  ImageSet s{count, set.height, set.width, {}, {}};
  const auto px = set.pixels.begin() + first * set.dim();
  s.pixels.assign(px, px + count * set.dim());
  if (!set.labels.empty()) s.labels.assign(set.labels.begin() + first, set.labels.begin() + first + count);
  return s;
}

}  // namespace ebm::io
