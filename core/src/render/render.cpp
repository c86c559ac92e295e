// render.cpp: from a RenderRequest to the subject, text and HTML the shopper reads.
//
// Render builds one context (a Value map) from the request, picks the template, expands the
// playbook merge tags into Mustache variables and renders each part. Subject and text
// render without HTML escaping (they are not HTML); the HTML part escapes every {{x}}.
#include <string>
#include <vector>

#include "cartrecovery/model.h"
#include "cartrecovery/render.h"
#include "cartrecovery/status.h"
#include "render/render_internal.h"

namespace cartrecovery {
namespace {

using render_internal::Escape;

std::string FormatMoney(int64_t minor, const std::string& currency) {
  std::string amount = FormatMinorUnits(minor, CurrencyExponent(currency));
  return currency.empty() ? amount : amount + " " + currency;
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

Value BuildContext(const RenderRequest& r) {
  const std::string& currency = r.cart.currency;

  Value shop = Value::MakeMap();
  shop.Set("name", Value::String(r.shop.shop_name));
  shop.Set("base_url", Value::String(r.shop.base_url));
  shop.Set("contact_email", Value::String(r.shop.contact_email));
  shop.Set("contact_phone", Value::String(r.shop.contact_phone));
  shop.Set("contact_phone_tel", Value::String(TelUri(r.shop.contact_phone)));
  shop.Set("chat_url", Value::String(r.shop.chat_url));

  Value::List items;
  for (const LineItem& item : r.cart.items) {
    Value v = Value::MakeMap();
    v.Set("name", Value::String(item.name));
    v.Set("sku", Value::String(item.sku));
    v.Set("quantity", Value::Int(item.quantity));
    v.Set("price", Value::String(FormatMoney(item.price_minor, currency)));
    v.Set("line_total", Value::String(FormatMoney(item.price_minor * item.quantity, currency)));
    v.Set("image_url", Value::String(item.image_url));
    v.Set("url", Value::String(item.url));
    items.push_back(std::move(v));
  }

  // R3.7: the first name only with an explicit yes to personalization.
  std::string first_name;
  if (r.contact.consent.personalization.value_or(false)) first_name = Trim(r.contact.first_name);

  Value ctx = Value::MakeMap();
  ctx.Set("shop", std::move(shop));
  ctx.Set("greeting", Value::String(first_name.empty() ? "Hello," : "Hi " + first_name + ","));
  ctx.Set("first_name", Value::String(first_name));
  ctx.Set("item_count", Value::Int(static_cast<int64_t>(items.size())));
  ctx.Set("items", Value::MakeList(std::move(items)));
  ctx.Set("total", Value::String(FormatMoney(r.cart.ValueMinor(), currency)));
  ctx.Set("currency", Value::String(currency));
  // The request's link wins; the cart's own restore link is the fallback.
  ctx.Set("cart_url", Value::String(r.cart_url.empty() ? r.cart.restore_url : r.cart_url));
  ctx.Set("unsubscribe_url", Value::String(r.unsubscribe_url));
  ctx.Set("coupon", Value::String(r.coupon_code));
  ctx.Set("has_coupon", Value::Bool(!r.coupon_code.empty()));
  ctx.Set("has_contact", Value::Bool(!r.shop.contact_email.empty() ||
                                     !r.shop.contact_phone.empty() || !r.shop.chat_url.empty()));
  ctx.Set("flow", Value::String(r.flow));
  ctx.Set("path", Value::String(r.path));
  ctx.Set("step", Value::Int(r.step));
  ctx.Set("branch", Value::String(r.branch ? EngagementName(*r.branch) : ""));
  ctx.Set("channel", Value::String(r.channel));
  return ctx;
}

}  // namespace

namespace render_internal {

std::string ExpandMergeTags(const std::string& text) {
  static const struct {
    const char* tag;
    const char* variable;
  } kTags[] = {
      {"*|FIRST_NAME|*", "{{first_name}}"},
      {"*|CART_URL|*", "{{cart_url}}"},
      {"*|UNSUBSCRIBE_URL|*", "{{unsubscribe_url}}"},
      {"*|COUPON|*", "{{coupon}}"},
      {"*|SHOP_NAME|*", "{{shop.name}}"},
  };
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t start = text.find("*|", pos);
    if (start == std::string::npos) break;
    out.append(text, pos, start - pos);
    bool replaced = false;
    for (const auto& t : kTags) {
      if (text.compare(start, std::char_traits<char>::length(t.tag), t.tag) == 0) {
        out += t.variable;
        pos = start + std::char_traits<char>::length(t.tag);
        replaced = true;
        break;
      }
    }
    if (!replaced) {
      out += "*|";
      pos = start + 2;
    }
  }
  out.append(text, pos, std::string::npos);
  return out;
}

}  // namespace render_internal

std::string DefaultTemplateName(const std::string& path, int step,
                                std::optional<Engagement> branch) {
  std::string base = path + "_" + std::to_string(step);
  if (branch) {
    std::string branched = base + "_" + EngagementName(*branch);
    if (render_internal::FindShippedTemplate(branched)) return branched;
  }
  if (render_internal::FindShippedTemplate(base)) return base;
  return "reminder";
}

RenderedMessage Render(const RenderRequest& request) {
  const std::string name = request.template_name.empty()
                               ? DefaultTemplateName(request.path, request.step, request.branch)
                               : request.template_name;
  const render_internal::ShippedTemplate* t = render_internal::FindShippedTemplate(name);
  if (t == nullptr) throw ConfigError("template " + name, "unknown template");

  const Value context = BuildContext(request);
  auto render = [&](const std::string& tmpl, const std::string& part, Escape escape) {
    return render_internal::RenderMustache(render_internal::ExpandMergeTags(tmpl), context,
                                           name + "." + part, escape);
  };

  RenderedMessage message;
  if (request.channel == "email") {
    message.subject = OneLine(render(t->subject, "subject", Escape::kNone));
    message.text = render(t->text, "text", Escape::kNone);
    message.html = render(t->html, "html", Escape::kHtml);
  } else {
    // SMS, push, webhooks: one short line from the generic template.
    message.text = OneLine(render(render_internal::ShortTextTemplate(), "short", Escape::kNone));
  }
  return message;
}

std::vector<std::string> ShippedTemplateNames() {
  std::vector<std::string> names;
  for (const auto& t : render_internal::ShippedTemplates()) names.push_back(t.name);
  return names;
}

}  // namespace cartrecovery
