// render.cpp: from a RenderRequest to the subject, text and HTML the shopper reads.
//
// Render picks the template by name, channel and language (template_set.cpp), builds one
// context (a Value map) from the request with the layout words of the template's language,
// and renders each part; merge tags were expanded when the set was built. Subject and text
// render without HTML escaping (they are not HTML); the HTML part escapes every {{x}}.
#include <cctype>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cartrecovery/model.h"
#include "cartrecovery/render.h"
#include "cartrecovery/status.h"
#include "render/render_internal.h"

namespace cartrecovery {
namespace {

using render_internal::Escape;

std::string FormatMoney(int64_t minor, int exponent, const std::string& currency) {
  std::string amount = FormatMinorUnits(minor, exponent);
  if (!currency.empty()) amount.append(" ").append(currency);
  return amount;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// tel: URIs take no spaces or punctuation; keep a leading '+' and the digits.
std::string TelUri(const std::string& phone) {
  std::string out;
  for (char c : phone) {
    if ((c >= '0' && c <= '9') || (c == '+' && out.empty())) out += c;
  }
  return out;
}

// Subjects and SMS are single lines; a newline from shop data must not reach a header.
std::string OneLine(std::string s) {
  for (char& c : s)
    if (c == '\r' || c == '\n') c = ' ';
  return Trim(s);
}

Value MakeUiContext(const render_internal::UiWords& w) {
  Value ui = Value::MakeMap();
  const std::pair<const char*, const char*> words[] = {
      {"your_cart", w.your_cart},
      {"quantity", w.quantity},
      {"price", w.price},
      {"total", w.total},
      {"your_code", w.your_code},
      {"return_to_cart", w.return_to_cart},
      {"questions", w.questions},
      {"email", w.email},
      {"phone", w.phone},
      {"chat", w.chat},
      {"chat_link", w.chat_link},
      {"unsubscribe_question", w.unsubscribe_question},
      {"unsubscribe", w.unsubscribe},
  };
  for (const auto& [key, text] : words) ui.Set(key, Value::String(text));
  return ui;
}

// The layout words of a pack (packs live as long as the process), built once per pack:
// every message of a batch shares them. Values are immutable once built, so one copy
// serves every thread.
Value UiContext(const render_internal::UiWords& w) {
  static std::mutex mu;
  static std::map<const render_internal::UiWords*, Value> built;
  std::lock_guard<std::mutex> lock(mu);
  auto it = built.find(&w);
  if (it == built.end()) it = built.emplace(&w, MakeUiContext(w)).first;
  return it->second;
}

Value MakeShopContext(const ShopInfo& shop) {
  Value v = Value::MakeMap();
  v.Set("name", Value::String(shop.shop_name));
  v.Set("base_url", Value::String(shop.base_url));
  v.Set("contact_email", Value::String(shop.contact_email));
  v.Set("contact_phone", Value::String(shop.contact_phone));
  v.Set("contact_phone_tel", Value::String(TelUri(shop.contact_phone)));
  v.Set("chat_url", Value::String(shop.chat_url));
  return v;
}

// The shop's part of the context: the same for every message an engine renders, so each
// thread keeps the last one it built and builds again only for another shop.
Value ShopContext(const ShopInfo& shop) {
  struct Last {
    ShopInfo shop;
    Value value;
  };
  thread_local std::optional<Last> last;
  if (!last || last->shop.shop_name != shop.shop_name || last->shop.base_url != shop.base_url ||
      last->shop.contact_email != shop.contact_email ||
      last->shop.contact_phone != shop.contact_phone || last->shop.chat_url != shop.chat_url)
    last = Last{shop, MakeShopContext(shop)};
  return last->value;
}

// The layout words for a template language; a shop language we ship no words for ("fr")
// borrows them from the shop's default language, else English.
const render_internal::LanguagePack& PackFor(const std::string& language,
                                             const std::string& default_language) {
  for (const std::string& lang : LanguageFallbacks(language, default_language))
    if (const render_internal::LanguagePack* pack = render_internal::FindPack(lang)) return *pack;
  return render_internal::EnglishPack();
}

// Fills a map from keys given in ascending order. Each key the map already holds at that
// place (the previous message's context had the same keys) gets its new value in its node;
// any other goes in at the end without a search (emplace_hint), where Value::Set would walk
// the tree comparing strings. Keys the map held past the last one given are dropped. Out of
// order, a key still lands in its place, only slower.
class SortedFill {
 public:
  explicit SortedFill(Value::Map* map) : map_(*map), next_(map->begin()) {}
  SortedFill& Add(const char* key, Value v) {
    if (next_ != map_.end() && next_->first == key) {
      next_->second = std::move(v);
      ++next_;
    } else {
      map_.erase(next_, map_.end());
      map_.emplace_hint(map_.end(), key, std::move(v));
      next_ = map_.end();
    }
    return *this;
  }
  void Done() { map_.erase(next_, map_.end()); }

 private:
  Value::Map& map_;
  Value::Map::iterator next_;
};

// The top-level context this thread built last. Render() drops its context before it
// returns, so the next message refills the same maps: their nodes (one per key) are neither
// allocated nor freed again.
Value& ThisThreadsContext() {
  thread_local Value context = Value::MakeMap();
  return context;
}

// The context's "items" list, moved out to be refilled (an empty list the first time).
Value TakeItems(Value::Map* context) {
  auto it = context->find("items");
  if (it == context->end() || it->second.kind() != Value::Kind::kList) return Value::MakeList();
  Value items = std::move(it->second);
  it->second = Value();
  return items;
}

Value BuildContext(const RenderRequest& r, const std::string& language,
                   const render_internal::LanguagePack& pack) {
  const std::string& currency = r.cart.currency;
  const int exponent = CurrencyExponent(currency);  // once, not per amount
  auto money = [&](int64_t minor) { return FormatMoney(minor, exponent, currency); };

  // The previous message's item list and maps, refilled in place like the context.
  Value& context = ThisThreadsContext();
  Value items = TakeItems(&context.as_map());
  Value::List& list = items.as_list();
  list.resize(r.cart.items.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const LineItem& item = r.cart.items[i];
    if (list[i].kind() != Value::Kind::kMap) list[i] = Value::MakeMap();
    SortedFill(&list[i].as_map())
        .Add("image_url", Value::String(item.image_url))
        .Add("line_total", Value::String(money(item.price_minor * item.quantity)))
        .Add("name", Value::String(item.name))
        .Add("price", Value::String(money(item.price_minor)))
        .Add("quantity", Value::Int(item.quantity))
        .Add("sku", Value::String(item.sku))
        .Add("url", Value::String(item.url))
        .Done();
  }
  const int64_t item_count = static_cast<int64_t>(list.size());

  // R3.7: the first name only with an explicit yes to personalization.
  std::string first_name;
  if (r.contact.consent.personalization.value_or(false)) first_name = Trim(r.contact.first_name);
  std::string greeting = first_name.empty() ? std::string(pack.ui.greeting_neutral)
                                            : pack.ui.greeting_named + first_name +
                                                  pack.ui.greeting_named_end;
  const Stage stage = r.cart.stage;

  // Keys in ascending order (see SortedFill).
  SortedFill(&context.as_map())
      .Add("branch", Value::String(r.branch ? EngagementName(*r.branch) : ""))
      // The request's link wins; the cart's own restore link is the fallback.
      .Add("cart_url", Value::String(r.cart_url.empty() ? r.cart.restore_url : r.cart_url))
      .Add("channel", Value::String(r.channel))
      .Add("coupon", Value::String(r.coupon_code))
      .Add("currency", Value::String(currency))
      .Add("first_name", Value::String(std::move(first_name)))
      .Add("flow", Value::String(r.flow))
      .Add("greeting", Value::String(std::move(greeting)))
      .Add("has_contact", Value::Bool(!r.shop.contact_email.empty() ||
                                      !r.shop.contact_phone.empty() || !r.shop.chat_url.empty()))
      .Add("has_coupon", Value::Bool(!r.coupon_code.empty()))
      .Add("item_count", Value::Int(item_count))
      .Add("items", std::move(items))
      .Add("language", Value::String(language))
      .Add("open_pixel_url", Value::String(r.channel == "email" ? r.open_pixel_url : ""))
      .Add("path", Value::String(r.path))
      .Add("shop", ShopContext(r.shop))
      // R1.3: where the cart was left, as a name and as one flag per stage, so a template
      // can say "you left at payment" ({{#stage_payment}}...{{/stage_payment}}).
      .Add("stage", Value::String(StageName(stage)))
      .Add("stage_cart", Value::Bool(stage == Stage::kCart))
      .Add("stage_contact", Value::Bool(stage == Stage::kContact))
      .Add("stage_payment", Value::Bool(stage == Stage::kPayment))
      .Add("stage_shipping_address", Value::Bool(stage == Stage::kShippingAddress))
      .Add("stage_shipping_method", Value::Bool(stage == Stage::kShippingMethod))
      .Add("step", Value::Int(r.step))
      .Add("total", Value::String(money(r.cart.ValueMinor())))
      .Add("ui", UiContext(pack.ui))
      .Add("unsubscribe_url", Value::String(r.unsubscribe_url))
      .Done();
  return context;  // shares the map; the copy goes when Render() returns
}

const TemplateSet& ShippedSet() {
  static const TemplateSet kSet;
  return kSet;
}

size_t FindLastNoCase(const std::string& haystack, const std::string& needle) {
  if (needle.size() > haystack.size()) return std::string::npos;
  for (size_t i = haystack.size() - needle.size() + 1; i-- > 0;) {
    bool match = true;
    for (size_t k = 0; match && k < needle.size(); ++k)
      match = std::tolower(static_cast<unsigned char>(haystack[i + k])) == needle[k];
    if (match) return i;
  }
  return std::string::npos;
}

}  // namespace

std::string DefaultTemplateName(const std::string& path, int step,
                                std::optional<Engagement> branch, const TemplateSet& templates) {
  std::string base = path + "_" + std::to_string(step);
  if (branch) {
    std::string branched = base + "_" + EngagementName(*branch);
    if (templates.Contains(branched)) return branched;
  }
  if (templates.Contains(base)) return base;
  return "reminder";
}

std::string DefaultTemplateName(const std::string& path, int step,
                                std::optional<Engagement> branch) {
  return DefaultTemplateName(path, step, branch, ShippedSet());
}

RenderedMessage Render(const RenderRequest& request) {
  const TemplateSet& set = request.templates ? *request.templates : ShippedSet();
  const std::string name = request.template_name.empty()
                               ? DefaultTemplateName(request.path, request.step, request.branch, set)
                               : request.template_name;
  if (!set.Contains(name)) throw ConfigError("template " + name, "unknown template");

  const std::string& shopper_language =
      request.language.empty() ? request.contact.language : request.language;
  std::string language;
  const render_internal::StoredTemplate* t = render_internal::ResolveTemplate(
      render_internal::TemplateSetAccess::Data(set), name, request.channel, shopper_language,
      request.shop.default_language, &language);
  if (t == nullptr)
    throw ConfigError("template " + name,
                      "has no template for channel '" + request.channel + "' in any language");

  // Shares this thread's context map (ThisThreadsContext): not to be kept past this call.
  const Value context =
      BuildContext(request, language, PackFor(language, request.shop.default_language));
  auto render = [&](render_internal::Part part, Escape escape) {
    const auto& stored = t->parts[part];
    // ParseTemplates refuses incomplete e-mail templates; this is a bug if it happens.
    if (!stored)
      throw Error(ErrorCode::kInternal, "template " + name + " (" + language + ") has no " +
                                            render_internal::PartName(part) + " part");
    return render_internal::RenderMustache(stored->tmpl, context, stored->source, escape);
  };

  RenderedMessage message;
  message.template_name = name;
  message.language = language;
  if (request.channel == "email") {
    message.subject = OneLine(render(render_internal::kSubject, Escape::kNone));
    message.text = render(render_internal::kText, Escape::kNone);
    message.html = render(render_internal::kHtml, Escape::kHtml);
    message.body_dictionary = t->body_dictionary;
    // A shop's own HTML that does not place the pixel itself gets it at the end of the body,
    // as the shared layout has it.
    if (!request.open_pixel_url.empty() &&
        !t->parts[render_internal::kHtml]->names_open_pixel) {
      const std::string pixel = render_internal::RenderMustache(
          "<img src=\"{{open_pixel_url}}\" width=\"1\" height=\"1\" alt=\"\">\n", context,
          "open pixel", Escape::kHtml);
      size_t body_end = FindLastNoCase(message.html, "</body>");
      message.html.insert(body_end == std::string::npos ? message.html.size() : body_end, pixel);
    }
  } else {
    // SMS, push, webhooks: one short line, no HTML.
    message.text = OneLine(render(render_internal::kText, Escape::kNone));
  }
  return message;
}

std::vector<std::string> ShippedTemplateNames() {
  std::vector<std::string> names;
  const render_internal::LanguagePack& en = render_internal::EnglishPack();
  for (size_t i = 0; i < en.template_count; ++i) names.push_back(en.templates[i].name);
  return names;
}

std::vector<std::string> ShippedLanguages() {
  std::vector<std::string> languages;
  for (const render_internal::LanguagePack* pack : render_internal::ShippedPacks())
    languages.push_back(pack->language);
  return languages;
}

}  // namespace cartrecovery
