// smtp_tests: MIME building, the SMTP channel against a scripted fake server on
// 127.0.0.1 (plain, AUTH, STARTTLS, implicit TLS, 4xx/5xx replies, dropped connections),
// and the outbox channel.
//
// The fake server runs in its own thread and only records what it received; every
// assertion happens on the test thread (Boost.Test is not thread-safe).
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <functional>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "Poco/Base64Decoder.h"
#include "Poco/Exception.h"
#include "Poco/Net/Context.h"
#include "Poco/Net/QuotedPrintableDecoder.h"
#include "Poco/Net/SecureStreamSocket.h"
#include "Poco/Net/ServerSocket.h"
#include "Poco/Net/SocketAddress.h"
#include "Poco/Net/StreamSocket.h"
#include "cartrecovery/delivery.h"
#include "cartrecovery/status.h"

namespace cartrecovery {
namespace {

namespace fs = std::filesystem;

const char kSender[] = "Kite Shop <shop@kite.example>";

OutgoingMessage SampleMessage() {
  OutgoingMessage m;
  m.message_id = "j1-s2-email";
  m.channel = "email";
  m.to = "ann@example.org";
  m.to_name = "Ann Example";
  m.subject = "Your cart is waiting";
  m.text = "Hi Ann";
  m.date_ms = 1700000000000;
  return m;
}

std::string DecodeBase64(const std::string& text) {
  std::istringstream in(text);
  Poco::Base64Decoder decoder(in);
  return std::string(std::istreambuf_iterator<char>(decoder), {});
}

std::string DecodeQuotedPrintable(const std::string& text) {
  std::istringstream in(text);
  Poco::Net::QuotedPrintableDecoder decoder(in);
  return std::string(std::istreambuf_iterator<char>(decoder), {});
}

std::vector<std::string> SplitCrlf(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t at = text.find("\r\n"); at != std::string::npos; at = text.find("\r\n", start)) {
    lines.push_back(text.substr(start, at - start));
    start = at + 2;
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

// The value of header `name` with folding undone; empty when absent.
std::string HeaderValue(const std::string& mime, const std::string& name) {
  std::string head = "\r\n" + mime.substr(0, mime.find("\r\n\r\n") + 2);
  size_t at = head.find("\r\n" + name + ": ");
  if (at == std::string::npos) return "";
  size_t start = at + 2 + name.size() + 2;
  std::string value;
  for (;;) {
    size_t end = head.find("\r\n", start);
    value += head.substr(start, end - start);
    if (end + 2 >= head.size() || (head[end + 2] != ' ' && head[end + 2] != '\t')) break;
    start = end + 2;  // keep the folding white space: unfolding removes only CRLF
  }
  return value;
}

// Decodes a header made of RFC 2047 B words separated by white space.
std::string DecodeWords(const std::string& value) {
  std::string out;
  std::istringstream words(value);
  std::string word;
  while (words >> word) {
    BOOST_REQUIRE(word.rfind("=?UTF-8?B?", 0) == 0);
    BOOST_REQUIRE(word.size() >= 12 && word.compare(word.size() - 2, 2, "?=") == 0);
    out += DecodeBase64(word.substr(10, word.size() - 12));
  }
  return out;
}

std::string Body(const std::string& mime) { return mime.substr(mime.find("\r\n\r\n") + 4); }

// ---------------------------------------------------------------------------------------
// A scripted SMTP server: a well-behaved relay unless `replies` says otherwise.

struct ServerScript {
  bool offer_starttls = false;
  std::string auth_mechanisms;  // EHLO "AUTH ..." line; empty: AUTH not offered
  std::string user = "mailer";
  std::string password = "s3cret-pw";
  // Verb ("MAIL", "RCPT", "DATA", "AUTH", "EHLO"; "END" for the end of data) -> the reply to
  // give instead of the normal one, once.
  std::map<std::string, std::string> replies;
  bool close_after_message = false;  // hang up after each accepted message
  bool greet = true;                 // false: accept, then say nothing
  bool implicit_tls = false;
  std::string cert_file, key_file;  // needed for STARTTLS and implicit TLS
};

class FakeSmtpServer {
 public:
  explicit FakeSmtpServer(ServerScript script)
      : script_(std::move(script)), server_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
    if (!script_.cert_file.empty()) {
      tls_ = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, script_.key_file,
                                    script_.cert_file, "", Poco::Net::Context::VERIFY_NONE);
    }
    thread_ = std::thread([this] { Run(); });
  }
  ~FakeSmtpServer() {
    stop_ = true;
    thread_.join();
  }

  int port() const { return server_.address().port(); }
  std::vector<std::string> transcript() {
    std::lock_guard<std::mutex> lock(mu_);
    return transcript_;
  }
  std::vector<std::string> messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }
  int connections() {
    std::lock_guard<std::mutex> lock(mu_);
    return connections_;
  }

 private:
  void Run() {
    while (!stop_) {
      try {
        if (!server_.poll(Poco::Timespan(0, 50000), Poco::Net::Socket::SELECT_READ)) continue;
        Poco::Net::StreamSocket socket = server_.acceptConnection();
        socket.setReceiveTimeout(Poco::Timespan(0, 100000));
        Serve(socket);
        socket.close();
      } catch (const std::exception&) {
        // The client went away or the handshake failed: the test asserts what it expects.
      }
    }
  }

  void Record(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    transcript_.push_back(line);
  }

  // One line, or false at end of stream / when the test is over.
  bool ReadLine(Poco::Net::StreamSocket& socket, std::string* line) {
    for (;;) {
      size_t nl = inbuf_.find("\r\n");
      if (nl != std::string::npos) {
        *line = inbuf_.substr(0, nl);
        inbuf_.erase(0, nl + 2);
        return true;
      }
      if (stop_) return false;
      char buffer[4096];
      int n = 0;
      try {
        n = socket.receiveBytes(buffer, sizeof buffer);
      } catch (const Poco::TimeoutException&) {
        continue;
      }
      if (n <= 0) return false;
      inbuf_.append(buffer, n);
    }
  }

  void Say(Poco::Net::StreamSocket& socket, const std::string& reply) {
    std::string text = reply + "\r\n";
    socket.sendBytes(text.data(), static_cast<int>(text.size()));
  }

  // The scripted reply for `verb`, or `normal`.
  std::string ReplyFor(const std::string& verb, const std::string& normal) {
    auto it = script_.replies.find(verb);
    if (it == script_.replies.end()) return normal;
    std::string reply = it->second;
    script_.replies.erase(it);
    return reply;
  }

  void Serve(Poco::Net::StreamSocket socket) {
    inbuf_.clear();
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++connections_;
      transcript_.push_back("<connect>");
    }
    bool tls = false;
    if (script_.implicit_tls) {
      socket = Poco::Net::SecureStreamSocket::attach(socket, tls_);
      tls = true;
    }
    std::string line;
    if (!script_.greet) {
      while (ReadLine(socket, &line)) Record(line);
      return;
    }
    Say(socket, "220 fake.test ESMTP ready");
    while (ReadLine(socket, &line)) {
      Record(line);
      std::string verb = line.substr(0, line.find(' '));
      for (char& c : verb) c = char(std::toupper(uint8_t(c)));
      if (verb == "EHLO") {
        std::string reply = "250-fake.test greets you\r\n";
        if (script_.offer_starttls && !tls) reply += "250-STARTTLS\r\n";
        if (!script_.auth_mechanisms.empty()) reply += "250-AUTH " + script_.auth_mechanisms + "\r\n";
        reply += "250 8BITMIME";
        Say(socket, ReplyFor(verb, reply));
      } else if (verb == "STARTTLS") {
        Say(socket, "220 2.0.0 go ahead");
        socket = Poco::Net::SecureStreamSocket::attach(socket, tls_);
        tls = true;
      } else if (verb == "AUTH") {
        std::string expected = std::string(1, '\0') + script_.user + '\0' + script_.password;
        bool ok = false;
        if (line.rfind("AUTH PLAIN ", 0) == 0) {
          ok = DecodeBase64(line.substr(11)) == expected;
        } else if (line == "AUTH LOGIN") {
          std::string user, password;
          Say(socket, "334 VXNlcm5hbWU6");
          if (!ReadLine(socket, &user)) return;
          Record(user);
          Say(socket, "334 UGFzc3dvcmQ6");
          if (!ReadLine(socket, &password)) return;
          Record(password);
          ok = DecodeBase64(user) == script_.user && DecodeBase64(password) == script_.password;
        }
        Say(socket, ReplyFor(verb, ok ? "235 2.7.0 Authentication successful"
                                      : "535 5.7.8 Authentication credentials invalid"));
      } else if (verb == "MAIL" || verb == "RCPT" || verb == "RSET" || verb == "NOOP") {
        Say(socket, ReplyFor(verb, "250 2.1.0 OK"));
      } else if (verb == "DATA") {
        std::string reply = ReplyFor(verb, "354 End data with <CR><LF>.<CR><LF>");
        Say(socket, reply);
        if (reply[0] != '3') continue;
        std::string data;
        while (ReadLine(socket, &line) && line != ".") {
          data += (line.rfind("..", 0) == 0 ? line.substr(1) : line) + "\r\n";
        }
        {
          std::lock_guard<std::mutex> lock(mu_);
          messages_.push_back(data);
        }
        Say(socket, ReplyFor("END", "250 2.0.0 Ok: queued"));
        if (script_.close_after_message) return;
      } else if (verb == "QUIT") {
        Say(socket, "221 2.0.0 Bye");
        return;
      } else {
        Say(socket, "502 5.5.2 Command not recognized");
      }
    }
  }

  ServerScript script_;
  Poco::Net::ServerSocket server_;
  Poco::Net::Context::Ptr tls_;
  std::atomic<bool> stop_{false};
  std::string inbuf_;  // server thread only
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> transcript_;  // guarded by mu_
  std::vector<std::string> messages_;    // guarded by mu_
  int connections_ = 0;                  // guarded by mu_
};

SmtpSettings PlainSettings(int port) {
  SmtpSettings s;
  s.host = "127.0.0.1";
  s.port = port;
  s.starttls = false;
  s.sender = kSender;
  s.helo_name = "client.test";
  s.timeout_ms = 5000;
  return s;
}

// A fresh directory under /tmp, removed when the runner exits.
std::string TempDir() {
  struct Cleanup {
    std::vector<std::string> dirs;
    ~Cleanup() {
      std::error_code ignored;
      for (const auto& dir : dirs) fs::remove_all(dir, ignored);
    }
  };
  static Cleanup cleanup;
  char pattern[] = "/tmp/smtp_tests.XXXXXX";
  const char* dir = ::mkdtemp(pattern);
  BOOST_REQUIRE(dir != nullptr);
  cleanup.dirs.push_back(dir);
  return dir;
}

// A self-signed certificate for CN=localhost, made once; empty paths when openssl is missing.
struct TestCertificate {
  std::string cert_file, key_file;
  bool ok() const { return !cert_file.empty(); }
};

const TestCertificate& Certificate() {
  static const TestCertificate cert = [] {
    TestCertificate c;
    std::string dir = TempDir();
    std::string command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                          "-nodes -days 2 -subj /CN=localhost -keyout " + dir + "/key.pem -out " +
                          dir + "/cert.pem >/dev/null 2>&1";
    if (std::system(command.c_str()) == 0) {
      c.cert_file = dir + "/cert.pem";
      c.key_file = dir + "/key.pem";
    }
    return c;
  }();
  return cert;
}

// Runs `send` and returns the Error it must throw.
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

bool Contains(const std::vector<std::string>& lines, const std::string& prefix) {
  for (const auto& line : lines) {
    if (line.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(smtp_tests)

// ---------------------------------------------------------------------------------------
// MIME

BOOST_AUTO_TEST_CASE(mime_single_part_headers_in_order) {
  OutgoingMessage m = SampleMessage();
  m.headers = {{"List-Unsubscribe", "<https://kite.example/u/abc>"}, {"X-Campaign", "cart"}};
  std::string mime = BuildMimeMessage(m, kSender, "help@kite.example");
  BOOST_TEST(mime ==
             "From: Kite Shop <shop@kite.example>\r\n"
             "To: Ann Example <ann@example.org>\r\n"
             "Reply-To: help@kite.example\r\n"
             "Subject: Your cart is waiting\r\n"
             "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
             "Message-ID: <j1-s2-email@kite.example>\r\n"
             "MIME-Version: 1.0\r\n"
             "List-Unsubscribe: <https://kite.example/u/abc>\r\n"
             "X-Campaign: cart\r\n"
             "Content-Type: text/plain; charset=UTF-8\r\n"
             "Content-Transfer-Encoding: quoted-printable\r\n"
             "\r\n"
             "Hi Ann\r\n");
}

BOOST_AUTO_TEST_CASE(mime_optional_parts_and_names) {
  OutgoingMessage m = SampleMessage();
  m.to_name.clear();
  std::string mime = BuildMimeMessage(m, "shop@kite.example", "");
  BOOST_TEST(HeaderValue(mime, "From") == "shop@kite.example");
  BOOST_TEST(HeaderValue(mime, "To") == "ann@example.org");
  BOOST_TEST(mime.find("Reply-To:") == std::string::npos);
  m.to_name = "Example, Ann";  // a comma needs quoting
  BOOST_TEST(HeaderValue(BuildMimeMessage(m, kSender, ""), "To") ==
             "\"Example, Ann\" <ann@example.org>");
  m.to_name = "Zoë Müller";
  std::string to = HeaderValue(BuildMimeMessage(m, kSender, ""), "To");
  BOOST_TEST(to.rfind("=?UTF-8?B?", 0) == 0);
  BOOST_TEST(DecodeWords(to.substr(0, to.find(" <"))) == "Zoë Müller");
  BOOST_TEST(to.substr(to.find(" <")) == " <ann@example.org>");
}

BOOST_AUTO_TEST_CASE(mime_dates_are_rfc5322_utc) {
  OutgoingMessage m = SampleMessage();
  const std::pair<Millis, const char*> cases[] = {
      {0, "Thu, 01 Jan 1970 00:00:00 +0000"},
      {951782400000, "Tue, 29 Feb 2000 00:00:00 +0000"},
      {-1000, "Wed, 31 Dec 1969 23:59:59 +0000"},
      {4102444799999, "Thu, 31 Dec 2099 23:59:59 +0000"}};
  for (const auto& [ms, expected] : cases) {
    m.date_ms = ms;
    BOOST_TEST(HeaderValue(BuildMimeMessage(m, kSender, ""), "Date") == expected);
  }
}

BOOST_AUTO_TEST_CASE(mime_non_ascii_subject_is_rfc2047_encoded) {
  OutgoingMessage m = SampleMessage();
  m.subject = "Ihr Warenkorb wartet – 10 % Rabatt für Sie";
  std::string mime = BuildMimeMessage(m, kSender, "");
  std::string subject = HeaderValue(mime, "Subject");
  BOOST_TEST(subject.rfind("=?UTF-8?B?", 0) == 0);
  BOOST_TEST(DecodeWords(subject) == m.subject);

  // Long: several words, folded, no line over 76, no UTF-8 character split across words.
  m.subject.clear();
  for (int i = 0; i < 20; ++i) m.subject += "Grüße ";
  mime = BuildMimeMessage(m, kSender, "");
  subject = HeaderValue(mime, "Subject");
  BOOST_TEST(DecodeWords(subject) == m.subject);
  for (const auto& line : SplitCrlf(mime)) BOOST_TEST(line.size() <= 76u, line);
  std::istringstream words(subject);
  std::string word;
  while (words >> word) {
    std::string bytes = DecodeBase64(word.substr(10, word.size() - 12));
    BOOST_TEST((uint8_t(bytes.front()) & 0xc0) != 0x80);  // starts on a character boundary
  }

  // Plain ASCII that merely looks like an encoded word is encoded too.
  m.subject = "=?UTF-8?B?SGk=?=";
  BOOST_TEST(DecodeWords(HeaderValue(BuildMimeMessage(m, kSender, ""), "Subject")) == m.subject);
}

BOOST_AUTO_TEST_CASE(mime_long_ascii_subject_is_folded) {
  OutgoingMessage m = SampleMessage();
  m.subject.clear();
  for (int i = 0; i < 30; ++i) m.subject += "cart" + std::to_string(i) + " ";
  m.subject += "end";
  std::string mime = BuildMimeMessage(m, kSender, "");
  BOOST_TEST(HeaderValue(mime, "Subject") == m.subject);  // unfolding restores it
  for (const auto& line : SplitCrlf(mime)) BOOST_TEST(line.size() <= 78u, line);
}

BOOST_AUTO_TEST_CASE(mime_quoted_printable_body) {
  OutgoingMessage m = SampleMessage();
  m.text = std::string(200, 'a') + "\n" +            // long: soft breaks
           "price=10  \n" +                           // '=' and trailing spaces
           "Grüße, café – " + std::string(30, 'x') + "é\n" +  // non-ASCII near a break
           "tab\t\r\n" +                              // trailing tab, CRLF input
           ".dot line\n" +                            // SMTP dot stuffing is the channel's job
           "From the shop\n";                         // mbox "From " escaped
  std::string mime = BuildMimeMessage(m, kSender, "");
  std::string body = Body(mime);
  for (const auto& line : SplitCrlf(body)) BOOST_TEST(line.size() <= 76u, line);
  BOOST_TEST(body.find("price=3D10 =20\r\n") != std::string::npos);
  BOOST_TEST(body.find("Gr=C3=BC=C3=9Fe, caf=C3=A9 =E2=80=93 ") != std::string::npos);
  BOOST_TEST(body.find("tab=09\r\n") != std::string::npos);
  BOOST_TEST(body.find("=46rom the shop\r\n") != std::string::npos);
  for (unsigned char c : mime) BOOST_TEST_REQUIRE(c < 0x80);  // 7-bit clean
  // Bare LF never appears: every line ends in CRLF.
  for (size_t i = 0; i < mime.size(); ++i) {
    if (mime[i] == '\n') BOOST_TEST_REQUIRE((i > 0 && mime[i - 1] == '\r'));
  }
  std::string expected = m.text;
  std::string normalized;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (expected[i] == '\r') continue;
    if (expected[i] == '\n') normalized += '\r';
    normalized += expected[i];
  }
  BOOST_TEST(DecodeQuotedPrintable(body) == normalized);
}

BOOST_AUTO_TEST_CASE(mime_multipart_alternative) {
  OutgoingMessage m = SampleMessage();
  m.text = "Hi Ann, your kite is waiting.";
  m.html = "<p style=\"color:red\">Hi Ann, your <b>kite</b> is waiting.</p>";
  std::string mime = BuildMimeMessage(m, kSender, "");
  BOOST_TEST(mime == BuildMimeMessage(m, kSender, ""));  // deterministic
  std::string type = HeaderValue(mime, "Content-Type");
  const std::string prefix = "multipart/alternative; boundary=\"";
  BOOST_TEST_REQUIRE(type.rfind(prefix, 0) == 0);
  std::string boundary = type.substr(prefix.size(), type.size() - prefix.size() - 1);
  BOOST_TEST(boundary.find("=_") != std::string::npos);  // cannot occur in QP text

  std::string body = Body(mime);
  std::string delimiter = "--" + boundary + "\r\n";
  size_t first = body.find(delimiter);
  size_t second = body.find(delimiter, first + 1);
  size_t close = body.find("\r\n--" + boundary + "--\r\n");
  BOOST_TEST_REQUIRE(first == 0u);
  BOOST_TEST_REQUIRE(second != std::string::npos);
  BOOST_TEST_REQUIRE(close != std::string::npos);
  BOOST_TEST(close + boundary.size() + 8 == body.size());  // the close is the last line
  std::string text_part = body.substr(first + delimiter.size(), second - first - delimiter.size());
  std::string html_part = body.substr(second + delimiter.size(), close + 2 - second - delimiter.size());
  BOOST_TEST(text_part.rfind("Content-Type: text/plain; charset=UTF-8\r\n"
                             "Content-Transfer-Encoding: quoted-printable\r\n\r\n", 0) == 0);
  BOOST_TEST(html_part.rfind("Content-Type: text/html; charset=UTF-8\r\n"
                             "Content-Transfer-Encoding: quoted-printable\r\n\r\n", 0) == 0);
  BOOST_TEST(DecodeQuotedPrintable(Body(text_part)) == m.text + "\r\n");
  BOOST_TEST(DecodeQuotedPrintable(Body(html_part)) == m.html + "\r\n");
  BOOST_TEST(html_part.find("style=3D\"color:red\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(mime_header_injection_is_refused) {
  struct Case {
    const char* field;
    std::function<void(OutgoingMessage&)> spoil;
  };
  const std::vector<Case> cases = {
      {"to", [](OutgoingMessage& m) { m.to = "ann@example.org\r\nBcc: all@example.org"; }},
      {"to", [](OutgoingMessage& m) { m.to = "ann@example.org>, eve@example.org"; }},
      {"to", [](OutgoingMessage& m) { m.to = "not-an-address"; }},
      {"to_name", [](OutgoingMessage& m) { m.to_name = "Ann\nBcc: all@example.org"; }},
      {"subject", [](OutgoingMessage& m) { m.subject = "Hi\r\nBcc: all@example.org"; }},
      {"subject", [](OutgoingMessage& m) { m.subject = "Hi\rthere"; }},
      {"message_id", [](OutgoingMessage& m) { m.message_id = "a>\r\nBcc: x"; }},
      {"message_id", [](OutgoingMessage& m) { m.message_id = ""; }},
      {"headers[1]", [](OutgoingMessage& m) {
         m.headers = {{"X-Ok", "fine"}, {"X-Bad", "v\r\nBcc: all@example.org"}};
       }},
      {"headers[0]", [](OutgoingMessage& m) { m.headers = {{"X Bad:Name", "v"}}; }},
      {"headers[0]", [](OutgoingMessage& m) { m.headers = {{"bcc", "all@example.org"}}; }},
  };
  for (const auto& c : cases) {
    OutgoingMessage m = SampleMessage();
    c.spoil(m);
    Error e = ExpectError([&] { BuildMimeMessage(m, kSender, ""); });
    BOOST_TEST((e.code() == ErrorCode::kInvalidArgument), c.field);
    BOOST_TEST(e.field() == c.field);
  }
  Error e = ExpectError(
      [] { BuildMimeMessage(SampleMessage(), "Shop <shop@x.example>\r\nBcc: y@z", ""); });
  BOOST_TEST(e.field() == "sender");
  e = ExpectError([] { BuildMimeMessage(SampleMessage(), kSender, "a@b\nBcc: y@z"); });
  BOOST_TEST(e.field() == "reply_to");
}

// ---------------------------------------------------------------------------------------
// SMTP

BOOST_AUTO_TEST_CASE(smtp_plain_send_exact_dialogue) {
  FakeSmtpServer server(ServerScript{});
  auto channel = MakeSmtpChannel(PlainSettings(server.port()));
  OutgoingMessage m = SampleMessage();
  m.html = "<p>Hi Ann</p>";
  m.text = ".leading dot\n..two dots\n.";
  channel->Send(m);
  const std::vector<std::string> expected = {"<connect>", "EHLO client.test",
                                             "MAIL FROM:<shop@kite.example>",
                                             "RCPT TO:<ann@example.org>", "DATA"};
  BOOST_TEST(server.transcript() == expected, boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(server.messages().size() == 1u);
  BOOST_TEST(server.messages()[0] == BuildMimeMessage(m, kSender, ""));
  channel->Close();
  BOOST_TEST(server.transcript().back() == "QUIT");
}

BOOST_AUTO_TEST_CASE(smtp_auth_plain) {
  ServerScript script;
  script.auth_mechanisms = "LOGIN PLAIN";
  FakeSmtpServer server(script);
  SmtpSettings settings = PlainSettings(server.port());
  settings.username = "mailer";
  settings.password = "s3cret-pw";
  auto channel = MakeSmtpChannel(settings);
  channel->Send(SampleMessage());
  const std::vector<std::string> expected = {
      "<connect>", "EHLO client.test", "AUTH PLAIN AG1haWxlcgBzM2NyZXQtcHc=",
      "MAIL FROM:<shop@kite.example>", "RCPT TO:<ann@example.org>", "DATA"};
  BOOST_TEST(server.transcript() == expected, boost::test_tools::per_element());
  BOOST_TEST(server.messages().size() == 1u);
}

BOOST_AUTO_TEST_CASE(smtp_auth_login) {
  ServerScript script;
  script.auth_mechanisms = "LOGIN";
  FakeSmtpServer server(script);
  SmtpSettings settings = PlainSettings(server.port());
  settings.username = "mailer";
  settings.password = "s3cret-pw";
  auto channel = MakeSmtpChannel(settings);
  channel->Send(SampleMessage());
  const std::vector<std::string> expected = {
      "<connect>", "EHLO client.test", "AUTH LOGIN", "bWFpbGVy", "czNjcmV0LXB3",
      "MAIL FROM:<shop@kite.example>", "RCPT TO:<ann@example.org>", "DATA"};
  BOOST_TEST(server.transcript() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(smtp_reply_classification) {
  struct Case {
    const char* verb;
    const char* reply;
    ErrorCode code;
  };
  const Case cases[] = {
      {"MAIL", "451 4.3.0 Sender temporarily rejected", ErrorCode::kTransientDelivery},
      // Before RCPT TO a 5xx is about the shop's sender or account, never the shopper.
      {"MAIL", "550 5.7.1 Sender address rejected", ErrorCode::kAccountDelivery},
      {"RCPT", "451 4.2.1 Mailbox busy, try later", ErrorCode::kTransientDelivery},
      {"RCPT", "550 5.1.1 <ann@example.org>: no such user", ErrorCode::kPermanentDelivery},
      {"DATA", "451 4.3.2 Not now", ErrorCode::kTransientDelivery},
      {"DATA", "554 5.5.1 No valid recipients", ErrorCode::kPermanentDelivery},
      {"END", "451 4.7.1 Greylisted, come back in 5 minutes", ErrorCode::kTransientDelivery},
      {"END", "550 5.7.1 Message rejected as spam", ErrorCode::kPermanentDelivery},
      {"EHLO", "421 4.3.2 Too busy", ErrorCode::kTransientDelivery},
  };
  for (const auto& c : cases) {
    ServerScript script;
    script.replies[c.verb] = c.reply;
    FakeSmtpServer server(script);
    auto channel = MakeSmtpChannel(PlainSettings(server.port()));
    Error e = ExpectError([&] { channel->Send(SampleMessage()); });
    BOOST_TEST((e.code() == c.code), c.verb << " " << c.reply << " -> " << e.what());
    BOOST_TEST(std::string(e.what()).find(c.reply) != std::string::npos, e.what());
    BOOST_TEST(server.messages().size() == (std::string(c.verb) == "END" ? 1u : 0u));
  }
}

BOOST_AUTO_TEST_CASE(smtp_multiline_reply_text_is_kept) {
  ServerScript script;
  script.replies["RCPT"] =
      "550-5.1.1 The email account that you tried to reach does not exist.\r\n"
      "550 5.1.1 https://support.example/NoSuchUser";
  FakeSmtpServer server(script);
  auto channel = MakeSmtpChannel(PlainSettings(server.port()));
  Error e = ExpectError([&] { channel->Send(SampleMessage()); });
  BOOST_TEST((e.code() == ErrorCode::kPermanentDelivery));
  BOOST_TEST(std::string(e.what()) ==
             "550 5.1.1 The email account that you tried to reach does not exist. "
             "5.1.1 https://support.example/NoSuchUser");
}

BOOST_AUTO_TEST_CASE(smtp_refused_recipient_keeps_connection_and_resets) {
  ServerScript script;
  script.replies["RCPT"] = "550 5.1.1 no such user";
  FakeSmtpServer server(script);
  auto channel = MakeSmtpChannel(PlainSettings(server.port()));
  ExpectError([&] { channel->Send(SampleMessage()); });
  channel->Send(SampleMessage());
  const std::vector<std::string> expected = {
      "<connect>", "EHLO client.test", "MAIL FROM:<shop@kite.example>",
      "RCPT TO:<ann@example.org>", "RSET", "MAIL FROM:<shop@kite.example>",
      "RCPT TO:<ann@example.org>", "DATA"};
  BOOST_TEST(server.transcript() == expected, boost::test_tools::per_element());
  BOOST_TEST(server.messages().size() == 1u);
}

BOOST_AUTO_TEST_CASE(smtp_two_sends_reuse_one_connection) {
  FakeSmtpServer server(ServerScript{});
  auto channel = MakeSmtpChannel(PlainSettings(server.port()));
  OutgoingMessage first = SampleMessage();
  OutgoingMessage second = SampleMessage();
  second.message_id = "j1-s3-email";
  second.to = "bob@example.org";
  channel->Send(first);
  channel->Send(second);
  const std::vector<std::string> expected = {
      "<connect>", "EHLO client.test", "MAIL FROM:<shop@kite.example>",
      "RCPT TO:<ann@example.org>", "DATA", "MAIL FROM:<shop@kite.example>",
      "RCPT TO:<bob@example.org>", "DATA"};
  BOOST_TEST(server.transcript() == expected, boost::test_tools::per_element());
  BOOST_TEST(server.connections() == 1);
  BOOST_TEST(server.messages().size() == 2u);
}

BOOST_AUTO_TEST_CASE(smtp_reconnects_when_server_dropped_connection) {
  ServerScript script;
  script.close_after_message = true;
  FakeSmtpServer server(script);
  auto channel = MakeSmtpChannel(PlainSettings(server.port()));
  channel->Send(SampleMessage());
  // Let the server's hang-up arrive before the next command.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  channel->Send(SampleMessage());
  BOOST_TEST(server.connections() == 2);
  BOOST_TEST(server.messages().size() == 2u);
}

BOOST_AUTO_TEST_CASE(smtp_connection_refused_is_transient) {
  int port = 0;
  {
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
    port = probe.address().port();
  }  // closed: nothing listens there now
  auto channel = MakeSmtpChannel(PlainSettings(port));
  Error e = ExpectError([&] { channel->Send(SampleMessage()); });
  BOOST_TEST((e.code() == ErrorCode::kTransientDelivery), e.what());
  BOOST_TEST(std::string(e.what()).find("smtp://127.0.0.1:" + std::to_string(port)) == 0u);
}

BOOST_AUTO_TEST_CASE(smtp_silent_server_times_out_transient) {
  ServerScript script;
  script.greet = false;
  FakeSmtpServer server(script);
  SmtpSettings settings = PlainSettings(server.port());
  settings.timeout_ms = 300;
  auto channel = MakeSmtpChannel(settings);
  Error e = ExpectError([&] { channel->Send(SampleMessage()); });
  BOOST_TEST((e.code() == ErrorCode::kTransientDelivery), e.what());
  BOOST_TEST(std::string(e.what()).find("timed out") != std::string::npos, e.what());
  BOOST_TEST_MESSAGE(e.what());
}

BOOST_AUTO_TEST_CASE(smtp_starttls_not_offered_fails_closed) {
  FakeSmtpServer server(ServerScript{});  // no STARTTLS in EHLO
  SmtpSettings settings = PlainSettings(server.port());
  settings.starttls = true;
  settings.username = "mailer";
  settings.password = "s3cret-pw";
  auto channel = MakeSmtpChannel(settings);
  Error e = ExpectError([&] { channel->Send(SampleMessage()); });
  BOOST_TEST((e.code() == ErrorCode::kAccountDelivery), e.what());  // the shop's server
  BOOST_TEST(std::string(e.what()).find("STARTTLS") != std::string::npos, e.what());
  BOOST_TEST_MESSAGE(e.what());
  const std::vector<std::string> expected = {"<connect>", "EHLO client.test"};
  BOOST_TEST(server.transcript() == expected, boost::test_tools::per_element());
  BOOST_TEST(!Contains(server.transcript(), "MAIL FROM"));
  BOOST_TEST(!Contains(server.transcript(), "AUTH"));
}

BOOST_AUTO_TEST_CASE(smtp_password_never_in_errors_or_describe) {
  ServerScript script;
  script.auth_mechanisms = "PLAIN";
  // A broken server that echoes what it got.
  script.replies["AUTH"] = "535 5.7.8 bad credentials mailer/s3cret-pw AG1haWxlcgBzM2NyZXQtcHc=";
  FakeSmtpServer server(script);
  SmtpSettings settings = PlainSettings(server.port());
  settings.username = "mailer";
  settings.password = "s3cret-pw";
  auto channel = MakeSmtpChannel(settings);
  Error e = ExpectError([&] { channel->Send(SampleMessage()); });
  BOOST_TEST((e.code() == ErrorCode::kAccountDelivery), e.what());  // credentials: the shop's
  BOOST_TEST(std::string(e.what()).find("s3cret-pw") == std::string::npos, e.what());
  BOOST_TEST(std::string(e.what()).find("AG1haWxlcgBzM2NyZXQtcHc=") == std::string::npos);
  BOOST_TEST(std::string(e.what()).find("535 5.7.8 bad credentials") == 0u);
  BOOST_TEST(channel->Describe().find("s3cret-pw") == std::string::npos);
  BOOST_TEST(channel->Describe().find("mailer") == std::string::npos);

  settings.port = 1;  // nothing listens: a network error
  Error refused = ExpectError([&] { MakeSmtpChannel(settings)->Send(SampleMessage()); });
  BOOST_TEST(std::string(refused.what()).find("s3cret-pw") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(smtp_invalid_message_is_refused_before_connecting) {
  FakeSmtpServer server(ServerScript{});
  auto channel = MakeSmtpChannel(PlainSettings(server.port()));
  OutgoingMessage m = SampleMessage();
  m.to = "ann@example.org>\r\nRCPT TO:<eve@example.org";
  Error e = ExpectError([&] { channel->Send(m); });
  BOOST_TEST((e.code() == ErrorCode::kInvalidArgument));
  BOOST_TEST(e.field() == "to");
  BOOST_TEST(server.connections() == 0);
}

BOOST_AUTO_TEST_CASE(smtp_settings_and_describe) {
  SmtpSettings s;
  s.host = "mail.example";
  BOOST_TEST(MakeSmtpChannel(s)->Describe() == "smtp://mail.example:587 starttls");
  s.port = 465;
  s.ssl = true;
  BOOST_TEST(MakeSmtpChannel(s)->Describe() == "smtp://mail.example:465 ssl");
  s.ssl = s.starttls = false;
  s.port = 25;
  BOOST_TEST(MakeSmtpChannel(s)->Describe() == "smtp://mail.example:25 plain");

  SmtpSettings bad;
  bad.port = 0;
  BOOST_TEST((ExpectError([&] { MakeSmtpChannel(bad); }).code() == ErrorCode::kConfig));
  bad = SmtpSettings();
  bad.sender = "Shop <shop@example.com>\r\nBcc: x@y";
  Error e = ExpectError([&] { MakeSmtpChannel(bad); });
  BOOST_TEST((e.code() == ErrorCode::kConfig));
  BOOST_TEST(e.field() == "sender");
  bad = SmtpSettings();
  bad.helo_name = "me\r\nMAIL FROM:<x@y>";
  BOOST_TEST(ExpectError([&] { MakeSmtpChannel(bad); }).field() == "helo_name");
}

BOOST_AUTO_TEST_CASE(smtp_connections_setting) {
  SmtpSettings s;
  s.host = "mail.example";
  BOOST_TEST(MakeSmtpChannel(s)->Concurrency() == 4);  // the default
  s.connections = 1;
  BOOST_TEST(MakeSmtpChannel(s)->Concurrency() == 1);
  s.connections = kMaxSmtpConnections;
  BOOST_TEST(MakeSmtpChannel(s)->Concurrency() == kMaxSmtpConnections);
  for (int bad : {0, -1, kMaxSmtpConnections + 1}) {
    s.connections = bad;
    Error e = ExpectError([&] { MakeSmtpChannel(s); });
    BOOST_TEST((e.code() == ErrorCode::kConfig));
    BOOST_TEST(e.field() == "connections");
  }
}

// Sends from several threads share the channel's sessions: each message goes once, on a
// session of its own while another is under way (this server takes one connection at a
// time and hangs up after each message, so every Send connects).
BOOST_AUTO_TEST_CASE(smtp_sends_from_several_threads_each_go_once) {
  ServerScript script;
  script.close_after_message = true;
  FakeSmtpServer server(script);
  SmtpSettings settings = PlainSettings(server.port());
  settings.connections = 3;
  auto channel = MakeSmtpChannel(settings);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 4; ++k) {
        OutgoingMessage m = SampleMessage();
        m.message_id = "m" + std::to_string(t) + "-" + std::to_string(k);
        try {
          channel->Send(m);
        } catch (const Error&) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  channel->Close();
  BOOST_TEST(failures.load() == 0);
  std::multiset<std::string> ids;
  for (const auto& data : server.messages()) {
    size_t at = data.find("Message-ID: <");
    BOOST_REQUIRE(at != std::string::npos);
    ids.insert(data.substr(at + 13, data.find('@', at) - at - 13));
  }
  BOOST_TEST(ids.size() == 12u);
  for (const auto& id : ids) BOOST_TEST(ids.count(id) == 1u, id);
}

BOOST_AUTO_TEST_CASE(smtp_starttls_with_self_signed_certificate) {
  const TestCertificate& cert = Certificate();
  if (!cert.ok()) {
    BOOST_TEST_MESSAGE("openssl CLI unavailable: STARTTLS success test skipped");
    return;
  }
  ServerScript script;
  script.offer_starttls = true;
  script.auth_mechanisms = "PLAIN";
  script.cert_file = cert.cert_file;
  script.key_file = cert.key_file;
  FakeSmtpServer server(script);
  SmtpSettings settings = PlainSettings(server.port());
  settings.starttls = true;
  settings.verify_certificate = false;
  settings.username = "mailer";
  settings.password = "s3cret-pw";
  auto channel = MakeSmtpChannel(settings);
  channel->Send(SampleMessage());
  channel->Send(SampleMessage());
  const std::vector<std::string> expected = {
      "<connect>", "EHLO client.test", "STARTTLS", "EHLO client.test",
      "AUTH PLAIN AG1haWxlcgBzM2NyZXQtcHc=", "MAIL FROM:<shop@kite.example>",
      "RCPT TO:<ann@example.org>", "DATA", "MAIL FROM:<shop@kite.example>",
      "RCPT TO:<ann@example.org>", "DATA"};
  BOOST_TEST(server.transcript() == expected, boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(server.messages().size() == 2u);
  BOOST_TEST(server.messages()[0] == BuildMimeMessage(SampleMessage(), kSender, ""));
  channel->Close();
  BOOST_TEST(server.transcript().back() == "QUIT");
}

BOOST_AUTO_TEST_CASE(smtp_untrusted_certificate_is_the_shops_to_fix_and_sends_nothing) {
  const TestCertificate& cert = Certificate();
  if (!cert.ok()) {
    BOOST_TEST_MESSAGE("openssl CLI unavailable: certificate test skipped");
    return;
  }
  ServerScript script;
  script.offer_starttls = true;
  script.cert_file = cert.cert_file;
  script.key_file = cert.key_file;
  FakeSmtpServer server(script);
  SmtpSettings settings = PlainSettings(server.port());
  settings.starttls = true;  // verify_certificate stays on: self-signed must be refused
  auto channel = MakeSmtpChannel(settings);
  Error e = ExpectError([&] { channel->Send(SampleMessage()); });
  BOOST_TEST((e.code() == ErrorCode::kAccountDelivery), e.what());
  BOOST_TEST(std::string(e.what()).find("certificate") != std::string::npos, e.what());
  BOOST_TEST_MESSAGE(e.what());
  BOOST_TEST(!Contains(server.transcript(), "MAIL FROM"));
  BOOST_TEST(server.messages().empty());
}

BOOST_AUTO_TEST_CASE(smtp_implicit_tls) {
  const TestCertificate& cert = Certificate();
  if (!cert.ok()) {
    BOOST_TEST_MESSAGE("openssl CLI unavailable: implicit TLS test skipped");
    return;
  }
  ServerScript script;
  script.implicit_tls = true;
  script.cert_file = cert.cert_file;
  script.key_file = cert.key_file;
  FakeSmtpServer server(script);
  SmtpSettings settings = PlainSettings(server.port());
  settings.ssl = true;
  settings.verify_certificate = false;
  auto channel = MakeSmtpChannel(settings);
  channel->Send(SampleMessage());
  const std::vector<std::string> expected = {"<connect>", "EHLO client.test",
                                             "MAIL FROM:<shop@kite.example>",
                                             "RCPT TO:<ann@example.org>", "DATA"};
  BOOST_TEST(server.transcript() == expected, boost::test_tools::per_element());
  BOOST_TEST(server.messages().size() == 1u);
}

// ---------------------------------------------------------------------------------------
// Outbox

BOOST_AUTO_TEST_CASE(outbox_writes_eml_files) {
  std::string dir = TempDir() + "/outbox/new";  // created on first Send
  auto channel = MakeOutboxChannel(dir);
  OutgoingMessage m = SampleMessage();
  m.html = "<p>Hi</p>";
  channel->Send(m);
  std::ifstream in(dir + "/j1-s2-email.eml", std::ios::binary);
  BOOST_TEST_REQUIRE(in.good());
  std::string content((std::istreambuf_iterator<char>(in)), {});
  BOOST_TEST(content == BuildMimeMessage(m, "Outbox <outbox@localhost>", ""));
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    (void)entry;
    ++files;
  }
  BOOST_TEST(files == 1);  // no temporary left behind
  channel->Send(m);        // the same id again replaces the file
  BOOST_TEST(channel->Describe() == "outbox " + dir);
}

BOOST_AUTO_TEST_CASE(outbox_without_directory_does_nothing) {
  auto channel = MakeOutboxChannel("");
  BOOST_CHECK_NO_THROW(channel->Send(SampleMessage()));
  OutgoingMessage bad = SampleMessage();
  bad.subject = "x\r\nBcc: y";
  BOOST_CHECK_NO_THROW(channel->Send(bad));  // nothing is built, so nothing to refuse
}

BOOST_AUTO_TEST_CASE(outbox_errors) {
  std::string dir = TempDir();
  auto channel = MakeOutboxChannel(dir);
  OutgoingMessage m = SampleMessage();
  m.message_id = "../../etc/evil";
  BOOST_TEST((ExpectError([&] { channel->Send(m); }).code() == ErrorCode::kInvalidArgument));
  std::ofstream(dir + "/file") << "x";
  auto blocked = MakeOutboxChannel(dir + "/file/sub");  // a file where a directory should be
  Error e = ExpectError([&] { blocked->Send(SampleMessage()); });
  BOOST_TEST((e.code() == ErrorCode::kTransientDelivery), e.what());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cartrecovery
