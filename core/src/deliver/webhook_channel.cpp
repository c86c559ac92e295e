// webhook_channel.cpp: signed JSON webhooks (delivery.h, MakeWebhookChannel).
//
// The signature follows Stripe's widely copied scheme (timestamp + HMAC-SHA256 over
// "<t>.<body>") so receivers can reuse known verification code, and the timestamp inside
// the signed text lets them refuse replays.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cartrecovery/delivery.h"
#include "cartrecovery/status.h"
#include "deliver/http_client.h"
#include "model/hex.h"

namespace cartrecovery {
namespace {

constexpr size_t kMinSecretBytes = 16;
constexpr char kEventHeader[] = "X-CartRecovery-Event";
constexpr char kSignatureHeader[] = "X-CartRecovery-Signature";

const std::vector<std::string> kReservedHeaders = {
    "Content-Type", "Content-Length",   "Host",       "Connection", "Transfer-Encoding",
    "Idempotency-Key", kSignatureHeader};

std::string HmacSha256Hex(const std::string& key, const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length)) {
    throw Error(ErrorCode::kInternal, "HMAC-SHA256 failed");
  }
  std::string hex;
  internal::AppendHex(digest, length, &hex);
  return hex;
}

bool ParseSeconds(const std::string& text, int64_t* out) {
  if (text.empty() || text.size() > 15) return false;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *out = value;
  return true;
}

class WebhookChannel final : public Channel {
 public:
  WebhookChannel(const WebhookSettings& settings, internal::HttpUrl url)
      : settings_(settings),
        url_(std::move(url)),
        connections_(std::make_unique<internal::HttpConnections>(settings.connections)) {
    options_.timeout_ms = settings.timeout_ms;
    options_.verify_certificate = settings.verify_certificate;
    options_.ca_file = settings.ca_file;
    options_.secrets = {settings.secret};
  }

  void Send(const OutgoingMessage& message) override;
  void Close() override { connections_->Close(); }
  int Concurrency() const override { return settings_.connections; }
  std::string Describe() const override { return "webhook " + internal::DescribeUrl(url_); }

 private:
  const WebhookSettings settings_;
  const internal::HttpUrl url_;
  internal::HttpOptions options_;
  // Kept connections (keep-alive), one per Send under way; thread-safe.
  std::unique_ptr<internal::HttpConnections> connections_;
};

void WebhookChannel::Send(const OutgoingMessage& message) {
  std::string body = message.data_json;
  if (body.empty()) {
    body = "{\"message_id\":" + internal::JsonQuote(message.message_id) +
           ",\"channel\":" + internal::JsonQuote(message.channel) +
           ",\"subject\":" + internal::JsonQuote(message.subject) +
           ",\"text\":" + internal::JsonQuote(message.text) + "}";
  }
  int64_t seconds = message.date_ms / 1000;
  if (message.date_ms <= 0) seconds = static_cast<int64_t>(std::time(nullptr));

  std::string event = "abandoned_cart";
  std::vector<std::pair<std::string, std::string>> passed;
  for (const auto& [name, value] : message.headers) {
    if (internal::EqualsIgnoreCase(name, kEventHeader)) {
      event = value;
      continue;
    }
    bool reserved = false;
    for (const auto& own : kReservedHeaders) reserved = reserved || internal::EqualsIgnoreCase(name, own);
    if (!reserved) passed.emplace_back(name, value);
  }

  internal::HttpRequest request;
  request.method = "POST";
  request.url = settings_.url;
  request.describe = Describe();
  request.headers = {{"Content-Type", "application/json; charset=utf-8"},
                     {"Idempotency-Key", message.message_id},
                     {kEventHeader, event},
                     {kSignatureHeader, WebhookSignature(settings_.secret, seconds, body)}};
  for (auto& header : passed) request.headers.push_back(std::move(header));
  for (const auto& header : settings_.headers) request.headers.push_back(header);
  request.body = std::move(body);
  // Line breaks in message ids or headers come back as InvalidArgument("headers") before
  // any I/O.
  internal::SendHttpRequest(request, options_, connections_.get());
}

}  // namespace

std::string WebhookSignature(const std::string& secret, int64_t unix_seconds,
                             const std::string& body) {
  std::string t = std::to_string(unix_seconds);
  return "t=" + t + ",v1=" + HmacSha256Hex(secret, t + "." + body);
}

bool VerifyWebhookSignature(const std::string& secret, const std::string& header,
                            const std::string& body, int64_t now_seconds,
                            int64_t tolerance_seconds) {
  int64_t t = -1;
  std::string t_text;
  std::vector<std::string> candidates;
  size_t start = 0;
  while (start <= header.size()) {
    size_t comma = header.find(',', start);
    if (comma == std::string::npos) comma = header.size();
    std::string part = header.substr(start, comma - start);
    while (!part.empty() && part.front() == ' ') part.erase(0, 1);
    if (part.rfind("t=", 0) == 0) {
      if (t >= 0 || !ParseSeconds(part.substr(2), &t)) return false;
      t_text = part.substr(2);
    } else if (part.rfind("v1=", 0) == 0) {
      candidates.push_back(part.substr(3));
    }
    start = comma + 1;
  }
  if (t < 0 || candidates.empty()) return false;
  if (now_seconds - t > tolerance_seconds || t - now_seconds > tolerance_seconds) return false;
  // Signed over the timestamp as sent (leading zeros included), like Stripe's verifiers.
  std::string expected;
  try {
    expected = HmacSha256Hex(secret, t_text + "." + body);
  } catch (const Error&) {
    return false;
  }
  bool match = false;
  for (const auto& candidate : candidates) {
    if (candidate.size() == expected.size() &&
        CRYPTO_memcmp(candidate.data(), expected.data(), expected.size()) == 0) {
      match = true;
    }
  }
  return match;
}

std::unique_ptr<Channel> MakeWebhookChannel(const WebhookSettings& settings) {
  internal::HttpUrl url;
  if (!internal::ParseHttpUrl(settings.url, &url)) {
    throw ConfigError("url", "must be an absolute https:// (or http://) URL without credentials");
  }
  if (settings.secret.size() < kMinSecretBytes) {
    throw ConfigError("secret", "must be at least 16 bytes (32 random bytes recommended)");
  }
  internal::CheckConfiguredHeaders(settings.headers, "headers", kReservedHeaders);
  for (const auto& [name, value] : settings.headers) {
    if (internal::EqualsIgnoreCase(name, kEventHeader)) {
      throw ConfigError("headers", std::string(kEventHeader) + " is set by the channel");
    }
  }
  if (settings.timeout_ms < 1) throw ConfigError("timeout_ms", "must be positive");
  if (settings.connections < 1 || settings.connections > kMaxHttpConnections)
    throw ConfigError("connections", "must be 1.." + std::to_string(kMaxHttpConnections));
  internal::CheckCaFile(settings.ca_file, "ca_file");
  return std::make_unique<WebhookChannel>(settings, url);
}

}  // namespace cartrecovery
