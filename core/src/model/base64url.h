// base64url.h: base64url (RFC 4648 section 5) for the modules that put bytes in URLs and
// JSON: tracking tokens (track) and Web Push keys and VAPID tokens (deliver). Not public API.
//
// One encoder, two decoders, because the callers need different strictness:
//   - Base64UrlDecodeStrict: for tokens we minted ourselves. Exactly one encoding per byte
//     string is accepted, so a changed character can never leave a signed token valid.
//   - Base64UrlDecode: for keys that browsers and pages hand us, which arrive padded or in
//     the standard alphabet (btoa) as often as not.
#ifndef CARTRECOVERY_SRC_MODEL_BASE64URL_H_
#define CARTRECOVERY_SRC_MODEL_BASE64URL_H_

#include <optional>
#include <string>

namespace cartrecovery {
namespace internal {

// Base64url without padding (RFC 4648 section 5). Never fails.
std::string Base64UrlEncode(const std::string& bytes);

// Whether c is one of the 64 characters of the base64url alphabet (A-Z a-z 0-9 - _).
bool IsBase64UrlChar(unsigned char c);

// Strict: only the url-safe alphabet, no padding, and the unused low bits of the last
// character must be zero. Without that last rule "AB" and "AC" would decode to the same
// byte. Returns the bytes, or nullopt for any other character, an impossible length, or
// non-zero trailing bits. "" decodes to "".
std::optional<std::string> Base64UrlDecodeStrict(const std::string& text);

// Lenient: decodes base64url or standard base64 (pages sometimes use btoa), padded or not
// (at most two '='), and ignores the unused low bits of the last character. Returns false,
// leaving *bytes unspecified, on any other character or an impossible length.
bool Base64UrlDecode(const std::string& text, std::string* bytes);

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_MODEL_BASE64URL_H_
