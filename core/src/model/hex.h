// hex.h: bytes as lower-case hex, for digests that become ids and signatures (derived
// message ids, webhook signatures, body dictionary names). Not public API.
#ifndef CARTRECOVERY_SRC_MODEL_HEX_H_
#define CARTRECOVERY_SRC_MODEL_HEX_H_

#include <cstddef>
#include <string>

namespace cartrecovery {
namespace internal {

// Appends two hex digits per byte of bytes[0, n) to `out`.
inline void AppendHex(const unsigned char* bytes, size_t n, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  out->reserve(out->size() + 2 * n);
  for (size_t i = 0; i < n; ++i) {
    *out += kHex[bytes[i] >> 4];
    *out += kHex[bytes[i] & 0xF];
  }
}

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_MODEL_HEX_H_
