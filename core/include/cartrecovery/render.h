// render.h: turning a reminder step into the words the shopper reads. Pure logic, no I/O.
//
// Templates are Mustache (variables, {{{raw}}}, sections, inverted sections, comments);
// the shipped defaults are compiled in. Merge tags of the *|TAG|* form that the playbooks
// use (*|FIRST_NAME|*, *|CART_URL|*, *|UNSUBSCRIBE_URL|*, *|COUPON|*) are accepted too.
#ifndef CARTRECOVERY_RENDER_H_
#define CARTRECOVERY_RENDER_H_

#include <optional>
#include <string>
#include <vector>

#include "cartrecovery/flow.h"
#include "cartrecovery/model.h"
#include "cartrecovery/value.h"

namespace cartrecovery {

// The shop's side of a message: who speaks and how to reach them (R3.6, R3.8).
struct ShopInfo {
  std::string shop_name = "Our shop";
  std::string base_url;       // e.g. "https://kite.example/cr/"
  std::string contact_email;  // shown in the message footer when set
  std::string contact_phone;
  std::string chat_url;
};

struct RenderRequest {
  ShopInfo shop;
  Cart cart;
  Contact contact;
  std::string flow;
  std::string path;
  int step = 1;                          // 1-based
  std::optional<Engagement> branch;      // for branched steps
  std::string channel = "email";
  std::string template_name;             // empty: DefaultTemplateName(path, step, branch)
  std::string cart_url;                  // link back to the same cart (restored)
  std::string unsubscribe_url;
  std::string coupon_code;               // empty: none
};

struct RenderedMessage {
  std::string subject;  // e-mail only; empty for other channels
  std::string text;     // plain text (the whole message for SMS, push, webhooks)
  std::string html;     // e-mail only
};

// "visitor_2_opened", "customer_1": the shipped template name for a step.
std::string DefaultTemplateName(const std::string& path, int step, std::optional<Engagement> branch);

// Renders the request with its template (or the shipped default for the step; a step with
// no shipped template of its own uses the generic "reminder" template). Throws
// ConfigError("template <name>", ...) for an unknown template name.
// The first name appears only with contact.consent.personalization == true (R3.7);
// otherwise the greeting is neutral.
RenderedMessage Render(const RenderRequest& request);

// Names of the compiled-in templates ("customer_1", ..., "reminder").
std::vector<std::string> ShippedTemplateNames();

// Renders one Mustache template against a Value map. HTML-escapes {{x}}, not {{{x}}} or
// {{& x}}. Throws ConfigError("<template_name>:<line>", ...) for unclosed or mismatched
// sections and unclosed tags.
std::string RenderMustache(const std::string& tmpl, const Value& context,
                           const std::string& template_name);

}  // namespace cartrecovery

#endif  // CARTRECOVERY_RENDER_H_
