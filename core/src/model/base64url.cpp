// base64url.cpp: the encoder and the two decoders of base64url.h.
#include "model/base64url.h"

#include <cstdint>

namespace cartrecovery {
namespace internal {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// The 6-bit value of c, or -1. With also_standard, '+' and '/' count as '-' and '_'.
int SextetValue(unsigned char c, bool also_standard) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-' || (also_standard && c == '+')) return 62;
  if (c == '_' || (also_standard && c == '/')) return 63;
  return -1;
}

// Decodes text[0, end) (no padding) into *out. False on a character outside the alphabet,
// or, with zero_tail, when the last character's unused low bits are not zero.
bool DecodeSextets(const std::string& text, size_t end, bool also_standard, bool zero_tail,
                   std::string* out) {
  out->clear();
  out->reserve(end * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < end; ++i) {
    const int v = SextetValue(static_cast<unsigned char>(text[i]), also_standard);
    if (v < 0) return false;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *out += char((acc >> bits) & 0xFF);
    }
  }
  return !(zero_tail && bits > 0 && (acc & ((1u << bits) - 1)) != 0);
}

}  // namespace

std::string Base64UrlEncode(const std::string& bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) |
                 uint8_t(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    if (rest == 2) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    if (rest == 2) out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

bool IsBase64UrlChar(unsigned char c) { return SextetValue(c, false) >= 0; }

std::optional<std::string> Base64UrlDecodeStrict(const std::string& text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  if (!DecodeSextets(text, text.size(), /*also_standard=*/false, /*zero_tail=*/true, &out))
    return std::nullopt;
  return out;
}

bool Base64UrlDecode(const std::string& text, std::string* bytes) {
  size_t end = text.size();
  while (end > 0 && text[end - 1] == '=') --end;
  if (text.size() - end > 2 || end % 4 == 1) return false;
  return DecodeSextets(text, end, /*also_standard=*/true, /*zero_tail=*/false, bytes);
}

}  // namespace internal
}  // namespace cartrecovery
