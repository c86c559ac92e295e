#include "store/store_codec.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <sstream>

namespace cartrecovery {
namespace internal {

std::string ItemsToJson(const std::vector<LineItem>& items) {
  Poco::JSON::Array arr;
  for (const auto& it : items) {
    Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
    o.set("sku", it.sku);
    o.set("name", it.name);
    o.set("price_minor", it.price_minor);
    o.set("quantity", it.quantity);
    o.set("image_url", it.image_url);
    o.set("url", it.url);
    arr.add(o);
  }
  std::ostringstream out;
  Poco::JSON::Stringifier::condense(arr, out);
  return out.str();
}

std::vector<LineItem> ItemsFromJson(const std::string& text) {
  std::vector<LineItem> items;
  Poco::JSON::Parser parser;
  auto arr = parser.parse(text).extract<Poco::JSON::Array::Ptr>();
  for (size_t i = 0; i < arr->size(); ++i) {
    auto o = arr->getObject(static_cast<unsigned>(i));
    LineItem it;
    it.sku = o->getValue<std::string>("sku");
    it.name = o->getValue<std::string>("name");
    it.price_minor = o->getValue<int64_t>("price_minor");
    it.quantity = o->getValue<int64_t>("quantity");
    it.image_url = o->getValue<std::string>("image_url");
    it.url = o->getValue<std::string>("url");
    items.push_back(std::move(it));
  }
  return items;
}

}  // namespace internal
}  // namespace cartrecovery
