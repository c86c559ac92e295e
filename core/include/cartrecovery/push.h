// push.h: browser push reminders (PLAYBOOKS R3.11) over the Web Push protocol.
//
// A shop's page subscribes the browser with the shop's VAPID public key
// (PushManager.subscribe({applicationServerKey})) and sends the resulting subscription to
// the shop, which tracks it as an event; the engine later hands it to the push channel as
// OutgoingMessage.to:
//   {"endpoint": "https://push.example/...", "keys": {"p256dh": "<b64url>", "auth": "<b64url>"}}
// The channel encrypts the notification for that browser (RFC 8291, "aes128gcm" content
// coding of RFC 8188), signs a VAPID token (RFC 8292) and POSTs it to the endpoint
// (RFC 8030). The push service cannot read the content; the browser's service worker
// receives the JSON payload described at MakePushChannel.
//
// The cryptography is exposed as pure functions (no I/O, no clock, no randomness unless
// named) so tests and other languages can check it against independent implementations
// (RFC 8291 Appendix A, the Python `http_ece` package).
//
// Keys and secrets: "b64url" means base64url without padding (RFC 4648 section 5), the
// form browsers and the RFCs use; decoders here also accept padding and the standard
// alphabet (+/). Private keys never appear in error messages.
//
// Thread-safety: the free functions are thread-safe. A push Channel follows delivery.h
// (one thread at a time).
#ifndef CARTRECOVERY_PUSH_H_
#define CARTRECOVERY_PUSH_H_

#include <cstdint>
#include <memory>
#include <string>

#include "cartrecovery/clock.h"
#include "cartrecovery/delivery.h"

namespace cartrecovery {

// ---------------------------------------------------------------------------------------
// Message encryption (RFC 8291)

// The largest plaintext one Web Push message can carry: push services need only accept
// 4096-octet bodies (RFC 8030 7.2), minus the 86-octet header, the 16-octet tag and the
// padding delimiter (RFC 8291 section 4).
constexpr size_t kMaxWebPushPlaintext = 3993;

// Encrypts `plaintext` for one browser with injected randomness; this is RFC 8291 exactly,
// so Appendix A's inputs give Appendix A's body byte for byte.
//   ua_public_b64url:   the subscription's keys.p256dh (65-byte uncompressed P-256 point)
//   auth_secret_b64url: the subscription's keys.auth (16 bytes)
//   salt:               16 raw bytes, fresh per message
//   as_private_key:     the ephemeral (application server) P-256 private key as the raw
//                       32-byte big-endian scalar, fresh per message
// Returns the HTTP body: salt(16) || rs(4, = 4096 big-endian) || idlen(1, = 65) ||
// keyid(65, the ephemeral public key) || one AES-128-GCM record of
// plaintext || 0x02 (last-record delimiter, no further padding) plus its 16-byte tag.
// Throws Error kInvalidArgument naming "keys.p256dh", "keys.auth", "salt", "as_private_key"
// or "plaintext" (longer than kMaxWebPushPlaintext) when an input is unusable; kInternal if
// OpenSSL fails otherwise.
std::string EncryptWebPush(const std::string& plaintext, const std::string& ua_public_b64url,
                           const std::string& auth_secret_b64url, const std::string& salt,
                           const std::string& as_private_key);

// As above with a fresh random salt and ephemeral key pair (OpenSSL's CSPRNG): what the
// channel sends. Same errors.
std::string EncryptWebPush(const std::string& plaintext, const std::string& ua_public_b64url,
                           const std::string& auth_secret_b64url);

// ---------------------------------------------------------------------------------------
// VAPID (RFC 8292)

struct VapidKeys {
  std::string private_b64url;  // raw 32-byte P-256 scalar: keep it secret (settings)
  std::string public_b64url;   // 65-byte uncompressed point: the page's applicationServerKey
};

// A new P-256 key pair for a shop. Throws Error kInternal only if OpenSSL fails.
VapidKeys GenerateVapidKeys();

// The public key (b64url, 65-byte uncompressed point) for a VAPID private key given as PEM
// (PKCS#8 "PRIVATE KEY" or SEC1 "EC PRIVATE KEY", P-256) or as the b64url raw 32-byte
// scalar. Throws Error kInvalidArgument("vapid_private_key") when the key is unusable; the
// message never contains the key.
std::string VapidPublicKey(const std::string& private_key);

// The Authorization header value "vapid t=<JWT>, k=<public key b64url>" for a request to
// `endpoint`. The JWT is ES256 over {"typ":"JWT","alg":"ES256"} and
// {"aud": <origin of endpoint>, "exp": now_ms/1000 + expires_in_seconds, "sub": subject};
// its signature is raw R||S (64 bytes), as JWS requires.
// Throws Error kInvalidArgument naming "vapid_private_key", "vapid_subject" (not mailto: or
// https:), "endpoint" (no https/http origin) or "expires_in_seconds" (not 1..86400: push
// services refuse tokens valid for more than 24 h).
std::string VapidAuthorization(const std::string& endpoint, const std::string& subject,
                               const std::string& private_key, Millis now_ms,
                               int64_t expires_in_seconds = 12 * 3600);

// ---------------------------------------------------------------------------------------
// The channel

struct PushSettings {
  std::string vapid_private_key;  // PEM or b64url raw scalar (see VapidPublicKey)
  std::string vapid_subject;      // "mailto:shop@example.com" or "https://shop.example"
  int ttl_seconds = 24 * 3600;    // TTL header: how long the push service keeps the message
                                  // for an offline browser; 0 = deliver now or drop
  std::string urgency = "normal"; // Urgency header: very-low, low, normal or high
  std::string topic;              // Topic header (a newer message with the same topic
                                  // replaces an undelivered one); empty: none. At most 32
                                  // base64url characters. A message header "Topic" wins.
  int timeout_ms = 10000;         // connect, send and receive, each
  bool verify_certificate = true; // TLS certificate and host name of the push service
  std::string ca_file;            // extra trusted CA (PEM), e.g. a test server's; empty: none
};

// A Channel that delivers OutgoingMessage (channel "push") to a browser subscription.
// The encrypted payload is the JSON object
//   {"title": subject, "body": text, "data": <data_json, or {} when empty>, "tag": message_id}
// ("data" is replaced by {} if the whole would exceed kMaxWebPushPlaintext).
// It is POSTed to the endpoint with Content-Encoding: aes128gcm, TTL, Urgency, Topic (when
// set) and Authorization: vapid (token valid 12 h from the system clock: the push service
// checks "exp" against real time, so a ManualClock must not be used here).
// Send() errors (delivery.h):
//   kInvalidArgument("to"): the subscription is not {"endpoint": "https://...", "keys":
//     {"p256dh", "auth"}} or its keys are unusable: retrying cannot help.
//   kPermanentDelivery: 404/410 with a message starting "subscription expired" (the engine
//     drops the subscription); other 4xx (the push service's reply in the message); TLS
//     certificate rejected; payload too large.
//   kAccountDelivery: 401/403, the service refuses the VAPID key or token (the shop's to fix).
//   kTransientDelivery: 429 and 5xx (retry_after_ms() from Retry-After, seconds or HTTP
//     date), timeouts, refused or dropped connections.
// MakePushChannel throws ConfigError naming the bad setting (the key is never echoed).
std::unique_ptr<Channel> MakePushChannel(const PushSettings& settings);

}  // namespace cartrecovery

#endif  // CARTRECOVERY_PUSH_H_
