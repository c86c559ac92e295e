// json_reader.h: reading a parsed Poco JSON document with paths in errors (not public API).
//
// The flow and policies documents follow one convention, kept here so their messages cannot
// drift apart: every complaint is ConfigError(path, what), where path names the offending
// value the way a user would write it ("paths[0].steps[2].after", "quiet_hours.email.from";
// "" for the whole document), and a value of the wrong type is reported as
// "must be <wanted>, not <what the document holds>".
#ifndef CARTRECOVERY_SRC_MODEL_JSON_READER_H_
#define CARTRECOVERY_SRC_MODEL_JSON_READER_H_

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cstddef>
#include <initializer_list>
#include <string>

namespace cartrecovery {
namespace internal {

// The path of member `key` under `path` ("a.b"; just "b" at the top level).
std::string Member(const std::string& path, const std::string& key);
// The path of element `index` under `path` ("a[3]").
std::string Element(const std::string& path, size_t index);

bool IsObject(const Poco::Dynamic::Var& v);
bool IsArray(const Poco::Dynamic::Var& v);
bool IsBool(const Poco::Dynamic::Var& v);
bool IsString(const Poco::Dynamic::Var& v);
// A whole number that is not a boolean (Poco reports booleans as integers too).
bool IsInteger(const Poco::Dynamic::Var& v);

// What the document holds, for error messages: "null", "an object", "a list", ...
std::string Kind(const Poco::Dynamic::Var& v);

// Always throws ConfigError(path, "must be " + wanted + ", not " + Kind(v)).
[[noreturn]] void WrongType(const Poco::Dynamic::Var& v, const std::string& path,
                            const std::string& wanted);

// The value as an object, list or string; throws WrongType(...) for anything else. The
// references stay valid as long as the document `v` belongs to.
const Poco::JSON::Object& AsObject(const Poco::Dynamic::Var& v, const std::string& path);
const Poco::JSON::Array& AsArray(const Poco::Dynamic::Var& v, const std::string& path);
std::string AsString(const Poco::Dynamic::Var& v, const std::string& path);

// Unknown keys are errors so that a typo ("aftre") is not silently a default. Throws
// ConfigError(Member(path, key), "unknown key (expected one of: a, b, c)") for the first
// key of `o` not in `known`.
void CheckKeys(const Poco::JSON::Object& o, const std::string& path,
               std::initializer_list<const char*> known);

// Deepest nesting of JSON documents (flows, policies): far beyond any real document.
constexpr size_t kMaxJsonDepth = 64;

// How deeply `json`'s arrays and objects nest (brackets inside strings do not count).
// Linear, without recursion, so it is safe on any input.
size_t NestingDepth(const std::string& json);

// Parses JSON text. Throws ConfigError(path, "not valid JSON: <why>") when it is not JSON,
// not UTF-8 or nested deeper than kMaxJsonDepth; nothing else escapes.
Poco::Dynamic::Var ParseJson(const std::string& json, const std::string& path);

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_MODEL_JSON_READER_H_
