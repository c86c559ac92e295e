// track.h: signed, expiring links for the open pixel, click redirect, restore-cart link and
// one-click unsubscribe. Pure logic: no I/O and no clock reads (the engine passes `now`).
//
// A link carries a token: a compact versioned payload (the LinkClaims) and an HMAC-SHA256
// tag over it, base64url without padding. The core signs when it renders a message; when the
// shopper follows the link, the adapter hands the token back and the engine verifies it
// before it answers (pixel bytes, redirect target, rebuilt cart, unsubscribe).
//
// Tokens are signed, not encrypted: anyone holding the e-mail can read the claims. Put
// opaque ids in them (message id, cart id), never an e-mail address or a name; the engine
// looks the contact up by message id.
//
// Open redirect: the click redirect goes only to the URL inside a verified token, so an
// attacker cannot send shoppers through the shop's domain to a URL of their choosing
// without the secret. Targets must also be absolute http(s) URLs free of control
// characters (no header injection through Location), checked when signing and again when
// verifying.
//
// A restore-cart link rebuilds the cart for whoever holds it (a guest on another device);
// it never logs anyone in and must never be treated as proof of identity.
//
// Thread-safety: every function here is pure and may be called from any thread.
#ifndef CARTRECOVERY_TRACK_H_
#define CARTRECOVERY_TRACK_H_

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cartrecovery/clock.h"

namespace cartrecovery {

enum class LinkKind { kOpen, kClick, kRestore, kUnsubscribe };
const char* LinkKindName(LinkKind kind);  // "open", "click", "restore", "unsubscribe"

// What a link says. Which fields a kind needs (checked by SignLink and VerifyLink):
//   kOpen         message_id required; url must be empty.
//   kClick        message_id required; url required (absolute http(s), see IsSafeRedirectUrl).
//   kRestore      cart_id required; url must be empty.
//   kUnsubscribe  message_id or contact_key required; url must be empty.
// Other fields may be set (e.g. cart_id on a click, to attribute it) and are carried along.
// Ids are opaque bytes up to kMaxLinkIdBytes each; urls up to kMaxLinkUrlBytes.
struct LinkClaims {
  LinkKind kind = LinkKind::kOpen;
  std::string message_id;
  std::string cart_id;
  std::string contact_key;  // prefer message_id; never an e-mail address (tokens are readable)
  std::string url;          // click target
  Millis expires_ms = 0;    // the token is valid while now < expires_ms
};

constexpr size_t kMaxLinkIdBytes = 256;
constexpr size_t kMaxLinkUrlBytes = 2000;
constexpr size_t kMinLinkSecretBytes = 16;

// Signs the claims with `secret` and returns the token: base64url without padding, only
// [A-Za-z0-9_-], about 38 characters plus 4/3 of a character per byte of ids and url (an
// open token for a 36-character message id is 86 characters). Deterministic: the same
// claims and secret give the same token.
// Throws ConfigError("secret", ...) when the secret is shorter than kMinLinkSecretBytes
// (the message never contains the secret), and InvalidArgument(<field>, ...) naming
// "message_id", "cart_id", "contact_key", "url" or "expires_ms" when the claims break the
// rules above (expires_ms must be > 0).
std::string SignLink(const std::string& secret, const LinkClaims& claims);
// Secret rotation: signs with secrets[0] (the current one). Throws ConfigError("secret", ...)
// for an empty list or any secret shorter than kMinLinkSecretBytes.
std::string SignLink(const std::vector<std::string>& secrets, const LinkClaims& claims);

// Why a token was refused; kNone when it was accepted. Checked in this order, so nothing
// about the content of an unauthenticated token (kind, expiry) is ever reported.
enum class LinkProblem {
  kNone,
  kMalformed,     // not base64url, too short or too long, unknown version, bad payload
  kBadSignature,  // no secret in the list produced this tag (tampered or foreign token)
  kWrongKind,     // a valid token for another kind of link (e.g. an open token on /c/)
  kExpired,       // now >= expires_ms
  kUnsafeUrl,     // signed, but the claims break the rules above: an unsafe click target, a
                  // url on a non-click link, a missing id (an older signer's bug, a leaked key)
};
const char* LinkProblemName(LinkProblem problem);  // "malformed", "bad_signature", ...

struct LinkCheck {
  LinkProblem problem = LinkProblem::kMalformed;
  LinkClaims claims;  // filled when problem == kNone; for kWrongKind only claims.kind is set
  bool ok() const { return problem == LinkProblem::kNone; }
};

// Verifies a token against the current and previous secrets (secrets[0] is the current one;
// keep old ones in the list until the links signed with them have expired). Tags are
// compared in constant time. Never throws for a bad token: returns the problem, so an
// adapter can answer by code (the open pixel answers the GIF whatever the problem; a click
// with a bad token shows an error page and never redirects; an expired restore link can send
// the shopper to the shop's home page).
// Throws ConfigError("secret", ...) for an empty list or a secret shorter than
// kMinLinkSecretBytes.
LinkCheck CheckLink(const std::vector<std::string>& secrets, const std::string& token,
                    LinkKind expected, Millis now);

// As CheckLink, but returns the claims of a good token and throws
// Error(kInvalidArgument, field "token") otherwise, with one message per LinkProblem:
// "token: malformed", "token: bad signature", "token: wrong link kind (expected click, got
// open)", "token: expired", "token: unsafe claims (...)". Same ConfigError as CheckLink.
LinkClaims VerifyLink(const std::string& secret, const std::string& token, LinkKind expected,
                      Millis now);
LinkClaims VerifyLink(const std::vector<std::string>& secrets, const std::string& token,
                      LinkKind expected, Millis now);

// True for an absolute http:// or https:// URL (scheme in any case) with a non-empty host,
// no user info ('@' before the path), and none of these anywhere: bytes below 0x21 (spaces,
// CR, LF and other controls), DEL, '\', '<', '>', '"'. So it can go into a Location
// header or an HTML attribute as is. Bytes >= 0x80 (UTF-8 paths) are allowed.
bool IsSafeRedirectUrl(const std::string& url);

// URL paths, relative to the shop's tracking base URL (ShopInfo::base_url):
//   open "o/<token>.gif", click "c/<token>", restore "r/<token>", unsubscribe "u/<token>".
// LinkUrl joins base_url (a '/' is added when it does not end with one) and the path.
// Throws ConfigError("base_url", ...) when base_url is not an absolute http(s) URL or has a
// query or fragment, and InvalidArgument("token", ...) when the token is empty or not
// base64url.
std::string LinkUrl(const std::string& base_url, LinkKind kind, const std::string& token);

struct LinkPath {
  LinkKind kind;
  std::string token;  // still unverified: pass it to CheckLink/VerifyLink with `kind`
};
// The reverse of LinkUrl for an adapter: takes the path below the base URL ("c/AbC-_",
// one leading '/' tolerated), without the query string. Returns nullopt for anything else
// (unknown prefix, missing or non-base64url token, ".gif" missing on an open path or present
// on another, extra segments); the adapter answers 404.
std::optional<LinkPath> ParseLinkPath(const std::string& path);

// The open pixel: a valid 43-byte 1x1 transparent GIF89a. The adapter answers it for every
// open path, good token or not, with kTransparentGifContentType and
// "Cache-Control: no-store" so that every open reaches the shop.
const std::string& TransparentGif();
inline constexpr char kTransparentGifContentType[] = "image/gif";

// RFC 2369 / RFC 8058 header fields for an e-mail, in this order:
//   List-Unsubscribe: <https://...>[, <mailto:...>]
//   List-Unsubscribe-Post: List-Unsubscribe=One-Click
// `mailto` may be empty, "mailto:x@y?subject=..." or a bare address (then "mailto:" is
// prepended). RFC 8058 asks for an HTTPS URI; for an http:// URL (a shop in development)
// only List-Unsubscribe is returned, without the One-Click header. Values are unfolded;
// the MIME writer folds long lines. The unsubscribe endpoint must unsubscribe on POST
// (body "List-Unsubscribe=One-Click") and only show a confirmation form on GET, because
// mail scanners follow GET links.
// Throws InvalidArgument("unsubscribe_url", ...) unless IsSafeRedirectUrl and free of ',';
// InvalidArgument("mailto", ...) for control characters, spaces, '<', '>', '"' or ',' in
// mailto.
std::vector<std::pair<std::string, std::string>> UnsubscribeHeaders(
    const std::string& unsubscribe_url, const std::string& mailto);

// Click tracking for rendered HTML: rewrites the href of every <a> tag (any case, quoted
// with " or ' or unquoted) whose URL is an http(s) URL that passes IsSafeRedirectUrl.
// The callback receives the URL as a browser would follow it: character references decoded
// (&amp; -> &, &#38; -> &) and surrounding whitespace trimmed. When it returns the same
// string the attribute is left byte for byte as it was (that is how to skip a link, e.g.
// the unsubscribe link); otherwise its result is written back HTML-encoded (& -> &amp;, the
// quote -> &quot;/&#39;), in double quotes when the original was unquoted.
// Everything else is preserved byte for byte: mailto:/tel:/relative links, other tags and
// attributes, comments (including Outlook conditional comments), <script> and <style>
// contents. Exceptions from the callback propagate.
std::string WrapLinks(const std::string& html,
                      const std::function<std::string(const std::string& url)>& make_click_url);

// Inserts <img src="pixel_url" width="1" height="1" alt="" style="..."> before the last
// </body> (any case), or appends it when there is none. pixel_url is HTML-encoded.
// Throws InvalidArgument("pixel_url", ...) unless IsSafeRedirectUrl(pixel_url).
std::string AppendOpenPixel(const std::string& html, const std::string& pixel_url);

}  // namespace cartrecovery

#endif  // CARTRECOVERY_TRACK_H_
