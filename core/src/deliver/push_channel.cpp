// push_channel.cpp: the Web Push channel (RFC 8030 delivery, RFC 8291 payload encryption,
// RFC 8292 VAPID), over Poco::Net HTTP(S)ClientSession.
//
// One POST per message to the subscription's endpoint. The session is kept for the next
// Send when the next endpoint has the same origin (most subscribers of a shop sit on two or
// three push services), and is dropped after any failure.
//
// The request code is a small private function rather than the deliver module's generic
// HTTP client (http_client.h, written in parallel): push needs only one POST and its own
// status classification (404/410 mean "subscription gone"), and the two can be merged once
// that client settles (Post() and Classify() below are the parts to replace).
//
// Every failure leaves Send() as a cartrecovery::Error made by Classify(), the one place
// that decides transient vs permanent. Errors name the push service's origin only: the
// endpoint's path is a per-browser capability and stays out of logs.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <exception>
#include <istream>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "Poco/DateTime.h"
#include "Poco/DateTimeFormat.h"
#include "Poco/DateTimeParser.h"
#include "Poco/Dynamic/Var.h"
#include "Poco/Exception.h"
#include "Poco/JSON/Object.h"
#include "Poco/JSON/Parser.h"
#include "Poco/Net/Context.h"
#include "Poco/Net/HTTPClientSession.h"
#include "Poco/Net/HTTPRequest.h"
#include "Poco/Net/HTTPResponse.h"
#include "Poco/Net/HTTPSClientSession.h"
#include "Poco/Net/NetException.h"
#include "Poco/Net/SSLException.h"
#include "Poco/Timespan.h"
#include "Poco/Timestamp.h"
#include "Poco/URI.h"
#include "cartrecovery/push.h"
#include "cartrecovery/status.h"
#include "deliver/net_util.h"
#include "deliver/webpush_crypto.h"

namespace cartrecovery {
namespace {

constexpr size_t kMaxKeptResponse = 1024;         // of the body, for the error message
constexpr size_t kMaxReadResponse = 1024 * 1024;  // more than this: stop, drop the session
constexpr int64_t kMaxRetryAfterMs = 30 * kDay;   // a provider cannot park us for years
constexpr int64_t kVapidLifetimeSeconds = 12 * 3600;

using internal::RecordingCertificateHandler;
using internal::ScopedSigpipeBlock;

// The push service answered; its status decides.
struct HttpReply {
  int status = 0;
  std::string reason;
  std::string body;         // at most kMaxKeptResponse bytes
  std::string retry_after;  // Retry-After header, as sent
};

class HttpStatusError : public std::runtime_error {
 public:
  explicit HttpStatusError(HttpReply reply)
      : std::runtime_error("HTTP " + std::to_string(reply.status)), reply_(std::move(reply)) {}
  const HttpReply& reply() const { return reply_; }

 private:
  HttpReply reply_;
};

struct Subscription {
  std::string endpoint;
  std::string origin;  // scheme://host[:port], the VAPID audience and the session key
  Poco::URI uri;
  std::string p256dh;
  std::string auth;
};

bool IsLoopback(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host == "localhost";
}

// RFC 8030 5.4: at most 32 characters of the base64url alphabet.
bool IsValidTopic(const std::string& topic) {
  if (topic.empty() || topic.size() > 32) return false;
  return std::all_of(topic.begin(), topic.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_';
  });
}

bool EqualsIgnoreCase(const std::string& a, const std::string& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

// Text from the network made safe for one log line.
std::string Printable(const std::string& text, size_t limit = 200) {
  std::string out;
  for (unsigned char c : text) {
    if (out.size() >= limit) {
      out += "...";
      break;
    }
    out += (c < 0x20 || c == 0x7f) ? ' ' : char(c);
  }
  size_t end = out.find_last_not_of(' ');
  return end == std::string::npos ? std::string() : out.substr(0, end + 1);
}

// Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date; 0 when absent or unreadable.
int64_t RetryAfterMs(const std::string& value) {
  std::string v = Printable(value, 64);
  if (v.empty()) return 0;
  if (std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); })) {
    if (v.size() > 9) return kMaxRetryAfterMs;
    return std::min<int64_t>(std::stoll(v) * 1000, kMaxRetryAfterMs);
  }
  Poco::DateTime when;
  int tz = 0;
  if (!Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::HTTP_FORMAT, v, when, tz)) return 0;
  int64_t delta_ms = (when.timestamp().epochMicroseconds() - Poco::Timestamp().epochMicroseconds()) / 1000 -
                     int64_t(tz) * 1000;
  return std::clamp<int64_t>(delta_ms, 0, kMaxRetryAfterMs);
}

Millis SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class PushChannel final : public Channel {
 public:
  PushChannel(const PushSettings& settings, Poco::Net::Context::Ptr tls_context,
              std::shared_ptr<std::string> cert_failure)
      : settings_(settings),
        tls_context_(std::move(tls_context)),
        cert_failure_(std::move(cert_failure)) {}

  void Send(const OutgoingMessage& message) override;
  void Close() override {
    session_.reset();
    session_origin_.clear();
  }
  std::string Describe() const override {
    return "webpush (VAPID " + settings_.vapid_subject + ", TTL " +
           std::to_string(settings_.ttl_seconds) + " s, urgency " + settings_.urgency + ")";
  }

 private:
  Subscription ParseSubscription(const std::string& to) const;
  std::string BuildPayload(const OutgoingMessage& message) const;
  HttpReply Post(const Subscription& target,
                 const std::vector<std::pair<std::string, std::string>>& headers,
                 const std::string& body);
  bool EnsureSession(const Subscription& target);
  Error Classify(std::exception_ptr failure, const std::string& origin) const;

  const PushSettings settings_;
  Poco::Net::Context::Ptr tls_context_;           // shared by every HTTPS session
  std::shared_ptr<std::string> cert_failure_;     // written by the certificate handler
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;  // kept alive between Sends
  std::string session_origin_;                    // the origin session_ talks to
};

Subscription PushChannel::ParseSubscription(const std::string& to) const {
  const char* const kShape =
      "must be a push subscription {\"endpoint\": \"https://...\", \"keys\": {\"p256dh\", "
      "\"auth\"}}";
  if (to.empty()) throw InvalidArgument("to", "is empty: no push subscription");
  Poco::JSON::Object::Ptr object;
  try {
    Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(to);
    object = parsed.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    throw InvalidArgument("to", kShape);
  }
  if (!object) throw InvalidArgument("to", kShape);
  Poco::JSON::Object::Ptr keys = object->getObject("keys");
  Poco::Dynamic::Var endpoint = object->get("endpoint");
  if (!keys || !endpoint.isString() || !keys->get("p256dh").isString() ||
      !keys->get("auth").isString()) {
    throw InvalidArgument("to", kShape);
  }
  Subscription s;
  s.endpoint = endpoint.extract<std::string>();
  s.p256dh = keys->get("p256dh").extract<std::string>();
  s.auth = keys->get("auth").extract<std::string>();
  for (unsigned char c : s.endpoint) {
    if (c <= 0x20 || c == 0x7f) throw InvalidArgument("to", "endpoint contains spaces or controls");
  }
  try {
    s.origin = internal::UrlOrigin(s.endpoint, "endpoint");
    s.uri = Poco::URI(s.endpoint);
  } catch (const Error&) {
    throw InvalidArgument("to", "endpoint must be an absolute https URL");
  }
  // Browsers hand out https endpoints only; plain http is allowed for loopback test servers.
  if (s.uri.getScheme() != "https" && !IsLoopback(s.uri.getHost())) {
    throw InvalidArgument("to", "endpoint must be an https URL");
  }
  return s;
}

std::string PushChannel::BuildPayload(const OutgoingMessage& message) const {
  std::string data = "{}";
  if (!message.data_json.empty()) {
    try {
      Poco::JSON::Parser().parse(message.data_json);
    } catch (const Poco::Exception&) {
      throw InvalidArgument("data_json", "is not JSON");
    }
    data = message.data_json;
  }
  auto build = [&](const std::string& d) {
    return "{\"title\":" + internal::JsonQuote(message.subject) +
           ",\"body\":" + internal::JsonQuote(message.text) + ",\"data\":" + d +
           ",\"tag\":" + internal::JsonQuote(message.message_id) + "}";
  };
  std::string payload = build(data);
  // The service worker can fetch the cart by its tag when the data does not fit.
  if (payload.size() > kMaxWebPushPlaintext) payload = build("{}");
  if (payload.size() > kMaxWebPushPlaintext) {
    throw Error(ErrorCode::kPermanentDelivery,
                "push payload too large: " + std::to_string(payload.size()) + " bytes (max " +
                    std::to_string(kMaxWebPushPlaintext) + ") even without data");
  }
  return payload;
}

bool PushChannel::EnsureSession(const Subscription& target) {
  if (session_ && session_origin_ == target.origin) return true;
  session_.reset();
  cert_failure_->clear();
  const std::string host = target.uri.getHost();
  const Poco::UInt16 port = target.uri.getPort();
  if (target.uri.getScheme() == "https") {
    session_ = std::make_unique<Poco::Net::HTTPSClientSession>(host, port, tls_context_);
  } else {
    session_ = std::make_unique<Poco::Net::HTTPClientSession>(host, port);
  }
  session_->setTimeout(Poco::Timespan(Poco::Timespan::TimeDiff(settings_.timeout_ms) * 1000));
  session_->setKeepAlive(true);
  session_origin_ = target.origin;
  return false;
}

HttpReply PushChannel::Post(const Subscription& target,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            const std::string& body) {
  for (int attempt = 0;; ++attempt) {
    const bool reused = EnsureSession(target);
    try {
      std::string path = target.uri.getPathAndQuery();
      if (path.empty()) path = "/";
      Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, path,
                                     Poco::Net::HTTPMessage::HTTP_1_1);
      for (const auto& header : headers) request.set(header.first, header.second);
      request.setContentType("application/octet-stream");
      request.setContentLength(std::streamsize(body.size()));
      request.setKeepAlive(true);
      std::ostream& out = session_->sendRequest(request);
      out.write(body.data(), std::streamsize(body.size()));
      out.flush();
      Poco::Net::HTTPResponse response;
      std::istream& in = session_->receiveResponse(response);
      HttpReply reply;
      reply.status = int(response.getStatus());
      reply.reason = response.getReason();
      reply.retry_after = response.get("Retry-After", "");
      // Read the whole body so the connection can carry the next request.
      char buffer[4096];
      size_t total = 0;
      while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        size_t n = size_t(in.gcount());
        if (reply.body.size() < kMaxKeptResponse) {
          reply.body.append(buffer, std::min(n, kMaxKeptResponse - reply.body.size()));
        }
        total += n;
        if (total > kMaxReadResponse) {
          Close();
          break;
        }
      }
      if (session_ && !response.getKeepAlive()) Close();
      return reply;
    } catch (const Poco::Net::NoMessageException&) {
      // A kept-alive connection the service had already closed: nothing was processed.
      Close();
      if (reused && attempt == 0) continue;
      throw;
    } catch (const Poco::Net::ConnectionResetException&) {
      Close();
      if (reused && attempt == 0) continue;
      throw;
    } catch (...) {
      Close();
      throw;
    }
  }
}

void PushChannel::Send(const OutgoingMessage& message) {
  Subscription target = ParseSubscription(message.to);
  std::string topic = settings_.topic;
  for (const auto& header : message.headers) {
    if (EqualsIgnoreCase(header.first, "Topic")) {
      if (!IsValidTopic(header.second)) {
        throw InvalidArgument("headers.Topic", "must be 1..32 base64url characters");
      }
      topic = header.second;
    }
  }
  const std::string payload = BuildPayload(message);
  std::string body;
  try {
    body = EncryptWebPush(payload, target.p256dh, target.auth);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInvalidArgument) {
      throw InvalidArgument("to", "subscription " + std::string(e.what()));
    }
    throw;
  }
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Encoding", "aes128gcm"},
      {"TTL", std::to_string(settings_.ttl_seconds)},
      {"Urgency", settings_.urgency},
      {"Authorization", VapidAuthorization(target.endpoint, settings_.vapid_subject,
                                           settings_.vapid_private_key, SystemNowMs(),
                                           kVapidLifetimeSeconds)}};
  if (!topic.empty()) headers.emplace_back("Topic", topic);

  ScopedSigpipeBlock no_sigpipe;
  try {
    HttpReply reply = Post(target, headers, body);
    if (reply.status >= 200 && reply.status < 300) return;
    throw HttpStatusError(std::move(reply));
  } catch (...) {
    throw Classify(std::current_exception(), target.origin);
  }
}

// The one place a failure becomes an error code. Permanent means retrying cannot help.
Error PushChannel::Classify(std::exception_ptr failure, const std::string& origin) const {
  const ErrorCode kTransient = ErrorCode::kTransientDelivery;
  const ErrorCode kPermanent = ErrorCode::kPermanentDelivery;
  const std::string where = "push " + origin + ": ";
  try {
    std::rethrow_exception(failure);
  } catch (const Error& error) {
    return error;
  } catch (const HttpStatusError& e) {
    const HttpReply& r = e.reply();
    std::string answer = "HTTP " + std::to_string(r.status) + " " + Printable(r.reason, 80);
    std::string body = Printable(r.body);
    if (!body.empty()) answer += ": " + body;
    // RFC 8030 7.3: the subscription no longer exists; the engine drops it.
    if (r.status == 404 || r.status == 410) {
      return Error(kPermanent, "subscription expired: " + origin + " answered " + answer);
    }
    if (r.status == 429 || (r.status >= 500 && r.status < 600)) {
      Error error(kTransient, where + answer);
      error.WithRetryAfter(RetryAfterMs(r.retry_after));
      return error;
    }
    // A VAPID key or token the service refuses is the shop's to fix (R4.3: wait, and keep
    // every subscription).
    if (r.status == 401 || r.status == 403) return Error(ErrorCode::kAccountDelivery, where + answer);
    // Other 4xx: payload too large (413), ...; and redirects or 1xx, which a push service
    // has no business sending for a POST.
    return Error(kPermanent, where + answer);
  } catch (const Poco::Net::CertificateValidationException& e) {
    return Error(kPermanent, where + "certificate not accepted: " + e.displayText());
  } catch (const Poco::Net::SSLContextException& e) {
    return Error(kPermanent, where + "TLS setup failed: " + e.displayText());
  } catch (const Poco::Net::SSLException& e) {
    if (settings_.verify_certificate && !cert_failure_->empty()) {
      return Error(kPermanent, where + "certificate verification failed: " + *cert_failure_);
    }
    return Error(kTransient, where + "TLS failed: " + e.displayText());
  } catch (const Poco::TimeoutException&) {
    return Error(kTransient,
                 where + "timed out after " + std::to_string(settings_.timeout_ms) + " ms");
  } catch (const Poco::Exception& e) {
    // Refused, reset, unreachable, DNS: the network may be better later.
    return Error(kTransient, where + e.displayText());
  } catch (const std::exception& e) {
    return Error(ErrorCode::kInternal, where + e.what());
  } catch (...) {
    return Error(ErrorCode::kInternal, where + "unknown failure");
  }
}

}  // namespace

std::unique_ptr<Channel> MakePushChannel(const PushSettings& settings) {
  try {
    VapidPublicKey(settings.vapid_private_key);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInvalidArgument) {
      throw ConfigError("vapid_private_key", "must be a P-256 private key as PEM or base64url "
                                             "(GenerateVapidKeys makes one)");
    }
    throw;
  }
  try {
    // Checks the subject with a throwaway audience; the key is known good by now.
    VapidAuthorization("https://push.invalid/", settings.vapid_subject,
                       settings.vapid_private_key, 0, 60);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInvalidArgument) {
      throw ConfigError("vapid_subject", "must be a mailto: or https: URI (RFC 8292 2.1)");
    }
    throw;
  }
  if (settings.ttl_seconds < 0) throw ConfigError("ttl_seconds", "must not be negative");
  const std::vector<std::string> urgencies = {"very-low", "low", "normal", "high"};
  if (std::find(urgencies.begin(), urgencies.end(), settings.urgency) == urgencies.end()) {
    throw ConfigError("urgency", "must be very-low, low, normal or high");
  }
  if (!settings.topic.empty() && !IsValidTopic(settings.topic)) {
    throw ConfigError("topic", "must be at most 32 base64url characters");
  }
  if (settings.timeout_ms <= 0) throw ConfigError("timeout_ms", "must be positive");

  auto cert_failure = std::make_shared<std::string>();
  Poco::Net::Context::Ptr context;
  try {
    using Poco::Net::Context;
    Context::Params params;
    params.verificationMode =
        settings.verify_certificate ? Context::VERIFY_RELAXED : Context::VERIFY_NONE;
    params.loadDefaultCAs = settings.verify_certificate;
    params.caLocation = settings.ca_file;
    context = new Context(Context::TLS_CLIENT_USE, params);
    context->requireMinimumProtocol(Context::PROTO_TLSV1_2);
    // Host name check against the certificate; meaningless without chain verification.
    context->enableExtendedCertificateVerification(settings.verify_certificate);
    context->setInvalidCertificateHandler(new RecordingCertificateHandler(cert_failure));
  } catch (const Poco::Exception& e) {
    throw ConfigError(settings.ca_file.empty() ? "verify_certificate" : "ca_file",
                      "TLS setup failed: " + e.displayText());
  }
  return std::make_unique<PushChannel>(settings, context, cert_failure);
}

}  // namespace cartrecovery
