// webpush_crypto.h: helpers behind push.h shared by the push channel and its tests (not
// public API). The RFC 8291 / 8292 functions themselves are declared in push.h.
#ifndef CARTRECOVERY_DELIVER_WEBPUSH_CRYPTO_H_
#define CARTRECOVERY_DELIVER_WEBPUSH_CRYPTO_H_

#include <string>

#include "model/base64url.h"
#include "model/json_writer.h"

namespace cartrecovery {
namespace internal {

// Base64UrlEncode and the lenient Base64UrlDecode (base64url or standard base64, padded or
// not) come from model/base64url.h, included above.

// "https://push.example:8443" for "https://push.example:8443/send/abc?x" (the RFC 6454
// ASCII origin: lower-case scheme and host, port only when not the scheme's default,
// IPv6 hosts in brackets). Throws InvalidArgument(field, ...) unless the URL is absolute
// http(s) with a host.
std::string UrlOrigin(const std::string& url, const std::string& field);


}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_DELIVER_WEBPUSH_CRYPTO_H_
