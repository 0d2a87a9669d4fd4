#include "io/files.hpp"

#include <cerrno>
#include <system_error>

#include "ops/error.hpp"

namespace ebm::io {

namespace fs = std::filesystem;

InputFile open_input(const fs::path& path, std::string_view expected) {
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  if (ec) throw Error("{}: cannot open: {}; expected {}", path.string(), ec.message(), expected);
  InputFile f{std::ifstream(path, std::ios::binary), size};
  if (!f.stream) throw Error("{}: cannot open for reading; expected {}", path.string(), expected);
  return f;
}

uint64_t read_some(std::ifstream& in, void* dst, uint64_t n) {
  in.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
  return static_cast<uint64_t>(in.gcount());
}

void write_atomically(const fs::path& path, std::initializer_list<std::span<const char>> parts) {
  std::error_code kind_ec;
  const auto kind = fs::status(path, kind_ec).type();
  if (kind != fs::file_type::not_found && kind != fs::file_type::regular)
    throw Error("{}: exists and is not a regular file (a folder or a device); expected a file path", path.string());
  fs::path tmp = path;
  tmp += ".tmp";
  {
    errno = 0;
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      throw Error("{}: cannot open {} for writing ({}); expected a writable directory", path.string(), tmp.string(),
                  io_failure_cause());
    for (std::span<const char> p : parts) out.write(p.data(), static_cast<std::streamsize>(p.size()));
    out.close();
    if (!out) {
      const std::string why = io_failure_cause();
      std::error_code ignored;
      fs::remove(tmp, ignored);
      throw Error("{}: writing {} failed ({}); expected a disk with room (the file before, if any, is kept)",
                  path.string(), tmp.string(), why);
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw Error("{}: cannot rename {} onto it: {}", path.string(), tmp.string(), ec.message());
  }
}

}  // namespace ebm::io
