// Event JSON: bytes -> JSON (the core's guarded reader) -> Value -> ParseEvent (validation)
// -> EventToJson -> LoggedEventFields (what exports and replays read back). An accepted
// event must survive the round trip; the stored-event reader must refuse any other bytes
// with an Error.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include "cartrecovery/events.h"
#include "cartrecovery/value.h"
#include "fuzz_common.h"
#include "model/json_reader.h"

using cartrecovery::Value;

namespace {

Value ToValue(const Poco::Dynamic::Var& v) {
  if (v.isEmpty()) return Value();
  if (v.type() == typeid(Poco::JSON::Object::Ptr)) {
    Value map = Value::MakeMap();
    auto o = v.extract<Poco::JSON::Object::Ptr>();
    for (const auto& name : o->getNames()) map.Set(name, ToValue(o->get(name)));
    return map;
  }
  if (v.type() == typeid(Poco::JSON::Array::Ptr)) {
    Value list = Value::MakeList();
    auto a = v.extract<Poco::JSON::Array::Ptr>();
    for (size_t i = 0; i < a->size(); ++i) list.as_list().push_back(ToValue(a->get(static_cast<unsigned>(i))));
    return list;
  }
  if (v.isBoolean()) return Value::Bool(v.convert<bool>());
  if (v.isString()) return Value::String(v.convert<std::string>());
  if (v.isInteger()) {
    try {
      return Value::Int(v.convert<int64_t>());
    } catch (const Poco::Exception&) {
      return Value::Decimal(v.convert<std::string>());  // beyond int64: as Python's Decimal would be
    }
  }
  return Value::Float(v.convert<double>());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  OnlyCartrecoveryErrors("LoggedEventFields(raw)", [&] { cartrecovery::LoggedEventFields(text, "EUR"); });
  OnlyCartrecoveryErrors("ParseEvent", [&] {
    Value doc = ToValue(cartrecovery::internal::ParseJson(text, ""));
    if (doc.kind() != Value::Kind::kMap) return;
    const Value* type = doc.Find("type");
    std::string type_name = type && type->kind() == Value::Kind::kString ? type->as_string() : "cart_updated";
    Value fields = Value::MakeMap();
    for (const auto& kv : doc.as_map())
      if (kv.first != "type") fields.Set(kv.first, kv.second);
    cartrecovery::Event e = cartrecovery::ParseEvent(type_name, fields, 1767225600000, "EUR");
    std::string stored = cartrecovery::EventToJson(e);
    std::string logged;
    try {
      logged = cartrecovery::LoggedEventFields(stored, "EUR");
    } catch (const cartrecovery::Error& err) {
      std::fprintf(stderr, "an accepted event does not read back: %s\n%s\n", err.what(), stored.c_str());
      std::abort();
    }
    FUZZ_CHECK(!logged.empty());
  });
  return 0;
}
