// html_links.cpp: click-tracking rewrites of rendered HTML and the open pixel.
//
// Not a full HTML parser: a scanner that knows just enough of the HTML tokenizer to find
// <a> start tags and their href attribute without being fooled by quoted '>' inside
// attributes, comments (Outlook's conditional comments among them) or <script>/<style>
// text. Every byte it does not rewrite is copied as it was, so a template's layout, its
// entities and its whitespace survive untouched.
#include <cstdint>
#include <string>

#include "cartrecovery/status.h"
#include "cartrecovery/track.h"

namespace cartrecovery {

namespace {

// What a byte means to the tag scanner, one table load per byte instead of a chain of
// compares: the scanner walks every byte of every tag name and attribute name.
enum : uint8_t {
  kSpace = 1,         // HTML whitespace
  kEndsTagName = 2,   // whitespace, '/', '>'
  kEndsAttrName = 4,  // whitespace, '/', '>', '='
  kEndsUnquoted = 8,  // whitespace, '>'
  kBetweenAttrs = 16, // whitespace, '/'
};

struct ByteClasses {
  uint8_t of[256] = {};
  constexpr ByteClasses() {
    for (unsigned char c : {' ', '\t', '\n', '\r', '\f'})
      of[c] = kSpace | kEndsTagName | kEndsAttrName | kEndsUnquoted | kBetweenAttrs;
    of[static_cast<unsigned char>('/')] = kEndsTagName | kEndsAttrName | kBetweenAttrs;
    of[static_cast<unsigned char>('>')] = kEndsTagName | kEndsAttrName | kEndsUnquoted;
    of[static_cast<unsigned char>('=')] = kEndsAttrName;
  }
};
constexpr ByteClasses kClasses;

bool Is(char c, uint8_t cls) { return kClasses.of[static_cast<unsigned char>(c)] & cls; }

bool IsHtmlSpace(char c) { return Is(c, kSpace); }

char Lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Case-insensitive find of a lower-case needle that starts with '<' (no case): memchr to
// each '<', then the rest compared.
size_t FindNoCase(const std::string& s, const std::string& needle, size_t from) {
  if (needle.size() > s.size()) return std::string::npos;
  for (size_t i = s.find(needle[0], from); i != std::string::npos && i + needle.size() <= s.size();
       i = s.find(needle[0], i + 1)) {
    size_t k = 1;
    while (k < needle.size() && Lower(s[i + k]) == needle[k]) ++k;
    if (k == needle.size()) return i;
  }
  return std::string::npos;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// Decodes the character references a URL in an attribute can hold: numeric ones (&#38;,
// &#x26;, the ';' optional as browsers allow) and the five XML names with their ';'.
// Anything else ("&copy=2" in a query string, unknown names) stays as written, which is
// also what browsers do for names followed by '=' or an alphanumeric inside attributes.
std::string DecodeReferences(std::string s) {
  if (s.find('&') == std::string::npos) return s;  // most URLs: nothing to decode
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (s[i] != '&') {
      out += s[i++];
      continue;
    }
    if (i + 2 < s.size() && s[i + 1] == '#') {
      bool hex = s[i + 2] == 'x' || s[i + 2] == 'X';
      size_t j = i + (hex ? 3 : 2);
      uint32_t cp = 0;
      size_t digits = 0;
      while (j < s.size() && (hex ? IsHex(s[j]) : (s[j] >= '0' && s[j] <= '9'))) {
        char c = Lower(s[j]);
        uint32_t d = c <= '9' ? uint32_t(c - '0') : uint32_t(c - 'a' + 10);
        if (cp <= 0x10FFFF) cp = cp * (hex ? 16 : 10) + d;  // stops growing once invalid
        ++j;
        ++digits;
      }
      if (digits > 0) {
        if (j < s.size() && s[j] == ';') ++j;
        AppendUtf8(out, cp);
        i = j;
        continue;
      }
    }
    static const struct { const char* name; char c; } kNames[] = {
        {"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    bool done = false;
    for (const auto& n : kNames) {
      size_t len = std::char_traits<char>::length(n.name);
      if (s.compare(i + 1, len, n.name) == 0) {
        out += n.c;
        i += 1 + len;
        done = true;
        break;
      }
    }
    if (!done) out += s[i++];
  }
  return out;
}

// Encodes a URL for an attribute value quoted with `quote`.
std::string EncodeAttribute(const std::string& s, char quote) {
  std::string out;
  out.reserve(s.size() + 8);
  for (char c : s) {
    if (c == '&') {
      out += "&amp;";
    } else if (c == quote) {
      out += quote == '"' ? "&quot;" : "&#39;";
    } else {
      out += c;
    }
  }
  return out;
}

std::string TrimHtmlSpace(std::string s) {
  size_t b = 0, e = s.size();
  while (b < e && IsHtmlSpace(s[b])) ++b;
  while (e > b && IsHtmlSpace(s[e - 1])) --e;
  if (b == 0 && e == s.size()) return s;  // the usual case: no copy
  return s.substr(b, e - b);
}

struct AttributeValue {
  size_t begin = 0;  // first byte of the value (after the opening quote)
  size_t end = 0;    // one past its last byte (at the closing quote)
  char quote = 0;    // '"', '\'' or 0 for unquoted
};

struct Tag {
  size_t end = std::string::npos;  // one past '>'; npos when the tag never closes
  size_t name_begin = 0;           // the name as written: html[name_begin, name_end)
  size_t name_end = 0;
  bool closing = false;
  bool has_href = false;
  AttributeValue href;             // the first href (browsers ignore later duplicates)
};

// Whether html[begin, end) is `lower` (lower case) in any case; compared in place, since a
// message's HTML has hundreds of tags and attributes and few are the ones looked for (the
// lengths differ for most, so most are told apart without reading a byte).
template <size_t N>
bool NameIs(const std::string& html, size_t begin, size_t end, const char (&lower)[N]) {
  if (end - begin != N - 1) return false;
  for (size_t k = 0; k < N - 1; ++k)
    if (Lower(html[begin + k]) != lower[k]) return false;
  return true;
}

// Scans the tag starting at html[lt] == '<' whose name starts at `pos`.
Tag ScanTag(const std::string& html, size_t pos, bool closing) {
  Tag tag;
  tag.closing = closing;
  const size_t n = html.size();
  size_t k = pos;
  tag.name_begin = k;
  while (k < n && !Is(html[k], kEndsTagName)) ++k;
  tag.name_end = k;
  for (;;) {
    while (k < n && Is(html[k], kBetweenAttrs)) ++k;
    if (k >= n) return tag;  // unterminated
    if (html[k] == '>') {
      tag.end = k + 1;
      return tag;
    }
    const size_t attr_begin = k++;  // may be '=' (a parse error browsers accept as a name)
    while (k < n && !Is(html[k], kEndsAttrName)) ++k;
    const size_t after_name = k;
    while (k < n && IsHtmlSpace(html[k])) ++k;
    if (k >= n || html[k] != '=') {
      k = after_name;  // an attribute without a value
      continue;
    }
    ++k;
    while (k < n && IsHtmlSpace(html[k])) ++k;
    if (k >= n) return tag;
    AttributeValue value;
    if (html[k] == '"' || html[k] == '\'') {
      value.quote = html[k];
      value.begin = k + 1;
      size_t close = html.find(value.quote, value.begin);
      if (close == std::string::npos) return tag;  // unterminated
      value.end = close;
      k = close + 1;
    } else {
      value.begin = k;
      while (k < n && !Is(html[k], kEndsUnquoted)) ++k;
      value.end = k;
    }
    if (!tag.has_href && NameIs(html, attr_begin, after_name, "href")) {
      tag.has_href = true;
      tag.href = value;
    }
  }
}

}  // namespace

std::string WrapLinks(const std::string& html,
                      const std::function<std::string(const std::string& url)>& make_click_url) {
  std::string out;  // reserved at the first rewrite: many messages have none
  size_t copied = 0;  // html[0, copied) is already in out
  const size_t n = html.size();
  size_t i = 0;
  while (i < n) {
    i = html.find('<', i);  // memchr: most of a message is text and attribute values
    if (i == std::string::npos) break;
    if (i + 3 < n && html[i + 1] == '!' && html[i + 2] == '-' && html[i + 3] == '-') {
      size_t end = html.find("-->", i + 4);
      i = end == std::string::npos ? n : end + 3;
      continue;
    }
    if (i + 1 < n && (html[i + 1] == '!' || html[i + 1] == '?')) {  // doctype, CDATA, PI
      size_t end = html.find('>', i);
      i = end == std::string::npos ? n : end + 1;
      continue;
    }
    bool closing = i + 1 < n && html[i + 1] == '/';
    size_t name_at = i + (closing ? 2 : 1);
    if (name_at >= n || !IsAlpha(html[name_at])) {  // "a < b", "<3": text, not a tag
      ++i;
      continue;
    }
    Tag tag = ScanTag(html, name_at, closing);
    if (tag.end == std::string::npos) break;  // unterminated tag: leave the rest as is
    i = tag.end;
    if (!closing && (NameIs(html, tag.name_begin, tag.name_end, "script") ||
                     NameIs(html, tag.name_begin, tag.name_end, "style"))) {
      std::string close = "</";
      for (size_t k = tag.name_begin; k < tag.name_end; ++k) close += Lower(html[k]);
      size_t end = FindNoCase(html, close, i);
      i = end == std::string::npos ? n : end;
      continue;
    }
    if (closing || !NameIs(html, tag.name_begin, tag.name_end, "a") || !tag.has_href) continue;

    const AttributeValue& v = tag.href;
    std::string url = TrimHtmlSpace(DecodeReferences(html.substr(v.begin, v.end - v.begin)));
    if (!IsSafeRedirectUrl(url)) continue;  // mailto:, tel:, relative, odd bytes: untouched
    std::string replacement = make_click_url(url);
    if (replacement == url) continue;
    if (out.empty()) out.reserve(html.size() + html.size() / 4);
    out.append(html, copied, v.begin - copied);
    if (v.quote) {
      out += EncodeAttribute(replacement, v.quote);
    } else {
      out += '"';
      out += EncodeAttribute(replacement, '"');
      out += '"';
    }
    copied = v.end;
  }
  if (copied == 0) return html;  // nothing rewritten
  out.append(html, copied, std::string::npos);
  return out;
}

std::string AppendOpenPixel(const std::string& html, const std::string& pixel_url) {
  if (!IsSafeRedirectUrl(pixel_url))
    throw InvalidArgument("pixel_url", "must be an absolute http(s) URL (see IsSafeRedirectUrl)");
  std::string img = "<img src=\"" + EncodeAttribute(pixel_url, '"') +
                    "\" width=\"1\" height=\"1\" alt=\"\" "
                    "style=\"display:block;width:1px;height:1px;border:0\">";
  // The last </body>: an earlier one can only be inside a comment or text.
  size_t at = std::string::npos;
  for (size_t from = 0;;) {
    size_t found = FindNoCase(html, "</body", from);
    if (found == std::string::npos) break;
    at = found;
    from = found + 1;
  }
  if (at == std::string::npos) return html + img;
  std::string out;
  out.reserve(html.size() + img.size());
  out.append(html, 0, at);
  out += img;
  out.append(html, at, std::string::npos);
  return out;
}

}  // namespace cartrecovery
