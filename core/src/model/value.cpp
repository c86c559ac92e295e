#include "cartrecovery/value.h"

namespace cartrecovery {

const Value* Value::Find(const std::string& key) const {
  if (kind_ != Kind::kMap) return nullptr;
  auto it = map_->find(key);
  return it == map_->end() ? nullptr : &it->second;
}

Value& Value::Set(const std::string& key, Value v) {
  if (kind_ != Kind::kMap) {
    kind_ = Kind::kMap;
    map_ = std::make_shared<Map>();
  }
  // Moved into its node directly: no default Value built, assigned and dropped first.
  return map_->insert_or_assign(key, std::move(v)).first->second;
}

const char* Value::KindName(Kind k) {
  switch (k) {
    case Kind::kNull: return "null";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kDecimal: return "decimal";
    case Kind::kString: return "str";
    case Kind::kList: return "list";
    case Kind::kMap: return "dict";
  }
  return "?";
}

}  // namespace cartrecovery
