#include "model/json_writer.h"

namespace cartrecovery {
namespace internal {
namespace {

std::string Indent(int depth) { return std::string(2 * depth, ' '); }

}  // namespace

std::string JsonQuote(const std::string& text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string JsonBlockObject(const JsonMembers& members, int depth) {
  if (members.empty()) return "{}";
  std::string out = "{";
  for (size_t i = 0; i < members.size(); ++i)
    out += (i ? ",\n" : "\n") + Indent(depth + 1) + JsonQuote(members[i].first) + ": " +
           members[i].second;
  return out + "\n" + Indent(depth) + "}";
}

std::string JsonBlockList(const std::vector<std::string>& items, int depth) {
  if (items.empty()) return "[]";
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ",\n" : "\n") + Indent(depth + 1) + items[i];
  return out + "\n" + Indent(depth) + "]";
}

std::string JsonInlineObject(const JsonMembers& members) {
  std::string out = "{";
  for (size_t i = 0; i < members.size(); ++i)
    out += (i ? ", " : "") + JsonQuote(members[i].first) + ": " + members[i].second;
  return out + "}";
}

std::string JsonInlineNames(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + JsonQuote(names[i]);
  return out + "]";
}

}  // namespace internal
}  // namespace cartrecovery
