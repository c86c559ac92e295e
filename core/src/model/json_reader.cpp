// json_reader.cpp: the path-aware JSON reading helpers of json_reader.h.
#include "model/json_reader.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <exception>

#include "cartrecovery/status.h"
#include "cartrecovery/text.h"

namespace cartrecovery {
namespace internal {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

std::string Member(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string Element(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

bool IsObject(const Var& v) { return !v.isEmpty() && v.type() == typeid(Object::Ptr); }
bool IsArray(const Var& v) { return !v.isEmpty() && v.type() == typeid(Array::Ptr); }
bool IsBool(const Var& v) { return !v.isEmpty() && v.type() == typeid(bool); }
bool IsString(const Var& v) { return !v.isEmpty() && v.type() == typeid(std::string); }
bool IsInteger(const Var& v) { return !v.isEmpty() && !IsBool(v) && v.isInteger(); }

std::string Kind(const Var& v) {
  if (v.isEmpty()) return "null";
  if (IsObject(v)) return "an object";
  if (IsArray(v)) return "a list";
  if (IsBool(v)) return "a boolean";
  if (IsString(v)) return "a string";
  if (IsInteger(v)) return "an integer";
  if (v.isNumeric()) return "a fractional number";
  return "an unsupported value";
}

void WrongType(const Var& v, const std::string& path, const std::string& wanted) {
  throw ConfigError(path, "must be " + wanted + ", not " + Kind(v));
}

const Object& AsObject(const Var& v, const std::string& path) {
  if (!IsObject(v)) WrongType(v, path, "an object");
  const Object::Ptr& ptr = v.extract<Object::Ptr>();
  if (ptr.isNull()) WrongType(v, path, "an object");
  return *ptr;
}

const Array& AsArray(const Var& v, const std::string& path) {
  if (!IsArray(v)) WrongType(v, path, "a list");
  const Array::Ptr& ptr = v.extract<Array::Ptr>();
  if (ptr.isNull()) WrongType(v, path, "a list");
  return *ptr;
}

std::string AsString(const Var& v, const std::string& path) {
  if (!IsString(v)) WrongType(v, path, "a string");
  return v.extract<std::string>();
}

void CheckKeys(const Object& o, const std::string& path, std::initializer_list<const char*> known) {
  for (const auto& entry : o) {
    const std::string& key = entry.first;
    if (std::any_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) continue;
    std::string list;
    for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    throw ConfigError(Member(path, key), "unknown key (expected one of: " + list + ")");
  }
}

size_t NestingDepth(const std::string& json) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : json) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

Var ParseJson(const std::string& json, const std::string& path) {
  // Checked before the parser sees the text: a document of 100,000 '[' would otherwise
  // recurse that deep, and bytes that are not UTF-8 would reach messages and the store.
  if (!IsValidUtf8(json)) throw ConfigError(path, "not valid JSON: the text is not UTF-8");
  if (NestingDepth(json) > kMaxJsonDepth)
    throw ConfigError(path, "not valid JSON: nested deeper than " + std::to_string(kMaxJsonDepth) +
                                " levels");
  try {
    Poco::JSON::Parser parser;
    return parser.parse(json);
  } catch (const Poco::Exception& e) {
    throw ConfigError(path, "not valid JSON: " + QuoteForError(e.message(), 200));
  } catch (const std::exception& e) {
    throw ConfigError(path, std::string("not valid JSON: ") + QuoteForError(e.what(), 200));
  }
}

}  // namespace internal
}  // namespace cartrecovery
