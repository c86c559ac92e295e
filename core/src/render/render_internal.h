// render_internal.h: what the render module's files share; not part of the public surface.
#ifndef CARTRECOVERY_RENDER_RENDER_INTERNAL_H_
#define CARTRECOVERY_RENDER_RENDER_INTERNAL_H_

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "cartrecovery/render.h"
#include "cartrecovery/value.h"

namespace cartrecovery {
namespace render_internal {

// How {{x}} is written out. Subjects and plain-text parts must not carry HTML entities,
// so they render with kNone; {{{x}}} and {{& x}} are never escaped.
enum class Escape { kHtml, kNone };

// RenderMustache with a choice of escaping; same errors.
std::string RenderMustache(const std::string& tmpl, const Value& context,
                           const std::string& template_name, Escape escape);

// Parses the template without rendering it; throws what RenderMustache would throw for a
// structural error ("<template_name>:<line>"). Used to report shop template errors at load.
void CheckMustache(const std::string& tmpl, const std::string& template_name);

// Replaces the playbook merge tags (*|FIRST_NAME|*, *|CART_URL|*, *|UNSUBSCRIBE_URL|*,
// *|COUPON|*, *|SHOP_NAME|*) with the equivalent Mustache variables. Other *|...|* text is
// left as it is.
std::string ExpandMergeTags(const std::string& text);

// The first *|WORD|* (WORD of letters, digits and '_') that is not a known merge tag, with
// its 1-based line; nullopt when there is none. Text such as "*| |*" is not a tag.
struct UnknownMergeTag {
  std::string tag;  // "*|FRIST_NAME|*"
  int line;
};
std::optional<UnknownMergeTag> FindUnknownMergeTag(const std::string& text);

// --- Shipped templates ----------------------------------------------------------------------

// One shipped template's own words in one language; the shared layout goes around them.
struct TemplateSource {
  const char* name;
  const char* subject;
  const char* text_body;  // paragraphs separated by blank lines
  const char* html_body;  // <p>, <ul>, <ol>, <li> get their inline styles when assembled
};

// The fixed words of the shared layout, per language; templates see them as {{ui.<key>}}.
struct UiWords {
  const char* greeting_named;    // "Hi " + first name + greeting_named_end
  const char* greeting_named_end;
  const char* greeting_neutral;  // without a first name (R3.7)
  const char* your_cart;
  const char* quantity;
  const char* price;
  const char* total;
  const char* your_code;
  const char* return_to_cart;
  const char* questions;
  const char* email;
  const char* phone;
  const char* chat;
  const char* chat_link;
  const char* unsubscribe_question;
  const char* unsubscribe;
};

// Everything shipped for one language. Every pack has the same template names.
struct LanguagePack {
  const char* language;    // lower-case BCP 47, e.g. "de"
  UiWords ui;
  const char* short_text;  // the one line for SMS, push and webhooks
  const TemplateSource* templates;
  size_t template_count;
};

// One pack per file: templates.cpp (en), templates_de.cpp, templates_pl.cpp.
const LanguagePack& EnglishPack();
const LanguagePack& GermanPack();
const LanguagePack& PolishPack();
// English first; then the others.
const std::vector<const LanguagePack*>& ShippedPacks();
// nullptr when nothing is shipped in that (lower-case) language.
const LanguagePack* FindPack(const std::string& language);

// The shared layouts with the template's body put in (@@BODY@@) and HTML styles inlined.
std::string AssembleText(const char* body);
std::string AssembleHtml(const char* body);

// --- Template sets ----------------------------------------------------------------------------

enum Part { kSubject = 0, kText = 1, kHtml = 2 };
constexpr int kPartCount = 3;
const char* PartName(Part part);

struct StoredPart {
  StoredPart(std::string tmpl_in, std::string source_in)
      : tmpl(std::move(tmpl_in)),
        source(std::move(source_in)),
        names_open_pixel(tmpl.find("open_pixel_url") != std::string::npos) {}

  std::string tmpl;    // Mustache, merge tags already expanded
  std::string source;  // what errors call it: "visitor_1.email.de.html.mustache"
  // Whether the text mentions open_pixel_url (the HTML then places the pixel itself); known
  // once here rather than searched for in every message's template.
  bool names_open_pixel;
};

// One (name, channel, language) entry; e-mail uses every part, other channels only kText.
struct StoredTemplate {
  std::optional<StoredPart> parts[kPartCount];
  bool from_shop = false;  // shop HTML is a whole document: no shared layout
  // Text then HTML part, once the set is whole (AddBodyDictionaries): what a rendered
  // message's body is stored against (RenderedMessage::body_dictionary). E-mail only.
  std::shared_ptr<const std::string> body_dictionary;
};

// (name, channel, language); language lower-case.
using TemplateKey = std::tuple<std::string, std::string, std::string>;

struct TemplateData {
  std::map<TemplateKey, StoredTemplate> templates;
};

// Sets every e-mail template's body_dictionary from its parts; the last step of building
// a set, after every part is in place.
void AddBodyDictionaries(TemplateData& data);

// What TemplateSet keeps private, for the module's own files.
struct TemplateSetAccess {
  static const TemplateData& Data(const TemplateSet& set) { return *set.data_; }
  static TemplateSet Make(std::shared_ptr<const TemplateData> data);
};

// The shipped templates as TemplateData, built once, never modified.
const std::shared_ptr<const TemplateData>& ShippedData();

// The template Render uses (see render.h), or nullptr when the name has none for this
// channel in any language. `language` receives the language of the one found.
const StoredTemplate* ResolveTemplate(const TemplateData& data, const std::string& name,
                                      const std::string& channel,
                                      const std::string& shopper_language,
                                      const std::string& default_language,
                                      std::string* language);

// Lower-case, '_' as '-', trimmed.
std::string NormalizeLanguage(const std::string& tag);

}  // namespace render_internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_RENDER_RENDER_INTERNAL_H_
