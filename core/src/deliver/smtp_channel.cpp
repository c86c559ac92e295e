// smtp_channel.cpp: the SMTP channel (RFC 5321) over Poco::Net sockets.
//
// The dialogue is spoken here over a plain Poco StreamSocket (upgraded in place to a
// SecureStreamSocket for STARTTLS or implicit TLS) rather than through
// Poco::Net::SMTPClientSession: that class reports failures as SMTPException text (no reply
// code to classify), its SecureSMTPClientSession::startTLS() quietly returns false when
// the server does not offer STARTTLS, and DialogSocket::receiveStatusMessage loops forever
// when a multi-line reply is cut off. Owning the few commands keeps fail-closed TLS and the
// 4xx/5xx classification explicit.
//
// Every failure leaves Send() as a cartrecovery::Error made by Classify(), the one place
// that decides transient vs permanent.
#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "Poco/Exception.h"
#include "Poco/Net/Context.h"
#include "Poco/Net/DNS.h"
#include "Poco/Net/NetException.h"
#include "Poco/Net/SSLException.h"
#include "Poco/Net/SecureStreamSocket.h"
#include "Poco/Net/SocketAddress.h"
#include "Poco/Net/StreamSocket.h"
#include "Poco/Timespan.h"
#include "cartrecovery/delivery.h"
#include "cartrecovery/status.h"
#include "deliver/mime_internal.h"
#include "deliver/net_util.h"

namespace cartrecovery {
namespace {

constexpr size_t kMaxReplyBytes = 64 * 1024;  // a server cannot make us buffer without bound
constexpr size_t kMaxReplyLines = 200;

// A reply the dialogue did not expect; its code decides transient vs permanent.
class SmtpRefusal : public std::runtime_error {
 public:
  SmtpRefusal(int code, const std::string& text) : std::runtime_error(text), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// A failure this client detected itself (no usable reply).
class SmtpFailure : public std::runtime_error {
 public:
  SmtpFailure(bool permanent, const std::string& what, bool connection_lost = false)
      : std::runtime_error(what), permanent_(permanent), connection_lost_(connection_lost) {}
  bool permanent() const { return permanent_; }
  bool connection_lost() const { return connection_lost_; }

 private:
  bool permanent_;
  bool connection_lost_;
};

struct Reply {
  int code = 0;
  std::vector<std::string> lines;  // text after "250-" / "250 "
  std::string Text() const {
    std::string text = std::to_string(code);
    for (const auto& line : lines) text += " " + line;
    return text;
  }
};

using internal::RecordingCertificateHandler;
using internal::ScopedSigpipeBlock;

std::string ToUpper(std::string s) {
  for (char& c : s) c = char(std::toupper(uint8_t(c)));
  return s;
}

// Lines starting with '.' get a second one (RFC 5321 4.5.2); the data ends with CRLF so
// the terminator "." stands on its own line.
std::string DotStuff(const std::string& data) {
  std::string out;
  out.reserve(data.size() + data.size() / 64 + 2);
  bool line_start = true;
  for (char c : data) {
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = c == '\n';
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  return out;
}

std::string DefaultHeloName() {
  std::string name;
  try {
    name = Poco::Net::DNS::hostName();
  } catch (const Poco::Exception&) {
  }
  bool ok = !name.empty();
  for (unsigned char c : name) ok = ok && (std::isalnum(c) || c == '.' || c == '-');
  return ok ? name : "localhost";
}

// One SMTP session, used by one thread at a time.
class SmtpConnection final : public Channel {
 public:
  explicit SmtpConnection(const SmtpSettings& settings)
      : settings_(settings), cert_failure_(std::make_shared<std::string>()) {}
  ~SmtpConnection() override { Close(); }

  void Send(const OutgoingMessage& message) override;
  void Close() override;
  std::string Describe() const override;

 private:
  Poco::Timespan Timeout() const {
    return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(settings_.timeout_ms) * 1000);
  }
  Poco::Net::Context::Ptr TlsContext();
  void Connect();
  void Hello();
  void UpgradeToTls();
  void Authenticate();
  void StartMail(const std::string& from);
  void FinishMail(const std::string& to, const std::string& data);
  void Drop();
  Reply Command(const std::string& line);
  Reply ReadReply();
  std::string ReadLine();
  void SendAll(const std::string& bytes);
  Reply Expect(Reply reply, int code, int alternative = 0);
  Error Classify(std::exception_ptr failure) const;
  std::string Scrub(std::string text) const;

  const SmtpSettings settings_;
  std::shared_ptr<std::string> cert_failure_;  // written by the certificate handler
  Poco::Net::Context::Ptr tls_context_;        // created on first TLS use
  Poco::Net::StreamSocket socket_;             // plain or secure, replaced on upgrade
  std::string inbuf_;                          // received but not yet consumed
  bool open_ = false;                          // socket_ holds a connection
  bool ready_ = false;                         // greeted, (TLS,) EHLO'd, (AUTH'd)
  bool dirty_ = false;                         // a transaction was left unfinished
  // From RCPT TO on, a refusal is about the recipient or the message; before it (greeting,
  // TLS, AUTH, MAIL FROM) it is about the shop's server or account.
  bool about_recipient_ = false;
  std::map<std::string, std::string> extensions_;  // EHLO keyword -> parameters
};

Poco::Net::Context::Ptr SmtpConnection::TlsContext() {
  if (!tls_context_) {
    using Poco::Net::Context;
    Context::Params params;
    params.verificationMode =
        settings_.verify_certificate ? Context::VERIFY_RELAXED : Context::VERIFY_NONE;
    params.loadDefaultCAs = settings_.verify_certificate;
    Context::Ptr context = new Context(Context::TLS_CLIENT_USE, params);
    context->requireMinimumProtocol(Context::PROTO_TLSV1_2);
    // Host name check against the certificate; meaningless without chain verification.
    context->enableExtendedCertificateVerification(settings_.verify_certificate);
    context->setInvalidCertificateHandler(new RecordingCertificateHandler(cert_failure_));
    tls_context_ = context;
  }
  return tls_context_;
}

void SmtpConnection::Connect() {
  Drop();
  cert_failure_->clear();
  Poco::Net::SocketAddress address(settings_.host, static_cast<Poco::UInt16>(settings_.port));
  Poco::Net::StreamSocket plain;
  plain.connect(address, Timeout());
  open_ = true;
  socket_ = plain;
  plain.setReceiveTimeout(Timeout());
  plain.setSendTimeout(Timeout());
  plain.setNoDelay(true);
  if (settings_.ssl) {
    socket_ = Poco::Net::SecureStreamSocket::attach(plain, settings_.host, TlsContext());
  }
  Expect(ReadReply(), 220);
  Hello();
  if (settings_.starttls && !settings_.ssl) UpgradeToTls();
  if (!settings_.username.empty()) Authenticate();
  ready_ = true;
}

void SmtpConnection::Hello() {
  std::string name = settings_.helo_name.empty() ? DefaultHeloName() : settings_.helo_name;
  extensions_.clear();
  Reply reply = Command("EHLO " + name);
  if (reply.code >= 500 && reply.code < 600) {
    // An RFC 821 server: no extensions, so no STARTTLS and no AUTH (those then fail closed).
    Expect(Command("HELO " + name), 250);
    return;
  }
  Expect(reply, 250);
  for (size_t i = 1; i < reply.lines.size(); ++i) {
    const std::string& line = reply.lines[i];
    size_t split = line.find_first_of(" =");
    std::string keyword = ToUpper(line.substr(0, split));
    extensions_[keyword] = split == std::string::npos ? "" : ToUpper(line.substr(split + 1));
  }
}

// Fail closed: without TLS nothing (not even MAIL FROM) goes over the wire.
void SmtpConnection::UpgradeToTls() {
  if (extensions_.count("STARTTLS") == 0) {
    throw SmtpFailure(true, "server does not offer STARTTLS; nothing was sent (starttls=true)");
  }
  Expect(Command("STARTTLS"), 220);
  if (!inbuf_.empty()) {
    // Bytes that arrived before the handshake could be injected by a man in the middle.
    throw SmtpFailure(false, "server sent data before the TLS handshake; nothing was sent");
  }
  socket_ = Poco::Net::SecureStreamSocket::attach(socket_, settings_.host, TlsContext());
  Hello();  // RFC 3207: forget what was learned in clear text and ask again
}

void SmtpConnection::Authenticate() {
  auto auth = extensions_.find("AUTH");
  if (auth == extensions_.end()) {
    throw SmtpFailure(true, "server does not offer AUTH but a username is configured");
  }
  std::string mechanisms = " " + auth->second + " ";
  if (mechanisms.find(" PLAIN ") != std::string::npos) {
    std::string token = std::string(1, '\0') + settings_.username + '\0' + settings_.password;
    Expect(Command("AUTH PLAIN " + internal::Base64(token)), 235);
  } else if (mechanisms.find(" LOGIN ") != std::string::npos) {
    Expect(Command("AUTH LOGIN"), 334);
    Expect(Command(internal::Base64(settings_.username)), 334);
    Expect(Command(internal::Base64(settings_.password)), 235);
  } else {
    throw SmtpFailure(true, "server offers no supported AUTH mechanism (PLAIN, LOGIN); it offers" +
                                mechanisms);
  }
}

void SmtpConnection::StartMail(const std::string& from) {
  if (dirty_) Expect(Command("RSET"), 250);
  dirty_ = true;
  Expect(Command("MAIL FROM:<" + from + ">"), 250);
}

void SmtpConnection::FinishMail(const std::string& to, const std::string& data) {
  about_recipient_ = true;
  Expect(Command("RCPT TO:<" + to + ">"), 250, 251);
  Expect(Command("DATA"), 354);
  SendAll(DotStuff(data) + ".\r\n");
  Expect(ReadReply(), 250);
  dirty_ = false;
}

void SmtpConnection::Send(const OutgoingMessage& message) {
  // Bad input is the caller's error: it leaves as InvalidArgument before any I/O.
  std::string data = BuildMimeMessage(message, settings_.sender, settings_.reply_to);
  std::string from = internal::ParseMailbox(settings_.sender, "sender").address;
  ScopedSigpipeBlock no_sigpipe;
  about_recipient_ = false;
  try {
    if (ready_) {
      // A kept connection may have been closed by the server while idle: the first command
      // finds out, and then (nothing having been sent yet) a fresh connection is safe.
      try {
        StartMail(from);
      } catch (const SmtpRefusal& refusal) {
        if (refusal.code() != 421) throw;
        Drop();
      } catch (const SmtpFailure& failure) {
        if (!failure.connection_lost()) throw;
        Drop();
      } catch (const Poco::Exception&) {
        Drop();
      }
    }
    if (!ready_) {
      Connect();
      StartMail(from);
    }
    FinishMail(message.to, data);
  } catch (...) {
    std::exception_ptr failure = std::current_exception();
    bool keep = false;
    try {
      std::rethrow_exception(failure);
    } catch (const SmtpRefusal& refusal) {
      // The server answered and the session is intact (RSET before the next message),
      // unless it announced it is closing.
      keep = ready_ && refusal.code() != 421;
    } catch (...) {
    }
    if (!keep) Drop();
    throw Classify(failure);
  }
}

void SmtpConnection::Close() {
  if (!open_) return;
  ScopedSigpipeBlock no_sigpipe;
  try {
    if (ready_) Command("QUIT");
  } catch (...) {
    // Closing anyway: a failed goodbye changes nothing.
  }
  Drop();
}

void SmtpConnection::Drop() {
  if (open_) {
    try {
      socket_.close();
    } catch (...) {
    }
  }
  socket_ = Poco::Net::StreamSocket();
  inbuf_.clear();
  extensions_.clear();
  open_ = ready_ = dirty_ = false;
}

std::string SmtpConnection::Describe() const {
  std::string host = settings_.host.find(':') != std::string::npos ? "[" + settings_.host + "]"
                                                                    : settings_.host;
  const char* mode = settings_.ssl ? "ssl" : settings_.starttls ? "starttls" : "plain";
  return "smtp://" + host + ":" + std::to_string(settings_.port) + " " + mode;
}

Reply SmtpConnection::Command(const std::string& line) {
  SendAll(line + "\r\n");
  return ReadReply();
}

Reply SmtpConnection::Expect(Reply reply, int code, int alternative) {
  if (reply.code != code && (alternative == 0 || reply.code != alternative)) {
    throw SmtpRefusal(reply.code, reply.Text());
  }
  return reply;
}

Reply SmtpConnection::ReadReply() {
  Reply reply;
  size_t total = 0;
  for (;;) {
    std::string line = ReadLine();
    total += line.size();
    bool well_formed = line.size() >= 3 && std::isdigit(uint8_t(line[0])) &&
                       std::isdigit(uint8_t(line[1])) && std::isdigit(uint8_t(line[2])) &&
                       (line.size() == 3 || line[3] == ' ' || line[3] == '-');
    if (!well_formed) throw SmtpFailure(false, "malformed reply from server: " + line.substr(0, 80));
    int code = std::stoi(line.substr(0, 3));
    if (!reply.lines.empty() && code != reply.code) {
      throw SmtpFailure(false, "inconsistent multi-line reply from server");
    }
    reply.code = code;
    reply.lines.push_back(line.size() > 4 ? line.substr(4) : std::string());
    if (line.size() == 3 || line[3] == ' ') return reply;
    if (reply.lines.size() > kMaxReplyLines || total > kMaxReplyBytes) {
      throw SmtpFailure(false, "reply from server too long");
    }
  }
}

std::string SmtpConnection::ReadLine() {
  for (;;) {
    size_t newline = inbuf_.find('\n');
    if (newline != std::string::npos) {
      std::string line = inbuf_.substr(0, newline);
      inbuf_.erase(0, newline + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    if (inbuf_.size() > kMaxReplyBytes) throw SmtpFailure(false, "reply line from server too long");
    char buffer[4096];
    int n = socket_.receiveBytes(buffer, sizeof buffer);
    if (n <= 0) throw SmtpFailure(false, "connection closed by the server", true);
    inbuf_.append(buffer, static_cast<size_t>(n));
  }
}

void SmtpConnection::SendAll(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    int n = socket_.sendBytes(bytes.data() + sent,
                              static_cast<int>(std::min<size_t>(bytes.size() - sent, 1 << 16)));
    if (n <= 0) throw SmtpFailure(false, "connection closed while sending", true);
    sent += static_cast<size_t>(n);
  }
}

// The one place a failure becomes an error code. Permanent means retrying this message
// cannot help: the server refused the recipient or the message with a 5xx. A 5xx before
// that (AUTH, MAIL FROM) or a configuration that cannot work (no STARTTLS, bad certificate)
// is the shop's account to fix, never the shopper's address (R4.3: kAccountDelivery).
Error SmtpConnection::Classify(std::exception_ptr failure) const {
  const ErrorCode kTransient = ErrorCode::kTransientDelivery;
  const ErrorCode kPermanent = ErrorCode::kPermanentDelivery;
  const ErrorCode kAccount = ErrorCode::kAccountDelivery;
  const std::string where = Describe() + ": ";
  try {
    std::rethrow_exception(failure);
  } catch (const Error& error) {
    return error;
  } catch (const SmtpRefusal& refusal) {
    // The message is the server's reply, as is.
    if (refusal.code() >= 500 && refusal.code() < 600)
      return Error(about_recipient_ ? kPermanent : kAccount, Scrub(refusal.what()));
    if (refusal.code() >= 400 && refusal.code() < 500) return Error(kTransient, Scrub(refusal.what()));
    return Error(kTransient, Scrub(where + "unexpected reply " + refusal.what()));
  } catch (const SmtpFailure& own) {
    return Error(own.permanent() ? kAccount : kTransient, Scrub(where + own.what()));
  } catch (const Poco::Net::CertificateValidationException& e) {
    return Error(kAccount, Scrub(where + "certificate not accepted: " + e.displayText()));
  } catch (const Poco::Net::SSLContextException& e) {
    return Error(kAccount, Scrub(where + "TLS setup failed: " + e.displayText()));
  } catch (const Poco::Net::SSLException& e) {
    if (settings_.verify_certificate && !cert_failure_->empty()) {
      return Error(kAccount, Scrub(where + "certificate verification failed: " + *cert_failure_));
    }
    return Error(kTransient, Scrub(where + "TLS failed: " + e.displayText()));
  } catch (const Poco::TimeoutException&) {
    return Error(kTransient, where + "timed out after " + std::to_string(settings_.timeout_ms) + " ms");
  } catch (const Poco::Exception& e) {
    // Refused, reset, unreachable, DNS: the network may be better later.
    return Error(kTransient, Scrub(where + e.displayText()));
  } catch (const std::exception& e) {
    return Error(ErrorCode::kInternal, Scrub(where + e.what()));
  } catch (...) {
    return Error(ErrorCode::kInternal, where + "unknown failure");
  }
}

// Servers do not echo credentials, but a broken one might; the error text goes to logs.
std::string SmtpConnection::Scrub(std::string text) const {
  if (settings_.password.empty()) return text;
  std::vector<std::string> secrets = {
      settings_.password, internal::Base64(settings_.password),
      internal::Base64(std::string(1, '\0') + settings_.username + '\0' + settings_.password)};
  for (const auto& secret : secrets) {
    for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
      text.replace(at, secret.size(), "***");
    }
  }
  return text;
}

// Up to settings.connections sessions to the server, each lent to one Send at a time, so
// that as many messages can be under way at once. A session that failed has dropped its
// socket and connects afresh on its next Send: the failed connection is replaced, and
// Classify (one per session, all alike) stays the one place that decides the error code.
class SmtpChannel final : public Channel {
 public:
  explicit SmtpChannel(const SmtpSettings& settings) : settings_(settings) {}

  void Send(const OutgoingMessage& message) override {
    std::unique_ptr<SmtpConnection> connection = Acquire();
    try {
      connection->Send(message);
    } catch (...) {
      Release(std::move(connection));
      throw;
    }
    Release(std::move(connection));
  }

  // Ends the idle sessions; one still lent out stays open until its Send returns (the
  // engine closes between runs, when nothing is being sent).
  void Close() override {
    std::vector<std::unique_ptr<SmtpConnection>> idle;
    {
      std::lock_guard<std::mutex> lock(mu_);
      idle.swap(idle_);
      opened_ -= static_cast<int>(idle.size());
    }
    for (auto& connection : idle) connection->Close();  // QUIT outside the lock
  }

  int Concurrency() const override { return settings_.connections; }

  std::string Describe() const override { return SmtpConnection(settings_).Describe(); }

 private:
  // The most recently used idle session (its connection is the likeliest to be alive), a
  // new one while fewer than settings_.connections exist, or else waits for one.
  std::unique_ptr<SmtpConnection> Acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    returned_.wait(lock, [&] { return !idle_.empty() || opened_ < settings_.connections; });
    if (!idle_.empty()) {
      std::unique_ptr<SmtpConnection> connection = std::move(idle_.back());
      idle_.pop_back();
      return connection;
    }
    ++opened_;
    return std::make_unique<SmtpConnection>(settings_);
  }

  void Release(std::unique_ptr<SmtpConnection> connection) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      idle_.push_back(std::move(connection));
    }
    returned_.notify_one();
  }

  const SmtpSettings settings_;
  std::mutex mu_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<SmtpConnection>> idle_;  // guarded by mu_
  int opened_ = 0;  // sessions in existence (idle or lent out); guarded by mu_
};

}  // namespace

std::unique_ptr<Channel> MakeSmtpChannel(const SmtpSettings& settings) {
  if (settings.host.empty() || settings.host.find_first_of(" \r\n") != std::string::npos) {
    throw ConfigError("host", "must be a host name");
  }
  if (settings.port <= 0 || settings.port > 65535) throw ConfigError("port", "must be 1..65535");
  if (settings.timeout_ms <= 0) throw ConfigError("timeout_ms", "must be positive");
  if (settings.connections < 1 || settings.connections > kMaxSmtpConnections)
    throw ConfigError("connections", "must be 1.." + std::to_string(kMaxSmtpConnections));
  for (unsigned char c : settings.helo_name) {
    if (!std::isalnum(c) && c != '.' && c != '-' && c != '[' && c != ']' && c != ':') {
      throw ConfigError("helo_name", "must be a host name or address literal");
    }
  }
  try {
    internal::ParseMailbox(settings.sender, "sender");
    if (!settings.reply_to.empty()) internal::ParseMailbox(settings.reply_to, "reply_to");
  } catch (const Error& e) {
    throw ConfigError(e.field(), "is not a mailbox like 'Shop <shop@example.com>'");
  }
  return std::make_unique<SmtpChannel>(settings);
}

}  // namespace cartrecovery
