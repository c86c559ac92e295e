// sms_channel.cpp: SMS through a provider's HTTP API (delivery.h, MakeSmsChannel).
//
// The provider request is data (URL, auth, headers, body template), so one channel covers
// Twilio (TwilioSms) and the many providers with a similar "POST a form" API. Sending and
// the transient/permanent decision are http_client's; this file builds the request.
#include <cctype>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cartrecovery/delivery.h"
#include "cartrecovery/sms.h"
#include "cartrecovery/status.h"
#include "deliver/http_client.h"
#include "deliver/mime_internal.h"

namespace cartrecovery {
namespace {

const std::vector<std::string> kPlaceholders = {"to", "from", "text", "message_id"};

// Headers the channel owns; configuring them would break the request or its auth.
const std::vector<std::string> kReservedHeaders = {"Content-Type", "Content-Length", "Host",
                                                   "Authorization", "Connection",
                                                   "Transfer-Encoding"};

struct Values {
  const std::string& to;
  const std::string& from;
  const std::string& text;
  const std::string& message_id;
};

// Calls on_name(name, begin, end) for every {lower_case_name} in `tmpl`.
template <typename F>
void ForEachPlaceholder(const std::string& tmpl, F on_name) {
  size_t at = 0;
  while ((at = tmpl.find('{', at)) != std::string::npos) {
    size_t end = at + 1;
    while (end < tmpl.size() && (std::islower(static_cast<unsigned char>(tmpl[end])) ||
                                 tmpl[end] == '_')) {
      ++end;
    }
    if (end < tmpl.size() && tmpl[end] == '}' && end > at + 1) {
      on_name(tmpl.substr(at + 1, end - at - 1), at, end + 1);
      at = end + 1;
    } else {
      ++at;
    }
  }
}

void CheckTemplate(const std::string& tmpl, const std::string& field) {
  ForEachPlaceholder(tmpl, [&](const std::string& name, size_t, size_t) {
    for (const auto& known : kPlaceholders) {
      if (name == known) return;
    }
    throw ConfigError(field, "unknown placeholder {" + name +
                                 "}; use {to}, {from}, {text} or {message_id}");
  });
}

std::string Expand(const std::string& tmpl, const Values& v) {
  std::string out;
  size_t copied = 0;
  ForEachPlaceholder(tmpl, [&](const std::string& name, size_t begin, size_t end) {
    out.append(tmpl, copied, begin - copied);
    if (name == "to") out += v.to;
    else if (name == "from") out += v.from;
    else if (name == "text") out += v.text;
    else if (name == "message_id") out += v.message_id;
    copied = end;
  });
  out.append(tmpl, copied, std::string::npos);
  return out;
}

// application/x-www-form-urlencoded (WHATWG URL "urlencoded serializer": space as '+').
std::string FormEncode(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '*' || c == '-' || c == '.' || c == '_') {
      out += ch;
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

// E.164: '+', then up to 15 digits, the first not 0.
bool IsE164(const std::string& number) {
  if (number.size() < 3 || number.size() > 16 || number[0] != '+') return false;
  if (number[1] < '1' || number[1] > '9') return false;
  for (size_t i = 2; i < number.size(); ++i) {
    if (number[i] < '0' || number[i] > '9') return false;
  }
  return true;
}

class SmsChannel final : public Channel {
 public:
  SmsChannel(const SmsSettings& settings, internal::HttpUrl url)
      : settings_(settings),
        url_(std::move(url)),
        connections_(std::make_unique<internal::HttpConnections>(settings.connections)) {
    options_.timeout_ms = settings.timeout_ms;
    options_.verify_certificate = settings.verify_certificate;
    options_.ca_file = settings.ca_file;
    // As sent and as a provider might echo them back (form-encoded, JSON-escaped).
    auto add_secret = [&](const std::string& secret) {
      if (secret.empty()) return;
      options_.secrets.push_back(secret);
      options_.secrets.push_back(FormEncode(secret));
      std::string json = internal::JsonQuote(secret);
      options_.secrets.push_back(json.substr(1, json.size() - 2));
    };
    if (settings.auth == SmsSettings::Auth::kBasic) {
      basic_ = internal::Base64(settings.username + ":" + settings.password);
      add_secret(basic_);
      add_secret(settings.password);
    } else if (settings.auth == SmsSettings::Auth::kBearer) {
      add_secret(settings.token);
    }
  }

  void Send(const OutgoingMessage& message) override;
  void Close() override { connections_->Close(); }
  int Concurrency() const override { return settings_.connections; }
  std::string Describe() const override {
    return "sms " + settings_.method + " " + internal::DescribeUrl(url_);
  }

 private:
  const SmsSettings settings_;
  const internal::HttpUrl url_;
  internal::HttpOptions options_;
  // Kept connections (keep-alive), one per Send under way; thread-safe.
  std::unique_ptr<internal::HttpConnections> connections_;
  std::string basic_;  // base64(username:password), computed once
};

void SmsChannel::Send(const OutgoingMessage& message) {
  if (!IsE164(message.to)) {
    throw InvalidArgument("to", "is not an E.164 phone number like +4915112345678");
  }
  SmsInfo info = DescribeSms(message.text);  // InvalidArgument("text") for bad UTF-8
  if (info.segments == 0) throw InvalidArgument("text", "is empty");
  if (info.segments > settings_.max_segments) {
    throw InvalidArgument("text", "needs " + std::to_string(info.segments) + " SMS parts (" +
                                      SmsEncodingName(info.encoding) + "), more than " +
                                      std::to_string(settings_.max_segments));
  }
  const Values values{message.to, settings_.from, message.text, message.message_id};

  internal::HttpRequest request;
  request.method = settings_.method;
  request.url = settings_.url;
  request.describe = Describe();
  bool has_idempotency_key = false;
  for (const auto& [name, value] : settings_.headers) {
    has_idempotency_key = has_idempotency_key || internal::EqualsIgnoreCase(name, "Idempotency-Key");
  }
  if (!has_idempotency_key) request.headers.emplace_back("Idempotency-Key", message.message_id);
  if (settings_.auth == SmsSettings::Auth::kBasic) {
    request.headers.emplace_back("Authorization", "Basic " + basic_);
  } else if (settings_.auth == SmsSettings::Auth::kBearer) {
    request.headers.emplace_back("Authorization", "Bearer " + settings_.token);
  }
  for (const auto& [name, value] : settings_.headers) {
    std::string expanded = Expand(value, values);
    // A text with a line break must not turn into a second header.
    for (char& c : expanded) {
      if (c == '\r' || c == '\n') c = ' ';
    }
    request.headers.emplace_back(name, expanded);
  }

  std::string body;
  if (settings_.body_format == SmsSettings::BodyFormat::kJson) {
    body = "{";
    for (const auto& [field, tmpl] : settings_.body) {
      if (body.size() > 1) body += ",";
      body += internal::JsonQuote(field) + ":" + internal::JsonQuote(Expand(tmpl, values));
    }
    body += "}";
    request.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
  } else {
    for (const auto& [field, tmpl] : settings_.body) {
      if (!body.empty()) body += "&";
      body += FormEncode(field) + "=" + FormEncode(Expand(tmpl, values));
    }
    if (settings_.method != "GET") {
      request.headers.emplace_back("Content-Type",
                                   "application/x-www-form-urlencoded; charset=utf-8");
    }
  }
  if (settings_.method == "GET") {
    if (!body.empty()) {
      request.url += (url_.target.find('?') == std::string::npos ? "?" : "&") + body;
    }
  } else {
    request.body = std::move(body);
  }
  request.headers.emplace_back("Accept", "application/json");
  internal::SendHttpRequest(request, options_, connections_.get());
}

}  // namespace

SmsSettings TwilioSms(const std::string& account_sid, const std::string& auth_token,
                      const std::string& from, const std::string& base_url) {
  SmsSettings s;
  std::string base = base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  s.url = base + "/2010-04-01/Accounts/" + account_sid + "/Messages.json";
  s.method = "POST";
  s.auth = SmsSettings::Auth::kBasic;
  s.username = account_sid;
  s.password = auth_token;
  s.headers = {{"I-Twilio-Idempotency-Token", "{message_id}"}};
  s.body_format = SmsSettings::BodyFormat::kForm;
  s.body = {{"To", "{to}"}, {"From", "{from}"}, {"Body", "{text}"}};
  s.from = from;
  return s;
}

std::unique_ptr<Channel> MakeSmsChannel(const SmsSettings& settings) {
  internal::HttpUrl url;
  if (!internal::ParseHttpUrl(settings.url, &url)) {
    throw ConfigError("url", "must be an absolute https:// (or http://) URL without credentials");
  }
  const std::string& m = settings.method;
  if (m != "POST" && m != "PUT" && m != "PATCH" && m != "GET") {
    throw ConfigError("method", "must be POST, PUT, PATCH or GET");
  }
  if (m == "GET" && settings.body_format != SmsSettings::BodyFormat::kForm) {
    throw ConfigError("body_format", "GET sends the fields as a query: use form");
  }
  switch (settings.auth) {
    case SmsSettings::Auth::kNone:
      break;
    case SmsSettings::Auth::kBasic:
      if (settings.username.empty()) throw ConfigError("username", "is required for basic auth");
      if (settings.username.find(':') != std::string::npos) {
        throw ConfigError("username", "must not contain ':' (HTTP basic auth)");
      }
      break;
    case SmsSettings::Auth::kBearer:
      if (settings.token.empty()) throw ConfigError("token", "is required for bearer auth");
      if (settings.token.find_first_of("\r\n") != std::string::npos) {
        throw ConfigError("token", "must not contain a line break");
      }
      break;
  }
  internal::CheckConfiguredHeaders(settings.headers, "headers", kReservedHeaders);
  for (const auto& [name, value] : settings.headers) CheckTemplate(value, "headers." + name);
  if (settings.body.empty()) throw ConfigError("body", "needs at least one field");
  for (const auto& [field, tmpl] : settings.body) {
    if (field.empty()) throw ConfigError("body", "a field name is empty");
    CheckTemplate(tmpl, "body." + field);
  }
  if (settings.timeout_ms < 1) throw ConfigError("timeout_ms", "must be positive");
  if (settings.connections < 1 || settings.connections > kMaxHttpConnections)
    throw ConfigError("connections", "must be 1.." + std::to_string(kMaxHttpConnections));
  if (settings.max_segments < 1) throw ConfigError("max_segments", "must be positive");
  internal::CheckCaFile(settings.ca_file, "ca_file");
  return std::make_unique<SmsChannel>(settings, url);
}

}  // namespace cartrecovery
