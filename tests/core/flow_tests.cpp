// flow_tests: the flow document (durations, parsing, validation paths, canonical JSON, the
// default flow) and the journey rules (entry, S5 refusals, S1-S3 due times).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cartrecovery/flow.h"
#include "cartrecovery/model.h"
#include "cartrecovery/status.h"

using namespace cartrecovery;

namespace {

constexpr Millis kT0 = 1772442000000;  // 2026-03-02T09:00:00Z

// The document printed in ../shared/API.md "Flows", copied independently of the library's.
const char* const kApiDocument = R"json({
  "name": "cart-recovery",
  "abandon_after": "1h",
  "enter_when": {"min_value": "0", "has_contact": true},
  "paths": [
    {"name": "customer", "when": {"orders_count_at_least": 1}, "steps": [
      {"after": "1h",  "channels": ["email"], "template": "customer_1"},
      {"after": "24h", "channels": ["email"], "template": "customer_2"},
      {"after": "48h", "channels": ["email"], "template": "customer_3"}]},
    {"name": "visitor", "steps": [
      {"after": "1h", "channels": ["email"], "template": "visitor_1"},
      {"channels": ["email"], "branches": {
        "unopened": {"after": "10h", "template": "visitor_2_unopened"},
        "opened":   {"after": "6h",  "template": "visitor_2_opened"},
        "clicked":  {"after": "8h",  "template": "visitor_2_clicked"}}},
      {"channels": ["email"], "branches": {
        "unopened": {"after": "2d", "template": "visitor_3_unopened"},
        "opened":   {"after": "1d", "template": "visitor_3_opened"},
        "clicked":  {"after": "1d", "template": "visitor_3_clicked"}}}]}],
  "policies": {"frequency_cap": "24h", "quiet_after_order": "7d"}
})json";

const std::string kPlainStep = R"({"after":"1h","channels":["email"]})";

std::string WithSteps(const std::string& steps) {
  return R"({"name":"f","paths":[{"name":"p","steps":[)" + steps + "]}]}";
}
std::string WithSecondStep(const std::string& step) { return WithSteps(kPlainStep + "," + step); }
std::string WithPaths(const std::string& paths) { return R"({"name":"f","paths":[)" + paths + "]}"; }
std::string WithTop(const std::string& members) {
  return R"({"name":"f","paths":[{"name":"p","steps":[)" + kPlainStep + "]}]," + members + "}";
}
std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += (i ? "," : "") + s;
  return out;
}

bool SameBranches(const std::map<Engagement, Branch>& a, const std::map<Engagement, Branch>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [e, branch] : a) {
    auto it = b.find(e);
    if (it == b.end() || it->second.after_ms != branch.after_ms ||
        it->second.template_name != branch.template_name)
      return false;
  }
  return true;
}

// Field by field: flow.h has no operator== and the round trip must hold on the structs.
bool SameFlow(const Flow& a, const Flow& b) {
  if (a.name != b.name || a.abandon_after_ms != b.abandon_after_ms ||
      a.enter_when.min_value != b.enter_when.min_value ||
      a.enter_when.has_contact != b.enter_when.has_contact ||
      a.policies.frequency_cap_ms != b.policies.frequency_cap_ms ||
      a.policies.quiet_after_order_ms != b.policies.quiet_after_order_ms ||
      a.paths.size() != b.paths.size())
    return false;
  for (size_t i = 0; i < a.paths.size(); ++i) {
    const Path& p = a.paths[i];
    const Path& q = b.paths[i];
    if (p.name != q.name || p.when.orders_count_at_least != q.when.orders_count_at_least ||
        p.when.orders_count_at_most != q.when.orders_count_at_most || p.steps.size() != q.steps.size())
      return false;
    for (size_t j = 0; j < p.steps.size(); ++j) {
      const Step& s = p.steps[j];
      const Step& t = q.steps[j];
      if (s.after_ms != t.after_ms || s.channels != t.channels || s.template_name != t.template_name ||
          s.coupon != t.coupon || !SameBranches(s.branches, t.branches) ||
          s.experiment != t.experiment || s.holdout_weight != t.holdout_weight ||
          s.variants.size() != t.variants.size())
        return false;
      for (size_t k = 0; k < s.variants.size(); ++k)
        if (s.variants[k].name != t.variants[k].name || s.variants[k].weight != t.variants[k].weight ||
            s.variants[k].template_name != t.variants[k].template_name ||
            s.variants[k].coupon != t.variants[k].coupon)
          return false;
    }
  }
  return true;
}

// Asserts that `fn` throws a cartrecovery ConfigError naming `path`.
template <typename Fn>
void ExpectConfigError(Fn fn, const std::string& path) {
  try {
    fn();
    BOOST_ERROR("no error; expected a ConfigError at '" << path << "'");
  } catch (const Error& e) {
    BOOST_TEST((e.code() == ErrorCode::kConfig), "code " << ErrorCodeName(e.code()) << ": " << e.what());
    BOOST_TEST(e.field() == path, "field '" << e.field() << "' != '" << path << "': " << e.what());
    if (!path.empty()) BOOST_TEST(std::string(e.what()).rfind(path + ": ", 0) == 0, e.what());
  } catch (const std::exception& e) {
    BOOST_ERROR("a non-cartrecovery exception escaped: " << e.what());
  }
}

Cart CartWorth(int64_t minor, const std::string& currency) {
  Cart cart;
  cart.cart_id = "c1";
  cart.currency = currency;
  cart.items.push_back(LineItem{"sku", "Kite", minor, 1, "", ""});
  return cart;
}

Contact Reachable(int64_t orders = 0) {
  Contact c;
  c.key = "e:ann@example.com";
  c.email = "ann@example.com";
  c.orders_count = orders;
  return c;
}

const Path& Visitor(const Flow& flow) { return *flow.FindPath("visitor"); }
const Path& Customer(const Flow& flow) { return *flow.FindPath("customer"); }

}  // namespace

BOOST_AUTO_TEST_SUITE(flow_tests)

// ---- durations ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(parses_durations) {
  const std::pair<const char*, Millis> good[] = {
      {"30m", 30 * kMinute},
      {"10h", 10 * kHour},
      {"2d", 2 * kDay},
      {"1d12h", kDay + 12 * kHour},
      {"90s", 90 * kSecond},
      {"0m", 0},
      {"0s", 0},
      {"0d", 0},
      {"1d0h", kDay},
      {"1d1h1m1s", kDay + kHour + kMinute + kSecond},
      {"1h30m", 90 * kMinute},
      {"48h", 2 * kDay},
      {"007m", 7 * kMinute},
      {"365d", 365 * kDay},
      {"8760h", 365 * kDay},
      {"364d23h59m60s", 365 * kDay},
      {"31536000s", 365 * kDay},
  };
  for (const auto& [text, ms] : good) {
    BOOST_TEST_CONTEXT("'" << text << "'") { BOOST_TEST(ParseDuration(text, "x") == ms); }
  }
}

BOOST_AUTO_TEST_CASE(refuses_bad_durations_naming_the_path) {
  const char* bad[] = {"",     "0",     "1",      "h",     "1x",   "1H",   "1D",     "-1h",
                       "+1h",  " 1h",   "1h ",    "1 h",   "1.5h", "1,5h", "1h1d",   "1m1h",
                       "1s1m", "1h1h",  "1ms",    "1h30",  "d1",   "366d", "365d1s", "8761h",
                       "31536001s",      "99999999999999999999d",        "1d 2h",  "１h",  "P1D"};
  for (const char* text : bad) {
    BOOST_TEST_CONTEXT("'" << text << "'") {
      ExpectConfigError([&] { ParseDuration(text, "paths[0].steps[1].after"); },
                        "paths[0].steps[1].after");
    }
  }
}

BOOST_AUTO_TEST_CASE(duration_errors_say_what_is_wrong) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "empty"},          {"1h30", "no unit"},   {"1x", "unknown unit 'x'"},
      {"1h1d", "d, h, m, s"}, {"366d", "365d"},      {"h", "expected a number"}};
  for (const auto& [text, words] : cases) {
    BOOST_TEST_CONTEXT("'" << text << "'") {
      try {
        ParseDuration(text, "abandon_after");
        BOOST_ERROR("accepted");
      } catch (const Error& e) {
        BOOST_TEST(std::string(e.what()).find(words) != std::string::npos, e.what());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(formats_durations_canonically) {
  BOOST_TEST(FormatDuration(0) == "0m");
  BOOST_TEST(FormatDuration(30 * kMinute) == "30m");
  BOOST_TEST(FormatDuration(kDay + 12 * kHour) == "1d12h");
  BOOST_TEST(FormatDuration(90 * kSecond) == "1m30s");
  BOOST_TEST(FormatDuration(2 * kDay) == "2d");
  BOOST_TEST(FormatDuration(kDay + kSecond) == "1d1s");
  BOOST_TEST(FormatDuration(365 * kDay) == "365d");
  // Non-canonical input comes back in canonical form.
  const std::pair<const char*, const char*> canon[] = {
      {"48h", "2d"}, {"90m", "1h30m"}, {"0s", "0m"}, {"0d", "0m"}, {"1d0h", "1d"},
      {"3600s", "1h"}, {"24h60m", "1d1h"}, {"007m", "7m"}};
  for (const auto& [in, out] : canon) {
    BOOST_TEST_CONTEXT(in) { BOOST_TEST(FormatDuration(ParseDuration(in, "x")) == out); }
  }
}

BOOST_AUTO_TEST_CASE(duration_format_parse_round_trip) {
  for (Millis ms = 0; ms <= 3 * kDay; ms += 7 * kMinute + 13 * kSecond) {
    BOOST_TEST_CONTEXT(ms) { BOOST_TEST(ParseDuration(FormatDuration(ms), "x") == ms); }
  }
  BOOST_TEST(ParseDuration(FormatDuration(365 * kDay - kSecond), "x") == 365 * kDay - kSecond);
}

// ---- engagement and branches --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(names_and_parses_engagements) {
  BOOST_TEST(std::string(EngagementName(Engagement::kUnopened)) == "unopened");
  BOOST_TEST(std::string(EngagementName(Engagement::kOpened)) == "opened");
  BOOST_TEST(std::string(EngagementName(Engagement::kClicked)) == "clicked");
  for (Engagement e : {Engagement::kUnopened, Engagement::kOpened, Engagement::kClicked})
    BOOST_TEST((ParseEngagement(EngagementName(e)) == e));
  for (const char* bad : {"", "Opened", "open", "read", "clicked "})
    BOOST_TEST(!ParseEngagement(bad).has_value(), bad);
  // max() picks the engagement that counts.
  BOOST_TEST((std::max(Engagement::kOpened, Engagement::kClicked) == Engagement::kClicked));
  BOOST_TEST((std::max(Engagement::kOpened, Engagement::kUnopened) == Engagement::kOpened));
}

BOOST_AUTO_TEST_CASE(branch_fallbacks) {
  Step only_unopened;
  only_unopened.branches[Engagement::kUnopened] = Branch{10 * kHour, "u"};
  for (Engagement e : {Engagement::kUnopened, Engagement::kOpened, Engagement::kClicked})
    BOOST_TEST(only_unopened.BranchFor(e).template_name == "u");

  Step with_opened = only_unopened;
  with_opened.branches[Engagement::kOpened] = Branch{6 * kHour, "o"};
  BOOST_TEST(with_opened.BranchFor(Engagement::kUnopened).template_name == "u");
  BOOST_TEST(with_opened.BranchFor(Engagement::kOpened).template_name == "o");
  BOOST_TEST(with_opened.BranchFor(Engagement::kClicked).template_name == "o");

  Step with_clicked = only_unopened;
  with_clicked.branches[Engagement::kClicked] = Branch{8 * kHour, "c"};
  BOOST_TEST(with_clicked.BranchFor(Engagement::kOpened).template_name == "u");  // opened -> unopened
  BOOST_TEST(with_clicked.BranchFor(Engagement::kClicked).template_name == "c");
  BOOST_TEST(with_clicked.BranchFor(Engagement::kClicked).after_ms == 8 * kHour);

  Step plain;
  plain.after_ms = kHour;
  BOOST_CHECK_EXCEPTION(plain.BranchFor(Engagement::kOpened), Error,
                        [](const Error& e) { return e.code() == ErrorCode::kInternal; });
}

// ---- parsing ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(parses_the_api_document) {
  Flow f = ParseFlow(kApiDocument);
  BOOST_TEST(f.name == "cart-recovery");
  BOOST_TEST(f.abandon_after_ms == kHour);
  BOOST_TEST(f.enter_when.min_value == "0");
  BOOST_TEST(f.enter_when.has_contact);
  BOOST_TEST(f.policies.frequency_cap_ms == 24 * kHour);
  BOOST_TEST(f.policies.quiet_after_order_ms == 7 * kDay);
  BOOST_TEST_REQUIRE(f.paths.size() == 2u);

  const Path& customer = f.paths[0];
  BOOST_TEST(customer.name == "customer");
  BOOST_TEST((customer.when.orders_count_at_least == std::optional<int64_t>(1)));
  BOOST_TEST(!customer.when.orders_count_at_most.has_value());
  BOOST_TEST_REQUIRE(customer.steps.size() == 3u);
  const Millis customer_after[] = {kHour, 24 * kHour, 48 * kHour};
  for (size_t i = 0; i < 3; ++i) {
    const Step& s = customer.steps[i];
    BOOST_TEST(!s.IsBranched());
    BOOST_TEST((s.after_ms == std::optional<Millis>(customer_after[i])));
    BOOST_TEST(s.template_name == "customer_" + std::to_string(i + 1));
    BOOST_TEST((s.channels == std::vector<std::string>{"email"}));
    BOOST_TEST(s.coupon.empty());
  }

  const Path& visitor = f.paths[1];
  BOOST_TEST(visitor.name == "visitor");
  BOOST_TEST(!visitor.when.orders_count_at_least.has_value());
  BOOST_TEST(!visitor.when.orders_count_at_most.has_value());
  BOOST_TEST_REQUIRE(visitor.steps.size() == 3u);
  BOOST_TEST((visitor.steps[0].after_ms == std::optional<Millis>(kHour)));
  BOOST_TEST(visitor.steps[0].template_name == "visitor_1");
  const Millis delays[2][3] = {{10 * kHour, 6 * kHour, 8 * kHour}, {2 * kDay, kDay, kDay}};
  for (size_t i = 1; i < 3; ++i) {
    const Step& s = visitor.steps[i];
    BOOST_TEST(s.IsBranched());
    BOOST_TEST(!s.after_ms.has_value());
    BOOST_TEST(s.template_name.empty());
    BOOST_TEST(s.branches.size() == 3u);
    for (Engagement e : {Engagement::kUnopened, Engagement::kOpened, Engagement::kClicked}) {
      BOOST_TEST(s.branches.at(e).after_ms == delays[i - 1][static_cast<int>(e)]);
      BOOST_TEST(s.branches.at(e).template_name ==
                 "visitor_" + std::to_string(i + 1) + "_" + EngagementName(e));
    }
  }
}

BOOST_AUTO_TEST_CASE(fills_defaults) {
  Flow f = ParseFlow(WithSteps(R"({"after":"0m","channels":["email"]})"));
  BOOST_TEST(f.name == "f");
  BOOST_TEST(f.abandon_after_ms == kHour);
  BOOST_TEST(f.enter_when.min_value == "0");
  BOOST_TEST(f.enter_when.has_contact);
  BOOST_TEST(f.policies.frequency_cap_ms == 0);
  BOOST_TEST(f.policies.quiet_after_order_ms == 0);
  BOOST_TEST_REQUIRE(f.paths.size() == 1u);
  BOOST_TEST((f.paths[0].steps[0].after_ms == std::optional<Millis>(0)));  // "0m" is allowed
  BOOST_TEST(f.paths[0].steps[0].template_name.empty());
  BOOST_TEST(f.paths[0].steps[0].coupon.empty());

  Flow g = ParseFlow(WithTop(R"("enter_when":{},"policies":{})"));
  BOOST_TEST(g.enter_when.min_value == "0");
  BOOST_TEST(g.enter_when.has_contact);
  BOOST_TEST(g.policies.frequency_cap_ms == 0);
}

BOOST_AUTO_TEST_CASE(reads_every_optional_field) {
  Flow f = ParseFlow(R"({"policies":{"quiet_after_order":"30d","frequency_cap":"1d12h"},
      "enter_when":{"has_contact":false,"min_value":"25.50"},"abandon_after":"45m","name":"n",
      "paths":[{"steps":[{"coupon":"welcome10","template":"t1","channels":["sms","email"],"after":"30m"},
                         {"coupon":"c2","channels":["push"],"branches":{"unopened":{"after":"2h"}}}],
                "when":{"orders_count_at_most":0,"orders_count_at_least":0},"name":"new"}]})");
  BOOST_TEST(f.abandon_after_ms == 45 * kMinute);
  BOOST_TEST(f.enter_when.min_value == "25.5");
  BOOST_TEST(!f.enter_when.has_contact);
  BOOST_TEST(f.policies.frequency_cap_ms == kDay + 12 * kHour);
  BOOST_TEST(f.policies.quiet_after_order_ms == 30 * kDay);
  const Path& p = f.paths[0];
  BOOST_TEST((p.when.orders_count_at_least == std::optional<int64_t>(0)));
  BOOST_TEST((p.when.orders_count_at_most == std::optional<int64_t>(0)));
  BOOST_TEST((p.steps[0].channels == std::vector<std::string>{"sms", "email"}));  // order kept
  BOOST_TEST(p.steps[0].template_name == "t1");
  BOOST_TEST(p.steps[0].coupon == "welcome10");
  BOOST_TEST(p.steps[1].coupon == "c2");
  BOOST_TEST(p.steps[1].branches.size() == 1u);
  BOOST_TEST(p.steps[1].branches.at(Engagement::kUnopened).template_name.empty());
}

BOOST_AUTO_TEST_CASE(normalizes_min_value) {
  const std::pair<const char*, const char*> cases[] = {
      {"0", "0"},         {"\"0\"", "0"},     {"10", "10"},           {"\"10\"", "10"},
      {"\"10.50\"", "10.5"}, {"\"010.500\"", "10.5"}, {"\"0.005\"", "0.005"}, {"\"12.\"", "12"},
      {"\".5\"", "0.5"},  {"\"100.00\"", "100"}, {"\"-0\"", "0"},     {"\"1.2340\"", "1.234"}};
  for (const auto& [json, canonical] : cases) {
    BOOST_TEST_CONTEXT(json) {
      Flow f = ParseFlow(WithTop(std::string(R"("enter_when":{"min_value":)") + json + "}"));
      BOOST_TEST(f.enter_when.min_value == canonical);
    }
  }
}

BOOST_AUTO_TEST_CASE(refuses_invalid_documents_naming_the_path) {
  const std::pair<std::string, std::string> cases[] = {
      // top level
      {"[]", ""},
      {"[{\"name\":\"f\"}]", ""},
      {"{}", "name"},
      {R"({"paths":[]})", "name"},
      {R"({"name":"","paths":[]})", "name"},
      {R"({"name":5,"paths":[]})", "name"},
      {R"({"name":null,"paths":[]})", "name"},
      {R"({"name":["f"],"paths":[]})", "name"},
      {WithTop(R"("bogus":1)"), "bogus"},
      {WithTop(R"("Name":"x")"), "Name"},
      {WithTop(R"("abandon_after":"0m")"), "abandon_after"},
      {WithTop(R"("abandon_after":"0s")"), "abandon_after"},
      {WithTop(R"("abandon_after":"1x")"), "abandon_after"},
      {WithTop(R"("abandon_after":60)"), "abandon_after"},
      {WithTop(R"("abandon_after":null)"), "abandon_after"},
      {WithTop(R"("abandon_after":"366d")"), "abandon_after"},
      // enter_when
      {WithTop(R"("enter_when":[])"), "enter_when"},
      {WithTop(R"("enter_when":"0")"), "enter_when"},
      {WithTop(R"("enter_when":{"min_value":-1})"), "enter_when.min_value"},
      {WithTop(R"("enter_when":{"min_value":"-1"})"), "enter_when.min_value"},
      {WithTop(R"("enter_when":{"min_value":"-0.01"})"), "enter_when.min_value"},
      {WithTop(R"("enter_when":{"min_value":"1.0001"})"), "enter_when.min_value"},
      {WithTop(R"("enter_when":{"min_value":"abc"})"), "enter_when.min_value"},
      {WithTop(R"("enter_when":{"min_value":""})"), "enter_when.min_value"},
      {WithTop(R"("enter_when":{"min_value":"1e3"})"), "enter_when.min_value"},
      {WithTop(R"("enter_when":{"min_value":"10 EUR"})"), "enter_when.min_value"},
      {WithTop(R"("enter_when":{"min_value":1.5})"), "enter_when.min_value"},
      {WithTop(R"("enter_when":{"min_value":true})"), "enter_when.min_value"},
      {WithTop(R"("enter_when":{"min_value":null})"), "enter_when.min_value"},
      {WithTop(R"("enter_when":{"min_value":18446744073709551615})"), "enter_when.min_value"},
      {WithTop(R"("enter_when":{"has_contact":"yes"})"), "enter_when.has_contact"},
      {WithTop(R"("enter_when":{"has_contact":1})"), "enter_when.has_contact"},
      {WithTop(R"("enter_when":{"min_value":"0","extra":1})"), "enter_when.extra"},
      // paths
      {R"({"name":"f"})", "paths"},
      {R"({"name":"f","paths":{}})", "paths"},
      {R"({"name":"f","paths":"visitor"})", "paths"},
      {R"({"name":"f","paths":[]})", "paths"},
      {WithPaths("1"), "paths[0]"},
      {WithPaths(R"({"name":"a","steps":[)" + kPlainStep + "]},[]"), "paths[1]"},
      {WithPaths(R"({"steps":[)" + kPlainStep + "]}"), "paths[0].name"},
      {WithPaths(R"({"name":"","steps":[)" + kPlainStep + "]}"), "paths[0].name"},
      {WithPaths(R"({"name":7,"steps":[)" + kPlainStep + "]}"), "paths[0].name"},
      {WithPaths(R"({"name":"a","steps":[)" + kPlainStep + R"(]},{"name":"a","steps":[)" +
                 kPlainStep + "]}"),
       "paths[1].name"},
      {WithPaths(R"({"name":"a","steps":[)" + kPlainStep + R"(],"stepz":[]})"), "paths[0].stepz"},
      {WithPaths(R"({"name":"a"})"), "paths[0].steps"},
      {WithPaths(R"({"name":"a","steps":[]})"), "paths[0].steps"},
      {WithPaths(R"({"name":"a","steps":{}})"), "paths[0].steps"},
      {WithSteps(Repeat(kPlainStep, 11)), "paths[0].steps"},
      // when
      {WithPaths(R"({"name":"a","when":[],"steps":[)" + kPlainStep + "]}"), "paths[0].when"},
      {WithPaths(R"({"name":"a","when":{"orders_count":1},"steps":[)" + kPlainStep + "]}"),
       "paths[0].when.orders_count"},
      {WithPaths(R"({"name":"a","when":{"orders_count_at_least":-1},"steps":[)" + kPlainStep + "]}"),
       "paths[0].when.orders_count_at_least"},
      {WithPaths(R"({"name":"a","when":{"orders_count_at_least":"1"},"steps":[)" + kPlainStep + "]}"),
       "paths[0].when.orders_count_at_least"},
      {WithPaths(R"({"name":"a","when":{"orders_count_at_least":1.5},"steps":[)" + kPlainStep + "]}"),
       "paths[0].when.orders_count_at_least"},
      {WithPaths(R"({"name":"a","when":{"orders_count_at_least":true},"steps":[)" + kPlainStep + "]}"),
       "paths[0].when.orders_count_at_least"},
      {WithPaths(R"({"name":"a","when":{"orders_count_at_least":18446744073709551615},"steps":[)" +
                 kPlainStep + "]}"),
       "paths[0].when.orders_count_at_least"},
      {WithPaths(R"({"name":"a","when":{"orders_count_at_most":-2},"steps":[)" + kPlainStep + "]}"),
       "paths[0].when.orders_count_at_most"},
      {WithPaths(R"({"name":"a","when":{"orders_count_at_least":3,"orders_count_at_most":2},"steps":[)" +
                 kPlainStep + "]}"),
       "paths[0].when.orders_count_at_most"},
      // steps
      {WithSecondStep("5"), "paths[0].steps[1]"},
      {WithSecondStep("[]"), "paths[0].steps[1]"},
      {WithSecondStep(R"({"after":"1h","channels":["email"],"delay":"1h"})"), "paths[0].steps[1].delay"},
      {WithSecondStep(R"({"after":"1h","channels":["email"],"variants":[]})"),
       "paths[0].steps[1].variants"},
      {WithSecondStep(R"({"channels":["email"]})"), "paths[0].steps[1]"},
      {WithSecondStep(R"({"after":"1h","channels":["email"],"branches":{"unopened":{"after":"1h"}}})"),
       "paths[0].steps[1]"},
      {WithSecondStep(R"({"after":"1y","channels":["email"]})"), "paths[0].steps[1].after"},
      {WithSecondStep(R"({"after":3600,"channels":["email"]})"), "paths[0].steps[1].after"},
      {WithSecondStep(R"({"after":"400d","channels":["email"]})"), "paths[0].steps[1].after"},
      {WithSteps(R"({"after":"-1h","channels":["email"]})"), "paths[0].steps[0].after"},
      {WithSecondStep(R"({"after":"1h"})"), "paths[0].steps[1].channels"},
      {WithSecondStep(R"({"after":"1h","channels":[]})"), "paths[0].steps[1].channels"},
      {WithSecondStep(R"({"after":"1h","channels":"email"})"), "paths[0].steps[1].channels"},
      {WithSecondStep(R"({"after":"1h","channels":[1]})"), "paths[0].steps[1].channels[0]"},
      {WithSecondStep(R"({"after":"1h","channels":["email",null]})"), "paths[0].steps[1].channels[1]"},
      {WithSecondStep(R"({"after":"1h","channels":["Email"]})"), "paths[0].steps[1].channels[0]"},
      {WithSecondStep(R"({"after":"1h","channels":["e-mail"]})"), "paths[0].steps[1].channels[0]"},
      {WithSecondStep(R"({"after":"1h","channels":["1sms"]})"), "paths[0].steps[1].channels[0]"},
      {WithSecondStep(R"({"after":"1h","channels":["_sms"]})"), "paths[0].steps[1].channels[0]"},
      {WithSecondStep(R"({"after":"1h","channels":["email",""]})"), "paths[0].steps[1].channels[1]"},
      {WithSecondStep(R"({"after":"1h","channels":["sms "]})"), "paths[0].steps[1].channels[0]"},
      {WithSecondStep(R"({"after":"1h","channels":["email","sms","email"]})"),
       "paths[0].steps[1].channels[2]"},
      {WithSecondStep(R"({"after":"1h","channels":["email"],"template":""})"), "paths[0].steps[1].template"},
      {WithSecondStep(R"({"after":"1h","channels":["email"],"template":5})"), "paths[0].steps[1].template"},
      {WithSecondStep(R"({"after":"1h","channels":["email"],"coupon":""})"), "paths[0].steps[1].coupon"},
      {WithSecondStep(R"({"after":"1h","channels":["email"],"coupon":["a"]})"), "paths[0].steps[1].coupon"},
      // branches
      {WithSteps(R"({"channels":["email"],"branches":{"unopened":{"after":"1h"}}})"),
       "paths[0].steps[0].branches"},
      {WithSecondStep(R"({"channels":["email"],"branches":[]})"), "paths[0].steps[1].branches"},
      {WithSecondStep(R"({"channels":["email"],"branches":{}})"), "paths[0].steps[1].branches.unopened"},
      {WithSecondStep(R"({"channels":["email"],"branches":{"opened":{"after":"6h"}}})"),
       "paths[0].steps[1].branches.unopened"},
      {WithSecondStep(R"({"channels":["email"],"branches":{"unopened":{"after":"1h"},"read":{"after":"1h"}}})"),
       "paths[0].steps[1].branches.read"},
      {WithSecondStep(R"({"channels":["email"],"branches":{"unopened":{"after":"1h"},"Opened":{"after":"1h"}}})"),
       "paths[0].steps[1].branches.Opened"},
      {WithSecondStep(R"({"channels":["email"],"branches":{"unopened":"10h"}})"),
       "paths[0].steps[1].branches.unopened"},
      {WithSecondStep(R"({"channels":["email"],"branches":{"unopened":{"after":"1h"},"opened":null}})"),
       "paths[0].steps[1].branches.opened"},
      {WithSecondStep(R"({"channels":["email"],"branches":{"unopened":{"template":"t"}}})"),
       "paths[0].steps[1].branches.unopened.after"},
      {WithSecondStep(R"({"channels":["email"],"branches":{"unopened":{"after":"1h"},"opened":{}}})"),
       "paths[0].steps[1].branches.opened.after"},
      {WithSecondStep(R"({"channels":["email"],"branches":{"unopened":{"after":"1h"},"clicked":{"after":"8x"}}})"),
       "paths[0].steps[1].branches.clicked.after"},
      {WithSecondStep(R"({"channels":["email"],"branches":{"unopened":{"after":"1h","delay":"1h"}}})"),
       "paths[0].steps[1].branches.unopened.delay"},
      {WithSecondStep(R"({"channels":["email"],"branches":{"unopened":{"after":"1h","template":""}}})"),
       "paths[0].steps[1].branches.unopened.template"},
      {WithSecondStep(R"({"channels":["email"],"template":"t","branches":{"unopened":{"after":"1h"}}})"),
       "paths[0].steps[1].template"},
      {WithSecondStep(R"({"branches":{"unopened":{"after":"1h"}}})"), "paths[0].steps[1].channels"},
      // the headline example: an error deep inside a later path
      {WithPaths(R"({"name":"a","steps":[)" + kPlainStep + R"(]},{"name":"b","steps":[)" + kPlainStep +
                 "," + kPlainStep +
                 R"(,{"channels":["email"],"branches":{"unopened":{"after":"1h"},"opened":{"after":"soon"}}}]})"),
       "paths[1].steps[2].branches.opened.after"},
      // policies
      {WithTop(R"("policies":[])"), "policies"},
      {WithTop(R"("policies":{"cap":"1h"})"), "policies.cap"},
      {WithTop(R"("policies":{"frequency_cap":"x"})"), "policies.frequency_cap"},
      {WithTop(R"("policies":{"frequency_cap":24})"), "policies.frequency_cap"},
      {WithTop(R"("policies":{"frequency_cap":"-1h"})"), "policies.frequency_cap"},
      {WithTop(R"("policies":{"quiet_after_order":"400d"})"), "policies.quiet_after_order"},
      {WithTop(R"("policies":{"quiet_after_order":true})"), "policies.quiet_after_order"},
  };
  for (const auto& [json, path] : cases) {
    BOOST_TEST_CONTEXT(json) { ExpectConfigError([&] { ParseFlow(json); }, path); }
  }
}

BOOST_AUTO_TEST_CASE(accepts_the_limits) {
  Flow f = ParseFlow(WithSteps(Repeat(kPlainStep, static_cast<int>(Flow::kMaxSteps))));
  BOOST_TEST(f.paths[0].steps.size() == Flow::kMaxSteps);
  Flow g = ParseFlow(WithTop(R"("abandon_after":"365d","policies":{"frequency_cap":"365d","quiet_after_order":"0m"})"));
  BOOST_TEST(g.abandon_after_ms == 365 * kDay);
  Flow h = ParseFlow(WithSteps(R"({"after":"0m","channels":["email","sms","push","webhook","a1_b2"]})"));
  BOOST_TEST(h.paths[0].steps[0].channels.size() == 5u);
}

BOOST_AUTO_TEST_CASE(malformed_json_is_a_config_error_at_the_root) {
  const char* bad[] = {"", "   ", "{", "{\"name\": }", "{\"name\":\"f\",}", "{name:\"f\"}", "null",
                       "5", "\"flow\"", "{\"name\":\"f\"} trailing", "// comment\n{}",
                       "{\"name\":\"\\ud800\"}"};
  for (const char* json : bad) {
    BOOST_TEST_CONTEXT("'" << json << "'") {
      ExpectConfigError([&] { ParseFlow(json); }, "");
    }
  }
  try {
    ParseFlow("{\"name\": }");
    BOOST_FAIL("accepted malformed JSON");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("JSON") != std::string::npos, e.what());
    BOOST_TEST(std::string(e.what()).size() > std::string("not valid JSON: ").size(), e.what());
  }
}

BOOST_AUTO_TEST_CASE(only_cartrecovery_errors_escape_on_any_truncation_or_corruption) {
  const std::string doc = DefaultFlowJson();
  int accepted = 0;
  auto parse = [&](const std::string& json) {
    try {
      ParseFlow(json);
      ++accepted;
    } catch (const Error& e) {
      BOOST_TEST((e.code() == ErrorCode::kConfig));
    } catch (...) {
      BOOST_ERROR("a non-cartrecovery exception escaped for: " << json);
    }
  };
  for (size_t n = 0; n < doc.size(); ++n) parse(doc.substr(0, n));
  BOOST_TEST(accepted == 0);  // every proper prefix of the document is broken
  const char replacements[] = {'0', '"', '{', ']', 'x', ':', '-', '\\'};
  for (size_t i = 0; i < doc.size(); i += 3) {
    std::string mutated = doc;
    mutated[i] = replacements[i % sizeof replacements];
    parse(mutated);
  }
}

BOOST_AUTO_TEST_CASE(checks_templates_against_the_known_list) {
  std::vector<std::string> known = {"customer_1", "customer_2", "customer_3", "visitor_1",
                                    "visitor_2_unopened", "visitor_2_opened", "visitor_2_clicked",
                                    "visitor_3_unopened", "visitor_3_opened", "visitor_3_clicked"};
  BOOST_CHECK_NO_THROW(ParseFlow(kApiDocument, &known));
  BOOST_CHECK_NO_THROW(ParseFlow(kApiDocument, nullptr));

  std::vector<std::string> without_step = known;
  without_step.erase(without_step.begin() + 1);  // customer_2
  ExpectConfigError([&] { ParseFlow(kApiDocument, &without_step); }, "paths[0].steps[1].template");

  std::vector<std::string> without_branch = known;
  without_branch.pop_back();  // visitor_3_clicked
  ExpectConfigError([&] { ParseFlow(kApiDocument, &without_branch); },
                    "paths[1].steps[2].branches.clicked.template");

  // Steps without a template use the shipped default and need no entry.
  std::vector<std::string> none;
  BOOST_CHECK_NO_THROW(ParseFlow(WithSteps(kPlainStep), &none));
}

// ---- canonical JSON -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(writes_canonical_json) {
  Flow f = ParseFlow(R"({"paths":[{"steps":[
        {"template":"t","channels":["email","sms"],"after":"90m","coupon":"pool"},
        {"channels":["email"],"branches":{"clicked":{"after":"8h","template":"c"},"unopened":{"after":"48h"}}}],
      "name":"only","when":{"orders_count_at_most":5}}],
      "policies":{"quiet_after_order":"7d"},"name":"tiny"})");
  const std::string expected =
      "{\n"
      "  \"name\": \"tiny\",\n"
      "  \"abandon_after\": \"1h\",\n"
      "  \"enter_when\": {\n"
      "    \"min_value\": \"0\",\n"
      "    \"has_contact\": true\n"
      "  },\n"
      "  \"paths\": [\n"
      "    {\n"
      "      \"name\": \"only\",\n"
      "      \"when\": {\n"
      "        \"orders_count_at_most\": 5\n"
      "      },\n"
      "      \"steps\": [\n"
      "        {\n"
      "          \"after\": \"1h30m\",\n"
      "          \"channels\": [\"email\", \"sms\"],\n"
      "          \"template\": \"t\",\n"
      "          \"coupon\": \"pool\"\n"
      "        },\n"
      "        {\n"
      "          \"branches\": {\n"
      "            \"unopened\": {\n"
      "              \"after\": \"2d\"\n"
      "            },\n"
      "            \"clicked\": {\n"
      "              \"after\": \"8h\",\n"
      "              \"template\": \"c\"\n"
      "            }\n"
      "          },\n"
      "          \"channels\": [\"email\"]\n"
      "        }\n"
      "      ]\n"
      "    }\n"
      "  ],\n"
      "  \"policies\": {\n"
      "    \"frequency_cap\": \"0m\",\n"
      "    \"quiet_after_order\": \"7d\"\n"
      "  }\n"
      "}";
  BOOST_TEST(FlowToJson(f) == expected);
}

BOOST_AUTO_TEST_CASE(escapes_strings_in_json_form) {
  Flow f = ParseFlow(WithSteps(kPlainStep));
  f.name = std::string("q\"b\\n\nt\tr\rc\x01\x1f é");
  const std::string json = FlowToJson(f);
  BOOST_TEST(json.find(R"("name": "q\"b\\n\nt\tr\rc\u0001\u001f é",)") != std::string::npos, json);
  BOOST_TEST(ParseFlow(json).name == f.name);
}

BOOST_AUTO_TEST_CASE(round_trips_exactly) {
  std::vector<std::string> docs = {
      kApiDocument,
      WithSteps(kPlainStep),
      WithTop(R"("enter_when":{"min_value":"0.005","has_contact":false},"abandon_after":"1d12h30m15s")"),
      WithPaths(R"({"name":"vip","when":{"orders_count_at_least":5,"orders_count_at_most":5},"steps":[)" +
                kPlainStep + R"(]},{"name":"rest","when":{},"steps":[)" + kPlainStep + "]}"),
      // Strings that need escaping survive.
      R"({"name":"quote \" backslash \\ tab \t nl \n ctl \u0001 del \u007f é 日本","paths":[
          {"name":"p/\u00e9","steps":[{"after":"0m","channels":["email"],"template":"a-b_9","coupon":"c\\d"}]}]})",
      WithSteps(Repeat(kPlainStep, 3) +
                R"(,{"channels":["sms"],"coupon":"x","branches":{"opened":{"after":"1s"},"unopened":{"after":"365d","template":"u"}}})"),
  };
  for (const std::string& doc : docs) {
    BOOST_TEST_CONTEXT(doc) {
      Flow f = ParseFlow(doc);
      const std::string once = FlowToJson(f);
      Flow g = ParseFlow(once);
      BOOST_TEST(SameFlow(f, g));
      BOOST_TEST(FlowToJson(g) == once);
    }
  }
}

BOOST_AUTO_TEST_CASE(round_trips_a_flow_built_in_code) {
  Flow f;
  f.name = "built";
  f.abandon_after_ms = 2 * kHour;
  f.enter_when.min_value = "19.99";
  f.enter_when.has_contact = false;
  f.policies.frequency_cap_ms = 36 * kHour;
  Path p;
  p.name = "all";
  p.when.orders_count_at_least = 0;
  Step first;
  first.after_ms = 0;
  first.channels = {"push"};
  Step second;
  second.branches[Engagement::kUnopened] = Branch{kDay, ""};
  second.branches[Engagement::kClicked] = Branch{kHour, "hot"};
  second.channels = {"email", "sms"};
  second.coupon = "pool";
  p.steps = {first, second};
  f.paths = {p};
  Flow g = ParseFlow(FlowToJson(f));
  BOOST_TEST(SameFlow(f, g));
  BOOST_TEST(FlowToJson(g) == FlowToJson(f));
}

BOOST_AUTO_TEST_CASE(key_order_and_optional_keys) {
  const std::string& json = DefaultFlowJson();
  size_t last = 0;
  for (const char* key : {"\"name\"", "\"abandon_after\"", "\"enter_when\"", "\"min_value\"",
                          "\"has_contact\"", "\"paths\"", "\"policies\"", "\"frequency_cap\"",
                          "\"quiet_after_order\""}) {
    size_t at = json.find(key, key == std::string("\"name\"") ? 0 : last);
    BOOST_TEST_REQUIRE(at != std::string::npos, key);
    BOOST_TEST(at >= last, key);
    last = at;
  }
  // template and coupon appear only when set.
  std::string plain = FlowToJson(ParseFlow(WithSteps(kPlainStep)));
  BOOST_TEST(plain.find("template") == std::string::npos);
  BOOST_TEST(plain.find("coupon") == std::string::npos);
  BOOST_TEST(plain.find("\"when\"") == std::string::npos);
  BOOST_TEST(json.find("\"coupon\"") == std::string::npos);
  // Re-serializing the same flow twice gives the same bytes.
  BOOST_TEST(FlowToJson(DefaultFlow()) == FlowToJson(DefaultFlow()));
}

// ---- the default flow ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(default_flow_is_the_api_document) {
  Flow d = DefaultFlow();
  BOOST_TEST(SameFlow(d, ParseFlow(kApiDocument)));
  BOOST_TEST(d.name == "cart-recovery");
  BOOST_TEST(d.policies.frequency_cap_ms == 24 * kHour);
  BOOST_TEST(d.policies.quiet_after_order_ms == 7 * kDay);
  BOOST_TEST(DefaultFlowJson() == FlowToJson(d));
  BOOST_TEST(SameFlow(ParseFlow(DefaultFlowJson()), d));
  BOOST_TEST(FlowToJson(ParseFlow(DefaultFlowJson())) == DefaultFlowJson());
  BOOST_TEST(&DefaultFlowJson() == &DefaultFlowJson());  // one cached string
}

BOOST_AUTO_TEST_CASE(chooses_paths_in_order) {
  Flow d = DefaultFlow();
  BOOST_TEST((d.ChoosePath(Reachable(0)) == std::optional<size_t>(1)));  // visitor
  BOOST_TEST((d.ChoosePath(Reachable(1)) == std::optional<size_t>(0)));  // customer
  BOOST_TEST((d.ChoosePath(Reachable(40)) == std::optional<size_t>(0)));
  BOOST_TEST(d.FindPath("customer") == &d.paths[0]);
  BOOST_TEST(d.FindPath("visitor") == &d.paths[1]);
  BOOST_TEST(d.FindPath("Visitor") == nullptr);
  BOOST_TEST(d.FindPath("") == nullptr);

  Flow f = ParseFlow(WithPaths(
      R"({"name":"few","when":{"orders_count_at_least":1,"orders_count_at_most":2},"steps":[)" + kPlainStep +
      R"(]},{"name":"none","when":{"orders_count_at_most":0},"steps":[)" + kPlainStep +
      R"(]},{"name":"also_none","steps":[)" + kPlainStep + "]}"));
  BOOST_TEST((f.ChoosePath(Reachable(0)) == std::optional<size_t>(1)));  // first match wins
  BOOST_TEST((f.ChoosePath(Reachable(2)) == std::optional<size_t>(0)));
  BOOST_TEST((f.ChoosePath(Reachable(3)) == std::optional<size_t>(2)));

  Flow g = ParseFlow(WithPaths(R"({"name":"few","when":{"orders_count_at_least":1,"orders_count_at_most":2},"steps":[)" +
                               kPlainStep + "]}"));
  BOOST_TEST(!g.ChoosePath(Reachable(0)).has_value());
  BOOST_TEST(!g.ChoosePath(Reachable(3)).has_value());
}

// ---- entry and S5 -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(entry_refusals) {
  Flow d = DefaultFlow();
  BOOST_TEST(!EntryRefusal(d, CartWorth(1, "EUR"), Reachable()).has_value());
  BOOST_TEST(!EntryRefusal(d, CartWorth(0, "EUR"), Reachable()).has_value());  // min 0

  Contact nobody;
  nobody.key = "v:abc";
  BOOST_TEST((EntryRefusal(d, CartWorth(100, "EUR"), nobody) == std::optional<std::string>("no_contact")));
  Contact phone_only = nobody;
  phone_only.phone = "+48600100200";
  BOOST_TEST(!EntryRefusal(d, CartWorth(100, "EUR"), phone_only).has_value());
  Flow anyone = d;
  anyone.enter_when.has_contact = false;
  BOOST_TEST(!EntryRefusal(anyone, CartWorth(100, "EUR"), nobody).has_value());
}

BOOST_AUTO_TEST_CASE(min_value_in_the_carts_currency) {
  Flow f = ParseFlow(WithTop(R"("enter_when":{"min_value":"50"})"));
  const std::optional<std::string> below("below_min_value");
  struct Case {
    int64_t minor;
    const char* currency;
    bool refused;
  };
  const Case cases[] = {
      {4999, "EUR", true}, {5000, "EUR", false}, {5001, "EUR", false},
      {49, "JPY", true},   {50, "JPY", false},
      {49999, "KWD", true}, {50000, "KWD", false},
      {4999, "", true},    {5000, "", false},  // unknown currency: 2 decimals
      {-100, "EUR", true},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.minor << " " << c.currency) {
      BOOST_TEST((EntryRefusal(f, CartWorth(c.minor, c.currency), Reachable()) ==
                  (c.refused ? below : std::nullopt)));
    }
  }
  // A minimum finer than the currency: the cart must reach it, so 0.00 EUR is below 0.005.
  Flow fine = ParseFlow(WithTop(R"("enter_when":{"min_value":"0.005"})"));
  BOOST_TEST((EntryRefusal(fine, CartWorth(0, "EUR"), Reachable()) == below));
  BOOST_TEST(!EntryRefusal(fine, CartWorth(1, "EUR"), Reachable()).has_value());
  BOOST_TEST((EntryRefusal(fine, CartWorth(4, "KWD"), Reachable()) == below));
  BOOST_TEST(!EntryRefusal(fine, CartWorth(5, "KWD"), Reachable()).has_value());
  // Large carts do not overflow the comparison.
  Flow big = ParseFlow(WithTop(R"("enter_when":{"min_value":"1000000"})"));
  BOOST_TEST(!EntryRefusal(big, CartWorth(std::numeric_limits<int64_t>::max() / 2, "JPY"), Reachable())
                  .has_value());
}

BOOST_AUTO_TEST_CASE(entry_refusal_order) {
  Flow f = ParseFlow(R"({"name":"f","enter_when":{"min_value":"10"},"paths":[
      {"name":"customer","when":{"orders_count_at_least":1},"steps":[)" + kPlainStep + "]}]}");
  Contact nobody;
  const std::optional<std::string> no_contact("no_contact"), below("below_min_value"), no_path("no_path");
  // Everything wrong: no contact is reported first.
  BOOST_TEST((EntryRefusal(f, CartWorth(1, "EUR"), nobody) == no_contact));
  // Below the minimum and no path: the minimum first.
  BOOST_TEST((EntryRefusal(f, CartWorth(1, "EUR"), Reachable(0)) == below));
  // Only the path is missing.
  BOOST_TEST((EntryRefusal(f, CartWorth(1000, "EUR"), Reachable(0)) == no_path));
  BOOST_TEST(!EntryRefusal(f, CartWorth(1000, "EUR"), Reachable(1)).has_value());
}

BOOST_AUTO_TEST_CASE(new_journey_refusals) {
  const Millis now = kT0;
  FlowPolicies none;
  FlowPolicies d = DefaultFlow().policies;  // cap 24h, quiet 7d
  const std::optional<std::string> cap("frequency_cap"), quiet("quiet_after_order");

  Contact fresh = Reachable();
  BOOST_TEST(!NewJourneyRefusal(d, fresh, now).has_value());  // 0 means never

  Contact messaged = Reachable();
  messaged.last_message_ms = now - 23 * kHour;
  BOOST_TEST((NewJourneyRefusal(d, messaged, now) == cap));
  messaged.last_message_ms = now - 24 * kHour + 1;
  BOOST_TEST((NewJourneyRefusal(d, messaged, now) == cap));
  messaged.last_message_ms = now - 24 * kHour;  // the cap has just passed
  BOOST_TEST(!NewJourneyRefusal(d, messaged, now).has_value());
  messaged.last_message_ms = now;
  BOOST_TEST(!NewJourneyRefusal(none, messaged, now).has_value());  // no cap configured

  Contact ordered = Reachable(1);
  ordered.last_order_ms = now - 6 * kDay;
  BOOST_TEST((NewJourneyRefusal(d, ordered, now) == quiet));
  ordered.last_order_ms = now - 7 * kDay;
  BOOST_TEST(!NewJourneyRefusal(d, ordered, now).has_value());
  ordered.last_order_ms = now - kMinute;
  BOOST_TEST(!NewJourneyRefusal(none, ordered, now).has_value());

  // Near the epoch (a replay clock at 0) "never" must still mean never.
  FlowPolicies long_policies;
  long_policies.frequency_cap_ms = 30 * kDay;
  long_policies.quiet_after_order_ms = 30 * kDay;
  BOOST_TEST(!NewJourneyRefusal(long_policies, Reachable(), kDay).has_value());
  // No policy configured: a last message stamped ahead of `now` (clock skew) is no refusal.
  messaged.last_message_ms = now + kMinute;
  BOOST_TEST(!NewJourneyRefusal(none, messaged, now).has_value());
  ordered.last_order_ms = now + kMinute;
  BOOST_TEST(!NewJourneyRefusal(none, ordered, now).has_value());

  // Both apply: the order window is named.
  Contact both = Reachable(1);
  both.last_order_ms = now - kDay;
  both.last_message_ms = now - kHour;
  BOOST_TEST((NewJourneyRefusal(d, both, now) == quiet));
  FlowPolicies cap_only = d;
  cap_only.quiet_after_order_ms = 0;
  BOOST_TEST((NewJourneyRefusal(cap_only, both, now) == cap));
}

// ---- due times (S1, S2, S3) ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(first_step_counts_from_last_activity) {
  Flow d = DefaultFlow();
  JourneyProgress p;
  p.next_step = 0;
  p.last_activity_ms = kT0;
  for (const Path* path : {&Customer(d), &Visitor(d)}) {
    DueStep due = NextDue(d, *path, p, kT0);
    BOOST_TEST(due.due_ms == kT0 + kHour);
    BOOST_TEST(!due.branch.has_value());
  }
  // Computed late: never into the past.
  BOOST_TEST(NextDue(d, Visitor(d), p, kT0 + 3 * kHour).due_ms == kT0 + 3 * kHour);
}

BOOST_AUTO_TEST_CASE(customer_path_1h_24h_48h) {
  Flow d = DefaultFlow();
  const Path& customer = Customer(d);
  JourneyProgress p;
  p.last_activity_ms = kT0;
  BOOST_TEST(NextDue(d, customer, p, kT0).due_ms == kT0 + kHour);

  const Millis sent1 = kT0 + kHour;
  p.next_step = 1;
  p.prev_sent_ms = sent1;
  p.prev_engagement = Engagement::kClicked;  // engagement does not move plain steps
  DueStep due2 = NextDue(d, customer, p, sent1);
  BOOST_TEST(due2.due_ms == sent1 + 24 * kHour);
  BOOST_TEST(!due2.branch.has_value());

  const Millis sent2 = due2.due_ms + 5 * kMinute;  // sent a little late
  p.next_step = 2;
  p.prev_sent_ms = sent2;
  p.prev_engagement = Engagement::kUnopened;
  DueStep due3 = NextDue(d, customer, p, sent2);
  BOOST_TEST(due3.due_ms == sent2 + 48 * kHour);
  BOOST_TEST(!due3.branch.has_value());
}

BOOST_AUTO_TEST_CASE(s2_reminder_two_follows_engagement_with_reminder_one) {
  Flow d = DefaultFlow();
  const Path& visitor = Visitor(d);
  const Millis sent1 = kT0 + kHour;
  JourneyProgress p;
  p.next_step = 1;
  p.last_activity_ms = kT0;
  p.prev_sent_ms = sent1;

  struct Case {
    const char* what;
    Engagement engagement;
    Millis now;        // when the engagement arrived (the recomputation)
    Millis expected;   // relative to sent1
  };
  const Case cases[] = {
      {"never opened", Engagement::kUnopened, sent1, 10 * kHour},
      {"opened at +2h", Engagement::kOpened, sent1 + 2 * kHour, 6 * kHour},
      {"clicked at +1h", Engagement::kClicked, sent1 + kHour, 8 * kHour},
      {"opened only at +9h: at once", Engagement::kOpened, sent1 + 9 * kHour, 9 * kHour},
      {"clicked at +9h: at once", Engagement::kClicked, sent1 + 9 * kHour, 9 * kHour},
      {"clicked at +7h", Engagement::kClicked, sent1 + 7 * kHour, 8 * kHour},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.what) {
      p.prev_engagement = c.engagement;
      DueStep due = NextDue(d, visitor, p, c.now);
      BOOST_TEST(due.due_ms == sent1 + c.expected);
      BOOST_TEST((due.branch == std::optional<Engagement>(c.engagement)));
      BOOST_TEST(visitor.steps[1].BranchFor(*due.branch).template_name ==
                 std::string("visitor_2_") + EngagementName(c.engagement));
    }
  }
}

BOOST_AUTO_TEST_CASE(s2_recomputation_moves_the_due_time_earlier_but_not_into_the_past) {
  Flow d = DefaultFlow();
  const Path& visitor = Visitor(d);
  const Millis sent1 = kT0 + kHour;
  JourneyProgress p;
  p.next_step = 1;
  p.last_activity_ms = kT0;
  p.prev_sent_ms = sent1;
  // At send time: nobody opened yet.
  BOOST_TEST(NextDue(d, visitor, p, sent1).due_ms == sent1 + 10 * kHour);
  // Opened at +2h: moves to +6h.
  p.prev_engagement = Engagement::kOpened;
  BOOST_TEST(NextDue(d, visitor, p, sent1 + 2 * kHour).due_ms == sent1 + 6 * kHour);
  // Then clicked at +3h: +8h.
  p.prev_engagement = Engagement::kClicked;
  BOOST_TEST(NextDue(d, visitor, p, sent1 + 3 * kHour).due_ms == sent1 + 8 * kHour);
}

BOOST_AUTO_TEST_CASE(s2_reminder_three_inherits_reminder_twos_branch) {
  Flow d = DefaultFlow();
  const Path& visitor = Visitor(d);
  const Millis sent2 = kT0 + 11 * kHour;
  JourneyProgress p;
  p.next_step = 2;
  p.last_activity_ms = kT0;
  p.prev_sent_ms = sent2;
  struct Case {
    Engagement branch;
    Millis expected;
  };
  const Case cases[] = {{Engagement::kOpened, kDay}, {Engagement::kUnopened, 2 * kDay},
                        {Engagement::kClicked, kDay}};
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(EngagementName(c.branch)) {
      p.prev_branch = c.branch;
      // Engagement with reminder 2 itself does not change the branch.
      for (Engagement e : {Engagement::kUnopened, Engagement::kOpened, Engagement::kClicked}) {
        p.prev_engagement = e;
        DueStep due = NextDue(d, visitor, p, sent2);
        BOOST_TEST(due.due_ms == sent2 + c.expected);
        BOOST_TEST((due.branch == std::optional<Engagement>(c.branch)));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(s2_a_stale_prev_branch_after_a_plain_step_is_ignored) {
  Flow d = DefaultFlow();
  JourneyProgress p;
  p.next_step = 1;  // step 0 is plain
  p.last_activity_ms = kT0;
  p.prev_sent_ms = kT0 + kHour;
  p.prev_branch = Engagement::kClicked;
  p.prev_engagement = Engagement::kUnopened;
  DueStep due = NextDue(d, Visitor(d), p, kT0 + kHour);
  BOOST_TEST(due.due_ms == kT0 + 11 * kHour);
  BOOST_TEST((due.branch == std::optional<Engagement>(Engagement::kUnopened)));
}

BOOST_AUTO_TEST_CASE(s2_fallback_branches) {
  Flow f = ParseFlow(WithSecondStep(R"({"channels":["email"],"branches":{"unopened":{"after":"10h"}}})"));
  const Path& path = f.paths[0];
  JourneyProgress p;
  p.next_step = 1;
  p.last_activity_ms = kT0;
  p.prev_sent_ms = kT0 + kHour;
  for (Engagement e : {Engagement::kUnopened, Engagement::kOpened, Engagement::kClicked}) {
    BOOST_TEST_CONTEXT(EngagementName(e)) {
      p.prev_engagement = e;
      DueStep due = NextDue(f, path, p, kT0 + kHour);
      BOOST_TEST(due.due_ms == kT0 + 11 * kHour);  // all use "unopened"'s 10h
      BOOST_TEST((due.branch == std::optional<Engagement>(e)));
    }
  }
  Flow g = ParseFlow(WithSecondStep(
      R"({"channels":["email"],"branches":{"unopened":{"after":"10h"},"opened":{"after":"3h"}}})"));
  p.prev_engagement = Engagement::kClicked;
  BOOST_TEST(NextDue(g, g.paths[0], p, kT0 + kHour).due_ms == kT0 + 4 * kHour);  // clicked -> opened
}

BOOST_AUTO_TEST_CASE(s3_activity_pushes_the_next_step) {
  Flow d = DefaultFlow();
  // Branched step: opened at +2h would give +6h, but the shopper was back on the cart at
  // +8h, so the step waits until the cart has been quiet for abandon_after (1h).
  const Millis sent1 = kT0 + kHour;
  JourneyProgress p;
  p.next_step = 1;
  p.prev_sent_ms = sent1;
  p.prev_engagement = Engagement::kOpened;
  p.last_activity_ms = sent1 + 8 * kHour;
  BOOST_TEST(NextDue(d, Visitor(d), p, sent1 + 8 * kHour).due_ms == sent1 + 9 * kHour);
  // Activity long before the base time changes nothing.
  p.last_activity_ms = sent1 + kHour;
  BOOST_TEST(NextDue(d, Visitor(d), p, sent1 + kHour).due_ms == sent1 + 6 * kHour);

  // Plain step: customer reminder 2 due at +24h, shopper active at +23h30.
  JourneyProgress c;
  c.next_step = 1;
  c.prev_sent_ms = sent1;
  c.last_activity_ms = sent1 + 23 * kHour + 30 * kMinute;
  BOOST_TEST(NextDue(d, Customer(d), c, c.last_activity_ms).due_ms == sent1 + 24 * kHour + 30 * kMinute);

  // First step with a longer abandonment delay than the step's own.
  Flow slow = ParseFlow(WithTop(R"("abandon_after":"2h")"));
  JourneyProgress first;
  first.last_activity_ms = kT0;
  BOOST_TEST(NextDue(slow, slow.paths[0], first, kT0).due_ms == kT0 + 2 * kHour);
  // An immediate step ("0m") still waits for abandonment.
  Flow now_step = ParseFlow(WithSteps(R"({"after":"0m","channels":["email"]})"));
  BOOST_TEST(NextDue(now_step, now_step.paths[0], first, kT0).due_ms == kT0 + kHour);
}

BOOST_AUTO_TEST_CASE(next_due_refuses_a_step_past_the_end) {
  Flow d = DefaultFlow();
  JourneyProgress p;
  p.next_step = 3;
  BOOST_CHECK_EXCEPTION(NextDue(d, Visitor(d), p, kT0), Error,
                        [](const Error& e) { return e.code() == ErrorCode::kInternal; });
  Flow broken = d;
  broken.paths[0].steps[1].after_ms.reset();  // neither a delay nor branches
  p.next_step = 1;
  BOOST_CHECK_EXCEPTION(NextDue(broken, broken.paths[0], p, kT0), Error,
                        [](const Error& e) { return e.code() == ErrorCode::kInternal; });
}

BOOST_AUTO_TEST_CASE(engagement_matters_only_before_a_first_branch) {
  Flow d = DefaultFlow();
  const Path& visitor = Visitor(d);
  const Path& customer = Customer(d);
  BOOST_TEST(EngagementMatters(visitor, 0, 1));   // reminder 1 picks reminder 2's branch
  BOOST_TEST(!EngagementMatters(visitor, 1, 2));  // reminder 3 inherits reminder 2's branch
  BOOST_TEST(!EngagementMatters(visitor, 0, 2));  // not the next step
  BOOST_TEST(!EngagementMatters(visitor, 1, 1));
  BOOST_TEST(!EngagementMatters(visitor, 0, 0));
  BOOST_TEST(!EngagementMatters(visitor, 2, 3));  // past the end
  BOOST_TEST(!EngagementMatters(visitor, 5, 6));
  for (size_t i = 0; i < 3; ++i) BOOST_TEST(!EngagementMatters(customer, i, i + 1));  // plain
}

BOOST_AUTO_TEST_CASE(reads_step_experiments_and_names_them) {
  const std::string doc = WithSteps(
      R"({"after":"1h","channels":["email"],"variants":[{"name":"plain"},)"
      R"({"name":"coupon","weight":3,"coupon":"P","template":"visitor_1"}],"holdout":2},)"
      R"({"after":"1d","channels":["email"],"experiment":"late","variants":[{"name":"a","weight":0},{"name":"b"}]})");
  Flow f = ParseFlow(doc);
  const Step& first = f.paths[0].steps[0];
  BOOST_TEST(first.HasExperiment());
  BOOST_TEST(first.experiment == "f/p/1");  // the default name: flow/path/step number
  BOOST_TEST(first.holdout_weight == 2);
  BOOST_TEST(first.variants.size() == 2u);
  BOOST_TEST(first.variants[0].weight == 1);  // default weight
  BOOST_TEST(first.variants[1].weight == 3);
  BOOST_TEST(first.variants[1].coupon == "P");
  BOOST_TEST(first.variants[1].template_name == "visitor_1");
  BOOST_TEST(f.paths[0].steps[1].experiment == "late");
  BOOST_TEST(f.paths[0].steps[1].holdout_weight == 0);
  // Canonical and stable: the default name is written out and reads back the same.
  const std::string canonical = FlowToJson(f);
  BOOST_TEST(canonical.find("\"experiment\": \"f/p/1\"") != std::string::npos, canonical);
  Flow again = ParseFlow(canonical);
  BOOST_TEST(SameFlow(f, again));
  BOOST_TEST(FlowToJson(again) == canonical);
  BOOST_TEST(!DefaultFlow().paths[0].steps[0].HasExperiment());
}

BOOST_AUTO_TEST_CASE(refuses_bad_experiments_naming_the_path) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {WithSteps(R"({"after":"1h","channels":["email"],"variants":[]})"), "paths[0].steps[0].variants"},
      {WithSteps(R"({"after":"1h","channels":["email"],"variants":{}})"), "paths[0].steps[0].variants"},
      {WithSteps(R"({"after":"1h","channels":["email"],"variants":[{"weight":1}]})"),
       "paths[0].steps[0].variants[0].name"},
      {WithSteps(R"({"after":"1h","channels":["email"],"variants":[{"name":"holdout"}]})"),
       "paths[0].steps[0].variants[0].name"},
      {WithSteps(R"({"after":"1h","channels":["email"],"variants":[{"name":"a"},{"name":"a"}]})"),
       "paths[0].steps[0].variants[1].name"},
      {WithSteps(R"({"after":"1h","channels":["email"],"variants":[{"name":"a","weight":-1}]})"),
       "paths[0].steps[0].variants[0].weight"},
      {WithSteps(R"({"after":"1h","channels":["email"],"variants":[{"name":"a","weight":0}]})"),
       "paths[0].steps[0].variants"},
      {WithSteps(R"({"after":"1h","channels":["email"],"variants":[{"name":"a","colour":"red"}]})"),
       "paths[0].steps[0].variants[0].colour"},
      {WithSteps(R"({"after":"1h","channels":["email"],"variants":[{"name":"a","coupon":""}]})"),
       "paths[0].steps[0].variants[0].coupon"},
      {WithSteps(R"({"after":"1h","channels":["email"],"variants":[{"name":"a","weight":4294967296},{"name":"b"}]})"),
       "paths[0].steps[0].variants"},
      {WithSteps(R"({"after":"1h","channels":["email"],"variants":[{"name":"a"}],"holdout":-1})"),
       "paths[0].steps[0].holdout"},
      {WithSteps(R"({"after":"1h","channels":["email"],"holdout":1})"), "paths[0].steps[0].holdout"},
      {WithSteps(R"({"after":"1h","channels":["email"],"experiment":"x"})"), "paths[0].steps[0].experiment"},
      {WithSecondStep(R"({"channels":["email"],"branches":{"unopened":{"after":"1h"}},)"
                      R"("variants":[{"name":"a","template":"visitor_1"}]})"),
       "paths[0].steps[1].variants[0].template"},
      {WithSteps(R"({"after":"1h","channels":["email"],"variants":[{"name":"a"}],"experiment":"x"},)"
                 R"({"after":"1h","channels":["email"],"variants":[{"name":"a"}],"experiment":"x"})"),
       "paths[0].steps[1].experiment"},
  };
  for (const auto& [json, path] : cases) {
    BOOST_TEST_CONTEXT(json) { ExpectConfigError([&] { ParseFlow(json); }, path); }
  }
  const std::vector<std::string> known = {"visitor_1"};
  ExpectConfigError(
      [&] { ParseFlow(WithSteps(R"({"after":"1h","channels":["email"],"variants":[{"name":"a","template":"nope"}]})"), &known); },
      "paths[0].steps[0].variants[0].template");
}

BOOST_AUTO_TEST_SUITE_END()
