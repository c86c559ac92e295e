// value.h: a JSON-shaped value, the form in which loosely typed input (an event's fields
// from a Python dict, a template's context) reaches the core.
//
// Decimal is kept apart from Float on purpose: money arrives as Decimal or str and stays
// exact; a Float where money is expected is refused by ingest, never rounded.
#ifndef CARTRECOVERY_VALUE_H_
#define CARTRECOVERY_VALUE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace cartrecovery {

// The order of std::less<std::string> (bytes as unsigned char, then the shorter first),
// compared in line: a map's keys are short words ("cart_url", "stage_payment") that differ
// within a few bytes, and a call to memcmp per comparison was most of a template's lookups.
struct ValueKeyLess {
  bool operator()(const std::string& a, const std::string& b) const {
    const size_t n = a.size() < b.size() ? a.size() : b.size();
    for (size_t i = 0; i < n; ++i)
      if (a[i] != b[i]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);
    return a.size() < b.size();
  }
};

class Value {
 public:
  enum class Kind { kNull, kBool, kInt, kFloat, kDecimal, kString, kList, kMap };
  using List = std::vector<Value>;
  using Map = std::map<std::string, Value, ValueKeyLess>;

  Value() = default;
  static Value Bool(bool b) { Value v; v.kind_ = Kind::kBool; v.int_ = b; return v; }
  static Value Int(int64_t i) { Value v; v.kind_ = Kind::kInt; v.int_ = i; return v; }
  static Value Float(double d) { Value v; v.kind_ = Kind::kFloat; v.float_ = d; return v; }
  // A decimal number in its exact text form, e.g. "19.90" (from Python's Decimal).
  static Value Decimal(std::string text) { Value v; v.kind_ = Kind::kDecimal; v.str_ = std::move(text); return v; }
  static Value String(std::string s) { Value v; v.kind_ = Kind::kString; v.str_ = std::move(s); return v; }
  static Value MakeList(List items = {}) { Value v; v.kind_ = Kind::kList; v.list_ = std::make_shared<List>(std::move(items)); return v; }
  static Value MakeMap(Map items = {}) { Value v; v.kind_ = Kind::kMap; v.map_ = std::make_shared<Map>(std::move(items)); return v; }

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool as_bool() const { return int_ != 0; }
  int64_t as_int() const { return int_; }
  double as_float() const { return float_; }
  const std::string& as_string() const { return str_; }  // kString and kDecimal
  const List& as_list() const { return *list_; }
  List& as_list() { return *list_; }
  const Map& as_map() const { return *map_; }
  Map& as_map() { return *map_; }

  // Map lookup; returns nullptr when this is not a map or the key is absent.
  const Value* Find(const std::string& key) const;
  // Map insert (this must be a map).
  Value& Set(const std::string& key, Value v);
  // Kind name for error messages: "null", "bool", "int", "float", "decimal", ...
  static const char* KindName(Kind k);

 private:
  Kind kind_ = Kind::kNull;
  int64_t int_ = 0;
  double float_ = 0;
  std::string str_;
  std::shared_ptr<List> list_;  // shared: Values are copied cheaply; treat as immutable
  std::shared_ptr<Map> map_;    // once built
};

}  // namespace cartrecovery

#endif  // CARTRECOVERY_VALUE_H_
