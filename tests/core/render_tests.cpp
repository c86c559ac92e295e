// render_tests: the Mustache renderer (feature by feature, table-driven), its errors, and
// Render() over every shipped template (cart shown, consent, merge tags, SMS); languages and
// their fallback (table-driven), shop template files (override, add, load errors), the open
// pixel.
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cartrecovery/flow.h"
#include "cartrecovery/render.h"
#include "cartrecovery/status.h"
#include "cartrecovery/value.h"
#include "render/render_internal.h"
#include "test_util.h"

using namespace cartrecovery;

namespace {

Value S(const std::string& s) { return Value::String(s); }

Value Map(Value::Map m) { return Value::MakeMap(std::move(m)); }

Value List(Value::List l) { return Value::MakeList(std::move(l)); }

LineItem Item(const std::string& name, int64_t price_minor, int64_t quantity,
              const std::string& image_url = "", const std::string& url = "") {
  LineItem item;
  item.sku = "SKU-" + name;
  item.name = name;
  item.price_minor = price_minor;
  item.quantity = quantity;
  item.image_url = image_url;
  item.url = url;
  return item;
}

// The context most Mustache cases render against.
Value TestContext() {
  return Map({
      {"name", S("Anna")},
      {"html", S("<b>\"Tom\" & 'Jerry'</b>")},
      {"empty", S("")},
      {"count", Value::Int(3)},
      {"price", Value::Decimal("19.90")},
      {"yes", Value::Bool(true)},
      {"no", Value::Bool(false)},
      {"nothing", Value()},
      {"letters", List({S("a"), S("b"), S("c")})},
      {"none", List({})},
      {"people", List({Map({{"name", S("Ben")}}), Map({{"name", S("Cleo")}, {"age", Value::Int(7)}})})},
      {"shop", Map({{"name", S("Kite & Co")}, {"address", Map({{"city", S("Kiel")}})}})},
  });
}

struct MustacheCase {
  const char* what;
  const char* tmpl;
  const char* expected;
};

void CheckCases(const std::vector<MustacheCase>& cases) {
  const Value context = TestContext();
  for (const MustacheCase& c : cases) {
    BOOST_TEST_CONTEXT(c.what << ": " << c.tmpl) {
      BOOST_TEST(RenderMustache(c.tmpl, context, "t") == c.expected);
    }
  }
}

RenderRequest TwoItemRequest() {
  RenderRequest r;
  r.shop.shop_name = "Kite & Co";
  r.shop.contact_email = "help@kite.example";
  r.shop.contact_phone = "+49 30 123-456";
  r.shop.chat_url = "https://kite.example/chat";
  r.cart.cart_id = "c1";
  r.cart.currency = "EUR";
  r.cart.items = {
      Item("Stunt Kite & Lines", 1990, 2, "https://img.example/kite.jpg", "https://kite.example/p/1"),
      Item("Wind Spinner", 505, 1, "https://img.example/spin.jpg"),
  };
  r.contact.first_name = "Anna";
  r.flow = "cart-recovery";
  r.path = "visitor";
  r.step = 1;
  r.cart_url = "https://kite.example/cr/restore?c=c1&s=sig";
  r.unsubscribe_url = "https://kite.example/cr/unsub?k=abc";
  return r;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

void CheckShowsCart(const RenderedMessage& m) {
  BOOST_TEST(!m.subject.empty());
  BOOST_TEST(!Contains(m.subject, "\n"));
  // Plain text: unescaped.
  BOOST_TEST(Contains(m.text, "Stunt Kite & Lines"));
  BOOST_TEST(Contains(m.text, "Wind Spinner"));
  BOOST_TEST(Contains(m.text, "2 x 19.90 EUR"));
  BOOST_TEST(Contains(m.text, "1 x 5.05 EUR"));
  BOOST_TEST(Contains(m.text, "Total: 44.85 EUR"));
  BOOST_TEST(Contains(m.text, "https://kite.example/cr/restore?c=c1&s=sig"));
  BOOST_TEST(!Contains(m.text, "&amp;"));
  // HTML: escaped, with images, button, contact ways, unsubscribe.
  BOOST_TEST(Contains(m.html, "Stunt Kite &amp; Lines"));
  BOOST_TEST(Contains(m.html, "Wind Spinner"));
  BOOST_TEST(Contains(m.html, "19.90 EUR"));
  BOOST_TEST(Contains(m.html, "5.05 EUR"));
  BOOST_TEST(Contains(m.html, "Quantity: 2"));
  BOOST_TEST(Contains(m.html, "Total: 44.85 EUR"));
  BOOST_TEST(Contains(m.html, "<img src=\"https://img.example/kite.jpg\" alt=\"Stunt Kite &amp; Lines\" width=\"80\""));
  BOOST_TEST(Contains(m.html, "href=\"https://kite.example/p/1\""));
  BOOST_TEST(Contains(m.html, "href=\"https://kite.example/cr/restore?c=c1&amp;s=sig\""));
  BOOST_TEST(Contains(m.html, ">Return to your cart</a>"));
  BOOST_TEST(Contains(m.html, "href=\"mailto:help@kite.example\""));
  BOOST_TEST(Contains(m.html, "href=\"tel:+4930123456\""));
  BOOST_TEST(Contains(m.html, "href=\"https://kite.example/chat\""));
  BOOST_TEST(Contains(m.html, "href=\"https://kite.example/cr/unsub?k=abc\""));
  BOOST_TEST(Contains(m.html, "max-width:600px"));
  BOOST_TEST(Contains(m.html, "name=\"viewport\""));
  // Nothing left unexpanded.
  for (const std::string* part : {&m.subject, &m.text, &m.html}) {
    BOOST_TEST(!Contains(*part, "{{"));
    BOOST_TEST(!Contains(*part, "}}"));
    BOOST_TEST(!Contains(*part, "*|"));
  }
}

// The cart shown, in any language: names, prices, total and every link.
void CheckShowsCartInAnyLanguage(const RenderedMessage& m) {
  BOOST_TEST(!m.subject.empty());
  BOOST_TEST(!Contains(m.subject, "\n"));
  for (const std::string* part : {&m.text, &m.html}) {
    BOOST_TEST(Contains(*part, "Wind Spinner"));
    BOOST_TEST(Contains(*part, "19.90 EUR"));
    BOOST_TEST(Contains(*part, "5.05 EUR"));
    BOOST_TEST(Contains(*part, "44.85 EUR"));
  }
  BOOST_TEST(Contains(m.text, "Stunt Kite & Lines"));
  BOOST_TEST(Contains(m.text, "2 x 19.90 EUR"));
  BOOST_TEST(Contains(m.text, "https://kite.example/cr/restore?c=c1&s=sig"));
  BOOST_TEST(Contains(m.text, "https://kite.example/cr/unsub?k=abc"));
  BOOST_TEST(Contains(m.html, "Stunt Kite &amp; Lines"));
  BOOST_TEST(Contains(m.html, "<img src=\"https://img.example/kite.jpg\""));
  BOOST_TEST(Contains(m.html, "href=\"https://kite.example/cr/restore?c=c1&amp;s=sig\""));
  BOOST_TEST(Contains(m.html, "href=\"https://kite.example/cr/unsub?k=abc\""));
  BOOST_TEST(Contains(m.html, "href=\"mailto:help@kite.example\""));
  BOOST_TEST(Contains(m.html, "href=\"tel:+4930123456\""));
  BOOST_TEST(Contains(m.html, "href=\"https://kite.example/chat\""));
  for (const std::string* part : {&m.subject, &m.text, &m.html}) {
    BOOST_TEST(!Contains(*part, "{{"));
    BOOST_TEST(!Contains(*part, "}}"));
    BOOST_TEST(!Contains(*part, "*|"));
  }
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
  BOOST_REQUIRE(out.good());
}

// A shop template directory: overrides, an added template, an added language.
const std::map<std::string, std::string>& ShopFiles() {
  static const std::map<std::string, std::string> kFiles = {
      // Overrides one part of a shipped template; its text and HTML stay shipped.
      {"visitor_1.email.de.subject.mustache", "Hallo von {{shop.name}}!\n"},
      // Overrides the generic German SMS.
      {"reminder.short.de.text.mustache",
       "*|SHOP_NAME|*: Ihr Korb wartet. *|CART_URL|* {{ui.total}} {{total}}\n"},
      // A template of the shop's own, in English, for e-mail and SMS.
      {"vip_1.email.en.subject.mustache", "A thank-you from *|SHOP_NAME|*"},
      {"vip_1.email.en.text.mustache",
       "{{greeting}}\n{{#items}}\n* {{name}} ({{quantity}}): {{line_total}}\n{{/items}}\n"
       "{{ui.total}}: {{total}}\n*|CART_URL|*\n"},
      {"vip_1.email.en.html.mustache",
       "<html><body>\n<p>{{greeting}}</p>\n{{#items}}\n<p>{{name}}</p>\n{{/items}}\n"
       "<a href=\"*|CART_URL|*\">{{ui.return_to_cart}}</a>\n</BODY></html>\n"},
      {"vip_1.sms.en.text.mustache", "VIP at *|SHOP_NAME|*: *|CART_URL|*"},
      // A language the shop adds to a shipped template.
      {"customer_1.email.fr.subject.mustache", "Un souci avec votre commande ?"},
      {"customer_1.email.fr.text.mustache", "Bonjour,\n{{#items}}{{name}}\n{{/items}}{{total}}\n"},
      {"customer_1.email.fr.html.mustache", "<p>Bonjour,</p><p>{{ui.total}}: {{total}}</p>"},
      // Only in Austrian German.
      {"austria_1.email.de-AT.subject.mustache", "Servus"},
      {"austria_1.email.de-AT.text.mustache", "Servus! {{total}}"},
      {"austria_1.email.de-AT.html.mustache", "<p>Servus! {{total}}</p>"},
  };
  return kFiles;
}

RenderRequest InLanguage(RenderRequest r, const std::string& language) {
  r.language = language;
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(render_tests)

// --- Mustache ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(mustache_variables) {
  CheckCases({
      {"plain text", "Hello, world.", "Hello, world."},
      {"variable", "Hi {{name}}!", "Hi Anna!"},
      {"spaces in tag", "Hi {{ name }}!", "Hi Anna!"},
      {"missing is empty", "[{{missing}}]", "[]"},
      {"null is empty", "[{{nothing}}]", "[]"},
      {"int", "{{count}} items", "3 items"},
      {"decimal keeps its text", "{{price}}", "19.90"},
      {"bool", "{{yes}}/{{no}}", "true/false"},
      {"dotted", "{{shop.address.city}}", "Kiel"},
      {"dotted missing tail", "[{{shop.address.street}}]", "[]"},
      {"dotted through a non-map", "[{{name.first}}]", "[]"},
      {"lone braces are text", "a { b } c }} d", "a { b } c }} d"},
  });
}

BOOST_AUTO_TEST_CASE(mustache_escaping) {
  CheckCases({
      {"escaped", "{{html}}", "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;"},
      {"triple is raw", "{{{html}}}", "<b>\"Tom\" & 'Jerry'</b>"},
      {"ampersand is raw", "{{& html}}", "<b>\"Tom\" & 'Jerry'</b>"},
      {"triple with spaces", "{{{ html }}}", "<b>\"Tom\" & 'Jerry'</b>"},
      {"dotted escaped", "{{shop.name}}", "Kite &amp; Co"},
      {"template text is not escaped", "<p>&amp;</p>", "<p>&amp;</p>"},
  });
  // The text parts of a message render without escaping.
  BOOST_TEST(render_internal::RenderMustache("{{html}}", TestContext(), "t",
                                             render_internal::Escape::kNone) ==
             "<b>\"Tom\" & 'Jerry'</b>");
}

BOOST_AUTO_TEST_CASE(mustache_ints_and_escapes_as_printf_and_by_hand) {
  // Integers are written as printf's "%lld" writes them, over the whole range.
  for (int64_t i : {int64_t(0), int64_t(-1), int64_t(7), int64_t(-250), int64_t(1234567890123),
                    std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(i));
    BOOST_TEST(RenderMustache("{{n}}", Map({{"n", Value::Int(i)}}), "t") == buf);
  }
  // Every byte value, escaped as the five-entity rule says.
  std::string all, expected;
  for (int c = 1; c < 256; ++c) {
    all += char(c);
    switch (char(c)) {
      case '&': expected += "&amp;"; break;
      case '<': expected += "&lt;"; break;
      case '>': expected += "&gt;"; break;
      case '"': expected += "&quot;"; break;
      case '\'': expected += "&#39;"; break;
      default: expected += char(c);
    }
  }
  BOOST_TEST(RenderMustache("{{s}}", Map({{"s", S(all + all)}}), "t") == expected + expected);
}

BOOST_AUTO_TEST_CASE(mustache_sections) {
  CheckCases({
      {"true section", "{{#yes}}shown{{/yes}}", "shown"},
      {"false section", "[{{#no}}hidden{{/no}}]", "[]"},
      {"missing section", "[{{#missing}}hidden{{/missing}}]", "[]"},
      {"null section", "[{{#nothing}}hidden{{/nothing}}]", "[]"},
      {"empty string is false", "[{{#empty}}hidden{{/empty}}]", "[]"},
      {"string is true, and the context", "{{#name}}<{{.}}>{{/name}}", "<Anna>"},
      {"list of strings", "{{#letters}}{{.}},{{/letters}}", "a,b,c,"},
      {"empty list", "[{{#none}}x{{/none}}]", "[]"},
      {"list of maps", "{{#people}}{{name}};{{/people}}", "Ben;Cleo;"},
      {"map becomes the context", "{{#shop}}{{name}} in {{address.city}}{{/shop}}",
       "Kite &amp; Co in Kiel"},
      {"dotted section", "{{#shop.address}}{{city}}{{/shop.address}}", "Kiel"},
      {"int section", "{{#count}}{{.}}!{{/count}}", "3!"},
      {"inverted on false", "{{^no}}shown{{/no}}", "shown"},
      {"inverted on missing", "{{^missing}}shown{{/missing}}", "shown"},
      {"inverted on empty list", "{{^none}}shown{{/none}}", "shown"},
      {"inverted on empty string", "{{^empty}}shown{{/empty}}", "shown"},
      {"inverted on true", "[{{^yes}}hidden{{/yes}}]", "[]"},
      {"inverted on a list", "[{{^letters}}hidden{{/letters}}]", "[]"},
      {"comment", "a{{! a comment }}b", "ab"},
      {"multi-line comment", "a{{! one\ntwo }}b", "ab"},
      {"same section twice", "{{#yes}}1{{/yes}}{{#yes}}2{{/yes}}", "12"},
  });
}

BOOST_AUTO_TEST_CASE(mustache_nested_sections_look_up_outer_contexts) {
  CheckCases({
      // "shop" is not in the person: found in the root.
      {"outer lookup", "{{#people}}{{name}}@{{shop.name}} {{/people}}",
       "Ben@Kite &amp; Co Cleo@Kite &amp; Co "},
      // The innermost "name" wins over the root's "name".
      {"inner shadows outer", "{{name}}:{{#people}}{{name}},{{/people}}", "Anna:Ben,Cleo,"},
      {"missing in element, outer one used", "{{#people}}{{age}}{{count}};{{/people}}", "3;73;"},
      {"nested list inside list", "{{#people}}{{#letters}}{{name}}{{.}}{{/letters}}|{{/people}}",
       "BenaBenbBenc|CleoaCleobCleoc|"},
      {"section inside element on element key",
       "{{#people}}{{#age}}{{name}} is {{age}}{{/age}}{{^age}}{{name}} ?{{/age}};{{/people}}",
       "Ben ?;Cleo is 7;"},
      {"dotted name from inside a section", "{{#people}}{{shop.address.city}},{{/people}}",
       "Kiel,Kiel,"},
  });
  // Spec rule: only the first part of a dotted name walks outwards; once "b" is found in
  // the element, a missing "c" is empty rather than the outer "b.c".
  const Value context = Map({{"b", Map({{"c", S("outer")}})},
                             {"list", List({Map({{"b", Map({})}})})}});
  BOOST_TEST(RenderMustache("{{#list}}[{{b.c}}]{{/list}}", context, "t") == "[]");
  BOOST_TEST(RenderMustache("[{{b.c}}]", context, "t") == "[outer]");
}

// Parsed templates are cached by name and text: the same name with another text is the
// other template, never the first one's tree.
BOOST_AUTO_TEST_CASE(mustache_same_name_other_text) {
  const Value context = TestContext();
  BOOST_TEST(RenderMustache("{{name}}!", context, "same") == "Anna!");
  BOOST_TEST(RenderMustache("<{{count}}>", context, "same") == "<3>");
  BOOST_TEST(RenderMustache("{{name}}!", context, "same") == "Anna!");
}

// The shop's part of the context is reused between messages of one shop (render.cpp); a
// request for another shop, on the same thread, gets its own.
BOOST_AUTO_TEST_CASE(render_context_follows_each_requests_shop) {
  RenderRequest kite = TwoItemRequest();
  RenderRequest other = kite;
  other.shop.shop_name = "Sail Loft";
  other.shop.contact_phone = "+33 1 22 33";
  const RenderedMessage first = Render(kite);
  const RenderedMessage second = Render(other);
  const RenderedMessage third = Render(kite);
  BOOST_TEST(Contains(first.html, "Kite &amp; Co"));
  BOOST_TEST(Contains(second.html, "Sail Loft"));
  BOOST_TEST(Contains(second.html, "tel:+3312233"));
  BOOST_TEST(!Contains(second.html, "Kite &amp; Co"));
  BOOST_TEST(third.html == first.html);
}

BOOST_AUTO_TEST_CASE(mustache_standalone_lines) {
  CheckCases({
      {"standalone section lines vanish", "a\n{{#yes}}\nb\n{{/yes}}\nc\n", "a\nb\nc\n"},
      {"false standalone section", "a\n{{#no}}\nb\n{{/no}}\nc\n", "a\nc\n"},
      {"indented standalone", "a\n  {{#letters}}\n  - {{.}}\n  {{/letters}}\nc",
       "a\n  - a\n  - b\n  - c\nc"},
      {"standalone inverted", "a\n\t{{^no}}\nb\n\t{{/no}}\n", "a\nb\n"},
      {"standalone comment", "a\n  {{! note }}\nb\n", "a\nb\n"},
      {"standalone at end without newline", "a\n{{#yes}}\nb\n{{/yes}}", "a\nb\n"},
      {"standalone at start", "{{#yes}}\nb\n{{/yes}}\n", "b\n"},
      {"CRLF lines", "a\r\n{{#yes}}\r\nb\r\n{{/yes}}\r\n", "a\r\nb\r\n"},
      {"two tags on one line", "a\n{{#yes}}{{#letters}}\n{{.}}\n{{/letters}}{{/yes}}\nz\n",
       "a\na\nb\nc\nz\n"},
      {"text keeps the line", "a {{#yes}}b{{/yes}} c\n", "a b c\n"},
      {"a variable keeps the line", "{{#yes}}{{name}}\n{{/yes}}", "Anna\n"},
      {"blank line is kept", "a\n\nb\n", "a\n\nb\n"},
  });
}

struct ErrorCase {
  const char* tmpl;
  const char* field;
  const char* message_part;
};

BOOST_AUTO_TEST_CASE(mustache_errors_name_template_and_line) {
  const std::vector<ErrorCase> cases = {
      {"a\n{{#items}}\nb\n", "mail:2", "unclosed section {{#items}}"},
      {"{{#a}}\n{{#b}}\n{{/a}}\n", "mail:3", "does not match {{#b}} opened at line 2"},
      {"a\nb\n{{/a}}", "mail:3", "not open"},
      {"a\nb\nc\nHi {{name", "mail:4", "unclosed tag"},
      {"a\n{{{name}}\n", "mail:2", "unclosed tag"},
      {"a\n{{! comment\nb\nc", "mail:2", "unclosed tag"},
      {"{{! two\nlines }}\n{{#x}}", "mail:3", "unclosed section"},
      {"a\n{{}}", "mail:2", "empty tag"},
      {"a\n{{#}}x{{/}}", "mail:2", "empty tag"},
      {"{{> footer}}", "mail:1", "partials"},
      {"{{=<% %>=}}", "mail:1", "delimiter"},
  };
  for (const ErrorCase& c : cases) {
    BOOST_TEST_CONTEXT(c.tmpl) {
      try {
        RenderMustache(c.tmpl, TestContext(), "mail");
        BOOST_FAIL("no error");
      } catch (const Error& e) {
        BOOST_TEST((e.code() == ErrorCode::kConfig));
        BOOST_TEST(e.field() == c.field);
        BOOST_TEST(Contains(e.what(), c.message_part), e.what());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(merge_tags_become_mustache_variables) {
  using render_internal::ExpandMergeTags;
  BOOST_TEST(ExpandMergeTags("Hi *|FIRST_NAME|*") == "Hi {{first_name}}");
  BOOST_TEST(ExpandMergeTags("*|CART_URL|**|COUPON|*") == "{{cart_url}}{{coupon}}");
  BOOST_TEST(ExpandMergeTags("x *|UNSUBSCRIBE_URL|* *|SHOP_NAME|*") ==
             "x {{unsubscribe_url}} {{shop.name}}");
  BOOST_TEST(ExpandMergeTags("*|LAST_NAME|* *| *|") == "*|LAST_NAME|* *| *|");
  BOOST_TEST(ExpandMergeTags("*|") == "*|");
  BOOST_TEST(ExpandMergeTags("") == "");
}

// --- Template names -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(shipped_template_names) {
  const std::vector<std::string> names = ShippedTemplateNames();
  const std::set<std::string> got(names.begin(), names.end());
  const std::set<std::string> want = {
      "customer_1", "customer_2", "customer_3", "visitor_1",
      "visitor_2_unopened", "visitor_2_opened", "visitor_2_clicked",
      "visitor_3_unopened", "visitor_3_opened", "visitor_3_clicked", "reminder"};
  BOOST_TEST(got == want, boost::test_tools::per_element());
  BOOST_TEST(names.size() == want.size());
}

BOOST_AUTO_TEST_CASE(default_template_names) {
  BOOST_TEST(DefaultTemplateName("customer", 1, std::nullopt) == "customer_1");
  BOOST_TEST(DefaultTemplateName("customer", 3, std::nullopt) == "customer_3");
  BOOST_TEST(DefaultTemplateName("visitor", 1, std::nullopt) == "visitor_1");
  BOOST_TEST(DefaultTemplateName("visitor", 2, Engagement::kUnopened) == "visitor_2_unopened");
  BOOST_TEST(DefaultTemplateName("visitor", 2, Engagement::kOpened) == "visitor_2_opened");
  BOOST_TEST(DefaultTemplateName("visitor", 3, Engagement::kClicked) == "visitor_3_clicked");
  // No shipped template of its own: the branch is dropped first, then "reminder".
  BOOST_TEST(DefaultTemplateName("customer", 2, Engagement::kOpened) == "customer_2");
  BOOST_TEST(DefaultTemplateName("visitor", 2, std::nullopt) == "reminder");
  BOOST_TEST(DefaultTemplateName("customer", 4, std::nullopt) == "reminder");
  BOOST_TEST(DefaultTemplateName("vip", 1, std::nullopt) == "reminder");
}

BOOST_AUTO_TEST_CASE(unknown_template_is_a_config_error) {
  RenderRequest r = TwoItemRequest();
  r.template_name = "no_such_template";
  try {
    Render(r);
    BOOST_FAIL("no error");
  } catch (const Error& e) {
    BOOST_TEST((e.code() == ErrorCode::kConfig));
    BOOST_TEST(e.field() == "template no_such_template");
    BOOST_TEST(Contains(e.what(), "unknown template"));
  }
}

// --- Render -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(every_shipped_template_shows_the_cart) {
  std::set<std::string> subjects;
  for (const std::string& name : ShippedTemplateNames()) {
    BOOST_TEST_CONTEXT("template " << name) {
      RenderRequest r = TwoItemRequest();
      r.template_name = name;
      RenderedMessage m = Render(r);
      CheckShowsCart(m);
      subjects.insert(m.subject);
    }
  }
  // Each step says something of its own.
  BOOST_TEST(subjects.size() == ShippedTemplateNames().size());
}

BOOST_AUTO_TEST_CASE(every_path_step_and_branch_renders_its_default) {
  struct StepCase {
    const char* path;
    int step;
    std::optional<Engagement> branch;
    const char* expected_subject_part;
  };
  const std::vector<StepCase> cases = {
      {"customer", 1, std::nullopt, "go wrong"},
      {"customer", 2, std::nullopt, "help"},
      {"customer", 3, std::nullopt, "held you back"},
      {"visitor", 1, std::nullopt, "Need a hand"},
      {"visitor", 2, Engagement::kUnopened, "checking in"},
      {"visitor", 2, Engagement::kOpened, "How ordering at Kite & Co works"},
      {"visitor", 2, Engagement::kClicked, "ready when you are"},
      {"visitor", 3, Engagement::kUnopened, "saved forever"},
      {"visitor", 3, Engagement::kOpened, "other shoppers"},
      {"visitor", 3, Engagement::kClicked, "questions"},
      {"vip", 1, std::nullopt, "waiting for you"},  // falls back to "reminder"
  };
  for (const StepCase& c : cases) {
    BOOST_TEST_CONTEXT(c.path << " step " << c.step) {
      RenderRequest r = TwoItemRequest();
      r.path = c.path;
      r.step = c.step;
      r.branch = c.branch;
      RenderedMessage m = Render(r);
      CheckShowsCart(m);
      BOOST_TEST(Contains(m.subject, c.expected_subject_part), m.subject);
    }
  }
}

BOOST_AUTO_TEST_CASE(first_name_only_with_personalization_consent) {
  RenderRequest r = TwoItemRequest();
  r.template_name = "customer_1";

  r.contact.consent.personalization = true;
  RenderedMessage with = Render(r);
  BOOST_TEST(Contains(with.text, "Hi Anna,"));
  BOOST_TEST(Contains(with.html, "Hi Anna,"));

  for (std::optional<bool> consent : {std::optional<bool>(false), std::optional<bool>()}) {
    r.contact.consent.personalization = consent;
    RenderedMessage without = Render(r);
    BOOST_TEST(Contains(without.text, "Hello,"));
    BOOST_TEST(Contains(without.html, "Hello,"));
    for (const std::string* part : {&without.subject, &without.text, &without.html})
      BOOST_TEST(!Contains(*part, "Anna"));
  }

  // Consent but no name: still neutral.
  r.contact.consent.personalization = true;
  r.contact.first_name = "  ";
  BOOST_TEST(Contains(Render(r).text, "Hello,"));
}

BOOST_AUTO_TEST_CASE(first_name_is_escaped_in_html) {
  RenderRequest r = TwoItemRequest();
  r.contact.consent.personalization = true;
  r.contact.first_name = "<script>x</script>";
  RenderedMessage m = Render(r);
  BOOST_TEST(!Contains(m.html, "<script>"));
  BOOST_TEST(Contains(m.html, "Hi &lt;script&gt;x&lt;/script&gt;,"));
  BOOST_TEST(Contains(m.text, "Hi <script>x</script>,"));
}

BOOST_AUTO_TEST_CASE(coupon_shows_only_when_given) {
  RenderRequest r = TwoItemRequest();
  for (const std::string& name : ShippedTemplateNames()) {
    BOOST_TEST_CONTEXT(name) {
      r.template_name = name;
      r.coupon_code = "";
      RenderedMessage plain = Render(r);
      BOOST_TEST(!Contains(plain.text, "Your code"));
      BOOST_TEST(!Contains(plain.html, "Your code"));
      r.coupon_code = "SAVE10";
      RenderedMessage with = Render(r);
      BOOST_TEST(Contains(with.text, "Your code: SAVE10"));
      BOOST_TEST(Contains(with.html, "SAVE10"));
    }
  }
  // The "clicked" reminder turns the coupon into its perk, subject included.
  r.template_name = "visitor_2_clicked";
  BOOST_TEST(Contains(Render(r).subject, "extra"));
  BOOST_TEST(Contains(Render(r).text, "personal code SAVE10"));
}

BOOST_AUTO_TEST_CASE(contact_ways_and_unsubscribe_only_when_set) {
  RenderRequest r = TwoItemRequest();
  r.template_name = "customer_2";
  r.shop.contact_email.clear();
  r.shop.contact_phone.clear();
  r.shop.chat_url.clear();
  r.unsubscribe_url.clear();
  RenderedMessage m = Render(r);
  BOOST_TEST(!Contains(m.html, "mailto:"));
  BOOST_TEST(!Contains(m.html, "tel:"));
  BOOST_TEST(!Contains(m.html, "Questions?"));
  BOOST_TEST(!Contains(m.text, "Questions?"));
  BOOST_TEST(!Contains(m.html, "Unsubscribe"));
  BOOST_TEST(!Contains(m.text, "Unsubscribe"));

  r.shop.contact_phone = "+48 22 555 01 02";
  m = Render(r);
  BOOST_TEST(Contains(m.html, "href=\"tel:+48225550102\""));
  BOOST_TEST(Contains(m.html, ">+48 22 555 01 02</a>"));
  BOOST_TEST(Contains(m.text, "Phone: +48 22 555 01 02"));
  BOOST_TEST(!Contains(m.html, "mailto:"));
}

BOOST_AUTO_TEST_CASE(money_follows_the_currency_exponent) {
  RenderRequest r = TwoItemRequest();
  r.cart.currency = "JPY";
  r.cart.items = {Item("Tea", 500, 3)};
  RenderedMessage m = Render(r);
  BOOST_TEST(Contains(m.text, "3 x 500 JPY"));
  BOOST_TEST(Contains(m.text, "Total: 1500 JPY"));
  BOOST_TEST(!Contains(m.html, "<img"));  // no image_url, no broken image

  r.cart.currency = "KWD";
  r.cart.items = {Item("Dates", 1250, 2)};
  BOOST_TEST(Contains(Render(r).text, "Total: 2.500 KWD"));
}

BOOST_AUTO_TEST_CASE(cart_link_falls_back_to_the_carts_restore_url) {
  RenderRequest r = TwoItemRequest();
  r.cart_url.clear();
  r.cart.restore_url = "https://kite.example/cart/restore/c1";
  RenderedMessage m = Render(r);
  BOOST_TEST(Contains(m.text, "Return to your cart: https://kite.example/cart/restore/c1"));
  BOOST_TEST(Contains(m.html, "href=\"https://kite.example/cart/restore/c1\""));
}

BOOST_AUTO_TEST_CASE(subject_stays_one_line) {
  RenderRequest r = TwoItemRequest();
  r.shop.shop_name = "Evil\r\nBcc: all@example.com";
  r.path = "visitor";
  r.step = 2;
  r.branch = Engagement::kOpened;  // its subject names the shop
  RenderedMessage m = Render(r);
  BOOST_TEST(Contains(m.subject, "Evil"));
  BOOST_TEST(!Contains(m.subject, "\r"));
  BOOST_TEST(!Contains(m.subject, "\n"));
}

BOOST_AUTO_TEST_CASE(sms_is_one_short_line) {
  RenderRequest r = TwoItemRequest();
  r.channel = "sms";
  r.template_name = "customer_2";
  RenderedMessage m = Render(r);
  BOOST_TEST(m.subject.empty());
  BOOST_TEST(m.html.empty());
  BOOST_TEST(m.text == "Kite & Co: your cart is still saved. Finish your order: "
                       "https://kite.example/cr/restore?c=c1&s=sig");
  BOOST_TEST(!Contains(m.text, "\n"));

  r.coupon_code = "SAVE10";
  r.channel = "push";
  BOOST_TEST(Render(r).text == "Kite & Co: your cart is still saved. Code SAVE10. Finish your "
                               "order: https://kite.example/cr/restore?c=c1&s=sig");

  // The template name is still checked on every channel.
  r.template_name = "nope";
  BOOST_CHECK_THROW(Render(r), Error);
}

// --- Languages ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(language_fallbacks_in_order) {
  struct Case {
    const char* language;
    const char* default_language;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"de-AT", "pl", {"de-at", "de", "pl", "en"}},
      {"", "pl", {"pl", "en"}},
      {"EN-gb", "en", {"en-gb", "en"}},
      {"", "", {"en"}},
      {"de_AT", "de-CH", {"de-at", "de", "de-ch", "en"}},
      {" pl ", "PL", {"pl", "en"}},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT("'" << c.language << "' with default '" << c.default_language << "'") {
      BOOST_TEST(LanguageFallbacks(c.language, c.default_language) == c.expected,
                 boost::test_tools::per_element());
    }
  }
}

// R3.5: the shopper's language, its primary language, the shop default, English.
BOOST_AUTO_TEST_CASE(language_fallback) {
  struct Case {
    const char* language;          // the shopper's (request.language)
    const char* contact_language;  // used when request.language is empty
    const char* default_language;  // the shop's
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"de-AT", "", "en", "de"},   // region dropped
      {"de", "", "en", "de"},
      {"DE", "", "pl", "de"},      // case-insensitive
      {"pl-PL", "", "en", "pl"},
      {"pt-BR", "", "en", "en"},   // no "pt": the shop default
      {"pt-BR", "", "pl", "pl"},
      {"pt", "", "de", "de"},
      {"EN-gb", "", "de", "en"},
      {"", "", "de", "de"},        // empty: the shop default
      {"", "", "en", "en"},
      {"", "", "pl", "pl"},        // shop default "pl" when the shopper's language is missing
      {"", "pl-PL", "de", "pl"},   // the contact's language when the request has none
      {"de", "pl", "en", "de"},    // the request's wins over the contact's
      {"fr", "", "it", "en"},      // unknown everything: English
      {"fr-CA", "", "", "en"},
      {"de_AT", "", "en", "de"},
  };
  const TemplateSet shipped;
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT("'" << c.language << "' (contact '" << c.contact_language
                           << "') with default '" << c.default_language << "'") {
      RenderRequest r = TwoItemRequest();
      r.language = c.language;
      r.contact.language = c.contact_language;
      r.shop.default_language = c.default_language;
      for (const char* channel : {"email", "sms"}) {
        r.channel = channel;
        BOOST_TEST(Render(r).language == c.expected, channel);
      }
      if (*c.language != '\0') {
        BOOST_TEST(shipped.ResolveLanguage("visitor_1", "email", c.language,
                                           c.default_language) == c.expected);
      }
    }
  }
  BOOST_CHECK_THROW(shipped.ResolveLanguage("nope", "email", "de"), Error);
}

BOOST_AUTO_TEST_CASE(shipped_languages_and_names) {
  BOOST_TEST(ShippedLanguages() == (std::vector<std::string>{"en", "de", "pl"}),
             boost::test_tools::per_element());
  const TemplateSet shipped;
  BOOST_TEST(shipped.Languages() == (std::vector<std::string>{"de", "en", "pl"}),
             boost::test_tools::per_element());
  std::vector<std::string> names = ShippedTemplateNames();
  std::sort(names.begin(), names.end());
  BOOST_TEST(shipped.Names() == names, boost::test_tools::per_element());
  // Every pack has every template, in the same order.
  for (const render_internal::LanguagePack* pack : render_internal::ShippedPacks()) {
    BOOST_TEST_CONTEXT(pack->language) {
      BOOST_REQUIRE(pack->template_count == ShippedTemplateNames().size());
      for (size_t i = 0; i < pack->template_count; ++i)
        BOOST_TEST(pack->templates[i].name == ShippedTemplateNames()[i]);
    }
  }
}

BOOST_AUTO_TEST_CASE(every_shipped_language_renders_every_template) {
  std::map<std::string, std::string> english_subjects;
  for (const std::string& language : ShippedLanguages()) {
    std::set<std::string> subjects;
    for (const std::string& name : ShippedTemplateNames()) {
      BOOST_TEST_CONTEXT(language << " " << name) {
        RenderRequest r = InLanguage(TwoItemRequest(), language);
        r.template_name = name;
        RenderedMessage m = Render(r);
        BOOST_TEST(m.language == language);
        BOOST_TEST(m.template_name == name);
        CheckShowsCartInAnyLanguage(m);
        BOOST_TEST(Contains(m.html, "<html lang=\"" + language + "\">"));
        subjects.insert(m.subject);
        if (language == "en") english_subjects[name] = m.subject;
        else BOOST_TEST(m.subject != english_subjects[name]);  // really translated

        r.coupon_code = "SAVE10";
        RenderedMessage with_coupon = Render(r);
        BOOST_TEST(Contains(with_coupon.text, "SAVE10"));
        BOOST_TEST(Contains(with_coupon.html, "SAVE10"));

        r.channel = "sms";
        RenderedMessage sms = Render(r);
        BOOST_TEST(sms.language == language);
        BOOST_TEST(sms.html.empty());
        BOOST_TEST(sms.subject.empty());
        BOOST_TEST(Contains(sms.text, "Kite & Co: "));
        BOOST_TEST(Contains(sms.text, "https://kite.example/cr/restore?c=c1&s=sig"));
        BOOST_TEST(Contains(sms.text, "SAVE10"));
        BOOST_TEST(!Contains(sms.text, "\n"));
      }
    }
    BOOST_TEST(subjects.size() == ShippedTemplateNames().size(), language);
  }
}

BOOST_AUTO_TEST_CASE(german_and_polish_words_for_their_shoppers) {
  struct Case {
    const char* language;
    std::vector<std::string> text;   // in the plain text
    std::vector<std::string> html;   // in the HTML
    const char* greeting_neutral;
    const char* greeting_named;
    const char* code;
    const char* sms;
  };
  const std::vector<Case> cases = {
      {"de-AT",
       {"Ihr Warenkorb:", "Gesamt: 44.85 EUR",
        "Zurück zum Warenkorb: https://kite.example/cr/restore?c=c1&s=sig",
        "Fragen? Wir helfen Ihnen gern:", "E-Mail: help@kite.example", "Telefon: +49 30 123-456",
        "Abmelden: https://kite.example/cr/unsub?k=abc"},
       {">Zurück zum Warenkorb</a>", "Menge: 2", "Preis: 19.90 EUR", "Gesamt: 44.85 EUR",
        ">Abmelden</a>", ">Schreiben Sie uns</a>"},
       "Guten Tag,", "Hallo Anna,", "Ihr Code: SAVE10",
       "Kite & Co: Ihr Warenkorb ist noch gespeichert. Bestellung abschließen: "
       "https://kite.example/cr/restore?c=c1&s=sig"},
      {"pl",
       {"Twój koszyk:", "Razem: 44.85 EUR",
        "Wróć do koszyka: https://kite.example/cr/restore?c=c1&s=sig",
        "Masz pytania? Chętnie pomożemy:", "Telefon: +49 30 123-456", "Czat: https://kite.example/chat",
        "Wypisz się: https://kite.example/cr/unsub?k=abc"},
       {">Wróć do koszyka</a>", "Ilość: 2", "Cena: 19.90 EUR", "Razem: 44.85 EUR",
        ">Wypisz się</a>", ">napisz do nas</a>"},
       "Dzień dobry,", "Cześć Anna,", "Twój kod: SAVE10",
       "Kite & Co: Twoj koszyk jest zapisany. Dokoncz zamowienie: "
       "https://kite.example/cr/restore?c=c1&s=sig"},
  };
  const std::vector<std::string> english = {"Return to your cart", "Total:", "Quantity",
                                            "Unsubscribe", "Questions?", "Hello,", "Your cart"};
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.language) {
      RenderRequest r = InLanguage(TwoItemRequest(), c.language);
      RenderedMessage m = Render(r);
      for (const std::string& s : c.text) BOOST_TEST(Contains(m.text, s), s);
      for (const std::string& s : c.html) BOOST_TEST(Contains(m.html, s), s);
      for (const std::string& s : english) {
        BOOST_TEST(!Contains(m.text, s), s);
        BOOST_TEST(!Contains(m.html, s), s);
      }
      BOOST_TEST(Contains(m.text, c.greeting_neutral));
      BOOST_TEST(!Contains(m.text, "Anna"));  // R3.7 holds in every language

      r.contact.consent.personalization = true;
      BOOST_TEST(Contains(Render(r).text, c.greeting_named));
      BOOST_TEST(Contains(Render(r).html, c.greeting_named));

      r.coupon_code = "SAVE10";
      BOOST_TEST(Contains(Render(r).text, c.code));

      r.coupon_code.clear();
      r.channel = "sms";
      BOOST_TEST(Render(r).text == c.sms);
    }
  }
}

// --- Shop templates -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(shop_templates_override_and_add) {
  testing::TempDir dir;
  for (const auto& [file, contents] : ShopFiles()) WriteFile(dir.File(file), contents);
  WriteFile(dir.File(".visitor_1.email.de.subject.mustache.swp"), "skipped: hidden");
  const TemplateSet set = LoadTemplates(dir.path);

  const std::vector<std::string> names = set.Names();
  for (const std::string& name : ShippedTemplateNames()) BOOST_TEST(set.Contains(name), name);
  BOOST_TEST(set.Contains("vip_1"));
  BOOST_TEST(set.Contains("austria_1"));
  BOOST_TEST(!set.Contains("vip"));
  BOOST_TEST(names.size() == ShippedTemplateNames().size() + 2);
  BOOST_TEST(set.Languages() == (std::vector<std::string>{"de", "de-at", "en", "fr", "pl"}),
             boost::test_tools::per_element());

  RenderRequest r = TwoItemRequest();
  r.templates = &set;

  // Override: one part replaced; the rest of the German template stays shipped.
  r.template_name = "visitor_1";
  r.language = "de-DE";
  RenderedMessage m = Render(r);
  BOOST_TEST(m.subject == "Hallo von Kite & Co!");
  BOOST_TEST(Contains(m.text, "Zurück zum Warenkorb"));
  BOOST_TEST(Contains(m.html, "Zurück zum Warenkorb"));
  // Other languages keep the shipped subject.
  r.language = "en";
  BOOST_TEST(Render(r).subject == "Need a hand with your order?");
  // Without the set: shipped only.
  r.language = "de";
  r.templates = nullptr;
  BOOST_TEST(Render(r).subject == "Brauchen Sie Hilfe bei Ihrer Bestellung?");
  r.templates = &set;

  // The overridden generic German SMS, for any template without an SMS of its own.
  r.channel = "sms";
  r.template_name = "customer_2";
  BOOST_TEST(Render(r).text == "Kite & Co: Ihr Korb wartet. "
                               "https://kite.example/cr/restore?c=c1&s=sig Gesamt 44.85 EUR");

  // Added template: as written, no shared layout, the ui words of its language.
  r.channel = "email";
  r.template_name = "vip_1";
  r.language = "en";
  m = Render(r);
  BOOST_TEST(m.subject == "A thank-you from Kite & Co");
  BOOST_TEST(m.text == "Hello,\n* Stunt Kite & Lines (2): 39.80 EUR\n* Wind Spinner (1): 5.05 EUR\n"
                       "Total: 44.85 EUR\nhttps://kite.example/cr/restore?c=c1&s=sig\n");
  BOOST_TEST(Contains(m.html, "<p>Stunt Kite &amp; Lines</p>"));
  BOOST_TEST(Contains(m.html, ">Return to your cart</a>"));
  BOOST_TEST(!Contains(m.html, "max-width:600px"));
  // A German shopper: no German vip_1, so the chain reaches English.
  r.language = "de-AT";
  BOOST_TEST(Render(r).language == "en");
  BOOST_TEST(Render(r).subject == "A thank-you from Kite & Co");
  // Its SMS for English shoppers; a German shopper gets the German generic SMS (language
  // before channel).
  r.channel = "sms";
  r.language = "en";
  BOOST_TEST(Render(r).text == "VIP at Kite & Co: https://kite.example/cr/restore?c=c1&s=sig");
  r.language = "de";
  BOOST_TEST(Contains(Render(r).text, "Ihr Korb wartet"));

  // A language the shop added; the layout words come from the shop default (then English).
  r.channel = "email";
  r.template_name = "customer_1";
  r.language = "fr-FR";
  m = Render(r);
  BOOST_TEST(m.language == "fr");
  BOOST_TEST(m.subject == "Un souci avec votre commande ?");
  BOOST_TEST(m.html == "<p>Bonjour,</p><p>Total: 44.85 EUR</p>");
  r.shop.default_language = "pl";
  BOOST_TEST(Render(r).html == "<p>Bonjour,</p><p>Razem: 44.85 EUR</p>");
  r.shop.default_language = "en";

  // A regional template: exact tag only; a template in no language of the chain still goes
  // out, in the language it has.
  r.template_name = "austria_1";
  r.language = "DE-at";
  BOOST_TEST(Render(r).subject == "Servus");
  BOOST_TEST(Render(r).language == "de-at");
  r.language = "pl";
  BOOST_TEST(Render(r).language == "de-at");
  BOOST_TEST(set.ResolveLanguage("austria_1", "email", "de-DE") == "de-at");

  // The default name for a step sees the shop's templates.
  BOOST_TEST(DefaultTemplateName("vip", 1, std::nullopt, set) == "vip_1");
  BOOST_TEST(DefaultTemplateName("vip", 1, std::nullopt) == "reminder");
  r.template_name.clear();
  r.path = "vip";
  r.step = 1;
  r.language = "en";
  BOOST_TEST(Render(r).template_name == "vip_1");

  // A name that exists only for SMS is no e-mail template.
  const TemplateSet sms_only = ParseTemplates({{"sms_1.sms.en.text.mustache", "Hi *|CART_URL|*"}});
  BOOST_TEST(!sms_only.CanRender("sms_1", "email"));
  BOOST_TEST(sms_only.CanRender("sms_1", "sms"));
  BOOST_TEST(sms_only.CanRender("sms_1", "push"));  // the generic short text
  BOOST_TEST(sms_only.CanRender("visitor_1", "email"));
  BOOST_TEST(!sms_only.CanRender("nope", "sms"));
  BOOST_TEST(set.CanRender("austria_1", "email"));
  r.templates = &sms_only;
  r.template_name = "sms_1";
  BOOST_CHECK_THROW(Render(r), Error);
  r.channel = "sms";
  BOOST_TEST(Render(r).text == "Hi https://kite.example/cr/restore?c=c1&s=sig");
}

struct LoadErrorCase {
  std::map<std::string, std::string> files;
  const char* field;
  const char* message_part;
};

BOOST_AUTO_TEST_CASE(load_errors_name_the_file_and_line) {
  const char* kSubject = "vip_1.email.en.subject.mustache";
  const char* kText = "vip_1.email.en.text.mustache";
  const char* kHtml = "vip_1.email.en.html.mustache";
  const std::vector<LoadErrorCase> cases = {
      // A broken section on line 3.
      {{{"visitor_1.email.de.text.mustache", "Hallo,\n\n{{#items}}\n- {{name}}\n"}},
       "visitor_1.email.de.text.mustache:3", "unclosed section {{#items}}"},
      {{{"visitor_1.email.de.html.mustache", "<p>\n{{#items}}\n{{/item}}\n</p>"}},
       "visitor_1.email.de.html.mustache:3", "does not match {{#items}} opened at line 2"},
      {{{"reminder.sms.en.text.mustache", "Hi {{name"}}, "reminder.sms.en.text.mustache:1",
       "unclosed tag"},
      // Unknown merge tags, with their line.
      {{{"visitor_1.email.en.text.mustache", "Hello\nHi *|FRIST_NAME|*,\n"}},
       "visitor_1.email.en.text.mustache:2", "unknown merge tag *|FRIST_NAME|*"},
      {{{"visitor_1.email.en.subject.mustache", "*|first_name|*, look"}},
       "visitor_1.email.en.subject.mustache:1", "unknown merge tag *|first_name|*"},
      // Bad file names.
      {{{"visitor_1.email.de.mustache", "x"}}, "visitor_1.email.de.mustache", "bad file name"},
      {{{"visitor_1.email.de.body.mustache", "x"}}, "visitor_1.email.de.body.mustache",
       "part 'body'"},
      {{{"visitor_1.email.d3.subject.mustache", "x"}}, "visitor_1.email.d3.subject.mustache",
       "not a language tag"},
      {{{"visitor 1.email.de.text.mustache", "x"}}, "visitor 1.email.de.text.mustache",
       "template name"},
      {{{"visitor_1.EMAIL.de.text.mustache", "x"}}, "visitor_1.EMAIL.de.text.mustache",
       "channel 'EMAIL'"},
      {{{"notes.txt", "x"}}, "notes.txt", "does not end in .mustache"},
      {{{"visitor_1.sms.de.html.mustache", "x"}}, "visitor_1.sms.de.html.mustache",
       "has only a text part"},
      // Two files for one part.
      {{{"visitor_1.email.de-AT.text.mustache", "a"}, {"visitor_1.email.de-at.text.mustache", "b"}},
       "visitor_1.email.de-at.text.mustache", "the same template part as"},
      // A shop-added e-mail template needs every part.
      {{{kSubject, "s"}, {kText, "t"}}, kHtml, "needs a subject, a text and an html part"},
      {{{kSubject, "s"}, {kHtml, "h"}}, kText, "missing"},
      {{{"customer_1.email.fr.html.mustache", "h"}}, "customer_1.email.fr.subject.mustache",
       "missing"},
  };
  for (const LoadErrorCase& c : cases) {
    BOOST_TEST_CONTEXT(c.field) {
      try {
        ParseTemplates(c.files);
        BOOST_FAIL("no error");
      } catch (const Error& e) {
        BOOST_TEST((e.code() == ErrorCode::kConfig));
        BOOST_TEST(e.field() == c.field);
        BOOST_TEST(Contains(e.what(), c.message_part), e.what());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(load_templates_reports_errors_from_the_directory) {
  auto field_of = [](const std::string& directory) -> std::string {
    try {
      LoadTemplates(directory);
    } catch (const Error& e) {
      BOOST_TEST((e.code() == ErrorCode::kConfig));
      return e.field();
    }
    return "no error";
  };
  {  // The "errors at load time with the template's name and line" of the issue.
    testing::TempDir dir;
    WriteFile(dir.File("visitor_1.email.de.text.mustache"), "Hallo,\n\n{{#items}}\n{{name}}\n");
    BOOST_TEST(field_of(dir.path) == "visitor_1.email.de.text.mustache:3");
  }
  {
    testing::TempDir dir;
    WriteFile(dir.File("visitor_1.email.en.text.mustache"), "a\nb\nc\nHi *|FRIST_NAME|*\n");
    BOOST_TEST(field_of(dir.path) == "visitor_1.email.en.text.mustache:4");
  }
  {
    testing::TempDir dir;
    std::filesystem::create_directory(dir.File("visitor_1.email.de.text.mustache"));
    BOOST_TEST(field_of(dir.path) == "visitor_1.email.de.text.mustache");
  }
  {
    testing::TempDir dir;
    BOOST_TEST(field_of(dir.File("missing")) == dir.File("missing"));
    WriteFile(dir.File("README"), "templates for the shop");
    BOOST_TEST(field_of(dir.path) == "README");
  }
  {
    testing::TempDir dir;
    std::filesystem::create_symlink(dir.File("gone"), dir.File("visitor_1.email.de.text.mustache"));
    BOOST_TEST(field_of(dir.path) == "visitor_1.email.de.text.mustache");
  }
  if (geteuid() != 0) {  // root reads anything
    testing::TempDir dir;
    const std::string file = dir.File("visitor_1.email.de.text.mustache");
    WriteFile(file, "ok");
    chmod(file.c_str(), 0);
    BOOST_TEST(field_of(dir.path) == "visitor_1.email.de.text.mustache");
  }
  {  // An empty directory is the shipped set; a byte-order mark is not part of a subject.
    testing::TempDir dir;
    BOOST_TEST(LoadTemplates(dir.path).Names() == TemplateSet().Names());
    WriteFile(dir.File("visitor_1.email.en.subject.mustache"), "\xEF\xBB\xBFHi\n");
    RenderRequest r = TwoItemRequest();
    const TemplateSet set = LoadTemplates(dir.path);
    r.templates = &set;
    r.template_name = "visitor_1";
    BOOST_TEST(Render(r).subject == "Hi");
  }
}

BOOST_AUTO_TEST_CASE(unknown_merge_tags_are_found) {
  using render_internal::FindUnknownMergeTag;
  BOOST_TEST(!FindUnknownMergeTag("*|FIRST_NAME|* *|COUPON|* *|CART_URL|* *|UNSUBSCRIBE_URL|* "
                                  "*|SHOP_NAME|*"));
  BOOST_TEST(!FindUnknownMergeTag("*| |* *|x *|| a|b |* *|"));
  auto u = FindUnknownMergeTag("a\n*|FIRST_NAME|*\nb *|LAST_NAME|* *|X|*");
  BOOST_REQUIRE(u.has_value());
  BOOST_TEST(u->tag == "*|LAST_NAME|*");
  BOOST_TEST(u->line == 3);
}

BOOST_AUTO_TEST_CASE(flow_naming_a_shop_template_validates_with_names) {
  const TemplateSet set = ParseTemplates(ShopFiles());
  const std::string flow =
      R"({"name":"vip","paths":[{"name":"vip","steps":[)"
      R"({"after":"1h","channels":["email","sms"],"template":"vip_1"},)"
      R"({"after":"1d","channels":["email"],"template":"customer_1"}]}]})";
  const std::vector<std::string> names = set.Names();
  BOOST_CHECK_NO_THROW(ParseFlow(flow, &names));
  const std::vector<std::string> shipped = ShippedTemplateNames();
  try {
    ParseFlow(flow, &shipped);
    BOOST_FAIL("no error");
  } catch (const Error& e) {
    BOOST_TEST(e.field() == "paths[0].steps[0].template");
    BOOST_TEST(Contains(e.what(), "unknown template 'vip_1'"));
  }
}

// --- Open pixel -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(open_pixel_only_for_email_and_only_when_set) {
  const std::string pixel =
      "<img src=\"https://kite.example/cr/o?m=1&amp;s=x\" width=\"1\" height=\"1\" alt=\"\">";
  const TemplateSet shop = ParseTemplates(ShopFiles());
  RenderRequest r = TwoItemRequest();

  // Not set: no pixel.
  RenderedMessage m = Render(r);
  BOOST_TEST(!Contains(m.html, "width=\"1\""));

  r.open_pixel_url = "https://kite.example/cr/o?m=1&s=x";
  for (const std::string& language : ShippedLanguages()) {
    BOOST_TEST_CONTEXT(language) {
      m = Render(InLanguage(r, language));
      const size_t at = m.html.find(pixel);
      BOOST_REQUIRE(at != std::string::npos);
      BOOST_TEST(m.html.find(pixel, at + 1) == std::string::npos);  // once
      BOOST_TEST(at > m.html.rfind("</table>"));                    // at the end of the body
      BOOST_TEST(at < m.html.find("</body>"));
      BOOST_TEST(!Contains(m.text, "kite.example/cr/o"));
      BOOST_TEST(!Contains(m.subject, "kite.example/cr/o"));
    }
  }

  // Other channels never carry it.
  for (const char* channel : {"sms", "push", "webhook"}) {
    r.channel = channel;
    BOOST_TEST(!Contains(Render(r).text, "kite.example/cr/o"), channel);
  }

  // A shop's own HTML gets it before </body> (any case), or at the end without one.
  r.channel = "email";
  r.templates = &shop;
  r.template_name = "vip_1";
  m = Render(r);
  BOOST_TEST(Contains(m.html, pixel + "\n</BODY></html>"));
  r.template_name = "customer_1";
  r.language = "fr";
  m = Render(r);
  BOOST_TEST(m.html == "<p>Bonjour,</p><p>Total: 44.85 EUR</p>" + pixel + "\n");
  // A shop template that places the pixel itself gets it only there.
  const TemplateSet own = ParseTemplates({
      {"p.email.en.subject.mustache", "s"},
      {"p.email.en.text.mustache", "t"},
      {"p.email.en.html.mustache", "<body><img src=\"{{open_pixel_url}}\"><p>x</p></body>"},
  });
  r.templates = &own;
  r.template_name = "p";
  r.language = "en";
  BOOST_TEST(Render(r).html ==
             "<body><img src=\"https://kite.example/cr/o?m=1&amp;s=x\"><p>x</p></body>");
  r.open_pixel_url.clear();
  BOOST_TEST(Render(r).html == "<body><img src=\"\"><p>x</p></body>");
}

// Renders a fixed sample of varied requests (every shipped template and one shop template
// that prints every context key, in every channel, language, consent, stage, currency) and
// folds all output into one FNV-1a digest. The digest was recorded from the renderer before
// the context was built with sorted inserts and the open-pixel check moved to load time: any
// byte that changes since then fails here.
BOOST_AUTO_TEST_CASE(renders_are_byte_for_byte_as_recorded) {
  std::string keys;  // "k=[{{k}}]" for every key the context has
  for (const char* k :
       {"branch", "cart_url", "channel", "coupon", "currency", "first_name", "flow", "greeting",
        "has_contact", "has_coupon", "item_count", "language", "open_pixel_url", "path", "stage",
        "stage_cart", "stage_contact", "stage_payment", "stage_shipping_address",
        "stage_shipping_method", "step", "total", "unsubscribe_url", "shop.name", "shop.base_url",
        "shop.contact_email", "shop.contact_phone", "shop.contact_phone_tel", "shop.chat_url",
        "ui.your_cart", "ui.quantity", "ui.price", "ui.total", "ui.your_code", "ui.return_to_cart",
        "ui.questions", "ui.email", "ui.phone", "ui.chat", "ui.chat_link",
        "ui.unsubscribe_question", "ui.unsubscribe", "missing", "shop.missing"})
    keys += std::string(k) + "=[{{" + k + "}}]\n";
  keys +=
      "{{#items}}{{name}}|{{sku}}|{{quantity}}|{{price}}|{{line_total}}|{{image_url}}|{{url}}|"
      "{{shop.name}}|{{total}}|{{.}}\n{{/items}}{{^items}}no items{{/items}}"
      "{{#has_coupon}}coupon {{coupon}}{{/has_coupon}}{{^has_coupon}}no coupon{{/has_coupon}}"
      "{{#shop}}{{name}}{{/shop}}{{#ui}}{{total}}{{/ui}}{{#stage_payment}}paying{{/stage_payment}}"
      "{{#shop.chat_url}}chat {{.}}{{/shop.chat_url}}\n";
  const TemplateSet set = ParseTemplates({
      {"all.email.en.subject.mustache", "{{greeting}} {{shop.name}} {{total}}"},
      {"all.email.en.text.mustache", keys},
      {"all.email.en.html.mustache", "<html><body>" + keys + "</body></html>"},
      {"all.short.en.text.mustache", keys},
  });
  std::vector<std::string> names = ShippedTemplateNames();
  names.push_back("all");
  names.push_back("");  // the default for the path and step

  const char* languages[] = {"", "en", "de", "pl", "fr", "de-AT", "PL"};
  const char* channels[] = {"email", "sms", "push"};
  const char* currencies[] = {"EUR", "JPY", "KWD", ""};
  const Stage stages[] = {Stage::kCart, Stage::kContact, Stage::kShippingAddress,
                          Stage::kShippingMethod, Stage::kPayment};
  uint32_t state = 12345;  // a fixed LCG: the same requests on every platform
  auto next = [&](uint32_t n) {
    state = state * 1664525u + 1013904223u;
    return (state >> 8) % n;
  };
  uint64_t digest = 14695981039346656037ull;
  auto fold = [&](const std::string& s) {
    for (unsigned char c : s) digest = (digest ^ c) * 1099511628211ull;
    digest = (digest ^ 0xFF) * 1099511628211ull;  // separates the parts
  };
  size_t rendered = 0;
  for (int round = 0; round < 400; ++round) {
    RenderRequest r = TwoItemRequest();
    r.templates = round % 2 ? &set : nullptr;
    r.template_name = names[next(uint32_t(names.size()))];
    if (r.template_name == "all" && !r.templates) r.template_name.clear();
    r.language = languages[next(7)];
    r.contact.language = languages[next(7)];
    r.shop.default_language = next(3) == 0 ? "de" : "en";
    r.channel = channels[next(3)];
    r.cart.currency = currencies[next(4)];
    r.cart.stage = stages[next(5)];
    r.path = next(2) ? "visitor" : "customer";
    r.step = 1 + int(next(3));
    if (next(2)) r.branch = Engagement(next(3));
    if (next(3) == 0) r.contact.consent.personalization = next(2) == 0;
    if (next(2)) r.contact.first_name = next(2) ? "  Zoë <&> " : "Anna";
    if (next(2)) r.coupon_code = "SAVE&10";
    if (next(2)) r.open_pixel_url = "https://kite.example/cr/o/T\"ok.gif";
    if (next(3) == 0) r.cart_url.clear();
    r.cart.restore_url = "https://kite.example/restore?x=<1>";
    if (next(3) == 0) r.cart.items.clear();
    if (next(3) == 0) r.cart.items.push_back(Item("Big \"Q\" 'x'", -250, 3));
    if (next(3) == 0) {
      r.shop.contact_email.clear();
      r.shop.contact_phone.clear();
      r.shop.chat_url.clear();
    }
    if (next(4) == 0) r.shop.shop_name = "Shop\nName";
    RenderedMessage m;
    try {
      m = Render(r);
    } catch (const Error& e) {
      fold(std::string("error: ") + e.what());
      continue;
    }
    ++rendered;
    for (const std::string* part : {&m.subject, &m.text, &m.html, &m.template_name, &m.language})
      fold(*part);
  }
  BOOST_TEST(rendered > 300u);
  BOOST_TEST(digest == 8631355742347312360ull, "digest " << digest);
}

BOOST_AUTO_TEST_SUITE_END()
