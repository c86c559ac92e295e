// http_client.cpp: SendHttpRequest over Poco::Net::HTTP(S)ClientSession (http_client.h).
//
// Poco is contained here: every Poco exception is mapped in Classify(), replies in
// ClassifyHttpResponse(); nothing else in the deliver module decides retry vs fail for HTTP.
#include "deliver/http_client.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <exception>
#include <fstream>
#include <istream>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "Poco/DateTime.h"
#include "Poco/DateTimeFormat.h"
#include "Poco/DateTimeParser.h"
#include "Poco/Exception.h"
#include "Poco/Net/Context.h"
#include "Poco/Net/HTTPClientSession.h"
#include "Poco/Net/HTTPRequest.h"
#include "Poco/Net/HTTPResponse.h"
#include "Poco/Net/HTTPSClientSession.h"
#include "Poco/Net/NetException.h"
#include "Poco/Net/SSLException.h"
#include "Poco/Timespan.h"
#include "Poco/URI.h"
#include "deliver/net_util.h"

namespace cartrecovery {
namespace internal {
namespace {

constexpr int64_t kMaxRetryAfterMs = 24LL * 3600 * 1000;  // a broken provider cannot park us

// A failure this client detected itself.
class HttpFailure : public std::runtime_error {
 public:
  HttpFailure(bool permanent, const std::string& what)
      : std::runtime_error(what), permanent_(permanent) {}
  bool permanent() const { return permanent_; }

 private:
  bool permanent_;
};

Poco::Net::Context::Ptr MakeTlsContext(const HttpOptions& options,
                                       std::shared_ptr<std::string> cert_failure) {
  using Poco::Net::Context;
  Context::Params params;
  // STRICT rather than RELAXED: for a client they differ only in that Poco skips the host
  // name check for loopback addresses under RELAXED.
  params.verificationMode =
      options.verify_certificate ? Context::VERIFY_STRICT : Context::VERIFY_NONE;
  params.loadDefaultCAs = options.verify_certificate;
  params.caLocation = options.verify_certificate ? options.ca_file : std::string();
  params.cipherList = "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES";
  Context::Ptr context = new Context(Context::TLS_CLIENT_USE, params);
  context->requireMinimumProtocol(Context::PROTO_TLSV1_2);
  // Host name against the certificate; meaningless without chain verification.
  context->enableExtendedCertificateVerification(options.verify_certificate);
  context->setInvalidCertificateHandler(new RecordingCertificateHandler(std::move(cert_failure)));
  return context;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool HasLineBreak(const std::string& s) { return s.find_first_of("\r\n") != std::string::npos; }

// Error text goes to logs and to Python (which needs valid UTF-8): at most `max` bytes,
// control characters as spaces, invalid UTF-8 bytes as '?', never a cut character.
std::string Printable(const std::string& text, size_t max) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                                                       : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool valid = len > 0 && i + len <= text.size() && !(len == 2 && c < 0xC2);
    for (size_t k = 1; valid && k < len; ++k) {
      valid = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    }
    if (!valid) len = 1;
    if (out.size() + len > max) break;
    if (!valid) {
      out += '?';
    } else if (len == 1 && (c < 0x20 || c == 0x7F)) {
      out += ' ';
    } else {
      out.append(text, i, len);
    }
    i += len;
  }
  return out;
}

std::string Scrub(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
      text.replace(at, secret.size(), "***");
    }
  }
  return text;
}

Millis UnixMillis(const Poco::DateTime& dt) {
  return static_cast<Millis>(dt.timestamp().epochMicroseconds() / 1000);
}

// The three forms of RFC 9110 5.6.7, told apart by shape because Poco's parser is lenient
// enough to read one as another with a wrong result.
bool ParseHttpDate(const std::string& value, Millis* out) {
  const std::string* fmt = &Poco::DateTimeFormat::HTTP_FORMAT;  // Sun, 06 Nov 1994 08:49:37 GMT
  if (value.find(',') == std::string::npos) {
    fmt = &Poco::DateTimeFormat::ASCTIME_FORMAT;  // Sun Nov  6 08:49:37 1994
  } else if (value.find('-') != std::string::npos) {
    fmt = &Poco::DateTimeFormat::RFC850_FORMAT;   // Sunday, 06-Nov-94 08:49:37 GMT
  }
  Poco::DateTime dt;
  int tzd = 0;
  if (!Poco::DateTimeParser::tryParse(*fmt, value, dt, tzd)) return false;
  *out = UnixMillis(dt) - static_cast<Millis>(tzd) * 1000;
  return true;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

Millis WallClockMillis() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<Millis>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// The one place an exception of a request becomes an error code.
Error Classify(std::exception_ptr failure, const std::string& where, const HttpOptions& options,
               const std::string& cert_failure) {
  const ErrorCode kTransient = ErrorCode::kTransientDelivery;
  const ErrorCode kPermanent = ErrorCode::kPermanentDelivery;
  auto make = [&](ErrorCode code, const std::string& what) {
    return Error(code, Scrub(Printable(where + ": " + what, 2000), options.secrets));
  };
  try {
    std::rethrow_exception(failure);
  } catch (const Error& error) {
    return error;
  } catch (const HttpFailure& own) {
    return make(own.permanent() ? kPermanent : kTransient, own.what());
  } catch (const Poco::Net::CertificateValidationException& e) {
    // The provider's certificate or our TLS settings: the shop's to fix, not the shopper's.
    return make(ErrorCode::kAccountDelivery, "certificate not accepted: " + e.displayText());
  } catch (const Poco::Net::SSLContextException& e) {
    return make(ErrorCode::kAccountDelivery, "TLS setup failed: " + e.displayText());
  } catch (const Poco::Net::SSLException& e) {
    if (options.verify_certificate && !cert_failure.empty()) {
      return make(ErrorCode::kAccountDelivery, "certificate verification failed: " + cert_failure);
    }
    return make(kTransient, "TLS failed: " + e.displayText());
  } catch (const Poco::TimeoutException&) {
    return make(kTransient, "timed out after " + std::to_string(options.timeout_ms) + " ms");
  } catch (const Poco::Net::NoMessageException&) {
    return make(kTransient, "connection closed before a response arrived");
  } catch (const Poco::Net::MessageException& e) {
    // A garbled status line or headers: a broken proxy or server, maybe better later.
    return make(kTransient, "malformed response: " + e.displayText());
  } catch (const Poco::Exception& e) {
    // Refused, reset, unreachable, DNS: the network may be better later.
    return make(kTransient, e.displayText());
  } catch (const std::exception& e) {
    return make(ErrorCode::kInternal, e.what());
  } catch (...) {
    return make(ErrorCode::kInternal, "unknown failure");
  }
}

// A connection and the certificate failure its TLS handler records.
struct Connection {
  std::string origin;  // "https://host:port"
  std::shared_ptr<std::string> cert_failure = std::make_shared<std::string>();
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
};

std::string Origin(const HttpUrl& url) {
  return (url.https ? "https://" : "http://") + url.host + ":" + std::to_string(url.port);
}

std::unique_ptr<Connection> Open(const HttpUrl& url, const HttpOptions& options) {
  auto c = std::make_unique<Connection>();
  c->origin = Origin(url);
  if (url.https) {
    c->session = std::make_unique<Poco::Net::HTTPSClientSession>(
        url.host, static_cast<Poco::UInt16>(url.port), MakeTlsContext(options, c->cert_failure));
  } else {
    c->session = std::make_unique<Poco::Net::HTTPClientSession>(url.host,
                                                                static_cast<Poco::UInt16>(url.port));
  }
  Poco::Timespan timeout(static_cast<Poco::Timespan::TimeDiff>(options.timeout_ms) * 1000);
  c->session->setTimeout(timeout, timeout, timeout);
  return c;
}

// One request and its response on `session`. `keep`: ask for keep-alive; `reusable` tells
// whether the connection may carry another request (the server agreed and the response was
// read to its end); `answered` whether a status line arrived.
HttpResponse Exchange(const HttpRequest& request, const HttpUrl& url,
                      Poco::Net::HTTPClientSession& session, bool keep, bool* reusable,
                      bool* answered) {
  *reusable = false;
  *answered = false;
  session.setKeepAlive(keep);
  Poco::Net::HTTPRequest http(request.method, url.target, Poco::Net::HTTPMessage::HTTP_1_1);
  http.setKeepAlive(keep);
  for (const auto& [name, value] : request.headers) http.add(name, value);
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
      request.method == "PATCH") {
    http.setContentLength(static_cast<std::streamsize>(request.body.size()));
  }
  std::ostream& out = session.sendRequest(http);
  out.write(request.body.data(), static_cast<std::streamsize>(request.body.size()));
  out.flush();
  if (!out) throw HttpFailure(false, "connection lost while sending the request");

  Poco::Net::HTTPResponse http_response;
  std::istream& in = session.receiveResponse(http_response);
  *answered = true;
  // Without this the stream would turn a timeout or reset into a quiet end of body.
  in.exceptions(std::ios::badbit);
  HttpResponse response;
  response.status = static_cast<int>(http_response.getStatus());
  response.reason = http_response.getReason();
  for (const auto& [name, value] : http_response) response.headers.emplace_back(name, value);
  // Read to the end so a kept connection is ready for the next request; a body beyond the
  // cap is dropped with the connection.
  char buffer[8192];
  size_t total = 0;
  bool capped = false;
  while (in) {
    in.read(buffer, sizeof buffer);
    std::streamsize n = in.gcount();
    if (n <= 0) break;
    total += static_cast<size_t>(n);
    size_t room = kMaxResponseBodyBytes - response.body.size();
    response.body.append(buffer, std::min(room, static_cast<size_t>(n)));
    if (response.body.size() >= kMaxResponseBodyBytes) {
      capped = true;
      break;
    }
  }
  if (!capped && http_response.hasContentLength() &&
      static_cast<int64_t>(total) < static_cast<int64_t>(http_response.getContentLength64())) {
    // Half a response cannot be trusted (a proxy may have cut it); the provider dedupes the
    // retry by the Idempotency-Key header.
    throw HttpFailure(false, "connection closed after " + std::to_string(total) + " of " +
                                 std::to_string(http_response.getContentLength64()) +
                                 " response body bytes (status " +
                                 std::to_string(response.status) + ")");
  }
  *reusable = keep && !capped && http_response.getKeepAlive() &&
              (http_response.hasContentLength() || http_response.getChunkedTransferEncoding());
  return response;
}

}  // namespace

std::string HttpResponse::Header(const std::string& name) const {
  std::string wanted = Lower(name);
  for (const auto& [key, value] : headers) {
    if (Lower(key) == wanted) return value;
  }
  return {};
}

bool ParseHttpUrl(const std::string& url, HttpUrl* out) {
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7F) return false;
  }
  try {
    Poco::URI uri(url);
    std::string scheme = Lower(uri.getScheme());
    if (scheme != "http" && scheme != "https") return false;
    if (uri.getHost().empty() || !uri.getUserInfo().empty()) return false;
    HttpUrl parsed;
    parsed.https = scheme == "https";
    parsed.host = uri.getHost();
    parsed.port = uri.getPort();
    parsed.target = uri.getPathAndQuery();
    if (parsed.target.empty() || parsed.target[0] != '/') parsed.target = "/" + parsed.target;
    size_t query = parsed.target.find('?');
    parsed.path = parsed.target.substr(0, query);
    if (parsed.port <= 0 || parsed.port > 65535) return false;
    *out = parsed;
    return true;
  } catch (const Poco::Exception&) {
    return false;
  }
}

std::string DescribeUrl(const HttpUrl& url) {
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  std::string out = (url.https ? "https://" : "http://") + host;
  if (url.port != (url.https ? 443 : 80)) out += ":" + std::to_string(url.port);
  return out + url.path;
}

int64_t ParseRetryAfter(const std::string& raw, Millis now_ms) {
  std::string value = Trim(raw);
  if (value.empty()) return 0;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return kMaxRetryAfterMs;
    return std::min<int64_t>(std::stoll(value) * 1000, kMaxRetryAfterMs);
  }
  Millis at = 0;
  if (!ParseHttpDate(value, &at)) return 0;
  return std::clamp<int64_t>(at - now_ms, 0, kMaxRetryAfterMs);
}

// The reply stands on its own (no "<where>:" prefix), as SMTP replies do.
Error ClassifyHttpResponse(const HttpResponse& response, Millis now_ms) {
  std::string text = std::to_string(response.status);
  if (!response.reason.empty()) text += " " + Printable(response.reason, 100);
  std::string body = Printable(response.body, kMaxErrorBodyBytes);
  if (!body.empty()) text += ": " + body;
  const int status = response.status;
  if (status == 429 || (status >= 500 && status <= 599)) {
    Millis reference = now_ms;
    Millis server_now = 0;
    if (ParseHttpDate(Trim(response.Header("Date")), &server_now)) reference = server_now;
    Error error(ErrorCode::kTransientDelivery, text);
    error.WithRetryAfter(ParseRetryAfter(response.Header("Retry-After"), reference));
    return error;
  }
  // R4.3: out of credit (402), bad credentials (401), not allowed (403) are the shop's to
  // fix; the recipient is fine, so nothing may be suppressed for it.
  if (status == 401 || status == 402 || status == 403) return Error(ErrorCode::kAccountDelivery, text);
  if (status >= 300 && status <= 399) {
    std::string location = Printable(response.Header("Location"), 200);
    text += " (redirects are not followed; configure the final URL";
    text += location.empty() ? ")" : ": " + location + ")";
  }
  return Error(ErrorCode::kPermanentDelivery, text);
}

struct HttpConnections::Kept {
  std::unique_ptr<Connection> connection;
};

HttpConnections::HttpConnections(int idle) : idle_max_(static_cast<size_t>(std::max(1, idle))) {}
HttpConnections::~HttpConnections() = default;

void HttpConnections::Close() {
  std::vector<std::unique_ptr<Kept>> idle;
  {
    std::lock_guard<std::mutex> lock(mu_);
    idle.swap(idle_);
  }
  ScopedSigpipeBlock no_sigpipe;
  for (auto& kept : idle) {
    try {
      kept->connection->session->reset();
    } catch (...) {
    }
  }
}

std::unique_ptr<HttpConnections::Kept> HttpConnections::Take(const std::string& origin) {
  std::lock_guard<std::mutex> lock(mu_);
  while (!idle_.empty()) {
    std::unique_ptr<Kept> kept = std::move(idle_.back());
    idle_.pop_back();
    if (kept->connection->origin == origin) return kept;
  }
  return nullptr;
}

void HttpConnections::Give(std::unique_ptr<Kept> kept) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < idle_max_) idle_.push_back(std::move(kept));
}

HttpResponse SendHttpRequest(const HttpRequest& request, const HttpOptions& options,
                             HttpConnections* connections) {
  HttpUrl url;
  if (!ParseHttpUrl(request.url, &url)) {
    throw InvalidArgument("url", "must be an absolute http:// or https:// URL without credentials");
  }
  if (request.method.empty() || HasLineBreak(request.method) ||
      request.method.find(' ') != std::string::npos) {
    throw InvalidArgument("method", "must be an HTTP method");
  }
  for (const auto& [name, value] : request.headers) {
    if (name.empty() || HasLineBreak(name) || HasLineBreak(value) ||
        name.find_first_of(": ") != std::string::npos) {
      throw InvalidArgument("headers", "a header name or value is malformed");
    }
  }
  const std::string where = request.describe.empty() ? DescribeUrl(url) : request.describe;
  HttpResponse response;
  {
    ScopedSigpipeBlock no_sigpipe;
    const std::string origin = Origin(url);
    std::unique_ptr<HttpConnections::Kept> kept = connections ? connections->Take(origin) : nullptr;
    for (;;) {
      const bool reused = kept != nullptr;
      std::unique_ptr<Connection> connection = reused ? std::move(kept->connection) : Open(url, options);
      bool reusable = false, answered = false;
      try {
        response = Exchange(request, url, *connection->session, connections != nullptr,
                            &reusable, &answered);
      } catch (...) {
        // A kept connection the server closed while it was idle: nothing reached the
        // provider, so the request goes once more on a fresh connection.
        if (reused && !answered) {
          kept.reset();
          continue;
        }
        throw Classify(std::current_exception(), where, options, *connection->cert_failure);
      }
      if (reusable) {
        auto back = std::make_unique<HttpConnections::Kept>();
        back->connection = std::move(connection);
        connections->Give(std::move(back));
      }
      break;
    }
  }
  if (response.status >= 200 && response.status <= 299) return response;
  // Scrubbed before the body is cut to size, so no part of a secret survives at the cut.
  response.body = Scrub(std::move(response.body), options.secrets);
  response.reason = Scrub(std::move(response.reason), options.secrets);
  for (auto& header : response.headers) header.second = Scrub(std::move(header.second), options.secrets);
  Error error = ClassifyHttpResponse(response, WallClockMillis());
  Error scrubbed(error.code(), Scrub(error.what(), options.secrets));
  scrubbed.WithRetryAfter(error.retry_after_ms());
  throw scrubbed;
}


bool EqualsIgnoreCase(const std::string& a, const std::string& b) {
  return a.size() == b.size() && Lower(a) == Lower(b);
}

void CheckConfiguredHeaders(const std::vector<std::pair<std::string, std::string>>& headers,
                            const std::string& field, const std::vector<std::string>& reserved) {
  static const std::string kTokenChars = "!#$%&'*+-.^_`|~";
  for (const auto& [name, value] : headers) {
    bool token = !name.empty();
    for (unsigned char c : name) {
      token = token && (std::isalnum(c) || kTokenChars.find(static_cast<char>(c)) != std::string::npos);
    }
    if (!token) throw ConfigError(field, "'" + Printable(name, 80) + "' is not a header name");
    if (HasLineBreak(value)) throw ConfigError(field, name + ": value has a line break");
    for (const auto& own : reserved) {
      if (EqualsIgnoreCase(name, own)) throw ConfigError(field, name + " is set by the channel");
    }
  }
}

void CheckCaFile(const std::string& path, const std::string& field) {
  if (path.empty()) return;
  std::ifstream file(path);
  if (!file) throw ConfigError(field, "cannot read " + Printable(path, 200));
}

}  // namespace internal
}  // namespace cartrecovery
