// webpush_crypto.h: helpers behind push.h shared by the push channel and its tests (not
// public API). The RFC 8291 / 8292 functions themselves are declared in push.h.
#ifndef CARTRECOVERY_DELIVER_WEBPUSH_CRYPTO_H_
#define CARTRECOVERY_DELIVER_WEBPUSH_CRYPTO_H_

#include <string>

namespace cartrecovery {
namespace internal {

// Base64url without padding (RFC 4648 section 5).
std::string Base64UrlEncode(const std::string& bytes);

// Decodes base64url or standard base64 (pages sometimes use btoa), padded or not. Returns
// false, leaving *bytes unspecified, on any other character or an impossible length.
bool Base64UrlDecode(const std::string& text, std::string* bytes);

// "https://push.example:8443" for "https://push.example:8443/send/abc?x" (the RFC 6454
// ASCII origin: lower-case scheme and host, port only when not the scheme's default,
// IPv6 hosts in brackets). Throws InvalidArgument(field, ...) unless the URL is absolute
// http(s) with a host.
std::string UrlOrigin(const std::string& url, const std::string& field);

// JSON string literal (with quotes) for UTF-8 text; control characters escaped.
std::string JsonQuote(const std::string& text);

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_DELIVER_WEBPUSH_CRYPTO_H_
