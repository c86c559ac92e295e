// delivery.h: channels hand a rendered message to the world (SMTP, an outbox, ...).
//
// A Channel either returns (the provider accepted the message) or throws Error with
// kTransientDelivery (try later: SMTP 4xx, timeouts, dropped connections) or
// kPermanentDelivery (never retry: SMTP 5xx); the message of the error is the provider's
// reply. That classification happens here, once; the scheduler reads only the code.
// Errors never contain passwords or other secrets.
//
// Thread-safety: a Channel is used by one thread at a time (the engine serializes).
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
};

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

}  // namespace cartrecovery

#endif  // CARTRECOVERY_DELIVERY_H_
