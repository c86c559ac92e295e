// Mustache templates (the shop's own files): any bytes render against a small cart or give
// a ConfigError naming the line.
#include "cartrecovery/render.h"
#include "cartrecovery/value.h"
#include "fuzz_common.h"

using cartrecovery::Value;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string tmpl(reinterpret_cast<const char*>(data), size);
  static const Value context = [] {
    Value item = Value::MakeMap();
    item.Set("name", Value::String("Kite <Pro> & \"9m\""));
    item.Set("price", Value::String("19.99"));
    Value cart = Value::MakeMap();
    cart.Set("items", Value::MakeList({item, item}));
    cart.Set("empty", Value::MakeList());
    Value c = Value::MakeMap();
    c.Set("first_name", Value::String("Zoë"));
    c.Set("cart", cart);
    c.Set("flag", Value::Bool(true));
    c.Set("count", Value::Int(3));
    return c;
  }();
  OnlyCartrecoveryErrors("RenderMustache", [&] { cartrecovery::RenderMustache(tmpl, context, "fuzz"); });
  return 0;
}
