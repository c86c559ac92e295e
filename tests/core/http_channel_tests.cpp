// http_channel_tests: the HTTP client's classification, the SMS channel (generic and
// Twilio preset) and the signed webhook channel, against a local Poco HTTPServer on
// 127.0.0.1 (plain and HTTPS with a certificate made at test time by the openssl CLI).
//
// The fake server runs in its own threads and only records requests and plays scripted
// replies; every assertion happens on the test thread (Boost.Test is not thread-safe).
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/test/unit_test.hpp>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iterator>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "Poco/Base64Decoder.h"
#include "Poco/DateTime.h"
#include "Poco/DateTimeFormat.h"
#include "Poco/DateTimeFormatter.h"
#include "Poco/JSON/Object.h"
#include "Poco/JSON/Parser.h"
#include "Poco/Net/Context.h"
#include "Poco/Net/HTTPRequestHandler.h"
#include "Poco/Net/HTTPRequestHandlerFactory.h"
#include "Poco/Net/HTTPServer.h"
#include "Poco/Net/HTTPServerParams.h"
#include "Poco/Net/HTTPServerRequest.h"
#include "Poco/Net/HTTPServerResponse.h"
#include "Poco/Net/SecureServerSocket.h"
#include "Poco/Net/ServerSocket.h"
#include "Poco/Net/SocketAddress.h"
#include "Poco/Net/StreamSocket.h"
#include "Poco/StreamCopier.h"
#include "Poco/ThreadPool.h"
#include "Poco/Timespan.h"
#include "Poco/URI.h"
#include "cartrecovery/delivery.h"
#include "cartrecovery/status.h"
#include "deliver/http_client.h"
#include "test_util.h"

namespace cartrecovery {
namespace {

using internal::HttpOptions;
using internal::HttpRequest;
using internal::SendHttpRequest;
using Headers = std::vector<std::pair<std::string, std::string>>;

// ---------------------------------------------------------------------------------------
// The fake provider

struct Reply {
  int status = 200;
  std::string reason;  // empty: the standard one
  Headers headers;
  std::string body = "{\"ok\":true}";
  int delay_ms = 0;            // wait before answering (cut short when the server stops)
  bool drop_mid_body = false;  // announce 100 more body bytes than sent, then close
  bool echo_request = false;   // body = the request's headers and body (for secret leaks)
};

struct Recorded {
  std::string method;
  std::string uri;
  Headers headers;
  std::string body;
  std::string Header(const std::string& name) const {
    for (const auto& [key, value] : headers) {
      if (internal::EqualsIgnoreCase(key, name)) return value;
    }
    return "<absent>";
  }
};

class FakeHttpServer {
 public:
  // With cert/key files the server speaks HTTPS.
  explicit FakeHttpServer(const std::string& cert_file = "", const std::string& key_file = "")
      : state_(std::make_shared<State>()), pool_(2, 8) {
    Poco::Net::SocketAddress address("127.0.0.1", 0);
    Poco::Net::ServerSocket socket;
    if (!cert_file.empty()) {
      Poco::Net::Context::Ptr context = new Poco::Net::Context(
          Poco::Net::Context::TLS_SERVER_USE, key_file, cert_file, "",
          Poco::Net::Context::VERIFY_NONE);
      socket = Poco::Net::SecureServerSocket(address, 64, context);
      https_ = true;
    } else {
      socket = Poco::Net::ServerSocket(address, 64);
    }
    port_ = socket.address().port();
    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    params->setTimeout(Poco::Timespan(5, 0));
    params->setKeepAlive(false);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(state_), pool_, socket, params);
    server_->start();
  }
  ~FakeHttpServer() {
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->stopping = true;
    }
    state_->cv.notify_all();
    server_->stopAll(true);
    server_.reset();
    pool_.joinAll();
  }

  int port() const { return port_; }
  std::string Url(const std::string& path) const {
    return std::string(https_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) +
           path;
  }
  void Script(std::vector<Reply> replies) {
    std::lock_guard<std::mutex> lock(state_->mu);
    for (auto& r : replies) state_->script.push_back(std::move(r));
  }
  std::vector<Recorded> requests() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->requests;
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool stopping = false;             // guarded by mu
    std::deque<Reply> script;          // guarded by mu; empty: 200
    std::vector<Recorded> requests;    // guarded by mu
  };

  class Handler : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(std::shared_ptr<State> state) : state_(std::move(state)) {}
    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override {
      Recorded rec;
      rec.method = request.getMethod();
      rec.uri = request.getURI();
      for (const auto& [name, value] : request) rec.headers.emplace_back(name, value);
      Poco::StreamCopier::copyToString(request.stream(), rec.body);
      Reply reply;
      {
        std::unique_lock<std::mutex> lock(state_->mu);
        state_->requests.push_back(rec);
        if (!state_->script.empty()) {
          reply = state_->script.front();
          state_->script.pop_front();
        }
        if (reply.delay_ms > 0) {
          state_->cv.wait_for(lock, std::chrono::milliseconds(reply.delay_ms),
                              [&] { return state_->stopping; });
          if (state_->stopping) return;
        }
      }
      if (reply.echo_request) {
        reply.body = rec.body;
        for (const auto& [name, value] : rec.headers) reply.body += "\n" + name + ": " + value;
      }
      auto status = static_cast<Poco::Net::HTTPResponse::HTTPStatus>(reply.status);
      if (reply.reason.empty()) {
        response.setStatusAndReason(status);  // the standard reason phrase
      } else {
        response.setStatusAndReason(status, reply.reason);
      }
      for (const auto& [name, value] : reply.headers) response.set(name, value);
      response.setKeepAlive(false);
      response.setContentType("application/json");
      if (reply.drop_mid_body) {
        response.setContentLength(static_cast<std::streamsize>(reply.body.size() + 100));
      } else {
        response.setContentLength(static_cast<std::streamsize>(reply.body.size()));
      }
      std::ostream& out = response.send();
      out << reply.body;
      out.flush();
      // With keep-alive off the server closes the connection now, short of the announced
      // length when drop_mid_body is set.
    }

   private:
    std::shared_ptr<State> state_;
  };

  class Factory : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(std::shared_ptr<State> state) : state_(std::move(state)) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
      return new Handler(state_);
    }

   private:
    std::shared_ptr<State> state_;
  };

  std::shared_ptr<State> state_;
  Poco::ThreadPool pool_;  // outlives server_ (declared first)
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  int port_ = 0;
  bool https_ = false;
};

// Accepts one connection, reads the request's first bytes and closes without a reply.
class HangUpServer {
 public:
  HangUpServer() : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
    thread_ = std::thread([this] {
      try {
        Poco::Net::StreamSocket peer = socket_.acceptConnection();
        char buffer[1024];
        peer.setReceiveTimeout(Poco::Timespan(5, 0));
        peer.receiveBytes(buffer, sizeof buffer);
        peer.close();
      } catch (...) {
      }
    });
  }
  ~HangUpServer() { thread_.join(); }
  int port() const { return socket_.address().port(); }

 private:
  Poco::Net::ServerSocket socket_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------
// Certificates, made once per run with the openssl CLI; empty when it is missing.

struct TestCerts {
  TestCerts() {
    auto make = [&](const std::string& name, const std::string& cn, const std::string& san) {
      std::string command =
          "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
          "-subj /CN=" + cn + " -addext subjectAltName=" + san + " -keyout " +
          dir.File(name + ".key") + " -out " + dir.File(name + ".pem") + " >/dev/null 2>&1";
      return std::system(command.c_str()) == 0;
    };
    ok = make("localhost", "localhost", "DNS:localhost,IP:127.0.0.1") &&
         make("other", "other.test", "DNS:other.test,IP:127.0.0.2");
    cert = dir.File("localhost.pem");
    key = dir.File("localhost.key");
    other_cert = dir.File("other.pem");
    other_key = dir.File("other.key");
  }
  testing::TempDir dir;  // removed at exit
  bool ok = false;
  std::string cert, key;              // localhost and 127.0.0.1
  std::string other_cert, other_key;  // other.test and 127.0.0.2: valid chain, wrong host
};

const TestCerts& Certs() {
  static const TestCerts certs;
  return certs;
}

// ---------------------------------------------------------------------------------------
// Helpers

template <typename F>
Error ExpectError(F send) {
  try {
    send();
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    BOOST_FAIL("not a cartrecovery::Error: " << e.what());
  }
  BOOST_FAIL("no error thrown");
  return Error(ErrorCode::kInternal, "unreachable");
}

bool Has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string DecodeBase64(const std::string& text) {
  std::istringstream in(text);
  Poco::Base64Decoder decoder(in);
  return std::string(std::istreambuf_iterator<char>(decoder), {});
}

// Independent of the channel's code: OpenSSL's one-shot HMAC, hex encoded.
std::string ReferenceHmacHex(const std::string& key, const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  std::string hex;
  char byte[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(byte, sizeof byte, "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

// application/x-www-form-urlencoded, parsed as a provider would ('+' is a space).
Headers ParseForm(const std::string& body) {
  Headers out;
  std::istringstream in(body);
  std::string pair;
  auto decode = [](std::string s) {
    for (char& c : s) {
      if (c == '+') c = ' ';
    }
    std::string decoded;
    Poco::URI::decode(s, decoded);
    return decoded;
  };
  while (std::getline(in, pair, '&')) {
    size_t eq = pair.find('=');
    out.emplace_back(decode(pair.substr(0, eq)),
                     eq == std::string::npos ? "" : decode(pair.substr(eq + 1)));
  }
  return out;
}

HttpRequest Get(const std::string& url) {
  HttpRequest r;
  r.method = "POST";
  r.url = url;
  r.body = "{}";
  r.headers = {{"Content-Type", "application/json"}};
  r.describe = "test";
  return r;
}

HttpOptions FastOptions() {
  HttpOptions o;
  o.timeout_ms = 5000;
  return o;
}

OutgoingMessage SmsMessage() {
  OutgoingMessage m;
  m.message_id = "j7-s1-sms";
  m.channel = "sms";
  m.to = "+4915112345678";
  m.text = "Hi Ann, your cart & 2 items wait: https://kite.example/c/x?a=1 ñ";
  m.date_ms = 1700000000000;
  return m;
}

const char kPassword[] = "pa55 w0rd&secret";
const char kToken[] = "tok-abcdef-0123456789";
const char kAuthToken[] = "twilio-auth-token-xyz";
const char kWebhookSecret[] = "whsec-0123456789abcdef";

}  // namespace

BOOST_AUTO_TEST_SUITE(http_channel_tests)

// ---------------------------------------------------------------------------------------
// HTTP client: classification

BOOST_AUTO_TEST_CASE(status_codes_are_classified_once) {
  struct Row {
    int status;
    std::string body;
    Headers headers;
    bool ok;
    ErrorCode code;
    int64_t retry_after_ms;
    std::string text;  // expected in what()
  };
  const ErrorCode T = ErrorCode::kTransientDelivery, P = ErrorCode::kPermanentDelivery,
                  A = ErrorCode::kAccountDelivery;
  const std::vector<Row> rows = {
      {200, "{\"sid\":\"SM1\"}", {}, true, T, 0, ""},
      {201, "created", {}, true, T, 0, ""},
      {204, "", {}, true, T, 0, ""},
      {400, "{\"message\":\"To is invalid\"}", {}, false, P, 0,
       "400 Bad Request: {\"message\":\"To is invalid\"}"},
      {401, "bad credentials", {}, false, A, 0, "401 Unauthorized: bad credentials"},
      {402, "{\"code\":20003,\"message\":\"Insufficient balance\"}", {}, false, A, 0,
       "402 Payment Required: {\"code\":20003"},
      {403, "account suspended", {}, false, A, 0, "403 Forbidden: account suspended"},
      {404, "no such account", {}, false, P, 0, "404 Not Found: no such account"},
      {429, "slow down", {{"Retry-After", "7"}}, false, T, 7000, "429 Too Many Requests: slow down"},
      {500, "oops", {}, false, T, 0, "500 Internal Server Error: oops"},
      {503, "maintenance", {{"Retry-After", "120"}}, false, T, 120000,
       "503 Service Unavailable: maintenance"},
      {301, "", {{"Location", "https://elsewhere.example/"}}, false, P, 0,
       "301 Moved Permanently (redirects are not followed"},
      {302, "", {}, false, P, 0, "302 Found"},
  };
  FakeHttpServer server;
  for (const Row& row : rows) {
    BOOST_TEST_CONTEXT("status " << row.status) {
      Reply reply;
      reply.status = row.status;
      reply.body = row.body;
      reply.headers = row.headers;
      server.Script({reply});
      if (row.ok) {
        internal::HttpResponse r = SendHttpRequest(Get(server.Url("/x")), FastOptions());
        BOOST_TEST(r.status == row.status);
        BOOST_TEST(r.body == row.body);
      } else {
        Error e = ExpectError([&] { SendHttpRequest(Get(server.Url("/x")), FastOptions()); });
        BOOST_TEST((e.code() == row.code), e.what());
        BOOST_TEST(e.retry_after_ms() == row.retry_after_ms);
        BOOST_TEST(Has(e.what(), row.text), e.what());
      }
    }
  }
  BOOST_TEST(server.requests().size() == rows.size());  // one request each, no redirects
}

BOOST_AUTO_TEST_CASE(retry_after_as_http_date) {
  FakeHttpServer server;
  // Relative to the response's own Date header, so the test needs no clock.
  Poco::DateTime date(2024, 3, 1, 12, 0, 0);
  Poco::DateTime later(2024, 3, 1, 12, 2, 30);
  Reply reply;
  reply.status = 429;
  reply.headers = {
      {"Date", Poco::DateTimeFormatter::format(date, Poco::DateTimeFormat::HTTP_FORMAT)},
      {"Retry-After", Poco::DateTimeFormatter::format(later, Poco::DateTimeFormat::HTTP_FORMAT)}};
  server.Script({reply});
  Error e = ExpectError([&] { SendHttpRequest(Get(server.Url("/x")), FastOptions()); });
  BOOST_TEST((e.code() == ErrorCode::kTransientDelivery));
  BOOST_TEST(e.retry_after_ms() == 150000);
}

BOOST_AUTO_TEST_CASE(retry_after_parsing) {
  const Millis now = 1709294400000;  // 2024-03-01T12:00:00Z
  BOOST_TEST(internal::ParseRetryAfter("7", now) == 7000);
  BOOST_TEST(internal::ParseRetryAfter(" 0 ", now) == 0);
  BOOST_TEST(internal::ParseRetryAfter("", now) == 0);
  BOOST_TEST(internal::ParseRetryAfter("soon", now) == 0);
  BOOST_TEST(internal::ParseRetryAfter("-5", now) == 0);
  BOOST_TEST(internal::ParseRetryAfter("Fri, 01 Mar 2024 12:00:42 GMT", now) == 42000);
  BOOST_TEST(internal::ParseRetryAfter("Friday, 01-Mar-24 12:01:00 GMT", now) == 60000);
  BOOST_TEST(internal::ParseRetryAfter("Fri, 01 Mar 2024 11:00:00 GMT", now) == 0);  // past
  // A broken provider cannot park a message for years.
  BOOST_TEST(internal::ParseRetryAfter("999999999999", now) == 24LL * 3600 * 1000);
}

BOOST_AUTO_TEST_CASE(reply_in_error_is_capped_and_printable) {
  FakeHttpServer server;
  Reply reply;
  reply.status = 400;
  reply.body = "line1\r\nline2\xFF" + std::string(1000, 'x') + "END";
  server.Script({reply});
  Error e = ExpectError([&] { SendHttpRequest(Get(server.Url("/x")), FastOptions()); });
  std::string what = e.what();
  BOOST_TEST(Has(what, "400 Bad Request: line1  line2?xxx"), what);
  BOOST_TEST(!Has(what, "END"));
  BOOST_TEST(what.size() <= std::string("400 Bad Request: ").size() + 300);
}

BOOST_AUTO_TEST_CASE(slow_answer_times_out_transiently) {
  FakeHttpServer server;
  Reply reply;
  reply.delay_ms = 5000;  // released early when the server stops
  server.Script({reply});
  HttpOptions options;
  options.timeout_ms = 200;
  Error e = ExpectError([&] { SendHttpRequest(Get(server.Url("/slow")), options); });
  BOOST_TEST((e.code() == ErrorCode::kTransientDelivery), e.what());
  BOOST_TEST(Has(e.what(), "timed out"), e.what());
}

BOOST_AUTO_TEST_CASE(connection_dropped_mid_response_is_transient) {
  FakeHttpServer server;
  Reply reply;
  reply.body = "{\"sid\":";
  reply.drop_mid_body = true;
  server.Script({reply});
  Error e = ExpectError([&] { SendHttpRequest(Get(server.Url("/x")), FastOptions()); });
  BOOST_TEST((e.code() == ErrorCode::kTransientDelivery), e.what());
  BOOST_TEST(Has(e.what(), "connection closed after 7 of 107"), e.what());
}

BOOST_AUTO_TEST_CASE(connection_dropped_before_response_is_transient) {
  HangUpServer server;
  Error e = ExpectError([&] {
    SendHttpRequest(Get("http://127.0.0.1:" + std::to_string(server.port()) + "/x"),
                    FastOptions());
  });
  BOOST_TEST((e.code() == ErrorCode::kTransientDelivery), e.what());
}

BOOST_AUTO_TEST_CASE(connection_refused_is_transient) {
  int port;
  {
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    port = socket.address().port();
  }  // closed: nothing listens there now
  Error e = ExpectError([&] {
    SendHttpRequest(Get("http://127.0.0.1:" + std::to_string(port) + "/x"), FastOptions());
  });
  BOOST_TEST((e.code() == ErrorCode::kTransientDelivery), e.what());
  BOOST_TEST(Has(e.what(), "test: "), e.what());
}

BOOST_AUTO_TEST_CASE(bad_requests_are_refused_before_io) {
  HttpRequest r = Get("ftp://example.com/x");
  BOOST_TEST(ExpectError([&] { SendHttpRequest(r, FastOptions()); }).field() == "url");
  r = Get("https://user:pw@example.com/x");
  BOOST_TEST(ExpectError([&] { SendHttpRequest(r, FastOptions()); }).field() == "url");
  r = Get("http://127.0.0.1:1/x");
  r.headers = {{"X-A", "b\r\nInjected: yes"}};
  BOOST_TEST(ExpectError([&] { SendHttpRequest(r, FastOptions()); }).field() == "headers");
}

// ---------------------------------------------------------------------------------------
// SMS channel

BOOST_AUTO_TEST_CASE(sms_generic_form_request) {
  FakeHttpServer server;
  SmsSettings s;
  s.url = server.Url("/v1/sms?account=shop1");
  s.auth = SmsSettings::Auth::kBearer;
  s.token = kToken;
  s.from = "KiteShop";
  s.headers = {{"X-Request-Ref", "ref-{message_id}"}};
  s.body = {{"recipient", "{to}"}, {"sender", "{from}"}, {"message", "{text}"},
            {"ref", "{message_id}"}, {"literal", "{not a placeholder} {}"}};
  auto channel = MakeSmsChannel(s);
  channel->Send(SmsMessage());
  auto requests = server.requests();
  BOOST_TEST_REQUIRE(requests.size() == 1u);
  const Recorded& r = requests[0];
  BOOST_TEST(r.method == "POST");
  BOOST_TEST(r.uri == "/v1/sms?account=shop1");
  BOOST_TEST(r.Header("Authorization") == std::string("Bearer ") + kToken);
  BOOST_TEST(r.Header("Idempotency-Key") == "j7-s1-sms");
  BOOST_TEST(r.Header("X-Request-Ref") == "ref-j7-s1-sms");
  BOOST_TEST(r.Header("Content-Type") == "application/x-www-form-urlencoded; charset=utf-8");
  BOOST_TEST(r.Header("Connection") == "Keep-Alive");  // the channel keeps its connections
  BOOST_TEST(r.body ==
             "recipient=%2B4915112345678&sender=KiteShop"
             "&message=Hi+Ann%2C+your+cart+%26+2+items+wait%3A+https%3A%2F%2Fkite.example%2Fc%2F"
             "x%3Fa%3D1+%C3%B1&ref=j7-s1-sms&literal=%7Bnot+a+placeholder%7D+%7B%7D");
  // The same body, read back the way a provider's form parser does.
  Headers params = ParseForm(r.body);
  BOOST_TEST_REQUIRE(params.size() == 5u);
  BOOST_TEST(params[2].second == SmsMessage().text);
  BOOST_TEST(channel->Describe() == "sms POST http://127.0.0.1:" + std::to_string(server.port()) +
                                        "/v1/sms");
}

BOOST_AUTO_TEST_CASE(sms_generic_json_request_with_basic_auth) {
  FakeHttpServer server;
  SmsSettings s;
  s.url = server.Url("/api/send");
  s.method = "PUT";
  s.auth = SmsSettings::Auth::kBasic;
  s.username = "shop";
  s.password = kPassword;
  s.from = "+15550001111";
  s.body_format = SmsSettings::BodyFormat::kJson;
  s.body = {{"to", "{to}"}, {"from", "{from}"}, {"text", "{text}"}};
  s.headers = {{"Idempotency-Key", "custom-{message_id}"}};  // replaces the default one
  auto channel = MakeSmsChannel(s);
  OutgoingMessage m = SmsMessage();
  m.text = "Line \"one\"\nLine two \\ 😀";
  channel->Send(m);
  auto requests = server.requests();
  BOOST_TEST_REQUIRE(requests.size() == 1u);
  const Recorded& r = requests[0];
  BOOST_TEST(r.method == "PUT");
  BOOST_TEST(r.uri == "/api/send");
  BOOST_TEST(r.Header("Content-Type") == "application/json; charset=utf-8");
  BOOST_TEST(r.Header("Idempotency-Key") == "custom-j7-s1-sms");
  std::string auth = r.Header("Authorization");
  BOOST_TEST_REQUIRE(auth.rfind("Basic ", 0) == 0u);
  BOOST_TEST(DecodeBase64(auth.substr(6)) == std::string("shop:") + kPassword);
  BOOST_TEST(r.body == "{\"to\":\"+4915112345678\",\"from\":\"+15550001111\","
                       "\"text\":\"Line \\\"one\\\"\\nLine two \\\\ 😀\"}");
  auto parsed = Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>();
  BOOST_TEST(parsed->getValue<std::string>("text") == m.text);
}

BOOST_AUTO_TEST_CASE(sms_get_sends_fields_as_query) {
  FakeHttpServer server;
  SmsSettings s;
  s.url = server.Url("/send?key=abc");
  s.method = "GET";
  s.from = "Kite";
  auto channel = MakeSmsChannel(s);
  channel->Send(SmsMessage());
  auto requests = server.requests();
  BOOST_TEST_REQUIRE(requests.size() == 1u);
  BOOST_TEST(requests[0].method == "GET");
  BOOST_TEST(requests[0].uri.rfind("/send?key=abc&to=%2B4915112345678&from=Kite&text=Hi+Ann", 0) ==
             0u, requests[0].uri);
  BOOST_TEST(requests[0].body.empty());
  BOOST_TEST(!Has(channel->Describe(), "key=abc"));  // a query may hold an API key
}

BOOST_AUTO_TEST_CASE(sms_twilio_preset_request) {
  FakeHttpServer server;
  Reply created;
  created.status = 201;
  created.body = "{\"sid\":\"SM123\",\"status\":\"queued\"}";
  server.Script({created});
  SmsSettings s = TwilioSms("AC0123456789abcdef", kAuthToken, "+15017122661",
                            "http://127.0.0.1:" + std::to_string(server.port()) + "/");
  auto channel = MakeSmsChannel(s);
  channel->Send(SmsMessage());
  auto requests = server.requests();
  BOOST_TEST_REQUIRE(requests.size() == 1u);
  const Recorded& r = requests[0];
  BOOST_TEST(r.method == "POST");
  BOOST_TEST(r.uri == "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json");
  std::string auth = r.Header("Authorization");
  BOOST_TEST_REQUIRE(auth.rfind("Basic ", 0) == 0u);
  BOOST_TEST(DecodeBase64(auth.substr(6)) == std::string("AC0123456789abcdef:") + kAuthToken);
  BOOST_TEST(r.Header("I-Twilio-Idempotency-Token") == "j7-s1-sms");
  BOOST_TEST(r.Header("Idempotency-Key") == "j7-s1-sms");
  BOOST_TEST(r.Header("Content-Type") == "application/x-www-form-urlencoded; charset=utf-8");
  Headers params = ParseForm(r.body);
  BOOST_TEST_REQUIRE(params.size() == 3u);
  BOOST_TEST(params[0].first == "To");
  BOOST_TEST(params[0].second == "+4915112345678");
  BOOST_TEST(params[1].first == "From");
  BOOST_TEST(params[1].second == "+15017122661");
  BOOST_TEST(params[2].first == "Body");
  BOOST_TEST(params[2].second == SmsMessage().text);
  // The real default points at Twilio over HTTPS.
  BOOST_TEST(TwilioSms("AC1", "t", "+1").url ==
             "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json");
}

BOOST_AUTO_TEST_CASE(sms_provider_refusals_are_classified) {
  FakeHttpServer server;
  Reply bad;
  bad.status = 400;
  bad.body = "{\"code\":21211,\"message\":\"The 'To' number is not a valid phone number.\"}";
  Reply busy;
  busy.status = 429;
  busy.headers = {{"Retry-After", "7"}};
  busy.body = "Too many requests";
  Reply down;
  down.status = 503;
  down.body = "";
  server.Script({bad, busy, down});
  SmsSettings s = TwilioSms("AC1", kAuthToken, "+15017122661",
                            "http://127.0.0.1:" + std::to_string(server.port()));
  auto channel = MakeSmsChannel(s);
  Error e1 = ExpectError([&] { channel->Send(SmsMessage()); });
  BOOST_TEST((e1.code() == ErrorCode::kPermanentDelivery));
  BOOST_TEST(Has(e1.what(), "400 Bad Request: {\"code\":21211"), e1.what());
  Error e2 = ExpectError([&] { channel->Send(SmsMessage()); });
  BOOST_TEST((e2.code() == ErrorCode::kTransientDelivery));
  BOOST_TEST(e2.retry_after_ms() == 7000);
  Error e3 = ExpectError([&] { channel->Send(SmsMessage()); });
  BOOST_TEST((e3.code() == ErrorCode::kTransientDelivery));
  BOOST_TEST(std::string(e3.what()) == "503 Service Unavailable");
}

BOOST_AUTO_TEST_CASE(sms_refuses_bad_numbers_and_texts_before_io) {
  FakeHttpServer server;
  SmsSettings s;
  s.url = server.Url("/sms");
  s.max_segments = 2;
  auto channel = MakeSmsChannel(s);
  for (const std::string to : {"", "4915112345678", "+0123456", "+49 151 1234", "+1234567890123456",
                               "+49151abc", "ann@example.org"}) {
    BOOST_TEST_CONTEXT("to = " << to) {
      OutgoingMessage m = SmsMessage();
      m.to = to;
      Error e = ExpectError([&] { channel->Send(m); });
      BOOST_TEST((e.code() == ErrorCode::kInvalidArgument));
      BOOST_TEST(e.field() == "to");
    }
  }
  OutgoingMessage m = SmsMessage();
  for (const std::string text : {std::string(), std::string(307, 'a'), std::string("\xC3")}) {
    m.text = text;
    Error e = ExpectError([&] { channel->Send(m); });
    BOOST_TEST((e.code() == ErrorCode::kInvalidArgument));
    BOOST_TEST(e.field() == "text");
  }
  m.text = std::string(306, 'a');  // exactly 2 parts: allowed
  channel->Send(m);
  BOOST_TEST(server.requests().size() == 1u);
}

BOOST_AUTO_TEST_CASE(sms_configuration_errors) {
  auto field_of = [](const SmsSettings& s) {
    return ExpectError([&] { MakeSmsChannel(s); }).field();
  };
  SmsSettings ok;
  ok.url = "https://sms.example/send";
  MakeSmsChannel(ok);  // valid
  SmsSettings s = ok;
  s.url = "sms.example/send";
  BOOST_TEST(field_of(s) == "url");
  s = ok;
  s.url = "https://user:pw@sms.example/send";
  BOOST_TEST(field_of(s) == "url");
  s = ok;
  s.method = "DELETE";
  BOOST_TEST(field_of(s) == "method");
  s = ok;
  s.auth = SmsSettings::Auth::kBasic;
  BOOST_TEST(field_of(s) == "username");
  s = ok;
  s.auth = SmsSettings::Auth::kBearer;
  BOOST_TEST(field_of(s) == "token");
  s = ok;
  s.body = {{"text", "{txet}"}};
  BOOST_TEST(field_of(s) == "body.text");
  s = ok;
  s.headers = {{"X-Id", "{messageid}"}};
  BOOST_TEST(field_of(s) == "headers.X-Id");
  s = ok;
  s.headers = {{"authorization", "Basic abc"}};
  BOOST_TEST(field_of(s) == "headers");
  s = ok;
  s.headers = {{"X Bad", "v"}};
  BOOST_TEST(field_of(s) == "headers");
  s = ok;
  s.body.clear();
  BOOST_TEST(field_of(s) == "body");
  s = ok;
  s.timeout_ms = 0;
  BOOST_TEST(field_of(s) == "timeout_ms");
  s = ok;
  s.ca_file = "/nonexistent/ca.pem";
  BOOST_TEST(field_of(s) == "ca_file");
  Error e = ExpectError([&] { MakeSmsChannel(s); });
  BOOST_TEST((e.code() == ErrorCode::kConfig));
}

BOOST_AUTO_TEST_CASE(no_secret_in_errors_or_describe) {
  FakeHttpServer server;
  // A broken provider that echoes the request (Authorization header included) in its error.
  Reply echo401;
  echo401.status = 401;
  echo401.echo_request = true;
  Reply echo500 = echo401;
  echo500.status = 500;
  server.Script({echo401, echo500, echo401, echo401});

  SmsSettings basic;
  basic.url = server.Url("/sms");
  basic.auth = SmsSettings::Auth::kBasic;
  basic.username = "shop";
  basic.password = kPassword;
  basic.body = {{"to", "{to}"}, {"text", "{text}"}, {"pw", kPassword}};  // even this
  SmsSettings bearer = basic;
  bearer.auth = SmsSettings::Auth::kBearer;
  bearer.token = kToken;
  bearer.body = {{"to", "{to}"}, {"text", "{text}"}};
  SmsSettings twilio = TwilioSms("AC1", kAuthToken, "+15017122661",
                                 "http://127.0.0.1:" + std::to_string(server.port()));
  WebhookSettings hook;
  hook.url = server.Url("/hook");
  hook.secret = kWebhookSecret;

  std::vector<std::unique_ptr<Channel>> channels;
  channels.push_back(MakeSmsChannel(basic));
  channels.push_back(MakeSmsChannel(bearer));
  channels.push_back(MakeSmsChannel(twilio));
  channels.push_back(MakeWebhookChannel(hook));
  const std::vector<std::string> secrets = {
      kPassword, "pa55+w0rd%26secret", kToken, kAuthToken, kWebhookSecret,
      "c2hvcDpwYTU1IHcwcmQmc2VjcmV0"};
  for (auto& channel : channels) {
    std::string describe = channel->Describe();
    std::string what = ExpectError([&] { channel->Send(SmsMessage()); }).what();
    BOOST_TEST_MESSAGE(describe << " -> " << what);
    BOOST_TEST(Has(what, "Authorization") == (&channel != &channels.back()));  // echo arrived
    for (const auto& secret : secrets) {
      BOOST_TEST(!Has(what, secret), what);
      BOOST_TEST(!Has(describe, secret), describe);
    }
  }
  // Transport failures too (nothing listens on a closed port).
  int port;
  {
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    port = socket.address().port();
  }
  basic.url = "http://127.0.0.1:" + std::to_string(port) + "/sms";
  std::string what = ExpectError([&] { MakeSmsChannel(basic)->Send(SmsMessage()); }).what();
  for (const auto& secret : secrets) BOOST_TEST(!Has(what, secret), what);
}

// ---------------------------------------------------------------------------------------
// Webhook channel

BOOST_AUTO_TEST_CASE(webhook_request_is_signed) {
  FakeHttpServer server;
  WebhookSettings s;
  s.url = server.Url("/zapier/hooks/catch/123");
  s.secret = kWebhookSecret;
  s.headers = {{"X-Shop", "kite"}};
  auto channel = MakeWebhookChannel(s);
  OutgoingMessage m;
  m.message_id = "j7-s2-webhook";
  m.channel = "webhook";
  m.date_ms = 1700000123456;
  m.data_json = "{\"event\":\"abandoned_cart\",\"cart\":{\"id\":\"c1\",\"total\":\"49.90\"},"
                "\"name\":\"Zoë\"}";
  channel->Send(m);
  auto requests = server.requests();
  BOOST_TEST_REQUIRE(requests.size() == 1u);
  const Recorded& r = requests[0];
  BOOST_TEST(r.method == "POST");
  BOOST_TEST(r.uri == "/zapier/hooks/catch/123");
  BOOST_TEST(r.body == m.data_json);
  BOOST_TEST(r.Header("Content-Type") == "application/json; charset=utf-8");
  BOOST_TEST(r.Header("Idempotency-Key") == "j7-s2-webhook");
  BOOST_TEST(r.Header("X-CartRecovery-Event") == "abandoned_cart");
  BOOST_TEST(r.Header("X-Shop") == "kite");

  // What a receiver does, with OpenSSL directly: t=<seconds>,v1=HMAC(secret, "t.body").
  std::string signature = r.Header("X-CartRecovery-Signature");
  const std::string prefix = "t=1700000123,v1=";
  BOOST_TEST_REQUIRE(signature.rfind(prefix, 0) == 0u, signature);
  std::string v1 = signature.substr(prefix.size());
  BOOST_TEST(v1 == ReferenceHmacHex(kWebhookSecret, "1700000123." + r.body));
  BOOST_TEST(v1 != ReferenceHmacHex(kWebhookSecret, "1700000123." + r.body + " "));
  BOOST_TEST(v1 != ReferenceHmacHex("another-secret-0123", "1700000123." + r.body));

  // The library's verifier agrees, refuses an altered body or secret, and stale stamps.
  BOOST_TEST(VerifyWebhookSignature(kWebhookSecret, signature, r.body, 1700000123));
  BOOST_TEST(VerifyWebhookSignature(kWebhookSecret, signature, r.body, 1700000123 + 300));
  BOOST_TEST(!VerifyWebhookSignature(kWebhookSecret, signature, r.body, 1700000123 + 301));
  BOOST_TEST(!VerifyWebhookSignature(kWebhookSecret, signature, r.body, 1700000123 - 301));
  std::string altered = r.body;
  altered.replace(altered.find("49.90"), 5, "00.01");
  BOOST_TEST(!VerifyWebhookSignature(kWebhookSecret, signature, altered, 1700000123));
  BOOST_TEST(!VerifyWebhookSignature("another-secret-0123", signature, r.body, 1700000123));
  // Rotation: any v1 may match; malformed headers are simply false.
  BOOST_TEST(VerifyWebhookSignature(kWebhookSecret, "t=1700000123,v1=00ff," + signature.substr(13),
                                    r.body, 1700000123));
  const std::vector<std::string> malformed = {
      "", "t=,v1=", "v1=" + v1, "t=1700000123", "t=abc,v1=" + v1,
      "t=1700000123,t=1700000123,v1=" + v1};
  for (const std::string& bad : malformed) {
    BOOST_TEST(!VerifyWebhookSignature(kWebhookSecret, bad, r.body, 1700000123), bad);
  }
  BOOST_TEST(channel->Describe() ==
             "webhook http://127.0.0.1:" + std::to_string(server.port()) + "/zapier/hooks/catch/123");
}

BOOST_AUTO_TEST_CASE(webhook_default_body_and_event_header) {
  FakeHttpServer server;
  WebhookSettings s;
  s.url = server.Url("/hook");
  s.secret = kWebhookSecret;
  auto channel = MakeWebhookChannel(s);
  OutgoingMessage m;
  m.message_id = "j1-s1-webhook";
  m.channel = "webhook";
  m.subject = "Cart \"left\"";
  m.text = "Ann left 2 items\nworth 49.90";
  m.date_ms = 1700000000999;
  m.headers = {{"X-CartRecovery-Event", "sales_alert"}, {"X-Campaign", "cart"}};
  channel->Send(m);
  auto requests = server.requests();
  BOOST_TEST_REQUIRE(requests.size() == 1u);
  const Recorded& r = requests[0];
  auto body = Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>();
  BOOST_TEST(body->getValue<std::string>("message_id") == "j1-s1-webhook");
  BOOST_TEST(body->getValue<std::string>("channel") == "webhook");
  BOOST_TEST(body->getValue<std::string>("subject") == m.subject);
  BOOST_TEST(body->getValue<std::string>("text") == m.text);
  BOOST_TEST(r.Header("X-CartRecovery-Event") == "sales_alert");
  BOOST_TEST(r.Header("X-Campaign") == "cart");
  BOOST_TEST(r.Header("X-CartRecovery-Signature") ==
             WebhookSignature(kWebhookSecret, 1700000000, r.body));
}

BOOST_AUTO_TEST_CASE(webhook_failures_and_configuration) {
  FakeHttpServer server;
  Reply gone;
  gone.status = 410;
  gone.body = "hook deleted";
  Reply busy;
  busy.status = 502;
  server.Script({gone, busy});
  WebhookSettings s;
  s.url = server.Url("/hook");
  s.secret = kWebhookSecret;
  auto channel = MakeWebhookChannel(s);
  OutgoingMessage m;
  m.message_id = "m1";
  m.date_ms = 1700000000000;
  Error e1 = ExpectError([&] { channel->Send(m); });
  BOOST_TEST((e1.code() == ErrorCode::kPermanentDelivery));
  BOOST_TEST(std::string(e1.what()) == "410 Gone: hook deleted");
  Error e2 = ExpectError([&] { channel->Send(m); });
  BOOST_TEST((e2.code() == ErrorCode::kTransientDelivery));

  WebhookSettings bad = s;
  bad.secret = "short-secret";  // 12 bytes
  Error e = ExpectError([&] { MakeWebhookChannel(bad); });
  BOOST_TEST((e.code() == ErrorCode::kConfig));
  BOOST_TEST(e.field() == "secret");
  BOOST_TEST(!Has(e.what(), "short-secret"));
  bad = s;
  bad.headers = {{"X-CartRecovery-Signature", "forged"}};
  BOOST_TEST(ExpectError([&] { MakeWebhookChannel(bad); }).field() == "headers");
  bad = s;
  bad.url = "hooks.example/x";
  BOOST_TEST(ExpectError([&] { MakeWebhookChannel(bad); }).field() == "url");
}

// ---------------------------------------------------------------------------------------
// HTTPS

BOOST_AUTO_TEST_CASE(https_self_signed_is_permanent_without_ca_and_works_with_it) {
  const TestCerts& certs = Certs();
  if (!certs.ok) {
    BOOST_TEST_MESSAGE("openssl CLI unavailable: HTTPS tests skipped");
    return;
  }
  FakeHttpServer server(certs.cert, certs.key);
  WebhookSettings s;
  s.url = server.Url("/hook");
  s.secret = kWebhookSecret;
  OutgoingMessage m;
  m.message_id = "m1";
  m.date_ms = 1700000000000;
  m.data_json = "{\"a\":1}";

  // Verification on by default: a self-signed certificate is a configuration problem.
  Error e = ExpectError([&] { MakeWebhookChannel(s)->Send(m); });
  BOOST_TEST_MESSAGE(e.what());
  BOOST_TEST((e.code() == ErrorCode::kAccountDelivery), e.what());  // the shop's to fix
  BOOST_TEST(Has(e.what(), "certificate"), e.what());
  BOOST_TEST(server.requests().empty());

  // Trusting it through ca_file: chain and host name (IP:127.0.0.1) verify.
  s.ca_file = certs.cert;
  MakeWebhookChannel(s)->Send(m);
  BOOST_TEST_REQUIRE(server.requests().size() == 1u);
  BOOST_TEST(server.requests()[0].body == "{\"a\":1}");

  // Verification off (tests only).
  s.ca_file.clear();
  s.verify_certificate = false;
  MakeWebhookChannel(s)->Send(m);
  BOOST_TEST(server.requests().size() == 2u);

  // And for SMS, with a 5xx over TLS still classified from the reply.
  Reply down;
  down.status = 503;
  down.body = "down";
  server.Script({down});
  SmsSettings sms;
  sms.url = server.Url("/sms");
  sms.ca_file = certs.cert;
  Error e503 = ExpectError([&] { MakeSmsChannel(sms)->Send(SmsMessage()); });
  BOOST_TEST((e503.code() == ErrorCode::kTransientDelivery), e503.what());
  BOOST_TEST(std::string(e503.what()) == "503 Service Unavailable: down");
}

BOOST_AUTO_TEST_CASE(https_wrong_host_name_is_permanent) {
  const TestCerts& certs = Certs();
  if (!certs.ok) {
    BOOST_TEST_MESSAGE("openssl CLI unavailable: HTTPS tests skipped");
    return;
  }
  // A trusted chain, but issued to 127.0.0.2 while we connect to 127.0.0.1.
  FakeHttpServer server(certs.other_cert, certs.other_key);
  HttpOptions options = FastOptions();
  options.ca_file = certs.other_cert;
  Error e = ExpectError([&] { SendHttpRequest(Get(server.Url("/x")), options); });
  BOOST_TEST_MESSAGE(e.what());
  BOOST_TEST((e.code() == ErrorCode::kAccountDelivery), e.what());  // the shop's to fix
  BOOST_TEST(Has(e.what(), "certificate"), e.what());
  BOOST_TEST(server.requests().empty());
  options.verify_certificate = false;
  BOOST_TEST(SendHttpRequest(Get(server.Url("/x")), options).status == 200);
}

BOOST_AUTO_TEST_CASE(https_dropped_and_slow_are_transient) {
  const TestCerts& certs = Certs();
  if (!certs.ok) {
    BOOST_TEST_MESSAGE("openssl CLI unavailable: HTTPS tests skipped");
    return;
  }
  FakeHttpServer server(certs.cert, certs.key);
  Reply drop;
  drop.body = "partial";
  drop.drop_mid_body = true;
  Reply slow;
  slow.delay_ms = 5000;
  server.Script({drop, slow});
  HttpOptions options = FastOptions();
  options.ca_file = certs.cert;
  Error e1 = ExpectError([&] { SendHttpRequest(Get(server.Url("/x")), options); });
  BOOST_TEST((e1.code() == ErrorCode::kTransientDelivery), e1.what());
  options.timeout_ms = 200;
  Error e2 = ExpectError([&] { SendHttpRequest(Get(server.Url("/x")), options); });
  BOOST_TEST((e2.code() == ErrorCode::kTransientDelivery), e2.what());
  BOOST_TEST(Has(e2.what(), "timed out"), e2.what());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cartrecovery
