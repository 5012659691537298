#include "archive_check.hpp"

#include <openssl/evp.h>
#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <memory>

#include "errors.hpp"

namespace sentiment {
namespace {

// Zip record signatures and fixed sizes (PKWARE APPNOTE 4.3.12 - 4.3.16).
constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50;
constexpr uint32_t kEntrySignature = 0x02014b50;
constexpr std::size_t kEndSize = 22;
constexpr std::size_t kZip64LocatorSize = 20;
constexpr std::size_t kZip64EndSize = 56;
constexpr std::size_t kEntrySize = 46;
constexpr std::size_t kMaxComment = 0xFFFF;

uint64_t little_endian(const std::string& bytes, std::size_t at, std::size_t width) {
  uint64_t value = 0;
  for (std::size_t k = 0; k < width; ++k) {
    value |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[at + k])) << (8 * k);
  }
  return value;
}

class ZipFile {
 public:
  explicit ZipFile(const std::string& path) : path_(path), stream_(path, std::ios::binary) {
    if (!stream_) {
      fail("cannot be opened");
    }
    stream_.seekg(0, std::ios::end);
    size_ = static_cast<uint64_t>(stream_.tellg());
  }

  uint64_t size() const { return size_; }

  std::string read(uint64_t offset, uint64_t count) {
    if (offset > size_ || count > size_ - offset) {
      fail("has a zip directory that points past its end (" + std::to_string(size_) + " bytes)");
    }
    std::string bytes(count, '\0');
    stream_.seekg(static_cast<std::streamoff>(offset));
    stream_.read(bytes.data(), static_cast<std::streamsize>(count));
    if (!stream_) {
      fail("could not be read");
    }
    return bytes;
  }

  [[noreturn]] void fail(const std::string& problem) const {
    throw DemoError("model file '" + path_ + "' " + problem +
                    ": it is not a whole zip archive (a TorchScript file or AOTInductor package); copy it again, or re-export it");
  }

 private:
  std::string path_;
  std::ifstream stream_;
  uint64_t size_ = 0;
};

}  // namespace

std::vector<ZipEntry> read_zip_directory(const std::string& path) {
  ZipFile file(path);
  if (file.size() < kEndSize) {
    file.fail("is too short");
  }
  const uint64_t tail_size = std::min<uint64_t>(file.size(), kEndSize + kMaxComment);
  const uint64_t tail_start = file.size() - tail_size;
  const std::string tail = file.read(tail_start, tail_size);
  std::size_t end = std::string::npos;  // the last end record: the comment cannot hold one that a reader would take
  for (std::size_t at = tail.size() - kEndSize + 1; at-- > 0;) {
    if (little_endian(tail, at, 4) == kEndSignature) {
      end = at;
      break;
    }
  }
  if (end == std::string::npos) {
    file.fail("has no zip end record");
  }
  uint64_t entries = little_endian(tail, end + 10, 2);
  uint64_t directory_size = little_endian(tail, end + 12, 4);
  uint64_t directory_offset = little_endian(tail, end + 16, 4);
  const uint64_t end_offset = tail_start + end;
  if (end_offset >= kZip64LocatorSize) {
    const std::string locator = file.read(end_offset - kZip64LocatorSize, kZip64LocatorSize);
    if (little_endian(locator, 0, 4) == kZip64LocatorSignature) {
      const std::string zip64 = file.read(little_endian(locator, 8, 8), kZip64EndSize);
      if (little_endian(zip64, 0, 4) != kZip64EndSignature) {
        file.fail("has a zip64 locator that points to no zip64 end record");
      }
      entries = little_endian(zip64, 32, 8);
      directory_size = little_endian(zip64, 40, 8);
      directory_offset = little_endian(zip64, 48, 8);
    }
  }
  const std::string directory = file.read(directory_offset, directory_size);
  std::vector<ZipEntry> records;
  std::size_t at = 0;
  for (uint64_t k = 0; k < entries; ++k) {
    if (at + kEntrySize > directory.size() || little_endian(directory, at, 4) != kEntrySignature) {
      file.fail("has a zip directory that ends after " + std::to_string(k) + " of its " + std::to_string(entries) + " records");
    }
    const std::size_t name_size = little_endian(directory, at + 28, 2);
    const std::size_t extra_size = little_endian(directory, at + 30, 2);
    const std::size_t comment_size = little_endian(directory, at + 32, 2);
    if (at + kEntrySize + name_size > directory.size()) {
      file.fail("has a zip directory record whose name runs past the directory");
    }
    records.push_back(ZipEntry{directory.substr(at + kEntrySize, name_size),
                               static_cast<uint32_t>(little_endian(directory, at + 16, 4))});
    at += kEntrySize + name_size + extra_size + comment_size;
  }
  return records;
}

uint32_t crc32_of(std::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  std::size_t done = 0;
  while (done < data.size()) {  // zlib takes at most a uInt per call
    const std::size_t chunk = std::min<std::size_t>(data.size() - done, std::numeric_limits<uInt>::max());
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data() + done), static_cast<uInt>(chunk));
    done += chunk;
  }
  return static_cast<uint32_t>(crc);
}

std::string sha256_hex(std::string_view data) {
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(context.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(context.get(), digest, &length) != 1) {
    throw std::runtime_error("OpenSSL could not compute a SHA-256");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int k = 0; k < length; ++k) {
    hex += kHex[digest[k] >> 4];
    hex += kHex[digest[k] & 0xF];
  }
  return hex;
}

}  // namespace sentiment
