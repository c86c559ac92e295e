// render_internal.h: what the render module's files share; not part of the public surface.
#ifndef CARTRECOVERY_RENDER_RENDER_INTERNAL_H_
#define CARTRECOVERY_RENDER_RENDER_INTERNAL_H_

#include <string>
#include <vector>

#include "cartrecovery/value.h"

namespace cartrecovery {
namespace render_internal {

// How {{x}} is written out. Subjects and plain-text parts must not carry HTML entities,
// so they render with kNone; {{{x}}} and {{& x}} are never escaped.
enum class Escape { kHtml, kNone };

// RenderMustache with a choice of escaping; same errors.
std::string RenderMustache(const std::string& tmpl, const Value& context,
                           const std::string& template_name, Escape escape);

// Replaces the playbook merge tags (*|FIRST_NAME|*, *|CART_URL|*, *|UNSUBSCRIBE_URL|*,
// *|COUPON|*, *|SHOP_NAME|*) with the equivalent Mustache variables. Other *|...|* text is
// left as it is.
std::string ExpandMergeTags(const std::string& text);

// One compiled-in template, fully assembled (the shared layout already wrapped around it).
struct ShippedTemplate {
  std::string name;
  std::string subject;
  std::string text;
  std::string html;
};

// All shipped templates, in a fixed order; built once, never modified.
const std::vector<ShippedTemplate>& ShippedTemplates();
// nullptr when no shipped template has that name.
const ShippedTemplate* FindShippedTemplate(const std::string& name);
// The one-line text for SMS and other non-email channels.
const std::string& ShortTextTemplate();

}  // namespace render_internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_RENDER_RENDER_INTERNAL_H_
