// mime.cpp: the RFC 5322 / MIME text of an outgoing e-mail.
//
// Built by hand rather than with Poco::Net::MailMessage so the output is deterministic
// (same message in, same bytes out: no random boundary, no local clock), which makes it
// testable byte for byte and lets the outbox and SMTP channels share it. The output is
// 7-bit clean (RFC 2047 words in headers, quoted-printable bodies) so any relay accepts it
// without 8BITMIME or SMTPUTF8 (addresses excepted: they are passed as given).
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cartrecovery/delivery.h"
#include "cartrecovery/status.h"
#include "deliver/mime_internal.h"

namespace cartrecovery {
namespace internal {

namespace {

bool HasLineBreak(const std::string& s) {
  return s.find_first_of(std::string("\r\n\0", 3)) != std::string::npos;
}

}  // namespace

std::string Base64(const std::string& bytes) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) |
                 uint8_t(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < bytes.size()) {
    uint32_t n = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) n |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

void CheckAddress(const std::string& address, const std::string& field) {
  if (address.empty()) throw InvalidArgument(field, "address is empty");
  if (HasLineBreak(address)) throw InvalidArgument(field, "contains a line break");
  for (unsigned char c : address) {
    // Anything here would let the address end an SMTP command early or add a recipient.
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == ',' || c == ';' || c == '"') {
      throw InvalidArgument(field, "is not a single plain address: " + address);
    }
  }
  size_t at = address.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == address.size()) {
    throw InvalidArgument(field, "is not an address (local@domain): " + address);
  }
}

Mailbox ParseMailbox(const std::string& text, const std::string& field) {
  if (HasLineBreak(text)) throw InvalidArgument(field, "contains a line break");
  Mailbox box;
  size_t open = text.rfind('<');
  if (open == std::string::npos) {
    box.address = text;
  } else {
    size_t close = text.find('>', open);
    if (close == std::string::npos || text.find_first_not_of(" \t", close + 1) != std::string::npos) {
      throw InvalidArgument(field, "malformed mailbox: " + text);
    }
    box.address = text.substr(open + 1, close - open - 1);
    std::string name = text.substr(0, open);
    size_t b = name.find_first_not_of(" \t");
    size_t e = name.find_last_not_of(" \t");
    name = b == std::string::npos ? std::string() : name.substr(b, e - b + 1);
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      std::string unquoted;
      for (size_t i = 1; i + 1 < name.size(); ++i) {
        if (name[i] == '\\' && i + 2 < name.size()) ++i;
        unquoted += name[i];
      }
      name = unquoted;
    }
    box.name = name;
  }
  size_t b = box.address.find_first_not_of(" \t");
  size_t e = box.address.find_last_not_of(" \t");
  box.address = b == std::string::npos ? std::string() : box.address.substr(b, e - b + 1);
  CheckAddress(box.address, field);
  return box;
}

}  // namespace internal

namespace {

using internal::Base64;
using internal::Mailbox;

constexpr size_t kMaxEncodedLine = 76;  // RFC 2045 (QP) and RFC 2047 (encoded words)
constexpr size_t kFoldAt = 78;          // RFC 5322 recommended header line length
const char kCrlf[] = "\r\n";

void RejectLineBreaks(const std::string& value, const std::string& field) {
  if (value.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
    throw InvalidArgument(field, "contains a line break");
  }
}

// True when `text` can go into a header as is: printable ASCII (and tabs), and nothing a
// reader could mistake for an encoded word.
bool IsPlainHeaderText(const std::string& text) {
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\t') || c >= 0x7f) return false;
  }
  return text.find("=?") == std::string::npos;
}

// Length of the UTF-8 sequence that starts with `lead` (1 for stray bytes, so invalid input
// still makes progress and is carried through unchanged).
size_t Utf8Length(unsigned char lead) {
  if (lead >= 0xf0 && lead < 0xf8) return 4;
  if (lead >= 0xe0) return lead < 0xf0 ? 3 : 1;
  if (lead >= 0xc0) return 2;
  return 1;
}

// RFC 2047 B-encoded words, folded so no line exceeds 76 characters; `used` is how much of
// the first line the header name already takes. Words never split a UTF-8 character.
std::string EncodeWords(const std::string& text, size_t used) {
  const size_t kOverhead = 12;  // "=?UTF-8?B?" + "?="
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t budget = kMaxEncodedLine > used + kOverhead ? kMaxEncodedLine - used - kOverhead : 4;
    size_t max_bytes = std::max<size_t>(budget / 4 * 3, 3);
    size_t end = i;
    while (end < text.size()) {
      size_t n = std::min(Utf8Length(uint8_t(text[end])), text.size() - end);
      if (end + n - i > max_bytes && end > i) break;
      end += n;
    }
    if (!out.empty()) {
      out += "\r\n ";
      used = 1;
    }
    std::string word = "=?UTF-8?B?" + Base64(text.substr(i, end - i)) + "?=";
    out += word;
    used += word.size();
    i = end;
  }
  return out;
}

// Folds plain text at spaces so lines stay near 78 characters (unfolding restores it).
std::string FoldPlain(const std::string& text, size_t used) {
  std::string out;
  size_t line = used;
  size_t start = 0;
  bool first = true;
  while (start <= text.size()) {
    size_t space = text.find(' ', start);
    if (space == std::string::npos) space = text.size();
    std::string word = text.substr(start, space - start);
    if (!first) {
      if (line + 1 + word.size() > kFoldAt && line > used) {
        out += "\r\n ";
        line = 1;
      } else {
        out += ' ';
        ++line;
      }
    }
    out += word;
    line += word.size();
    first = false;
    start = space + 1;
  }
  return out;
}

// An unstructured header value (Subject, extra headers): as is when plain, else encoded.
std::string HeaderText(const std::string& text, size_t used) {
  if (text.empty()) return text;
  return IsPlainHeaderText(text) ? FoldPlain(text, used) : EncodeWords(text, used);
}

// A display name as an RFC 5322 phrase: atoms, a quoted string, or encoded words.
std::string Phrase(const std::string& name, size_t used) {
  if (!IsPlainHeaderText(name)) return EncodeWords(name, used);
  bool needs_quotes = false;
  for (char c : name) {
    if (std::string("()<>[]:;@\\,.\"").find(c) != std::string::npos) needs_quotes = true;
  }
  if (!needs_quotes) return name;
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

std::string FormatMailbox(const Mailbox& box, size_t used) {
  if (box.name.empty()) return box.address;
  return Phrase(box.name, used) + " <" + box.address + ">";
}

// RFC 5322 date-time in UTC, computed without the C library's time zone state.
std::string FormatDate(Millis date_ms) {
  int64_t secs = date_ms / 1000 - (date_ms % 1000 < 0 ? 1 : 0);
  int64_t days = secs / 86400 - (secs % 86400 < 0 ? 1 : 0);
  int64_t rem = secs - days * 86400;
  // Civil date from days since 1970-01-01 (H. Hinnant's days_from_civil, inverted).
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t day = doy - (153 * mp + 2) / 5 + 1;
  int64_t month = mp < 10 ? mp + 3 : mp - 9;
  int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  int64_t weekday = (days % 7 + 7 + 4) % 7;  // 1970-01-01 was a Thursday
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04lld %02d:%02d:%02d +0000", kDays[weekday],
                int(day), kMonths[month - 1], static_cast<long long>(year), int(rem / 3600),
                int(rem / 60 % 60), int(rem % 60));
  return buf;
}

// Quoted-printable (RFC 2045 6.7) of UTF-8 text: CRLF line ends, lines of at most 76
// characters, '=' and non-ASCII escaped, trailing white space protected.
std::string QuotedPrintable(const std::string& text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  size_t i = 0;
  while (i <= text.size()) {
    size_t end = text.find_first_of("\r\n", i);
    if (end == std::string::npos) end = text.size();
    std::vector<std::string> tokens;
    for (size_t k = i; k < end; ++k) {
      unsigned char c = uint8_t(text[k]);
      bool trailing_space = (c == ' ' || c == '\t') && k + 1 == end;
      // "From " at a line start gets mangled by mbox tools; escaping it costs nothing.
      bool from_line = c == 'F' && k == i && text.compare(k, 5, "From ") == 0;
      if ((c >= 33 && c <= 126 && c != '=' && !from_line) ||
          ((c == ' ' || c == '\t') && !trailing_space)) {
        tokens.emplace_back(1, char(c));
      } else {
        tokens.push_back({'=', kHex[c >> 4], kHex[c & 15]});
      }
    }
    size_t line = 0;
    for (size_t t = 0; t < tokens.size(); ++t) {
      bool last = t + 1 == tokens.size();
      // A soft break ('=' at the end) takes one column, except after the last token.
      if (line + tokens[t].size() > (last ? kMaxEncodedLine : kMaxEncodedLine - 1)) {
        out += "=\r\n";
        line = 0;
      }
      out += tokens[t];
      line += tokens[t].size();
    }
    if (end == text.size()) {
      if (!tokens.empty()) out += kCrlf;
      break;
    }
    out += kCrlf;
    i = end + (text.compare(end, 2, "\r\n") == 0 ? 2 : 1);
  }
  return out;
}

std::string TextPart(const std::string& subtype, const std::string& body) {
  return "Content-Type: text/" + subtype + "; charset=UTF-8\r\n" +
         "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + QuotedPrintable(body);
}

// The boundary holds "=_", which quoted-printable output can never contain, so it cannot
// collide with a body; it is derived from the message id to keep the output deterministic.
std::string Boundary(const std::string& message_id) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : message_id) h = (h ^ c) * 1099511628211ull;
  char buf[40];
  std::snprintf(buf, sizeof buf, "=_cr_%016llx", static_cast<unsigned long long>(h));
  return buf;
}

bool IsDotAtomText(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!(std::isalnum(c) || std::string("!#$%&'*+-/=?^_`{|}~.").find(char(c)) != std::string::npos)) {
      return false;
    }
  }
  return true;
}

bool EqualsIgnoreCase(const std::string& a, const char* b) {
  size_t i = 0;
  for (; i < a.size() && b[i]; ++i) {
    if (std::tolower(uint8_t(a[i])) != std::tolower(uint8_t(b[i]))) return false;
  }
  return i == a.size() && !b[i];
}

// Headers the builder writes itself; a duplicate would make the message ambiguous (or, for
// Bcc/Cc, add recipients behind the envelope's back).
bool IsReservedHeader(const std::string& name) {
  static const char* const kReserved[] = {
      "from", "to", "cc", "bcc", "reply-to", "subject", "date", "message-id", "sender",
      "mime-version", "content-type", "content-transfer-encoding", "return-path"};
  for (const char* r : kReserved) {
    if (EqualsIgnoreCase(name, r)) return true;
  }
  return false;
}

}  // namespace

std::string BuildMimeMessage(const OutgoingMessage& message, const std::string& sender,
                             const std::string& reply_to) {
  Mailbox from = internal::ParseMailbox(sender, "sender");
  internal::CheckAddress(message.to, "to");
  RejectLineBreaks(message.to_name, "to_name");
  RejectLineBreaks(message.subject, "subject");
  if (!IsDotAtomText(message.message_id)) {
    throw InvalidArgument("message_id",
                          "must be non-empty dot-atom text (got '" + message.message_id + "')");
  }

  std::string out;
  out += "From: " + FormatMailbox(from, 6) + kCrlf;
  out += "To: " + FormatMailbox(Mailbox{message.to_name, message.to}, 4) + kCrlf;
  if (!reply_to.empty()) {
    out += "Reply-To: " + FormatMailbox(internal::ParseMailbox(reply_to, "reply_to"), 10) + kCrlf;
  }
  out += "Subject: " + HeaderText(message.subject, 9) + kCrlf;
  out += "Date: " + FormatDate(message.date_ms) + kCrlf;
  out += "Message-ID: <" + message.message_id + "@" +
         from.address.substr(from.address.rfind('@') + 1) + ">" + kCrlf;
  out += "MIME-Version: 1.0\r\n";
  for (size_t i = 0; i < message.headers.size(); ++i) {
    const auto& [name, value] = message.headers[i];
    std::string field = "headers[" + std::to_string(i) + "]";
    bool name_ok = !name.empty() && name.size() <= 64;
    for (unsigned char c : name) name_ok = name_ok && c >= 33 && c <= 126 && c != ':';
    if (!name_ok) throw InvalidArgument(field, "bad header name '" + name + "'");
    if (IsReservedHeader(name)) throw InvalidArgument(field, name + " is set by the channel");
    RejectLineBreaks(value, field);
    out += name + ": " + HeaderText(value, name.size() + 2) + kCrlf;
  }

  if (message.html.empty()) {
    out += TextPart("plain", message.text);
    return out;
  }
  std::string boundary = Boundary(message.message_id);
  out += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
  out += "--" + boundary + kCrlf + TextPart("plain", message.text);
  out += "--" + boundary + kCrlf + TextPart("html", message.html);
  out += "--" + boundary + "--" + kCrlf;
  return out;
}

}  // namespace cartrecovery
