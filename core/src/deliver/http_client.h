// http_client.h: one HTTP(S) request to a provider, classified (deliver module internal).
//
// The HTTP channels (SMS, webhooks, push) send through SendHttpRequest() so that the
// transient/permanent decision for HTTP lives in one place (ClassifyHttpResponse and the
// exception mapping in http_client.cpp):
//   2xx                          -> returned
//   429, 5xx                     -> kTransientDelivery, retry_after_ms() from Retry-After
//   other 4xx, 3xx (never followed), 1xx -> kPermanentDelivery
//   refused / reset / dropped connections, timeouts, TLS handshakes that broke, a body
//     cut short                  -> kTransientDelivery
//   certificate or host name verification failed, TLS setup failed -> kPermanentDelivery
//     (a configuration problem; retrying cannot help)
// The error text is the reply, "<status> <reason>: <first 300 bytes of the body>", or
// "<where>: <what broke>" when there is none; <where> is HttpRequest::describe. Error text
// is always valid UTF-8 with control characters replaced. Poco exceptions
// never escape, and every string in HttpOptions::secrets is replaced by "***" in errors.
//
// TLS: 1.2 or newer only; the system CAs plus HttpOptions::ca_file; chain and host name
// verified unless verify_certificate is false (for tests). Without HttpConnections each call
// opens and closes its own connection; with them (a channel's) the connection is kept for
// the next request (keep-alive) when the server allows it and the response was read whole.
// A kept connection that turns out closed before any response arrived (the server timed it
// out while idle) is replaced by a fresh one and the request sent once more: the provider
// never saw it, and the Idempotency-Key header covers the rare case that it did.
//
// Thread-safety: SendHttpRequest and HttpConnections are thread-safe.
#ifndef CARTRECOVERY_DELIVER_HTTP_CLIENT_H_
#define CARTRECOVERY_DELIVER_HTTP_CLIENT_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "cartrecovery/clock.h"
#include "cartrecovery/status.h"
#include "model/json_writer.h"

namespace cartrecovery {
namespace internal {

constexpr size_t kMaxErrorBodyBytes = 300;               // of a reply, quoted in errors
constexpr size_t kMaxResponseBodyBytes = 1024 * 1024;    // read and kept; the rest is drained

struct HttpRequest {
  std::string method = "POST";
  std::string url;  // http://host[:port]/path[?query] or https://...
  std::vector<std::pair<std::string, std::string>> headers;  // in order; Host is set here
  std::string body;                                          // sent with Content-Length
  std::string describe;  // prefix of error messages, e.g. "sms POST https://api.example/v1/sms"
};

struct HttpOptions {
  int timeout_ms = 10000;          // connect, each send and each receive
  bool verify_certificate = true;  // chain and host name
  std::string ca_file;             // extra trusted CA certificates (PEM); empty: none
  std::vector<std::string> secrets;  // scrubbed from error messages (passwords, tokens)
};

struct HttpResponse {
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // at most kMaxResponseBodyBytes
  std::string Header(const std::string& name) const;  // case-insensitive; "" when absent
};

// A channel's kept connections (HTTP keep-alive): at most `idle` wait between requests;
// a request that finds none opens one. Close() ends the waiting ones.
class HttpConnections {
 public:
  explicit HttpConnections(int idle);
  ~HttpConnections();
  void Close();

  struct Kept;  // one connection: its session and what its certificate handler saw
  std::unique_ptr<Kept> Take(const std::string& origin);  // nullptr: none kept for it
  void Give(std::unique_ptr<Kept> kept);

 private:
  const size_t idle_max_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Kept>> idle_;  // guarded by mu_
};

// Sends `request` and returns the 2xx response; throws Error as in the file comment, and
// InvalidArgument("url", ...) for a URL that is not http(s)://host... (checked before I/O).
// With `connections`, a kept connection to the URL's origin is used and kept again.
HttpResponse SendHttpRequest(const HttpRequest& request, const HttpOptions& options,
                             HttpConnections* connections = nullptr);

// The classification of a complete, non-2xx response, as SendHttpRequest throws it.
// `now_ms` (wall clock) turns a Retry-After HTTP-date into a delay when the response has
// no Date header; with a Date header the delay is relative to it (no clock skew).
Error ClassifyHttpResponse(const HttpResponse& response, Millis now_ms);

// Retry-After (RFC 9110 10.2.3) as milliseconds from `now_ms`: delta-seconds or an
// HTTP-date; 0 when absent, unparseable or in the past.
int64_t ParseRetryAfter(const std::string& value, Millis now_ms);

// Parses an absolute http(s) URL; false when it is not one (no user info allowed).
struct HttpUrl {
  bool https = false;
  std::string host;   // without brackets for IPv6
  int port = 0;       // explicit or the scheme's default
  std::string target; // path and query, at least "/"
  std::string path;   // path only, for Describe(): never the query (it may hold API keys)
};
bool ParseHttpUrl(const std::string& url, HttpUrl* out);

// "https://host:port/path" without query or credentials, for Describe().
std::string DescribeUrl(const HttpUrl& url);

// Helpers the HTTP channels share.


// ASCII case-insensitive equality (header names).
bool EqualsIgnoreCase(const std::string& a, const std::string& b);

// Throws ConfigError(field) for a header with an empty or non-token name, a line break in
// its value, or a name in `reserved` (case-insensitive).
void CheckConfiguredHeaders(const std::vector<std::pair<std::string, std::string>>& headers,
                            const std::string& field, const std::vector<std::string>& reserved);

// Throws ConfigError(field) unless `path` is empty or a readable file.
void CheckCaFile(const std::string& path, const std::string& field);

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_DELIVER_HTTP_CLIENT_H_
