// What the demo needs to verify a model file before libtorch loads it, which
// libtorch's own zip reader does not do: the zip central directory (each
// record's stored CRC-32), CRC-32 (zlib) and SHA-256 (OpenSSL EVP).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sentiment {

/// One record of a zip archive as its central directory lists it.
struct ZipEntry {
  std::string name;  // full name, e.g. "archive/data/0"
  uint32_t crc32 = 0;
};

/// The central directory of the zip file at `path` (zip64 included), in
/// archive order. Throws DemoError when the file is not a readable zip
/// archive (no end record, or a directory that runs past the file).
std::vector<ZipEntry> read_zip_directory(const std::string& path);

/// CRC-32 of `data`, as zip stores it.
uint32_t crc32_of(std::string_view data);

/// SHA-256 of `data` as 64 lower-case hex digits (Python's hashlib.sha256().hexdigest()).
std::string sha256_hex(std::string_view data);

}  // namespace sentiment
