// tokens.cpp: signing and verifying tracking-link tokens, the link paths, the open pixel and
// the RFC 8058 headers.
//
// Token layout (version 1), base64url without padding over:
//   payload = 0x01 (version) | kind (1 byte) | expires_ms (LEB128)
//             | message_id | cart_id | contact_key | url      (each LEB128 length + bytes)
//   tag     = first 16 bytes of HMAC-SHA256(secret, "cartrecovery.link\0" || payload)
//
// Why 16 bytes of tag: RFC 2104 section 5 allows truncating an HMAC to no less than half the
// hash output (and NIST SP 800-107 agrees); 128 bits leave a forger one chance in 2^128 per
// request, which they can only try online against the shop, while saving 22 characters in
// every link of every e-mail. The context prefix keeps these tags apart from anything else
// the shop might sign with the same secret.
//
// Verification order matters: the version byte and the length are checked first (they are
// needed to find the tag), then the tag, in constant time, against every secret; only an
// authenticated payload is parsed further, so nothing about a forged token's content (its
// kind, its expiry) is ever reported.
#include "cartrecovery/track.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <map>
#include <memory>
#include <utility>

#include "cartrecovery/status.h"
#include "model/base64url.h"
#include "model/byte_set.h"

namespace cartrecovery {

namespace {

constexpr unsigned char kVersion = 1;
constexpr size_t kTagBytes = 16;
constexpr char kContext[] = "cartrecovery.link";  // the '\0' after it is hashed too
// Longest payload SignLink can produce: header + 3 ids + url with their lengths; anything
// longer is malformed before we spend an HMAC on it.
constexpr size_t kMaxPayloadBytes = 2 + 10 + 3 * (2 + kMaxLinkIdBytes) + 2 + kMaxLinkUrlBytes;
constexpr size_t kMaxTokenChars = ((kMaxPayloadBytes + kTagBytes) * 4 + 2) / 3;

using internal::Base64UrlDecodeStrict;
using internal::Base64UrlEncode;

bool IsBase64UrlToken(const std::string& s) {
  // IsBase64UrlChar as a table, filled from it once: every link built checks its token.
  static const internal::ByteSet kAlphabet = internal::ByteSet::Where(internal::IsBase64UrlChar);
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!kAlphabet(c)) return false;
  return true;
}

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += char((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += char(v);
}

bool GetVarint(const std::string& in, size_t& pos, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && pos < in.size(); shift += 7) {
    uint8_t b = uint8_t(in[pos++]);
    v |= uint64_t(b & 0x7F) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

void PutBytes(std::string& out, const std::string& s) {
  PutVarint(out, s.size());
  out += s;
}

bool GetBytes(const std::string& in, size_t& pos, size_t max, std::string& s) {
  uint64_t n;
  if (!GetVarint(in, pos, n) || n > max || n > in.size() - pos) return false;
  s.assign(in, pos, size_t(n));
  pos += size_t(n);
  return true;
}

void CheckSecrets(const std::vector<std::string>& secrets) {
  if (secrets.empty()) throw ConfigError("secret", "no link secret configured");
  for (size_t i = 0; i < secrets.size(); ++i) {
    if (secrets[i].size() < kMinLinkSecretBytes) {
      std::string which = secrets.size() > 1 ? "secret #" + std::to_string(i + 1) + " " : "";
      throw ConfigError("secret", which + "is shorter than " +
                                      std::to_string(kMinLinkSecretBytes) + " bytes");
    }
  }
}

// HMAC-SHA256 (RFC 2104) with the key's two padded blocks hashed once per secret: a
// reminder signs several links, and OpenSSL's one-shot HMAC() fetched the digest and
// derived the key on every call, which cost several times the hashing itself.
class HmacSha256 {
 public:
  explicit HmacSha256(const std::string& secret) {
    constexpr size_t kBlock = 64;
    unsigned char key[kBlock] = {0};
    if (secret.size() > kBlock) {  // a long key is hashed first (RFC 2104 section 2)
      unsigned int n = 0;
      if (!EVP_Digest(secret.data(), secret.size(), key, &n, EVP_sha256(), nullptr)) Fail();
    } else {
      std::memcpy(key, secret.data(), secret.size());
    }
    unsigned char ipad[kBlock], opad[kBlock];
    for (size_t i = 0; i < kBlock; ++i) {
      ipad[i] = key[i] ^ 0x36;
      opad[i] = key[i] ^ 0x5c;
    }
    OPENSSL_cleanse(key, sizeof(key));
    inner_ = Started(ipad);
    outer_ = Started(opad);
    OPENSSL_cleanse(ipad, sizeof(ipad));
    OPENSSL_cleanse(opad, sizeof(opad));
  }
  ~HmacSha256() {
    EVP_MD_CTX_free(inner_);
    EVP_MD_CTX_free(outer_);
  }
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  // The first `bytes` bytes of the MAC of `parts`, concatenated.
  std::string Mac(std::initializer_list<std::pair<const void*, size_t>> parts, size_t bytes) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> c(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    unsigned char inner[EVP_MAX_MD_SIZE], mac[EVP_MAX_MD_SIZE];
    unsigned int inner_len = 0, mac_len = 0;
    bool ok = c && EVP_MD_CTX_copy_ex(c.get(), inner_);
    for (const auto& [data, size] : parts) ok = ok && EVP_DigestUpdate(c.get(), data, size);
    ok = ok && EVP_DigestFinal_ex(c.get(), inner, &inner_len) &&
         EVP_MD_CTX_copy_ex(c.get(), outer_) && EVP_DigestUpdate(c.get(), inner, inner_len) &&
         EVP_DigestFinal_ex(c.get(), mac, &mac_len) && mac_len >= bytes;
    if (!ok) Fail();
    return std::string(reinterpret_cast<const char*>(mac), bytes);
  }

 private:
  [[noreturn]] static void Fail() {
    throw Error(ErrorCode::kInternal, "HMAC-SHA256 failed in OpenSSL");
  }
  static EVP_MD_CTX* Started(const unsigned char* pad) {
    EVP_MD_CTX* c = EVP_MD_CTX_new();
    if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), nullptr) || !EVP_DigestUpdate(c, pad, 64)) {
      EVP_MD_CTX_free(c);
      Fail();
    }
    return c;
  }

  EVP_MD_CTX* inner_ = nullptr;
  EVP_MD_CTX* outer_ = nullptr;
};

// The keys this thread signed with lately (a shop has one secret, two while rotating).
const HmacSha256& KeyFor(const std::string& secret) {
  thread_local std::map<std::string, std::unique_ptr<HmacSha256>> keys;
  auto it = keys.find(secret);
  if (it != keys.end()) return *it->second;
  if (keys.size() >= 8) keys.clear();
  return *keys.emplace(secret, std::make_unique<HmacSha256>(secret)).first->second;
}

std::string Tag(const std::string& secret, const std::string& payload) {
  return KeyFor(secret).Mac({{kContext, sizeof(kContext)},  // includes the terminating '\0'
                             {payload.data(), payload.size()}},
                            kTagBytes);
}

bool ValidKind(int k) { return k >= 0 && k <= int(LinkKind::kUnsubscribe); }

// Returns an empty string when the claims follow the rules in track.h, else the field at
// fault followed by '\n' and why.
std::string ClaimsFault(const LinkClaims& c) {
  auto fault = [](const char* field, const std::string& why) {
    return std::string(field) + '\n' + why;
  };
  if (!ValidKind(int(c.kind))) return fault("kind", "unknown link kind");
  if (c.expires_ms <= 0) return fault("expires_ms", "must be > 0");
  if (c.message_id.size() > kMaxLinkIdBytes) return fault("message_id", "is too long");
  if (c.cart_id.size() > kMaxLinkIdBytes) return fault("cart_id", "is too long");
  if (c.contact_key.size() > kMaxLinkIdBytes) return fault("contact_key", "is too long");
  if (c.url.size() > kMaxLinkUrlBytes) return fault("url", "is too long");
  switch (c.kind) {
    case LinkKind::kOpen:
      if (c.message_id.empty()) return fault("message_id", "is required for an open link");
      break;
    case LinkKind::kClick:
      if (c.message_id.empty()) return fault("message_id", "is required for a click link");
      if (c.url.empty()) return fault("url", "is required for a click link");
      if (!IsSafeRedirectUrl(c.url))
        return fault("url", "must be an absolute http(s) URL without user info, spaces, control "
                            "characters or \\ < > \"");
      break;
    case LinkKind::kRestore:
      if (c.cart_id.empty()) return fault("cart_id", "is required for a restore link");
      break;
    case LinkKind::kUnsubscribe:
      if (c.message_id.empty() && c.contact_key.empty())
        return fault("message_id", "or contact_key is required for an unsubscribe link");
      break;
  }
  if (c.kind != LinkKind::kClick && !c.url.empty())
    return fault("url", std::string("is only for click links, not ") + LinkKindName(c.kind));
  return {};
}

std::string Encode(const LinkClaims& c) {
  std::string p;
  p.reserve(16 + kTagBytes + c.message_id.size() + c.cart_id.size() + c.contact_key.size() +
            c.url.size());
  p += char(kVersion);
  p += char(uint8_t(c.kind));
  PutVarint(p, uint64_t(c.expires_ms));
  PutBytes(p, c.message_id);
  PutBytes(p, c.cart_id);
  PutBytes(p, c.contact_key);
  PutBytes(p, c.url);
  return p;
}

bool Decode(const std::string& p, LinkClaims& c) {
  size_t pos = 2;  // version checked by the caller
  if (p.size() < pos || !ValidKind(uint8_t(p[1]))) return false;
  c.kind = LinkKind(uint8_t(p[1]));
  uint64_t expires;
  if (!GetVarint(p, pos, expires) || expires > uint64_t(INT64_MAX)) return false;
  c.expires_ms = Millis(expires);
  return GetBytes(p, pos, kMaxLinkIdBytes, c.message_id) &&
         GetBytes(p, pos, kMaxLinkIdBytes, c.cart_id) &&
         GetBytes(p, pos, kMaxLinkIdBytes, c.contact_key) &&
         GetBytes(p, pos, kMaxLinkUrlBytes, c.url) && pos == p.size();
}

const char* PathPrefix(LinkKind kind) {
  switch (kind) {
    case LinkKind::kOpen: return "o/";
    case LinkKind::kClick: return "c/";
    case LinkKind::kRestore: return "r/";
    case LinkKind::kUnsubscribe: return "u/";
  }
  return "?/";
}

// The bytes a safe redirect URL never holds, as a table: every link of every message is
// checked, some of them several times, and a URL is a hundred bytes or more.
constexpr internal::ByteSet kUrlRefuses = internal::ByteSet::Where([](unsigned char c) {
  return c <= 0x20 || c == 0x7F || c == '\\' || c == '<' || c == '>' || c == '"';
});

bool StartsWithNoCase(const std::string& s, const char* prefix) {
  size_t n = std::strlen(prefix);
  if (s.size() < n) return false;
  for (size_t i = 0; i < n; ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

const char* LinkKindName(LinkKind kind) {
  switch (kind) {
    case LinkKind::kOpen: return "open";
    case LinkKind::kClick: return "click";
    case LinkKind::kRestore: return "restore";
    case LinkKind::kUnsubscribe: return "unsubscribe";
  }
  return "unknown";
}

const char* LinkProblemName(LinkProblem problem) {
  switch (problem) {
    case LinkProblem::kNone: return "none";
    case LinkProblem::kMalformed: return "malformed";
    case LinkProblem::kBadSignature: return "bad_signature";
    case LinkProblem::kWrongKind: return "wrong_kind";
    case LinkProblem::kExpired: return "expired";
    case LinkProblem::kUnsafeUrl: return "unsafe_url";
  }
  return "unknown";
}

bool IsSafeRedirectUrl(const std::string& url) {
  size_t scheme_len;
  if (StartsWithNoCase(url, "https://")) {
    scheme_len = 8;
  } else if (StartsWithNoCase(url, "http://")) {
    scheme_len = 7;
  } else {
    return false;
  }
  for (unsigned char c : url)
    if (kUrlRefuses(c)) return false;
  size_t host_end = url.find_first_of("/?#", scheme_len);
  if (host_end == std::string::npos) host_end = url.size();
  if (host_end == scheme_len) return false;  // "https:///x", "https://?q"
  // User info ("https://shop.example@evil.example/") is a classic way to make a link look
  // like the shop's; no shop link needs it.
  if (url.find('@', scheme_len) < host_end) return false;
  // A port alone is not a host ("https://:443/").
  if (url[scheme_len] == ':') return false;
  return true;
}

std::string SignLink(const std::string& secret, const LinkClaims& claims) {
  return SignLink(std::vector<std::string>{secret}, claims);
}

std::string SignLink(const std::vector<std::string>& secrets, const LinkClaims& claims) {
  CheckSecrets(secrets);
  std::string fault = ClaimsFault(claims);
  if (!fault.empty()) {
    size_t nl = fault.find('\n');
    throw InvalidArgument(fault.substr(0, nl), fault.substr(nl + 1));
  }
  std::string payload = Encode(claims);
  payload += Tag(secrets[0], payload);  // Encode reserved room for it
  return Base64UrlEncode(payload);
}

LinkCheck CheckLink(const std::vector<std::string>& secrets, const std::string& token,
                    LinkKind expected, Millis now) {
  CheckSecrets(secrets);
  LinkCheck result;
  result.problem = LinkProblem::kMalformed;
  if (token.size() > kMaxTokenChars) return result;
  std::optional<std::string> raw = Base64UrlDecodeStrict(token);
  if (!raw || raw->size() < 2 + kTagBytes || uint8_t((*raw)[0]) != kVersion) return result;
  std::string payload = raw->substr(0, raw->size() - kTagBytes);
  const unsigned char* tag =
      reinterpret_cast<const unsigned char*>(raw->data()) + payload.size();

  bool authentic = false;
  for (const std::string& secret : secrets) {
    std::string expected_tag = Tag(secret, payload);
    if (CRYPTO_memcmp(expected_tag.data(), tag, kTagBytes) == 0) {
      authentic = true;
      break;
    }
  }
  if (!authentic) {
    result.problem = LinkProblem::kBadSignature;
    return result;
  }

  LinkClaims claims;
  if (!Decode(payload, claims)) return result;  // kMalformed: signed by a buggy signer
  if (claims.kind != expected) {
    result.problem = LinkProblem::kWrongKind;
    result.claims.kind = claims.kind;  // for the message only; the claims are not accepted
    return result;
  }
  if (now >= claims.expires_ms) {
    result.problem = LinkProblem::kExpired;
    return result;
  }
  if (!ClaimsFault(claims).empty()) {
    result.problem = LinkProblem::kUnsafeUrl;
    return result;
  }
  result.problem = LinkProblem::kNone;
  result.claims = std::move(claims);
  return result;
}

LinkClaims VerifyLink(const std::string& secret, const std::string& token, LinkKind expected,
                      Millis now) {
  return VerifyLink(std::vector<std::string>{secret}, token, expected, now);
}

LinkClaims VerifyLink(const std::vector<std::string>& secrets, const std::string& token,
                      LinkKind expected, Millis now) {
  LinkCheck check = CheckLink(secrets, token, expected, now);
  switch (check.problem) {
    case LinkProblem::kNone:
      return std::move(check.claims);
    case LinkProblem::kMalformed:
      throw InvalidArgument("token", "malformed");
    case LinkProblem::kBadSignature:
      throw InvalidArgument("token", "bad signature");
    case LinkProblem::kWrongKind:
      throw InvalidArgument("token", std::string("wrong link kind (expected ") +
                                         LinkKindName(expected) + ", got " +
                                         LinkKindName(check.claims.kind) + ")");
    case LinkProblem::kExpired:
      throw InvalidArgument("token", "expired");
    case LinkProblem::kUnsafeUrl:
      throw InvalidArgument("token",
                            "unsafe claims (not an absolute http(s) URL or a field missing)");
  }
  throw Error(ErrorCode::kInternal, "unknown link problem");
}

std::string LinkUrl(const std::string& base_url, LinkKind kind, const std::string& token) {
  if (!IsSafeRedirectUrl(base_url))
    throw ConfigError("base_url", "must be an absolute http(s) URL for tracking links");
  if (base_url.find('?') != std::string::npos || base_url.find('#') != std::string::npos)
    throw ConfigError("base_url", "must not have a query or fragment");
  if (!IsBase64UrlToken(token))
    throw InvalidArgument("token", "must be a non-empty base64url token");
  std::string url;
  url.reserve(base_url.size() + 3 + token.size() + 4);  // '/', "c/", the token, ".gif"
  url = base_url;
  if (url.back() != '/') url += '/';
  url += PathPrefix(kind);
  url += token;
  if (kind == LinkKind::kOpen) url += ".gif";
  return url;
}

std::optional<LinkPath> ParseLinkPath(const std::string& path) {
  std::string p = !path.empty() && path[0] == '/' ? path.substr(1) : path;
  if (p.size() < 3 || p[1] != '/') return std::nullopt;
  LinkKind kind;
  switch (p[0]) {
    case 'o': kind = LinkKind::kOpen; break;
    case 'c': kind = LinkKind::kClick; break;
    case 'r': kind = LinkKind::kRestore; break;
    case 'u': kind = LinkKind::kUnsubscribe; break;
    default: return std::nullopt;
  }
  std::string token = p.substr(2);
  if (kind == LinkKind::kOpen) {
    constexpr char kGif[] = ".gif";
    constexpr size_t kGifLen = sizeof(kGif) - 1;
    if (token.size() <= kGifLen || token.compare(token.size() - kGifLen, kGifLen, kGif) != 0)
      return std::nullopt;
    token.resize(token.size() - kGifLen);
  }
  if (!IsBase64UrlToken(token)) return std::nullopt;
  return LinkPath{kind, std::move(token)};
}

const std::string& TransparentGif() {
  // GIF89a, 1x1, a 2-entry global colour table, a graphic control extension marking index 0
  // transparent, one image whose LZW data is clear, 0, end (0x44 0x01), then the trailer.
  static const std::string gif = [] {
    static const unsigned char bytes[] = {
        'G',  'I',  'F',  '8',  '9',  'a',                    // header
        0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00,             // screen 1x1, GCT of 2
        0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF,                   // black, white
        0x21, 0xF9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00,       // GCE: transparent index 0
        0x2C, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,  // image 1x1 at 0,0
        0x02, 0x02, 0x44, 0x01, 0x00,                         // LZW min 2, one block
        0x3B,                                                 // trailer
    };
    return std::string(reinterpret_cast<const char*>(bytes), sizeof(bytes));
  }();
  return gif;
}

std::vector<std::pair<std::string, std::string>> UnsubscribeHeaders(
    const std::string& unsubscribe_url, const std::string& mailto) {
  if (!IsSafeRedirectUrl(unsubscribe_url) || unsubscribe_url.find(',') != std::string::npos) {
    throw InvalidArgument("unsubscribe_url",
                          "must be an absolute http(s) URL without user info, spaces, control "
                          "characters or \\ < > \" ,");
  }
  std::string value = "<" + unsubscribe_url + ">";
  if (!mailto.empty()) {
    for (unsigned char c : mailto) {
      if (c <= 0x20 || c == 0x7F || c == '<' || c == '>' || c == '"' || c == ',')
        throw InvalidArgument("mailto",
                              "must not contain spaces, control characters, '<', '>', '\"' or ','");
    }
    value += StartsWithNoCase(mailto, "mailto:") ? ", <" + mailto + ">"
                                                 : ", <mailto:" + mailto + ">";
  }
  std::vector<std::pair<std::string, std::string>> headers = {{"List-Unsubscribe", value}};
  if (StartsWithNoCase(unsubscribe_url, "https://"))
    headers.emplace_back("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
  return headers;
}

}  // namespace cartrecovery
