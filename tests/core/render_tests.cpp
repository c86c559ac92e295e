// render_tests: the Mustache renderer (feature by feature, table-driven), its errors, and
// Render() over every shipped template (cart shown, consent, merge tags, SMS).
#include <boost/test/unit_test.hpp>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cartrecovery/render.h"
#include "cartrecovery/status.h"
#include "cartrecovery/value.h"
#include "render/render_internal.h"

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

BOOST_AUTO_TEST_SUITE_END()
