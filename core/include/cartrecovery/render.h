// render.h: turning a reminder step into the words the shopper reads. Pure logic, no I/O
// (except LoadTemplates, which reads a directory once, up front).
//
// Templates are Mustache (variables, {{{raw}}}, sections, inverted sections, comments);
// the shipped defaults are compiled in, in English ("en"), German ("de") and Polish ("pl").
// Merge tags of the *|TAG|* form that the playbooks use (*|FIRST_NAME|*, *|CART_URL|*,
// *|UNSUBSCRIBE_URL|*, *|COUPON|*, *|SHOP_NAME|*) are accepted too.
//
// A template is identified by (name, channel, language). Render picks one for the shopper
// (R3.5) by walking LanguageFallbacks(): the exact tag ("de-AT"), its primary language
// ("de"), the shop's default language, then "en". For each language in turn it tries the
// exact channel ("sms"), then, for channels other than "email", the template's generic short
// text (channel "short"), then the shipped one-line reminder ("reminder", channel "short").
// The language is tried first: a German shopper gets the German generic SMS rather than an
// English SMS written for the step. A shop-added template in none of those languages goes
// out in the lowest-sorting language it has: a reminder in some language beats none.
//
// Context a template sees (built by Render): greeting, first_name (empty without
// personalization consent, R3.7), items[] {name, sku, quantity, price, line_total,
// image_url, url}, item_count, total, currency, cart_url, unsubscribe_url, open_pixel_url,
// coupon, has_coupon, has_contact, shop {name, base_url, contact_email, contact_phone,
// contact_phone_tel, chat_url}, flow, path, step, branch, channel, language, stage (the
// checkout stage the cart was left at: cart, contact, shipping_address, shipping_method,
// payment) with one flag per stage (stage_cart, ..., stage_payment; true for that one), and
// ui {your_cart, quantity, price, total, your_code, return_to_cart, questions, email, phone,
// chat, chat_link, unsubscribe_question, unsubscribe}: the words of the shared layout in the
// template's language, so shop templates can reuse them.
#ifndef CARTRECOVERY_RENDER_H_
#define CARTRECOVERY_RENDER_H_

#include <map>
#include <memory>
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
  // Language for shoppers whose own language has no template (R3.5); a BCP 47 tag.
  std::string default_language = "en";
};

namespace render_internal {
struct TemplateData;
struct TemplateSetAccess;
}  // namespace render_internal

// A set of templates, each identified by (name, channel, language) and made of parts:
// "subject", "text" and "html" for channel "email", "text" for every other channel.
// Channel "short" is the generic text for every non-e-mail channel. Language keys are
// lower-case BCP 47 tags. Always contains the shipped templates; shop templates
// (ParseTemplates, LoadTemplates) override them part by part and may add new names.
//
// Immutable once built: copies are cheap (shared data) and concurrent reads are safe.
class TemplateSet {
 public:
  // The shipped templates only.
  TemplateSet();

  // Every template name in the set, shipped and shop-added, sorted, without duplicates.
  // Pass it to ParseFlow(json, &names) so that a flow naming a missing template is a
  // ConfigError at start-up.
  std::vector<std::string> Names() const;
  bool Contains(const std::string& name) const;
  // Whether Render can render this name on this channel for some shopper: for "email", the
  // name has an e-mail template in some language; for other channels, the name exists (the
  // generic short text covers it). For start-up checks of a flow's steps and channels.
  bool CanRender(const std::string& name, const std::string& channel) const;
  // Every language that has at least one template, lower-case, sorted.
  std::vector<std::string> Languages() const;

  // The language whose template Render would use for this name and channel, given the
  // shopper's language tag (may be empty) and the shop's default language; lower-case, e.g.
  // "de" for "de-AT". Throws ConfigError("template <name>", "unknown template ...") when the
  // set has no template of that name.
  std::string ResolveLanguage(const std::string& name, const std::string& channel,
                              const std::string& language,
                              const std::string& default_language = "en") const;

 private:
  friend struct render_internal::TemplateSetAccess;
  std::shared_ptr<const render_internal::TemplateData> data_;
};

// Builds a template set from shop template files given as (file name -> contents); the file
// name says what the file is: "<name>.<channel>.<language>.<part>.mustache", e.g.
// "visitor_1.email.de.subject.mustache" or "visitor_1.sms.pl.text.mustache".
//   name      letters, digits, '_' and '-' (what a flow's "template" names)
//   channel   lower-case letters, digits, '_' and '-': "email", "sms", "push", ...; "short"
//             is the generic text for every non-e-mail channel
//   language  a BCP 47 tag ("de", "de-AT"), matched case-insensitively
//   part      subject | text | html for "email"; text for every other channel
// Each file overrides the shipped part with the same key; a shop-added e-mail template must
// provide all three parts in each language it exists in. Shop HTML is a whole document: the
// shared layout is not wrapped around it (the open pixel is added before </body>).
// Success: the shipped templates plus these. Errors (all ConfigError; the field names the
// file, with the line where there is one):
//   "<file>:<line>"  Mustache errors (unclosed or mismatched section, unclosed tag,
//                    partials) and "unknown merge tag *|FRIST_NAME|*";
//   "<file>"         bad file names, a part the channel does not have, an incomplete
//                    shop-added e-mail template (the field names the missing file).
TemplateSet ParseTemplates(const std::map<std::string, std::string>& files);

// Reads every file of `directory` (not its subdirectories' contents; hidden files, those
// starting with '.', are skipped) and parses them as ParseTemplates does, so every template
// error shows at load time. Throws ConfigError(directory, ...) when the directory cannot be
// listed, ConfigError("<file>", "cannot read ...") for an unreadable file or a
// subdirectory, plus every error of ParseTemplates. Not thread-safe with respect to changes
// in the directory; call it once at start-up.
TemplateSet LoadTemplates(const std::string& directory);

// The languages to try for a shopper, best first, lower-case, without duplicates: the tag,
// its primary language, the shop default and its primary language, then "en".
// "de-AT", "pl" -> {"de-at", "de", "pl", "en"}; "", "pl" -> {"pl", "en"}. '_' counts as '-'.
std::vector<std::string> LanguageFallbacks(const std::string& language,
                                           const std::string& default_language);

struct RenderRequest {
  ShopInfo shop;
  Cart cart;
  Contact contact;
  std::string flow;
  std::string path;
  int step = 1;                          // 1-based
  std::optional<Engagement> branch;      // for branched steps
  std::string channel = "email";
  std::string template_name;             // empty: DefaultTemplateName(..., templates)
  std::string cart_url;                  // link back to the same cart (restored)
  std::string unsubscribe_url;
  std::string coupon_code;               // empty: none
  // The shopper's language (BCP 47, e.g. "de-AT"); empty: contact.language; both empty:
  // shop.default_language.
  std::string language;
  // Shop templates; nullptr: the shipped ones only. Not owned; must outlive the call.
  const TemplateSet* templates = nullptr;
  // E-mail only: when set, a 1x1 image with this URL ends the HTML body (before </body>),
  // unless the template itself mentions open_pixel_url. Links are never rewritten here;
  // click tracking, if any, is the caller's business (it passes the links it wants).
  std::string open_pixel_url;
};

struct RenderedMessage {
  std::string subject;  // e-mail only; empty for other channels
  std::string text;     // plain text (the whole message for SMS, push, webhooks)
  std::string html;     // e-mail only
  std::string template_name;  // the template used, e.g. "visitor_2_opened" or "reminder"
  std::string language;       // the language of the template used, lower-case, e.g. "de"
  // The template's own text and HTML, what every message of it shares: the store packs the
  // message's text and HTML against it (store.h MessageRecord::body_dictionary). Null for a
  // template without an HTML part (SMS, push, webhooks: one short line).
  std::shared_ptr<const std::string> body_dictionary;
};

// "visitor_2_opened", "customer_1": the shipped template name for a step.
std::string DefaultTemplateName(const std::string& path, int step, std::optional<Engagement> branch);
// The same over a template set, so that a shop-added "vip_1" or "visitor_2_opened" counts:
// "<path>_<step>_<branch>", else "<path>_<step>", else "reminder".
std::string DefaultTemplateName(const std::string& path, int step, std::optional<Engagement> branch,
                                const TemplateSet& templates);

// Renders the request with its template (or the default for the step; a step with no
// template of its own uses the generic "reminder" template), chosen from request.templates
// (or the shipped set) by name, channel and language as described at the top of this file.
// E-mail gets subject, text and HTML; every other channel one line of text (no HTML).
// Throws ConfigError("template <name>", ...) for an unknown template name, or for a name
// that exists only for other channels than the e-mail asked for. Template errors in shop
// files were already reported by LoadTemplates, so a loaded set does not fail here.
// The first name appears only with contact.consent.personalization == true (R3.7);
// otherwise the greeting is neutral. Thread-safe.
RenderedMessage Render(const RenderRequest& request);

// Names of the compiled-in templates ("customer_1", ..., "reminder"), the same in every
// shipped language.
std::vector<std::string> ShippedTemplateNames();
// Languages of the compiled-in templates: {"en", "de", "pl"}.
std::vector<std::string> ShippedLanguages();

// Renders one Mustache template against a Value map. HTML-escapes {{x}}, not {{{x}}} or
// {{& x}}. Throws ConfigError("<template_name>:<line>", ...) for unclosed or mismatched
// sections and unclosed tags.
std::string RenderMustache(const std::string& tmpl, const Value& context,
                           const std::string& template_name);

}  // namespace cartrecovery

#endif  // CARTRECOVERY_RENDER_H_
