// body_codec.cpp: lz4 blocks against a template's text (body_codec.h).
#include "store/body_codec.h"

#include <lz4.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "cartrecovery/status.h"
#include "model/hex.h"

namespace cartrecovery {
namespace internal {
namespace {

// Below this a part is stored as it is: an SMS or a subject gains nothing worth a codec.
constexpr size_t kMinPackedPart = 128;
// lz4 matches reach back 64 KB: only the dictionary's last 64 KB can be used.
constexpr size_t kWindow = 64 * 1024;

[[noreturn]] void Corrupt(const std::string& what) {
  throw Error(ErrorCode::kStorage, "message_bodies: a packed body " + what);
}

const char* DictionaryStart(const std::string& d) {
  return d.data() + (d.size() > kWindow ? d.size() - kWindow : 0);
}
int DictionarySize(const std::string& d) { return static_cast<int>(std::min(d.size(), kWindow)); }

}  // namespace

struct BodyPacker::Loaded {
  LZ4_stream_t stream;
};

BodyPacker::BodyPacker(std::shared_ptr<const std::string> dictionary)
    : dictionary_(std::move(dictionary)), loaded_(std::make_unique<Loaded>()) {
  LZ4_initStream(&loaded_->stream, sizeof loaded_->stream);
  LZ4_loadDict(&loaded_->stream, DictionaryStart(*dictionary_), DictionarySize(*dictionary_));
}

BodyPacker::~BodyPacker() = default;

std::optional<std::string> BodyPacker::Pack(const std::string& part) const {
  if (part.size() < kMinPackedPart || dictionary_->empty() ||
      part.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE))
    return std::nullopt;
  char header[11] = {static_cast<char>(kPackedFormat)};
  size_t header_size = 1;
  for (uint64_t n = part.size();; n >>= 7) {
    if (n < 0x80) {
      header[header_size++] = static_cast<char>(n);
      break;
    }
    header[header_size++] = static_cast<char>((n & 0x7F) | 0x80);
  }
  // Worth it only when smaller: lz4 stops at the capacity instead of writing a larger block.
  const int capacity = static_cast<int>(part.size() - header_size - 1);
  thread_local std::string block;
  if (block.size() < part.size()) block.resize(part.size());
  LZ4_stream_t stream;
  std::memcpy(&stream, &loaded_->stream, sizeof stream);
  const int n = LZ4_compress_fast_continue(&stream, part.data(), block.data(),
                                           static_cast<int>(part.size()), capacity, 1);
  if (n <= 0) return std::nullopt;
  std::string out;
  out.reserve(header_size + static_cast<size_t>(n));
  out.append(header, header_size).append(block.data(), static_cast<size_t>(n));
  return out;
}

std::string UnpackBodyPart(const char* packed, size_t size, const std::string& dictionary) {
  if (size < 2 || static_cast<unsigned char>(packed[0]) != kPackedFormat)
    Corrupt("has an unknown format");
  size_t pos = 1;
  uint64_t length = 0;
  for (int shift = 0;; shift += 7) {
    if (pos >= size || shift > 28) Corrupt("has a broken length");
    const auto b = static_cast<unsigned char>(packed[pos++]);
    length |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) break;
  }
  // lz4 writes at most 255 bytes per byte of block (a match length is counted in bytes of
  // 255): a length beyond that is damage, and is refused before it is allocated.
  if (length > static_cast<uint64_t>(LZ4_MAX_INPUT_SIZE) || length > (size - pos) * 255 + 16)
    Corrupt("has a broken length");
  std::string out(static_cast<size_t>(length), '\0');
  const int n = LZ4_decompress_safe_usingDict(
      packed + pos, out.data(), static_cast<int>(size - pos), static_cast<int>(length),
      DictionaryStart(dictionary), DictionarySize(dictionary));
  if (n < 0 || static_cast<uint64_t>(n) != length) Corrupt("does not unpack with its dictionary");
  return out;
}

std::string DictionaryDigest(const std::string& dictionary) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (!EVP_Digest(dictionary.data(), dictionary.size(), digest, &size, EVP_sha256(), nullptr))
    throw Error(ErrorCode::kInternal, "SHA-256 of a body dictionary failed");
  std::string hex;
  AppendHex(digest, size, &hex);
  return hex;
}

}  // namespace internal
}  // namespace cartrecovery
