// flow_document.cpp: the flow document: durations, parsing and validation, canonical JSON,
// the shipped default flow, and the small lookups on Flow/Step.
#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <exception>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cartrecovery/flow.h"
#include "cartrecovery/status.h"
#include "model/json_reader.h"
#include "model/json_writer.h"

namespace cartrecovery {

namespace {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

constexpr Millis kMaxDuration = 365 * kDay;

// Decimal places min_value may carry: the most any ISO 4217 currency has (KWD, BHD, ...).
constexpr int kMinValueExponent = 3;

struct DurationUnit {
  char letter;
  Millis ms;
};
constexpr DurationUnit kDurationUnits[] = {{'d', kDay}, {'h', kHour}, {'m', kMinute}, {'s', kSecond}};

// ---- reading Poco values ------------------------------------------------------------------

// The shared readers (paths and messages common to the flow and policies documents).
using internal::AsArray;
using internal::AsObject;
using internal::AsString;
using internal::CheckKeys;
using internal::Element;
using internal::IsBool;
using internal::IsInteger;
using internal::IsObject;
using internal::IsString;
using internal::Member;
using internal::WrongType;

std::string AsNonEmptyString(const Var& v, const std::string& path) {
  std::string s = AsString(v, path);
  if (s.empty()) throw ConfigError(path, "must not be empty");
  return s;
}

bool AsBool(const Var& v, const std::string& path) {
  if (!IsBool(v)) WrongType(v, path, "true or false");
  return v.extract<bool>();
}

// An integer >= 0 that fits int64.
int64_t AsCount(const Var& v, const std::string& path) {
  if (!IsInteger(v)) WrongType(v, path, "an integer >= 0");
  if (!v.isSigned()) {
    Poco::UInt64 u = v.convert<Poco::UInt64>();
    if (u > static_cast<Poco::UInt64>(std::numeric_limits<int64_t>::max()))
      throw ConfigError(path, "is too large");
    return static_cast<int64_t>(u);
  }
  Poco::Int64 i = v.convert<Poco::Int64>();
  if (i < 0) throw ConfigError(path, "must be an integer >= 0, not " + std::to_string(i));
  return i;
}

Millis AsDuration(const Var& v, const std::string& path) {
  if (!IsString(v)) WrongType(v, path, "a duration string such as \"30m\" or \"1d12h\"");
  return ParseDuration(v.extract<std::string>(), path);
}

// min_value in its canonical form: no sign, no leading or trailing zeros ("010.50" -> "10.5").
std::string NormalizeMinValue(const Var& v, const std::string& path) {
  if (IsInteger(v)) return std::to_string(AsCount(v, path));
  if (!IsString(v)) WrongType(v, path, "a decimal string or an integer");
  const std::string text = v.extract<std::string>();
  int64_t milli = 0;
  try {
    milli = ParseMinorUnits(text, kMinValueExponent, path);
  } catch (const Error&) {
    throw ConfigError(path, "'" + text + "' is not a decimal amount with at most " +
                                std::to_string(kMinValueExponent) + " decimal places");
  }
  if (milli < 0) throw ConfigError(path, "must not be negative");
  std::string s = FormatMinorUnits(milli, kMinValueExponent);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

bool IsChannelName(const std::string& s) {
  if (s.empty() || s[0] < 'a' || s[0] > 'z') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// ---- the document reader ------------------------------------------------------------------

class FlowReader {
 public:
  explicit FlowReader(const std::vector<std::string>* known_templates)
      : known_templates_(known_templates) {}

  Flow Read(const Var& root) {
    if (!IsObject(root)) throw ConfigError("", "a flow document must be a JSON object");
    const Object& o = AsObject(root, "");
    CheckKeys(o, "", {"name", "abandon_after", "enter_when", "paths", "policies"});
    Flow flow;
    if (!o.has("name")) throw ConfigError("name", "is required");
    flow.name = AsNonEmptyString(o.get("name"), "name");
    if (o.has("abandon_after")) {
      flow.abandon_after_ms = AsDuration(o.get("abandon_after"), "abandon_after");
      // A zero delay would start journeys while the shopper is still on the page (S3).
      if (flow.abandon_after_ms <= 0) throw ConfigError("abandon_after", "must be more than 0");
    }
    if (o.has("enter_when")) flow.enter_when = ReadEnterWhen(o.get("enter_when"), "enter_when");
    if (!o.has("paths")) throw ConfigError("paths", "is required");
    const Array& paths = AsArray(o.get("paths"), "paths");
    if (paths.size() == 0) throw ConfigError("paths", "must list at least one path");
    std::set<std::string> names;
    for (size_t i = 0; i < paths.size(); ++i) {
      std::string path = Element("paths", i);
      flow.paths.push_back(ReadPath(paths.get(static_cast<unsigned>(i)), path));
      if (!names.insert(flow.paths.back().name).second)
        throw ConfigError(Member(path, "name"),
                          "duplicate path name '" + flow.paths.back().name + "'");
    }
    if (o.has("policies")) flow.policies = ReadPolicies(o.get("policies"), "policies");
    // Experiments are reported by name, so two steps may not share one.
    std::set<std::string> experiments;
    for (size_t i = 0; i < flow.paths.size(); ++i) {
      Path& p = flow.paths[i];
      for (size_t k = 0; k < p.steps.size(); ++k) {
        Step& step = p.steps[k];
        if (!step.HasExperiment()) continue;
        if (step.experiment.empty())
          step.experiment = flow.name + "/" + p.name + "/" + std::to_string(k + 1);
        if (!experiments.insert(step.experiment).second)
          throw ConfigError(Member(Element(Member(Element("paths", i), "steps"), k), "experiment"),
                            "duplicate experiment name '" + step.experiment + "'");
      }
    }
    return flow;
  }

 private:
  EnterWhen ReadEnterWhen(const Var& v, const std::string& path) {
    const Object& o = AsObject(v, path);
    CheckKeys(o, path, {"min_value", "has_contact"});
    EnterWhen when;
    if (o.has("min_value"))
      when.min_value = NormalizeMinValue(o.get("min_value"), Member(path, "min_value"));
    if (o.has("has_contact")) when.has_contact = AsBool(o.get("has_contact"), Member(path, "has_contact"));
    return when;
  }

  Path ReadPath(const Var& v, const std::string& path) {
    const Object& o = AsObject(v, path);
    CheckKeys(o, path, {"name", "when", "steps"});
    Path p;
    if (!o.has("name")) throw ConfigError(Member(path, "name"), "is required");
    p.name = AsNonEmptyString(o.get("name"), Member(path, "name"));
    if (o.has("when")) p.when = ReadCondition(o.get("when"), Member(path, "when"));
    const std::string steps_path = Member(path, "steps");
    if (!o.has("steps")) throw ConfigError(steps_path, "is required");
    const Array& steps = AsArray(o.get("steps"), steps_path);
    if (steps.size() == 0) throw ConfigError(steps_path, "must list at least one step");
    if (steps.size() > Flow::kMaxSteps)
      throw ConfigError(steps_path, "has " + std::to_string(steps.size()) + " steps; at most " +
                                        std::to_string(Flow::kMaxSteps) + " are allowed");
    for (size_t i = 0; i < steps.size(); ++i)
      p.steps.push_back(ReadStep(steps.get(static_cast<unsigned>(i)), Element(steps_path, i), i));
    return p;
  }

  PathCondition ReadCondition(const Var& v, const std::string& path) {
    const Object& o = AsObject(v, path);
    CheckKeys(o, path, {"orders_count_at_least", "orders_count_at_most", "stage_at_least",
                        "stage_below", "min_value", "value_below"});
    PathCondition c;
    auto stage = [&](const char* key) -> std::optional<Stage> {
      if (!o.has(key)) return std::nullopt;
      const std::string at = Member(path, key);
      auto s = ParseStage(AsNonEmptyString(o.get(key), at));
      if (!s) throw ConfigError(at, "not a checkout stage (cart, contact, shipping_address, "
                                    "shipping_method, payment)");
      return s;
    };
    c.stage_at_least = stage("stage_at_least");
    c.stage_below = stage("stage_below");
    if (c.stage_at_least && c.stage_below && *c.stage_below <= *c.stage_at_least)
      throw ConfigError(Member(path, "stage_below"),
                        "is not after stage_at_least; no cart could take this path");
    auto amount = [&](const char* key) -> std::optional<std::string> {
      if (!o.has(key)) return std::nullopt;
      const std::string at = Member(path, key);
      return NormalizeMinValue(o.get(key), at);
    };
    c.min_value = amount("min_value");
    c.value_below = amount("value_below");
    if (c.min_value && c.value_below &&
        ParseMinorUnits(*c.value_below, kMinValueExponent, "value_below") <=
            ParseMinorUnits(*c.min_value, kMinValueExponent, "min_value"))
      throw ConfigError(Member(path, "value_below"),
                        "is not above min_value; no cart could take this path");
    const std::string least = Member(path, "orders_count_at_least");
    const std::string most = Member(path, "orders_count_at_most");
    if (o.has("orders_count_at_least")) c.orders_count_at_least = AsCount(o.get("orders_count_at_least"), least);
    if (o.has("orders_count_at_most")) c.orders_count_at_most = AsCount(o.get("orders_count_at_most"), most);
    // A path nobody can take is a mistake, not a configuration.
    if (c.orders_count_at_least && c.orders_count_at_most &&
        *c.orders_count_at_most < *c.orders_count_at_least)
      throw ConfigError(most, "is below orders_count_at_least; no contact could take this path");
    return c;
  }

  Step ReadStep(const Var& v, const std::string& path, size_t index) {
    const Object& o = AsObject(v, path);
    CheckKeys(o, path,
              {"after", "branches", "channels", "template", "coupon", "variants", "holdout", "experiment"});
    Step step;
    const bool has_after = o.has("after");
    const bool has_branches = o.has("branches");
    if (has_after && has_branches)
      throw ConfigError(path, "has both 'after' and 'branches'; a step has one or the other");
    if (!has_after && !has_branches)
      throw ConfigError(path, "needs 'after' (a delay) or 'branches' (delays by engagement)");
    if (has_after) step.after_ms = AsDuration(o.get("after"), Member(path, "after"));
    if (has_branches) {
      const std::string branches_path = Member(path, "branches");
      if (index == 0)
        throw ConfigError(branches_path,
                          "the first step cannot branch: there is no earlier message to engage with");
      step.branches = ReadBranches(o.get("branches"), branches_path);
    }

    const std::string channels_path = Member(path, "channels");
    if (!o.has("channels")) throw ConfigError(channels_path, "is required");
    const Array& channels = AsArray(o.get("channels"), channels_path);
    if (channels.size() == 0) throw ConfigError(channels_path, "must name at least one channel");
    for (size_t i = 0; i < channels.size(); ++i) {
      const std::string at = Element(channels_path, i);
      std::string name = AsString(channels.get(static_cast<unsigned>(i)), at);
      if (!IsChannelName(name))
        throw ConfigError(at, "'" + name + "' is not a channel name (lower-case [a-z][a-z0-9_]*)");
      if (std::find(step.channels.begin(), step.channels.end(), name) != step.channels.end())
        throw ConfigError(at, "duplicate channel '" + name + "'");
      step.channels.push_back(std::move(name));
    }

    if (o.has("template")) {
      const std::string at = Member(path, "template");
      if (step.IsBranched())
        throw ConfigError(at, "a branched step names its templates in its branches");
      step.template_name = ReadTemplate(o.get("template"), at);
    }
    if (o.has("coupon")) step.coupon = AsNonEmptyString(o.get("coupon"), Member(path, "coupon"));
    ReadExperiment(o, path, step);
    return step;
  }

  void ReadExperiment(const Object& o, const std::string& path, Step& step) {
    const std::string variants_path = Member(path, "variants");
    if (!o.has("variants")) {
      for (const char* key : {"holdout", "experiment"})
        if (o.has(key)) throw ConfigError(Member(path, key), "needs 'variants' in the same step");
      return;
    }
    const Array& variants = AsArray(o.get("variants"), variants_path);
    if (variants.size() == 0) throw ConfigError(variants_path, "must list at least one variant");
    uint64_t total = 0;
    for (size_t i = 0; i < variants.size(); ++i) {
      const std::string at = Element(variants_path, i);
      const Object& v = AsObject(variants.get(static_cast<unsigned>(i)), at);
      CheckKeys(v, at, {"name", "weight", "template", "coupon"});
      StepVariant variant;
      if (!v.has("name")) throw ConfigError(Member(at, "name"), "is required");
      variant.name = AsNonEmptyString(v.get("name"), Member(at, "name"));
      if (variant.name == "holdout")
        throw ConfigError(Member(at, "name"), "'holdout' is the group that gets nothing; use the step's 'holdout' weight");
      for (const auto& other : step.variants)
        if (other.name == variant.name)
          throw ConfigError(Member(at, "name"), "duplicate variant '" + variant.name + "'");
      if (v.has("weight")) variant.weight = AsCount(v.get("weight"), Member(at, "weight"));
      if (v.has("template")) {
        if (step.IsBranched())
          throw ConfigError(Member(at, "template"), "a branched step names its templates in its branches");
        variant.template_name = ReadTemplate(v.get("template"), Member(at, "template"));
      }
      if (v.has("coupon")) variant.coupon = AsNonEmptyString(v.get("coupon"), Member(at, "coupon"));
      total += static_cast<uint64_t>(variant.weight);
      step.variants.push_back(std::move(variant));
    }
    if (o.has("holdout")) step.holdout_weight = AsCount(o.get("holdout"), Member(path, "holdout"));
    if (total == 0) throw ConfigError(variants_path, "every variant has weight 0: nobody would get this step");
    // The draw's resolution (offer.h AssignVariant).
    if (total + static_cast<uint64_t>(step.holdout_weight) > (uint64_t{1} << 32))
      throw ConfigError(variants_path, "weights add up to more than 2^32");
    if (o.has("experiment"))
      step.experiment = AsNonEmptyString(o.get("experiment"), Member(path, "experiment"));
  }

  std::map<Engagement, Branch> ReadBranches(const Var& v, const std::string& path) {
    const Object& o = AsObject(v, path);
    CheckKeys(o, path, {"unopened", "opened", "clicked"});
    // Without "unopened" there is no delay for the shopper who ignores the message.
    if (!o.has("unopened")) throw ConfigError(Member(path, "unopened"), "is required");
    std::map<Engagement, Branch> branches;
    for (Engagement e : {Engagement::kUnopened, Engagement::kOpened, Engagement::kClicked}) {
      const char* key = EngagementName(e);
      if (!o.has(key)) continue;
      const std::string at = Member(path, key);
      const Object& b = AsObject(o.get(key), at);
      CheckKeys(b, at, {"after", "template"});
      Branch branch;
      if (!b.has("after")) throw ConfigError(Member(at, "after"), "is required");
      branch.after_ms = AsDuration(b.get("after"), Member(at, "after"));
      if (b.has("template")) branch.template_name = ReadTemplate(b.get("template"), Member(at, "template"));
      branches.emplace(e, std::move(branch));
    }
    return branches;
  }

  std::string ReadTemplate(const Var& v, const std::string& path) {
    std::string name = AsNonEmptyString(v, path);
    // What a shop template's file name may hold (render.h): any such name may be the shop's
    // own; whether it exists is checked against the engine's templates when it starts.
    for (char c : name)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-')
        throw ConfigError(path, "'" + name + "' is not a template name (letters, digits, '_', '-')");
    if (known_templates_ &&
        std::find(known_templates_->begin(), known_templates_->end(), name) == known_templates_->end())
      throw ConfigError(path, "unknown template '" + name + "'");
    return name;
  }

  FlowPolicies ReadPolicies(const Var& v, const std::string& path) {
    const Object& o = AsObject(v, path);
    CheckKeys(o, path, {"frequency_cap", "quiet_after_order"});
    FlowPolicies p;
    if (o.has("frequency_cap")) p.frequency_cap_ms = AsDuration(o.get("frequency_cap"), Member(path, "frequency_cap"));
    if (o.has("quiet_after_order"))
      p.quiet_after_order_ms = AsDuration(o.get("quiet_after_order"), Member(path, "quiet_after_order"));
    return p;
  }

  const std::vector<std::string>* known_templates_;
};

// ---- the canonical writer -----------------------------------------------------------------

using internal::JsonMembers;
using Members = JsonMembers;
std::string Quote(const std::string& s) { return internal::JsonQuote(s); }
std::string ObjectText(const Members& m, int depth) { return internal::JsonBlockObject(m, depth); }
std::string ListText(const std::vector<std::string>& items, int depth) {
  return internal::JsonBlockList(items, depth);
}
std::string InlineList(const std::vector<std::string>& names) { return internal::JsonInlineNames(names); }

std::string StepText(const Step& step, int depth) {
  Members m;
  if (step.IsBranched()) {
    Members branches;
    for (const auto& [engagement, branch] : step.branches) {
      Members b{{"after", Quote(FormatDuration(branch.after_ms))}};
      if (!branch.template_name.empty()) b.emplace_back("template", Quote(branch.template_name));
      branches.emplace_back(EngagementName(engagement), ObjectText(b, depth + 2));
    }
    m.emplace_back("branches", ObjectText(branches, depth + 1));
  } else {
    m.emplace_back("after", Quote(FormatDuration(step.after_ms.value_or(0))));
  }
  m.emplace_back("channels", InlineList(step.channels));
  if (!step.template_name.empty()) m.emplace_back("template", Quote(step.template_name));
  if (!step.coupon.empty()) m.emplace_back("coupon", Quote(step.coupon));
  if (step.HasExperiment()) {
    m.emplace_back("experiment", Quote(step.experiment));
    std::vector<std::string> variants;
    for (const StepVariant& v : step.variants) {
      Members vm{{"name", Quote(v.name)}, {"weight", std::to_string(v.weight)}};
      if (!v.template_name.empty()) vm.emplace_back("template", Quote(v.template_name));
      if (!v.coupon.empty()) vm.emplace_back("coupon", Quote(v.coupon));
      variants.push_back(internal::JsonInlineObject(vm));
    }
    m.emplace_back("variants", ListText(variants, depth + 1));
    m.emplace_back("holdout", std::to_string(step.holdout_weight));
  }
  return ObjectText(m, depth);
}

std::string PathText(const Path& path, int depth) {
  Members m{{"name", Quote(path.name)}};
  Members when;
  if (path.when.orders_count_at_least)
    when.emplace_back("orders_count_at_least", std::to_string(*path.when.orders_count_at_least));
  if (path.when.orders_count_at_most)
    when.emplace_back("orders_count_at_most", std::to_string(*path.when.orders_count_at_most));
  if (path.when.stage_at_least)
    when.emplace_back("stage_at_least", Quote(StageName(*path.when.stage_at_least)));
  if (path.when.stage_below)
    when.emplace_back("stage_below", Quote(StageName(*path.when.stage_below)));
  if (path.when.min_value) when.emplace_back("min_value", Quote(*path.when.min_value));
  if (path.when.value_below) when.emplace_back("value_below", Quote(*path.when.value_below));
  if (!when.empty()) m.emplace_back("when", ObjectText(when, depth + 1));
  std::vector<std::string> steps;
  for (const Step& s : path.steps) steps.push_back(StepText(s, depth + 2));
  m.emplace_back("steps", ListText(steps, depth + 1));
  return ObjectText(m, depth);
}

// The document in ../shared/API.md "Flows", verbatim.
constexpr const char* kDefaultFlowDocument = R"json({
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

}  // namespace

// ---- durations ----------------------------------------------------------------------------

Millis ParseDuration(const std::string& text, const std::string& path) {
  auto bad = [&](const std::string& why) {
    return ConfigError(path, "'" + text + "' is not a duration: " + why +
                                 " (write e.g. \"30m\", \"10h\", \"2d\", \"1d12h\")");
  };
  if (text.empty()) throw bad("it is empty");
  Millis total = 0;
  size_t i = 0;
  size_t next_unit = 0;  // units go d, h, m, s, each at most once
  while (i < text.size()) {
    const size_t start = i;
    int64_t n = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      n = n * 10 + (text[i] - '0');
      // Any single number above the bound in seconds is too long whatever its unit; this
      // also keeps the arithmetic far from overflow.
      if (n > kMaxDuration / kSecond) throw bad("longer than 365d");
    }
    if (i == start) throw bad("expected a number at position " + std::to_string(i));
    if (i == text.size()) throw bad("the last number has no unit (d, h, m or s)");
    const char letter = text[i++];
    size_t k = 0;
    while (k < 4 && kDurationUnits[k].letter != letter) ++k;
    if (k == 4) throw bad(std::string("unknown unit '") + letter + "'");
    if (k < next_unit) throw bad("units go d, h, m, s, each at most once");
    next_unit = k + 1;
    total += n * kDurationUnits[k].ms;
    if (total > kMaxDuration) throw bad("longer than 365d");
  }
  return total;
}

std::string FormatDuration(Millis ms) {
  // Sub-second remainders are dropped: ParseDuration never produces them.
  if (ms < 0) return "-" + FormatDuration(ms == std::numeric_limits<Millis>::min() ? std::numeric_limits<Millis>::max() : -ms);
  std::string out;
  for (const DurationUnit& u : kDurationUnits) {
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms) + u.letter;
      ms %= u.ms;
    }
  }
  return out.empty() ? "0m" : out;
}

// ---- engagement, steps, paths -------------------------------------------------------------

const char* EngagementName(Engagement e) {
  switch (e) {
    case Engagement::kUnopened: return "unopened";
    case Engagement::kOpened: return "opened";
    case Engagement::kClicked: return "clicked";
  }
  return "unopened";
}

std::optional<Engagement> ParseEngagement(const std::string& s) {
  for (Engagement e : {Engagement::kUnopened, Engagement::kOpened, Engagement::kClicked})
    if (s == EngagementName(e)) return e;
  return std::nullopt;
}

const Branch& Step::BranchFor(Engagement e) const {
  // Walk down from e: clicked falls back to opened, opened to unopened.
  for (int k = static_cast<int>(e); k >= 0; --k) {
    auto it = branches.find(static_cast<Engagement>(k));
    if (it != branches.end()) return it->second;
  }
  throw Error(ErrorCode::kInternal, IsBranched()
                                        ? "branched step without an 'unopened' branch"
                                        : "BranchFor called on a step that does not branch");
}

std::optional<size_t> Flow::ChoosePath(const Contact& contact) const {
  return ChoosePath(contact, Cart{});
}

std::optional<size_t> Flow::ChoosePath(const Contact& contact, const Cart& cart) const {
  for (size_t i = 0; i < paths.size(); ++i) {
    const PathCondition& w = paths[i].when;
    if (w.orders_count_at_least && contact.orders_count < *w.orders_count_at_least) continue;
    if (w.orders_count_at_most && contact.orders_count > *w.orders_count_at_most) continue;
    if (w.stage_at_least && cart.stage < *w.stage_at_least) continue;
    if (w.stage_below && cart.stage >= *w.stage_below) continue;
    if (w.min_value && CartValueBelow(*w.min_value, cart)) continue;
    if (w.value_below && !CartValueBelow(*w.value_below, cart)) continue;
    return i;
  }
  return std::nullopt;
}

const Path* Flow::FindPath(const std::string& path_name) const {
  for (const Path& p : paths)
    if (p.name == path_name) return &p;
  return nullptr;
}

// ---- documents ----------------------------------------------------------------------------

Flow ParseFlow(const std::string& json, const std::vector<std::string>* known_templates) {
  const Var root = internal::ParseJson(json, "");
  // Only cartrecovery::Error leaves the core; anything else from Poco here is a surprise
  // about a value's shape, still the document's fault.
  try {
    return FlowReader(known_templates).Read(root);
  } catch (const Error&) {
    throw;
  } catch (const Poco::Exception& e) {
    throw ConfigError("", "unreadable flow document: " + e.displayText());
  } catch (const std::exception& e) {
    throw ConfigError("", std::string("unreadable flow document: ") + e.what());
  }
}

std::string FlowToJson(const Flow& flow) {
  Members m;
  m.emplace_back("name", Quote(flow.name));
  m.emplace_back("abandon_after", Quote(FormatDuration(flow.abandon_after_ms)));
  m.emplace_back("enter_when", ObjectText({{"min_value", Quote(flow.enter_when.min_value)},
                                           {"has_contact", flow.enter_when.has_contact ? "true" : "false"}},
                                          1));
  std::vector<std::string> paths;
  for (const Path& p : flow.paths) paths.push_back(PathText(p, 2));
  m.emplace_back("paths", ListText(paths, 1));
  m.emplace_back("policies",
                 ObjectText({{"frequency_cap", Quote(FormatDuration(flow.policies.frequency_cap_ms))},
                             {"quiet_after_order", Quote(FormatDuration(flow.policies.quiet_after_order_ms))}},
                            1));
  return ObjectText(m, 0);
}

Flow DefaultFlow() {
  static const Flow flow = ParseFlow(kDefaultFlowDocument);
  return flow;
}

const std::string& DefaultFlowJson() {
  static const std::string json = FlowToJson(DefaultFlow());
  return json;
}

}  // namespace cartrecovery
