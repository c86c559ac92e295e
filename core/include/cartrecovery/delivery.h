// delivery.h: channels hand a rendered message to the world (SMTP, an outbox, ...).
//
// A Channel either returns (the provider accepted the message) or throws Error with
// kTransientDelivery (try later: SMTP 4xx, timeouts, dropped connections) or
// kPermanentDelivery (never retry: SMTP 5xx); the message of the error is the provider's
// reply. That classification happens here, once; the scheduler reads only the code.
// Errors never contain passwords or other secrets.
//
// Thread-safety: Send may be called by up to Concurrency() threads at once (the engine
// delivers a batch on that many; a channel that keeps one connection says 1 and is used by
// one thread at a time). Close is called when no Send is under way.
#ifndef CARTRECOVERY_DELIVERY_H_
#define CARTRECOVERY_DELIVERY_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cartrecovery/clock.h"

namespace cartrecovery {

struct OutgoingMessage {
  std::string message_id;  // stable per (journey, step, channel); SMTP Message-ID local part,
                           // HTTP providers' idempotency key
  std::string channel;     // "email", "sms", ...
  // E-mail address, E.164 phone number, or for push the browser's subscription as JSON
  // ({"endpoint", "keys": {"p256dh", "auth"}}); empty for webhooks (the channel's own URL).
  std::string to;
  std::string to_name;     // display name, may be empty
  std::string subject;
  std::string text;
  std::string html;        // empty: text only
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, in order
  Millis date_ms = 0;      // Date header
  // Machine-readable form for webhooks and push: the abandoned cart, contact and links as
  // a JSON object (see the engine's webhook payload); empty for e-mail and SMS.
  std::string data_json;
};

class Channel {
 public:
  virtual ~Channel() = default;
  // Sends one message; see the file comment for errors. May keep a connection open for
  // the next Send.
  virtual void Send(const OutgoingMessage& message) = 0;
  // Ends any open connection; the next Send reconnects.
  virtual void Close() {}
  // How many Sends may be under way at once (each on a connection of its own); at least 1.
  virtual int Concurrency() const { return 1; }
  // For status and logs: "smtp://mail.example:587 starttls", never credentials.
  virtual std::string Describe() const = 0;
};

struct SmtpSettings {
  std::string host = "localhost";
  int port = 587;
  std::string username;  // empty: no AUTH
  std::string password;
  bool starttls = true;  // upgrade with STARTTLS; fail (nothing sent) if not offered
  bool ssl = false;      // implicit TLS from the first byte (port 465)
  bool verify_certificate = true;
  std::string sender = "Shop <shop@example.com>";  // From
  std::string reply_to;
  int timeout_ms = 10000;
  std::string helo_name;  // empty: the machine's host name
  // Sessions open at once, 1..kMaxSmtpConnections: the engine delivers a batch's e-mails on
  // this many threads, each on a kept connection of its own. 1: one message at a time.
  int connections = 4;
};

constexpr int kMaxSmtpConnections = 64;

// Throws ConfigError(<field>) for a bad host, port, timeout_ms, helo_name, sender, reply_to
// or connections (not 1..kMaxSmtpConnections). Thread-safe up to `connections` senders
// (more wait for a free session); a session that fails is dropped and reconnects on its
// next Send.
std::unique_ptr<Channel> MakeSmtpChannel(const SmtpSettings& settings);

// Keeps nothing itself (the engine stores every message); when `directory` is not empty,
// also writes each message there as <message_id>.eml (the full MIME text) so a developer
// can open it in a mail client.
std::unique_ptr<Channel> MakeOutboxChannel(const std::string& directory);

// The RFC 5322 message as sent over SMTP: From/To/Reply-To/Subject (RFC 2047 encoded when
// not ASCII)/Date/Message-ID <message_id@domain of sender>/MIME-Version, the extra headers,
// and multipart/alternative text + html (quoted-printable, UTF-8) or a single text part.
std::string BuildMimeMessage(const OutgoingMessage& message, const std::string& sender,
                             const std::string& reply_to);

// ---------------------------------------------------------------------------------------
// HTTP channels: SMS through a provider's API, and signed webhooks.
//
// Both send one HTTPS request per message on up to `connections` kept connections at once
// (HTTP/1.1 keep-alive; the engine delivers a batch on that many threads) (TLS 1.2 or newer, certificate chain and host name
// verified unless verify_certificate is false) and classify the answer once:
//   2xx: sent.
//   429, 5xx: kTransientDelivery with retry_after_ms() from Retry-After (seconds or an
//     HTTP-date, at most a day); timeouts, refused, reset or dropped connections and a
//     response cut short are transient too.
//   401, 402, 403: kAccountDelivery: the provider refuses the shop (credentials, credit,
//     permissions), not the recipient; the engine pauses the step until the shop fixes it.
//     A certificate that does not verify is kAccountDelivery too (a configuration problem).
//   Other 4xx, and 3xx (redirects are never followed): kPermanentDelivery.
// The error message is the provider's reply, "<status> <reason>: <first 300 bytes of the
// body>", or what broke; it never contains a password, token or secret.
// Every request carries "Idempotency-Key: <message_id>", so a provider that honours it
// drops the duplicate when a retry follows a lost response.
// timeout_ms bounds the connect and each send and receive, not the whole exchange.

// An SMS provider's HTTP API. In `body` values and `headers` values these placeholders are
// replaced per message: {to} (E.164 number), {from}, {text}, {message_id}. Any other
// {lower_case_name} is a ConfigError (a typo would otherwise reach the shopper); other
// braces are literal.
struct SmsSettings {
  enum class Auth { kNone, kBasic, kBearer };
  enum class BodyFormat {
    kForm,  // application/x-www-form-urlencoded (for GET: the URL's query instead)
    kJson,  // application/json: an object of string fields, in order
  };
  std::string url;                  // https://... ; http:// only for a relay you trust
  std::string method = "POST";      // POST, PUT, PATCH or GET
  Auth auth = Auth::kNone;
  std::string username;             // kBasic
  std::string password;             // kBasic; never in errors or Describe()
  std::string token;                // kBearer ("Authorization: Bearer <token>"); never shown
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, in order
  BodyFormat body_format = BodyFormat::kForm;
  // Field -> value template, in order.
  std::vector<std::pair<std::string, std::string>> body = {
      {"to", "{to}"}, {"from", "{from}"}, {"text", "{text}"}};
  std::string from;                 // sender id or number, for {from}
  int max_segments = 10;            // longer texts are refused (InvalidArgument "text")
  int timeout_ms = 10000;
  bool verify_certificate = true;   // TLS chain and host name of the provider
  std::string ca_file;              // extra trusted CA (PEM), e.g. a test server's; empty: none
  int connections = 4;              // requests under way at once, 1..kMaxHttpConnections
};

constexpr int kMaxHttpConnections = 64;

// Twilio's Programmable Messaging API: POST <base_url>/2010-04-01/Accounts/<sid>/
// Messages.json, form fields To, From, Body, HTTP basic auth <sid>:<token>, and the
// message id also as I-Twilio-Idempotency-Token. `from` is a Twilio number (E.164) or an
// alphanumeric sender id. Returns settings the caller may still adjust (timeouts, CA).
SmsSettings TwilioSms(const std::string& account_sid, const std::string& auth_token,
                      const std::string& from,
                      const std::string& base_url = "https://api.twilio.com");

// Sends message.text to message.to (E.164, e.g. "+4915112345678") as the provider request
// described by `settings`. Send throws InvalidArgument("to") for a number that is not E.164
// and InvalidArgument("text") for empty or invalid UTF-8 text or one longer than
// max_segments (sms.h counts them), all before any I/O; otherwise see the section comment.
// Describe() is "sms <method> https://host[:port]/path" (no query, no credentials).
// Throws ConfigError(<field>) for a URL that is not http(s)://host/..., an unknown method,
// auth without its username/token, an unknown placeholder, a header that is malformed or
// one the channel sets itself (Content-Type, Content-Length, Host, Authorization), a
// timeout_ms or max_segments < 1, connections not 1..kMaxHttpConnections, or a ca_file that
// cannot be read.
std::unique_ptr<Channel> MakeSmsChannel(const SmsSettings& settings);

// A receiver of signed webhooks (Zapier, Make, the shop's own endpoint).
struct WebhookSettings {
  std::string url;                  // https://... ; http:// only for a receiver you trust
  std::string secret;               // at least 16 bytes; signs every request; never shown
  int timeout_ms = 10000;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, in order
  bool verify_certificate = true;   // TLS chain and host name of the receiver
  std::string ca_file;              // extra trusted CA (PEM); empty: none
  int connections = 4;              // requests under way at once, 1..kMaxHttpConnections
};

// POSTs one JSON document per message to settings.url:
//   body: message.data_json (the abandoned cart, contact and links, as the engine builds it)
//     or, when that is empty, {"message_id", "channel", "subject", "text"}.
//   Content-Type: application/json
//   Idempotency-Key: <message_id>           (receivers dedupe retries by it)
//   X-CartRecovery-Event: <event>           (message header X-CartRecovery-Event, else
//                                            "abandoned_cart")
//   X-CartRecovery-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
// then message.headers and settings.headers. The signature is Stripe's scheme: to verify,
// a receiver takes t and v1 from the header, computes HMAC-SHA256 over the decimal t, a
// '.', and the raw body bytes as received, compares in constant time, and rejects
// timestamps more than 5 minutes old (replays). t is message.date_ms (the engine sets it to
// the attempt's time; when 0, the wall clock). VerifyWebhookSignature does exactly this.
// Describe() is "webhook https://host[:port]/path". Throws ConfigError("url"),
// ConfigError("secret") for a secret shorter than 16 bytes, ConfigError("headers") for a
// malformed header or one the channel sets itself, ConfigError("timeout_ms"),
// ConfigError("connections"), ConfigError("ca_file"). Send's errors: see the section comment.
std::unique_ptr<Channel> MakeWebhookChannel(const WebhookSettings& settings);

// The X-CartRecovery-Signature value for `body` sent at `unix_seconds`. Thread-safe.
std::string WebhookSignature(const std::string& secret, int64_t unix_seconds,
                             const std::string& body);

// True when `header` (an X-CartRecovery-Signature value; any of several v1= entries may
// match, for secret rotation) signs `body` with `secret` and its t is within
// `tolerance_seconds` of `now_seconds`. Malformed headers are false, never an exception.
bool VerifyWebhookSignature(const std::string& secret, const std::string& header,
                            const std::string& body, int64_t now_seconds,
                            int64_t tolerance_seconds = 300);

}  // namespace cartrecovery

#endif  // CARTRECOVERY_DELIVERY_H_
