#pragma once
// SHA-256 (FIPS 180-4) of bytes and of files, and the check of a data
// folder's files against the SHA256SUMS list beside them (the format of
// coreutils' `sha256sum`: a line per file, 64 hex digits, two spaces or a
// space and '*', the file's name).

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace ebm::io {

// The digest of `bytes` as 64 lower-case hex digits.
std::string sha256_hex(std::span<const unsigned char> bytes);
// The digest of a file's bytes, read in pieces; an ebm::Error names a file
// that cannot be read.
std::string file_sha256(const std::filesystem::path& path);

// When `folder` holds a SHA256SUMS file, checks each of `names` that it
// lists against its digest there, and returns how many it checked (0 when
// there is no SHA256SUMS: a folder of the user's own files). A digest that
// differs is an ebm::Error naming the file and both digests; so is a
// SHA256SUMS line that is not "<64 hex digits>  <name>" (a leading "./" in
// the name is dropped), and a list that names none of `names`. Names it
// does not list are not checked.
int check_sha256sums(const std::filesystem::path& folder, std::span<const std::string_view> names);

}  // namespace ebm::io
