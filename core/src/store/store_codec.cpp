#include "store/store_codec.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <cstdint>
#include <optional>
#include <sstream>

#include "cartrecovery/status.h"
#include "cartrecovery/text.h"

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

namespace {

// Reads the items as ItemsToJson writes them (every cart is read for every reminder, and
// Poco's parser cost more than the rest of loading a cart): strings without escapes,
// integers, the six known keys. nullopt for anything else, which the general parser reads.
class ItemsScanner {
 public:
  explicit ItemsScanner(const std::string& text) : p_(text.data()), end_(p_ + text.size()) {}

  std::optional<std::vector<LineItem>> Scan() {
    std::vector<LineItem> items;
    if (!Eat('[')) return std::nullopt;
    if (Eat(']')) return End(std::move(items));
    do {
      LineItem it;
      if (!Item(it)) return std::nullopt;
      items.push_back(std::move(it));
    } while (Eat(','));
    if (!Eat(']')) return std::nullopt;
    return End(std::move(items));
  }

 private:
  bool Eat(char c) {
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  std::optional<std::vector<LineItem>> End(std::vector<LineItem> items) {
    if (p_ != end_) return std::nullopt;
    return items;
  }
  bool String(std::string& out) {
    if (!Eat('"')) return false;
    const char* start = p_;
    while (p_ != end_ && *p_ != '"') {
      if (*p_ == '\\' || static_cast<unsigned char>(*p_) < 0x20) return false;
      ++p_;
    }
    if (p_ == end_) return false;
    out.assign(start, p_);
    ++p_;
    return true;
  }
  bool Integer(int64_t& out) {
    bool negative = Eat('-');
    if (p_ == end_ || *p_ < '0' || *p_ > '9') return false;
    uint64_t v = 0;
    int digits = 0;
    for (; p_ != end_ && *p_ >= '0' && *p_ <= '9'; ++p_, ++digits) v = v * 10 + (*p_ - '0');
    if (digits > 18 || (p_ != end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E'))) return false;
    out = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
    return true;
  }
  bool Item(LineItem& it) {
    if (!Eat('{')) return false;
    int seen = 0;
    do {
      std::string key;
      if (!String(key) || !Eat(':')) return false;
      bool ok = false;
      if (key == "sku") ok = String(it.sku), seen |= 1;
      else if (key == "name") ok = String(it.name), seen |= 2;
      else if (key == "price_minor") ok = Integer(it.price_minor), seen |= 4;
      else if (key == "quantity") ok = Integer(it.quantity), seen |= 8;
      else if (key == "image_url") ok = String(it.image_url), seen |= 16;
      else if (key == "url") ok = String(it.url), seen |= 32;
      if (!ok) return false;
    } while (Eat(','));
    return seen == 63 && Eat('}');
  }

  const char* p_;
  const char* end_;
};

}  // namespace

std::vector<LineItem> ItemsFromJson(const std::string& text) {
  if (auto items = ItemsScanner(text).Scan()) return std::move(*items);
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

MessageStatus MessageStatusFrom(const std::string& text) {
  if (auto s = ParseMessageStatus(text)) return *s;
  throw Error(ErrorCode::kStorage, "store: unknown message status '" + QuoteForError(text) + "'" +
                                       " in messages.status");
}

JourneyState JourneyStateFrom(const std::string& text) {
  if (auto s = ParseJourneyState(text)) return *s;
  throw Error(ErrorCode::kStorage, "store: unknown journey state '" + QuoteForError(text) + "'" +
                                       " in journeys.state");
}

}  // namespace internal
}  // namespace cartrecovery
