// offer_internal.h: helpers shared by the offer module's sources.
#ifndef CARTRECOVERY_SRC_OFFER_OFFER_INTERNAL_H_
#define CARTRECOVERY_SRC_OFFER_OFFER_INTERNAL_H_

#include <cstdint>
#include <initializer_list>
#include <string>

namespace cartrecovery {
namespace internal {

// The first 8 bytes, big-endian, of SHA-256 over the parts joined by NUL bytes (so
// ("ab", "c") and ("a", "bc") differ). Throws Error(kInternal) if OpenSSL fails.
uint64_t StableHash64(std::initializer_list<const std::string*> parts);

// h mapped to [0, n): (h * n) >> 64. Bias at most n / 2^64.
inline uint64_t ScaleHash(uint64_t h, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(h) * n) >> 64);
}

// h mapped to [0, 1) with 53 bits of resolution.
inline double UnitHash(uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_OFFER_OFFER_INTERNAL_H_
