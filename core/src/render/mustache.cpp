// mustache.cpp: a small Mustache renderer (variables, raw variables, sections, inverted
// sections, comments, dotted names) over cartrecovery::Value.
//
// Two passes: Tokenize() turns the template into text and tag tokens, dropping the
// whitespace of "standalone" lines (lines holding only section/comment tags), and Parse()
// nests the tokens into a tree, so every structural error is found before anything is
// written out. Partials and delimiter changes are refused rather than half-supported.
#include <charconv>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cartrecovery/render.h"
#include "cartrecovery/status.h"
#include "model/byte_set.h"
#include "render/render_internal.h"

namespace cartrecovery {
namespace {

enum class TokenKind { kText, kVariable, kRaw, kSection, kInverted, kClose, kComment };

struct Token {
  TokenKind kind;
  std::string text;  // literal text, or the trimmed tag name
  int line;          // 1-based line of the token's start
};

struct Node {
  TokenKind kind;
  std::string text;
  int line;
  std::vector<Node> children;  // sections and inverted sections only
  // A tag's dotted name split at its dots once, when parsed ("a.b" -> a, b; "." -> none):
  // a message looks up some hundred names, and splitting each time allocated.
  std::vector<std::string> path;
};

std::vector<std::string> SplitName(const std::string& name) {
  std::vector<std::string> parts;
  if (name == ".") return parts;
  size_t from = 0;
  for (;;) {
    size_t dot = name.find('.', from);
    parts.push_back(name.substr(from, dot == std::string::npos ? std::string::npos : dot - from));
    if (dot == std::string::npos) return parts;
    from = dot + 1;
  }
}

[[noreturn]] void Fail(const std::string& template_name, int line, const std::string& what) {
  throw ConfigError(template_name + ":" + std::to_string(line), what);
}

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && IsBlank(s[b])) ++b;
  while (e > b && IsBlank(s[e - 1])) --e;
  return s.substr(b, e - b);
}

bool AllBlank(const std::string& s) {
  for (char c : s)
    if (!IsBlank(c)) return false;
  return true;
}

int CountNewlines(const std::string& s, size_t from, size_t to) {
  int n = 0;
  for (size_t i = from; i < to; ++i) n += s[i] == '\n';
  return n;
}

// Splits the template into tokens. Standalone handling: a line whose only content is
// whitespace plus section, inverted, close or comment tags disappears entirely (its
// indentation and its newline), so templates can put those tags on lines of their own.
class Tokenizer {
 public:
  Tokenizer(const std::string& tmpl, const std::string& name) : tmpl_(tmpl), name_(name) {}

  std::vector<Token> Run() {
    size_t pos = 0;
    while (pos < tmpl_.size()) {
      size_t open = tmpl_.find("{{", pos);
      AddText(pos, open == std::string::npos ? tmpl_.size() : open);
      if (open == std::string::npos) break;
      pos = AddTag(open);
    }
    EndLine();  // the last line may be standalone without a trailing newline
    return std::move(tokens_);
  }

 private:
  // Text is cut at newlines so that one line's whitespace can be dropped on its own.
  void AddText(size_t from, size_t to) {
    while (from < to) {
      size_t nl = tmpl_.find('\n', from);
      size_t end = (nl == std::string::npos || nl >= to) ? to : nl + 1;
      std::string piece = tmpl_.substr(from, end - from);
      if (AllBlank(piece)) {
        line_blank_tokens_.push_back(tokens_.size());
      } else {
        line_has_content_ = true;
      }
      tokens_.push_back({TokenKind::kText, std::move(piece), line_});
      from = end;
      if (tmpl_[end - 1] == '\n') {
        EndLine();
        ++line_;
      }
    }
  }

  // Reads the tag starting at `open` ("{{"); returns the position after it.
  size_t AddTag(size_t open) {
    const int tag_line = line_;
    TokenKind kind;
    std::string body;
    size_t end;
    if (open + 2 < tmpl_.size() && tmpl_[open + 2] == '{') {
      size_t close = tmpl_.find("}}}", open + 3);
      if (close == std::string::npos) Fail(name_, tag_line, "unclosed tag '{{{' (no '}}}')");
      kind = TokenKind::kRaw;
      body = tmpl_.substr(open + 3, close - open - 3);
      end = close + 3;
    } else {
      size_t close = tmpl_.find("}}", open + 2);
      if (close == std::string::npos) Fail(name_, tag_line, "unclosed tag '{{' (no '}}')");
      body = tmpl_.substr(open + 2, close - open - 2);
      end = close + 2;
      char sigil = body.empty() ? '\0' : body[0];
      switch (sigil) {
        case '#': kind = TokenKind::kSection; break;
        case '^': kind = TokenKind::kInverted; break;
        case '/': kind = TokenKind::kClose; break;
        case '!': kind = TokenKind::kComment; break;
        case '&': kind = TokenKind::kRaw; break;
        case '>': Fail(name_, tag_line, "partials ({{>...}}) are not supported");
        case '=': Fail(name_, tag_line, "delimiter changes ({{=...=}}) are not supported");
        default: kind = TokenKind::kVariable; break;
      }
      if (kind != TokenKind::kVariable) body.erase(0, 1);
    }
    line_ += CountNewlines(tmpl_, open, end);  // comments may span lines
    if (kind == TokenKind::kComment) {
      line_has_tag_ = true;
      tokens_.push_back({kind, "", tag_line});
      return end;
    }
    std::string name = Trim(body);
    if (name.empty()) Fail(name_, tag_line, "empty tag name");
    if (name.find_first_of(" \t\r\n{}") != std::string::npos)
      Fail(name_, tag_line, "invalid tag name '" + name + "'");
    if (kind == TokenKind::kVariable || kind == TokenKind::kRaw) {
      line_has_content_ = true;  // a line that prints something is never standalone
    } else {
      line_has_tag_ = true;
    }
    tokens_.push_back({kind, std::move(name), tag_line});
    return end;
  }

  void EndLine() {
    if (line_has_tag_ && !line_has_content_) {
      for (size_t i : line_blank_tokens_) tokens_[i].text.clear();
    }
    line_blank_tokens_.clear();
    line_has_tag_ = false;
    line_has_content_ = false;
  }

  const std::string& tmpl_;
  const std::string& name_;
  std::vector<Token> tokens_;
  int line_ = 1;
  std::vector<size_t> line_blank_tokens_;  // whitespace-only text on the current line
  bool line_has_tag_ = false;              // a section/close/comment tag on the line
  bool line_has_content_ = false;          // visible text or a variable on the line
};

// Nests tokens into sections; reports unbalanced sections with the line that explains them.
std::vector<Node> Parse(const std::vector<Token>& tokens, const std::string& name) {
  std::vector<Node> root;
  // Only the innermost open container ever grows, so pointers to the open sections (which
  // live in their parents' vectors) and to their children vectors stay valid.
  std::vector<Node*> open;                                // innermost last
  std::vector<std::vector<Node>*> containers = {&root};  // where the next node goes
  for (const Token& t : tokens) {
    std::vector<Node>& out = *containers.back();
    switch (t.kind) {
      case TokenKind::kText:
        if (!t.text.empty()) out.push_back({t.kind, t.text, t.line, {}, {}});
        break;
      case TokenKind::kComment:
        break;
      case TokenKind::kVariable:
      case TokenKind::kRaw:
        out.push_back({t.kind, t.text, t.line, {}, SplitName(t.text)});
        break;
      case TokenKind::kSection:
      case TokenKind::kInverted:
        out.push_back({t.kind, t.text, t.line, {}, SplitName(t.text)});
        containers.push_back(&out.back().children);
        open.push_back(&out.back());
        break;
      case TokenKind::kClose:
        if (open.empty())
          Fail(name, t.line, "{{/" + t.text + "}} closes a section that is not open");
        if (open.back()->text != t.text)
          Fail(name, t.line,
               "{{/" + t.text + "}} does not match {{" +
                   (open.back()->kind == TokenKind::kInverted ? "^" : "#") + open.back()->text +
                   "}} opened at line " +
                   std::to_string(open.back()->line));
        open.pop_back();
        containers.pop_back();
        break;
    }
  }
  if (!open.empty())
    Fail(name, open.back()->line, "unclosed section {{#" + open.back()->text + "}}");
  return root;
}

// Empty strings and null count as false besides the spec's false and empty list: the
// contexts built here use "" for "not set", and {{#shop.chat_url}} should then hide.
bool Truthy(const Value* v) {
  if (v == nullptr) return false;
  switch (v->kind()) {
    case Value::Kind::kNull: return false;
    case Value::Kind::kBool: return v->as_bool();
    case Value::Kind::kString:
    case Value::Kind::kDecimal: return !v->as_string().empty();
    case Value::Kind::kList: return !v->as_list().empty();
    case Value::Kind::kInt:
    case Value::Kind::kFloat:
    case Value::Kind::kMap: return true;
  }
  return false;
}

// The bytes AppendHtmlEscaped replaces: one table load per byte of every {{x}}.
constexpr internal::ByteSet kHtmlSpecial = internal::ByteSet::Where(
    [](unsigned char c) { return c == '&' || c == '<' || c == '>' || c == '"' || c == '\''; });

void AppendHtmlEscaped(const char* s, size_t n, std::string* out) {
  size_t plain = 0;  // s[plain, i) is copied in one append
  for (size_t i = 0; i < n; ++i) {
    if (!kHtmlSpecial(static_cast<unsigned char>(s[i]))) continue;
    const char* entity;
    switch (s[i]) {
      case '&': entity = "&amp;"; break;
      case '<': entity = "&lt;"; break;
      case '>': entity = "&gt;"; break;
      case '"': entity = "&quot;"; break;
      case '\'': entity = "&#39;"; break;
      default: continue;
    }
    out->append(s + plain, i - plain);
    *out += entity;
    plain = i + 1;
  }
  out->append(s + plain, n - plain);
}

// Writes the value's text ("" for null, lists and maps), HTML-escaped or not, without
// copying a string value first.
void AppendText(const Value* v, bool escape_html, std::string* out) {
  if (v == nullptr) return;
  char buf[32];
  const char* text = buf;
  size_t n = 0;
  switch (v->kind()) {
    case Value::Kind::kString:
    case Value::Kind::kDecimal:
      text = v->as_string().data();
      n = v->as_string().size();
      break;
    case Value::Kind::kInt:
      // What "%lld" writes, without printf's format parsing.
      n = static_cast<size_t>(std::to_chars(buf, buf + sizeof buf, v->as_int()).ptr - buf);
      break;
    case Value::Kind::kFloat:
      n = static_cast<size_t>(std::snprintf(buf, sizeof buf, "%.15g", v->as_float()));
      break;
    case Value::Kind::kBool:
      text = v->as_bool() ? "true" : "false";
      n = v->as_bool() ? 4 : 5;
      break;
    case Value::Kind::kNull:
    case Value::Kind::kList:
    case Value::Kind::kMap:
      return;
  }
  if (escape_html) AppendHtmlEscaped(text, n, out);
  else out->append(text, n);
}

class Renderer {
 public:
  Renderer(const Value& root, render_internal::Escape escape) : escape_(escape) {
    stack_.push_back(&root);
  }

  void Render(const std::vector<Node>& nodes, std::string* out) {
    for (const Node& n : nodes) {
      switch (n.kind) {
        case TokenKind::kText:
          *out += n.text;
          break;
        case TokenKind::kVariable:
          AppendText(Lookup(n.path), escape_ == render_internal::Escape::kHtml, out);
          break;
        case TokenKind::kRaw:
          AppendText(Lookup(n.path), false, out);
          break;
        case TokenKind::kSection: {
          const Value* v = Lookup(n.path);
          if (v != nullptr && v->kind() == Value::Kind::kList) {
            for (const Value& element : v->as_list()) {
              stack_.push_back(&element);
              Render(n.children, out);
              stack_.pop_back();
            }
          } else if (Truthy(v)) {
            stack_.push_back(v);
            Render(n.children, out);
            stack_.pop_back();
          }
          break;
        }
        case TokenKind::kInverted:
          if (!Truthy(Lookup(n.path))) Render(n.children, out);
          break;
        case TokenKind::kClose:
        case TokenKind::kComment:
          break;
      }
    }
  }

 private:
  // "." is the innermost context. For "a.b.c", "a" is looked up from the innermost context
  // outwards; "b" and "c" only inside what "a" found (the Mustache spec's rule, so that a
  // missing "b" does not silently pick up an unrelated outer "b").
  // `path`: the name split at its dots (Node::path); empty for ".".
  const Value* Lookup(const std::vector<std::string>& path) const {
    if (path.empty()) return stack_.back();
    const Value* v = nullptr;
    for (auto it = stack_.rbegin(); it != stack_.rend() && v == nullptr; ++it)
      v = (*it)->Find(path[0]);
    for (size_t i = 1; v != nullptr && i < path.size(); ++i) v = v->Find(path[i]);
    return v;
  }

  render_internal::Escape escape_;
  std::vector<const Value*> stack_;  // context stack, innermost last; points into `root`
};

}  // namespace

namespace render_internal {

namespace {

// Templates are parsed once: a worker renders the same few templates for every message of
// a batch, and parsing cost as much as rendering. Keyed by name and text, so a template
// edited on disk (a new text) is parsed again; bounded, since a shop's set is small and a
// test may make many. Found by name first, then the text compared: a lookup copies
// nothing (a copy of the text for the key cost as much as a render's lookups).
std::shared_ptr<const std::vector<Node>> ParsedTemplate(const std::string& tmpl,
                                                        const std::string& name) {
  using Parsed = std::pair<std::string, std::shared_ptr<const std::vector<Node>>>;  // text, tree
  static std::mutex mu;
  static std::map<std::string, std::vector<Parsed>, std::less<>> cache;  // by name
  static size_t cached = 0;
  constexpr size_t kMaxTemplates = 512;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(name);
    if (it != cache.end())
      for (const auto& [text, tree] : it->second)
        if (text == tmpl) return tree;
  }
  auto tree = std::make_shared<const std::vector<Node>>(Parse(Tokenizer(tmpl, name).Run(), name));
  std::lock_guard<std::mutex> lock(mu);
  if (cached >= kMaxTemplates) {
    cache.clear();
    cached = 0;
  }
  cache[name].emplace_back(tmpl, tree);
  ++cached;
  return tree;
}

}  // namespace

std::string RenderMustache(const std::string& tmpl, const Value& context,
                           const std::string& template_name, Escape escape) {
  auto tree = ParsedTemplate(tmpl, template_name);
  std::string out;
  out.reserve(tmpl.size() * 2);
  Renderer(context, escape).Render(*tree, &out);
  return out;
}

void CheckMustache(const std::string& tmpl, const std::string& template_name) {
  Parse(Tokenizer(tmpl, template_name).Run(), template_name);
}

}  // namespace render_internal

std::string RenderMustache(const std::string& tmpl, const Value& context,
                           const std::string& template_name) {
  return render_internal::RenderMustache(tmpl, context, template_name,
                                         render_internal::Escape::kHtml);
}

}  // namespace cartrecovery
