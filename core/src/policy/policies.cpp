// policies.cpp: the policies document (defaults, parsing with paths, canonical JSON) and
// DecideSend, which applies the policies in their fixed order.
#include <Poco/Dynamic/Var.h>
#include <date/date.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "cartrecovery/flow.h"
#include "cartrecovery/policy.h"
#include "cartrecovery/status.h"
#include "model/json_reader.h"
#include "model/json_writer.h"
#include "policy/policy_internal.h"

namespace cartrecovery {

namespace {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

// Day names in canonical (Monday-first) order, with their Weekday.
struct DayName {
  const char* name;
  Weekday day;
};
constexpr DayName kDayNames[] = {
    {"mon", Weekday::kMonday},   {"tue", Weekday::kTuesday}, {"wed", Weekday::kWednesday},
    {"thu", Weekday::kThursday}, {"fri", Weekday::kFriday},  {"sat", Weekday::kSaturday},
    {"sun", Weekday::kSunday},
};

// Deferrals move forward monotonically and each policy settles once the time is past its
// own bound (a cap's gap, a day with room, an allowed minute), so a handful of rounds
// suffices; the bound only turns a hand-built contradiction into an error instead of a hang.
constexpr int kMaxRounds = 16;

// ---- reading Poco values (the same conventions as the flow document) -----------------------

using internal::AsArray;
using internal::AsObject;
using internal::AsString;
using internal::CheckKeys;
using internal::Element;
using internal::IsArray;
using internal::IsInteger;
using internal::IsObject;
using internal::IsString;
using internal::Member;
using internal::WrongType;

bool IsChannelName(const std::string& s) {
  if (s.empty() || s[0] < 'a' || s[0] > 'z') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

void CheckChannel(const std::string& name, const std::string& path) {
  if (!IsChannelName(name))
    throw ConfigError(path, "'" + name + "' is not a channel name (lower-case [a-z][a-z0-9_]*)");
}

// "HH:MM", 00:00..23:59 -> minutes of the day.
int AsClockTime(const Var& v, const std::string& path) {
  if (!IsString(v)) WrongType(v, path, "a time of day \"HH:MM\"");
  const std::string s = v.extract<std::string>();
  auto digit = [&](size_t i) { return s[i] >= '0' && s[i] <= '9'; };
  if (s.size() != 5 || !digit(0) || !digit(1) || s[2] != ':' || !digit(3) || !digit(4))
    throw ConfigError(path, "'" + s + "' is not a time of day \"HH:MM\" (e.g. \"09:00\")");
  const int hours = (s[0] - '0') * 10 + (s[1] - '0');
  const int minutes = (s[3] - '0') * 10 + (s[4] - '0');
  if (hours > 23 || minutes > 59)
    throw ConfigError(path, "'" + s + "' is not a time of day between 00:00 and 23:59");
  return hours * 60 + minutes;
}

PolicyAction AsAction(const Var& v, const std::string& path) {
  const std::string s = AsString(v, path);
  auto action = ParsePolicyAction(s);
  if (!action) throw ConfigError(path, "'" + s + "' is not an action (defer or skip)");
  return *action;
}

// ---- the document reader ------------------------------------------------------------------

// "2026-06-25" (that day) or "12-24" (every year; year 0), a real calendar day.
CivilDate AsQuietDate(const std::string& text, const std::string& path) {
  int y = 0;
  unsigned m = 0, d = 0;
  char tail = 0;
  const bool full = text.size() == 10 &&
                    std::sscanf(text.c_str(), "%4d-%2u-%2u%c", &y, &m, &d, &tail) == 3;
  const bool yearly = !full && text.size() == 5 &&
                      std::sscanf(text.c_str(), "%2u-%2u%c", &m, &d, &tail) == 2;
  if (!full && !yearly)
    throw ConfigError(path, "'" + text + "' is not a date (YYYY-MM-DD, or MM-DD for every year)");
  // Feb 29 is a real day in some year; check against a leap year when it repeats yearly.
  const date::year_month_day ymd{date::year{full ? y : 2000}, date::month{m}, date::day{d}};
  if (!ymd.ok() || (full && y < 1))
    throw ConfigError(path, "'" + text + "' is not a day of the calendar");
  return CivilDate{full ? y : 0, m, d};
}

QuietHours ReadQuietHours(const Var& v, const std::string& path) {
  QuietHours q;
  if (IsArray(v)) {
    // ["20:00", "09:00"]: the short form of ../shared/API.md.
    const Array& a = AsArray(v, path);
    if (a.size() != 2) throw ConfigError(path, "the list form is [\"from\", \"until\"], two times");
    q.from_minute = AsClockTime(a.get(0), Element(path, 0));
    q.until_minute = AsClockTime(a.get(1), Element(path, 1));
    if (q.from_minute == q.until_minute)
      throw ConfigError(Element(path, 1), "equals from; a quiet window needs two different times");
    return q;
  }
  if (!IsObject(v)) WrongType(v, path, "an object or a list [\"from\", \"until\"]");
  const Object& o = AsObject(v, path);
  CheckKeys(o, path, {"from", "until", "days", "holidays", "dates", "action"});
  const bool has_from = o.has("from");
  const bool has_until = o.has("until");
  if (has_from != has_until)
    throw ConfigError(Member(path, has_from ? "until" : "from"),
                      "is required with " + std::string(has_from ? "from" : "until") +
                          " (or leave both out for quiet days only)");
  q.from_minute = q.until_minute = 0;  // no window unless both are given
  if (has_from) {
    q.from_minute = AsClockTime(o.get("from"), Member(path, "from"));
    q.until_minute = AsClockTime(o.get("until"), Member(path, "until"));
    if (q.from_minute == q.until_minute)
      throw ConfigError(Member(path, "until"),
                        "equals from; leave both out for quiet days only, or name whole quiet days");
  }
  if (o.has("days")) {
    const std::string days_path = Member(path, "days");
    const Array& days = AsArray(o.get("days"), days_path);
    for (size_t i = 0; i < days.size(); ++i) {
      const std::string at = Element(days_path, i);
      const std::string name = AsString(days.get(static_cast<unsigned>(i)), at);
      const DayName* found = nullptr;
      for (const DayName& d : kDayNames)
        if (name == d.name) found = &d;
      if (!found) throw ConfigError(at, "'" + name + "' is not a day (mon, tue, wed, thu, fri, sat, sun)");
      if (q.days & DayBit(found->day)) throw ConfigError(at, "duplicate day '" + name + "'");
      q.days |= DayBit(found->day);
    }
    // A channel that may never send is a mistake, not a policy; it would also leave
    // NextAllowed nothing to find.
    if (q.days == kEveryDay) throw ConfigError(days_path, "every day is quiet; no time is left to send");
  }
  if (o.has("holidays") && !o.get("holidays").isEmpty()) {
    const std::string at = Member(path, "holidays");
    q.holidays = AsString(o.get("holidays"), at);
    if (!IsHolidayCountry(q.holidays))
      throw ConfigError(at, "no public holidays are known for '" + q.holidays + "' (known: DE, FR, IR, PL, RO)");
  }
  if (o.has("dates")) {
    const std::string dates_path = Member(path, "dates");
    const Array& dates = AsArray(o.get("dates"), dates_path);
    for (size_t i = 0; i < dates.size(); ++i) {
      const std::string at = Element(dates_path, i);
      q.dates.push_back(AsQuietDate(AsString(dates.get(static_cast<unsigned>(i)), at), at));
    }
    std::sort(q.dates.begin(), q.dates.end());
    q.dates.erase(std::unique(q.dates.begin(), q.dates.end()), q.dates.end());
  }
  if (o.has("action")) q.action = AsAction(o.get("action"), Member(path, "action"));
  return q;
}

ChannelCap ReadChannelCap(const Var& v, const std::string& path) {
  const Object& o = AsObject(v, path);
  CheckKeys(o, path, {"every", "action"});
  ChannelCap cap;
  const std::string every = Member(path, "every");
  if (!o.has("every")) throw ConfigError(every, "is required");
  const Var& e = o.get("every");
  if (!IsString(e)) WrongType(e, every, "a duration string such as \"12h\" or \"2d\"");
  cap.every_ms = ParseDuration(e.extract<std::string>(), every);
  if (cap.every_ms <= 0) throw ConfigError(every, "must be more than 0");
  if (o.has("action")) cap.action = AsAction(o.get("action"), Member(path, "action"));
  return cap;
}

std::optional<DailyCeiling> ReadDailyCeiling(const Var& v, const std::string& path) {
  if (v.isEmpty()) return std::nullopt;
  const Object& o = AsObject(v, path);
  CheckKeys(o, path, {"max", "action"});
  DailyCeiling c;
  const std::string max = Member(path, "max");
  if (!o.has("max")) throw ConfigError(max, "is required");
  const Var& m = o.get("max");
  if (!IsInteger(m)) WrongType(m, max, "an integer >= 1");
  if (m.isSigned()) {
    const Poco::Int64 n = m.convert<Poco::Int64>();
    if (n < 1) throw ConfigError(max, "must be at least 1 (use null for no ceiling), not " + std::to_string(n));
    c.max = n;
  } else {
    const Poco::UInt64 n = m.convert<Poco::UInt64>();
    if (n > static_cast<Poco::UInt64>(std::numeric_limits<int64_t>::max())) throw ConfigError(max, "is too large");
    if (n < 1) throw ConfigError(max, "must be at least 1 (use null for no ceiling), not 0");
    c.max = static_cast<int64_t>(n);
  }
  if (o.has("action")) c.action = AsAction(o.get("action"), Member(path, "action"));
  return c;
}

Policies ReadPolicies(const Var& root, const std::string& path) {
  if (!IsObject(root)) throw ConfigError(path, "a policies document must be a JSON object");
  const Object& o = AsObject(root, path);
  CheckKeys(o, path, {"timezone", "quiet_hours", "channel_caps", "daily_ceiling", "consent"});
  Policies p;
  if (o.has("timezone")) {
    const std::string at = Member(path, "timezone");
    p.timezone = AsString(o.get("timezone"), at);
    if (!IsKnownTimeZone(p.timezone))
      throw ConfigError(at, "unknown time zone '" + p.timezone + "' (an IANA name such as \"Europe/Paris\")");
  }
  if (o.has("quiet_hours")) {
    const std::string at = Member(path, "quiet_hours");
    p.quiet_hours.clear();
    for (const auto& [channel, value] : AsObject(o.get("quiet_hours"), at)) {
      CheckChannel(channel, Member(at, channel));
      p.quiet_hours[channel] = ReadQuietHours(value, Member(at, channel));
    }
  }
  if (o.has("channel_caps")) {
    const std::string at = Member(path, "channel_caps");
    for (const auto& [channel, value] : AsObject(o.get("channel_caps"), at)) {
      CheckChannel(channel, Member(at, channel));
      p.channel_caps[channel] = ReadChannelCap(value, Member(at, channel));
    }
  }
  if (o.has("daily_ceiling")) p.daily_ceiling = ReadDailyCeiling(o.get("daily_ceiling"), Member(path, "daily_ceiling"));
  if (o.has("consent")) {
    const std::string at = Member(path, "consent");
    for (const auto& [channel, value] : AsObject(o.get("consent"), at)) {
      const std::string entry = Member(at, channel);
      CheckChannel(channel, entry);
      const std::string rule = AsString(value, entry);
      auto parsed = ParseConsentRule(rule);
      if (!parsed)
        throw ConfigError(entry, "'" + rule + "' is not a consent rule (required, unless_refused, none)");
      p.consent[channel] = *parsed;
    }
  }
  return p;
}

// ---- the canonical writer -----------------------------------------------------------------

using Members = internal::JsonMembers;
std::string Quote(const std::string& s) { return internal::JsonQuote(s); }
std::string InlineObject(const Members& m) { return internal::JsonInlineObject(m); }
std::string BlockObject(const Members& m, int depth) { return internal::JsonBlockObject(m, depth); }

std::string ClockText(int minutes) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d:%02d", minutes / 60, minutes % 60);
  return Quote(buf);
}

std::string QuietHoursText(const QuietHours& q) {
  Members m;
  if (q.HasWindow()) {
    m.emplace_back("from", ClockText(q.from_minute));
    m.emplace_back("until", ClockText(q.until_minute));
  }
  std::string days = "[";
  for (const DayName& d : kDayNames) {
    if (!(q.days & DayBit(d.day))) continue;
    days += (days.size() > 1 ? ", " : "") + Quote(d.name);
  }
  m.emplace_back("days", days + "]");
  if (!q.holidays.empty()) m.emplace_back("holidays", Quote(q.holidays));
  if (!q.dates.empty()) {
    std::string dates = "[";
    for (const CivilDate& d : q.dates) {
      char buf[16];
      if (d.year == 0) std::snprintf(buf, sizeof buf, "%02u-%02u", d.month, d.day);
      else std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", d.year, d.month, d.day);
      dates += (dates.size() > 1 ? ", " : "") + Quote(buf);
    }
    m.emplace_back("dates", dates + "]");
  }
  m.emplace_back("action", Quote(PolicyActionName(q.action)));
  return InlineObject(m);
}

// ---- deciding -----------------------------------------------------------------------------

PolicyDecision Skip(std::string reason) {
  PolicyDecision d;
  d.action = SendAction::kSkip;
  d.reason = std::move(reason);
  return d;
}

bool ConsentAllows(ConsentRule rule, const std::string& channel, const Consent& consent) {
  if (rule == ConsentRule::kNone) return true;
  std::optional<bool> given;
  if (channel == "email") given = consent.email;
  else if (channel == "sms") given = consent.sms;
  else if (channel == "push") given = consent.push;
  return rule == ConsentRule::kRequired ? given == true : given != false;
}

const date::time_zone* ZoneFor(const Policies& policies, const Contact& contact) {
  if (const date::time_zone* zone = internal::FindZone(contact.timezone)) return zone;
  if (const date::time_zone* zone = internal::FindZone(policies.timezone)) return zone;
  throw ConfigError("policies.timezone", "unknown time zone '" + policies.timezone + "'");
}

// A deferrable policy's verdict at one instant: nullopt when it allows the send, else why
// not and the first instant it would allow.
struct Block {
  const char* reason;
  Millis next;
  PolicyAction action;
};

}  // namespace

// ---- names and defaults -------------------------------------------------------------------

const char* PolicyActionName(PolicyAction a) { return a == PolicyAction::kSkip ? "skip" : "defer"; }

std::optional<PolicyAction> ParsePolicyAction(const std::string& s) {
  if (s == "defer") return PolicyAction::kDefer;
  if (s == "skip") return PolicyAction::kSkip;
  return std::nullopt;
}

const char* ConsentRuleName(ConsentRule r) {
  switch (r) {
    case ConsentRule::kNone: return "none";
    case ConsentRule::kRequired: return "required";
    case ConsentRule::kUnlessRefused: return "unless_refused";
  }
  return "none";
}

std::optional<ConsentRule> ParseConsentRule(const std::string& s) {
  for (ConsentRule r : {ConsentRule::kNone, ConsentRule::kRequired, ConsentRule::kUnlessRefused})
    if (s == ConsentRuleName(r)) return r;
  return std::nullopt;
}

const char* SendActionName(SendAction a) {
  switch (a) {
    case SendAction::kSend: return "send";
    case SendAction::kDefer: return "defer";
    case SendAction::kSkip: return "skip";
  }
  return "send";
}

Policies::Policies() : timezone("UTC") {
  // R3.2: SMS only between 09:00 and 20:00, deferred, not dropped.
  quiet_hours["sms"] = QuietHours{};
  // E-mail to a shopper who left an address at checkout is the playbooks' main channel and
  // goes unless refused; SMS and push reach a phone and want an explicit yes.
  consent["email"] = ConsentRule::kUnlessRefused;
  consent["sms"] = ConsentRule::kRequired;
  consent["push"] = ConsentRule::kRequired;
}

ConsentRule Policies::ConsentFor(const std::string& channel) const {
  auto it = consent.find(channel);
  return it == consent.end() ? ConsentRule::kNone : it->second;
}

bool operator==(const QuietHours& a, const QuietHours& b) {
  // Without a window the minutes carry no meaning.
  const bool same_window = a.HasWindow() == b.HasWindow() &&
                           (!a.HasWindow() || (a.from_minute == b.from_minute && a.until_minute == b.until_minute));
  return same_window && a.days == b.days && a.holidays == b.holidays && a.dates == b.dates &&
         a.action == b.action;
}

bool operator==(const ChannelCap& a, const ChannelCap& b) {
  return a.every_ms == b.every_ms && a.action == b.action;
}

bool operator==(const DailyCeiling& a, const DailyCeiling& b) {
  return a.max == b.max && a.action == b.action;
}

bool operator==(const Policies& a, const Policies& b) {
  return a.timezone == b.timezone && a.quiet_hours == b.quiet_hours && a.channel_caps == b.channel_caps &&
         a.daily_ceiling == b.daily_ceiling && a.consent == b.consent;
}

// ---- documents ----------------------------------------------------------------------------

Policies ParsePolicies(const std::string& json, const std::string& path_prefix) {
  const Var root = internal::ParseJson(json, path_prefix);
  try {
    return ReadPolicies(root, path_prefix);
  } catch (const Error&) {
    throw;
  } catch (const Poco::Exception& e) {
    throw ConfigError(path_prefix, "unreadable policies document: " + e.displayText());
  } catch (const std::exception& e) {
    throw ConfigError(path_prefix, std::string("unreadable policies document: ") + e.what());
  }
}

std::string PoliciesToJson(const Policies& policies) {
  Members quiet;
  for (const auto& [channel, q] : policies.quiet_hours) quiet.emplace_back(channel, QuietHoursText(q));
  Members caps;
  for (const auto& [channel, cap] : policies.channel_caps)
    caps.emplace_back(channel, InlineObject({{"every", Quote(FormatDuration(cap.every_ms))},
                                             {"action", Quote(PolicyActionName(cap.action))}}));
  std::string ceiling = "null";
  if (policies.daily_ceiling)
    ceiling = InlineObject({{"max", std::to_string(policies.daily_ceiling->max)},
                            {"action", Quote(PolicyActionName(policies.daily_ceiling->action))}});
  Members consent;
  for (const auto& [channel, rule] : policies.consent) consent.emplace_back(channel, Quote(ConsentRuleName(rule)));
  return BlockObject({{"timezone", Quote(policies.timezone)},
                      {"quiet_hours", BlockObject(quiet, 1)},
                      {"channel_caps", BlockObject(caps, 1)},
                      {"daily_ceiling", ceiling},
                      {"consent", BlockObject(consent, 1)}},
                     0) +
         "\n";
}

// ---- time zones and the decision ----------------------------------------------------------

std::string EffectiveTimeZone(const Policies& policies, const Contact& contact) {
  if (!contact.timezone.empty() && IsKnownTimeZone(contact.timezone)) return contact.timezone;
  return policies.timezone;
}

PolicyDecision DecideSend(const Policies& policies, const std::string& channel, const Contact& contact,
                          const SendHistory& history, Millis now) {
  // Unsubscribe and consent are about the person, not the time: no later time fixes them.
  const bool contact_channel = policies.IsContactChannel(channel);
  if (contact_channel && contact.unsubscribed) return Skip("unsubscribed");
  if (!ConsentAllows(policies.ConsentFor(channel), channel, contact.consent)) return Skip("no_consent");

  const ChannelCap* cap = nullptr;
  if (auto it = policies.channel_caps.find(channel); it != policies.channel_caps.end()) cap = &it->second;
  std::optional<Millis> last_sent;
  if (auto it = history.last_sent_ms.find(channel); it != history.last_sent_ms.end()) last_sent = it->second;
  const DailyCeiling* ceiling = contact_channel && policies.daily_ceiling ? &*policies.daily_ceiling : nullptr;
  if (ceiling && ceiling->max < 1)
    throw ConfigError("policies.daily_ceiling.max", "must be at least 1, not " + std::to_string(ceiling->max));
  const QuietHours* quiet = nullptr;
  if (auto it = policies.quiet_hours.find(channel); it != policies.quiet_hours.end()) quiet = &it->second;

  // The zone is needed only by the calendar-bound policies; e-mail without a ceiling never
  // touches the zone database.
  const date::time_zone* zone = (ceiling || quiet) ? ZoneFor(policies, contact) : nullptr;
  std::vector<date::local_days> sent_days;
  if (ceiling) {
    for (const SentMessage& m : history.recent)
      if (policies.IsContactChannel(m.channel)) sent_days.push_back(internal::LocalDay(zone, m.sent_ms));
  }

  auto cap_block = [&](Millis t) -> std::optional<Block> {
    if (!cap || !last_sent || t >= *last_sent + cap->every_ms) return std::nullopt;
    return Block{"channel_cap", *last_sent + cap->every_ms, cap->action};
  };
  auto ceiling_block = [&](Millis t) -> std::optional<Block> {
    if (!ceiling) return std::nullopt;
    const date::local_days day = internal::LocalDay(zone, t);
    const auto count = std::count(sent_days.begin(), sent_days.end(), day);
    if (count < ceiling->max) return std::nullopt;
    return Block{"daily_ceiling", internal::StartOfNextLocalDay(zone, t), ceiling->action};
  };
  auto quiet_block = [&](Millis t) -> std::optional<Block> {
    if (!quiet) return std::nullopt;
    const internal::QuietKind kind = internal::QuietAt(*quiet, zone, t);
    if (kind == internal::QuietKind::kAllowed) return std::nullopt;
    return Block{kind == internal::QuietKind::kQuietDay ? "quiet_day" : "quiet_hours",
                 internal::NextAllowedIn(*quiet, zone, t), quiet->action};
  };

  Millis t = now;
  std::string first_reason;
  for (int round = 0; round < kMaxRounds; ++round) {
    bool moved = false;
    // Each policy in order sees the time the ones before it settled on.
    for (int k = 0; k < 3; ++k) {
      std::optional<Block> b = k == 0 ? cap_block(t) : k == 1 ? ceiling_block(t) : quiet_block(t);
      if (!b) continue;
      // A policy that skips drops the message now if it would block at the time the
      // deferrals led to: asking again then would only skip it then.
      if (b->action == PolicyAction::kSkip) return Skip(b->reason);
      if (first_reason.empty()) first_reason = b->reason;
      t = std::max(b->next, t + 1);
      moved = true;
    }
    if (!moved) {
      PolicyDecision d;
      d.not_before = t;
      if (t != now) {
        d.action = SendAction::kDefer;
        d.reason = first_reason;
      }
      return d;
    }
  }
  throw Error(ErrorCode::kInternal, "DecideSend: the policies for channel '" + channel +
                                        "' did not settle on a time to send");
}

}  // namespace cartrecovery
