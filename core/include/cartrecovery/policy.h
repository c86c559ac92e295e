// policy.h: the shop's sending policies, and the one decision the engine asks of them:
// send this message on this channel to this contact now, later, or never.
//
// Each policy is a small pure function of (configuration, contact, send history, time); no
// clock is read and nothing is remembered here. The only outside state read is the system's
// IANA time zone database (/usr/share/zoneinfo, through Howard Hinnant's date/tz), loaded
// once per process on first use.
//
// Policies (../shared/PLAYBOOKS.md R2.7, R3.2, R3.4, S5-S7):
//   unsubscribed   R3.4: one subscription state for e-mail and SMS; an unsubscribed contact
//                  gets nothing on any contact channel. Always skip.
//   consent        per channel "required" (send only on an explicit yes) or "unless_refused"
//                  (send unless an explicit no). Always skip.
//   channel caps   per channel, a minimum gap between two messages of that channel to one
//                  contact. Defer or skip.
//   daily ceiling  at most N messages on contact channels to one contact per local calendar
//                  day. Defer (to the next local midnight) or skip.
//   quiet hours    S6, R3.2: per channel, a daily window of local wall-clock time, quiet
//                  weekdays and a country's public holidays, in the contact's time zone when
//                  known, else the shop's. Defer (to the next allowed minute) or skip.
// A "contact channel" is one with a consent rule (by default email, sms, push); the others
// (webhook, a CRM callback) write to the shop, not to the shopper, so neither the
// unsubscribe, consent nor the daily ceiling applies to them; caps and quiet hours apply by
// channel name to whatever channel they are configured for.
//
// The cross-journey frequency cap and the no-send-after-order window (R2.7, S5) gate the
// start of a journey and live in flow.h (NewJourneyRefusal); they are not repeated here.
//
// Every function here is thread-safe (no mutable state apart from date/tz's own, which is
// initialised once under its own synchronisation).
#ifndef CARTRECOVERY_POLICY_H_
#define CARTRECOVERY_POLICY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cartrecovery/clock.h"
#include "cartrecovery/model.h"

namespace cartrecovery {

// ---- calendar -----------------------------------------------------------------------------

// A date of the proleptic Gregorian calendar.
struct CivilDate {
  int year = 1970;
  unsigned month = 1;  // 1..12
  unsigned day = 1;    // 1..31
};
bool operator==(const CivilDate& a, const CivilDate& b);
bool operator<(const CivilDate& a, const CivilDate& b);

// Easter Sunday of a Gregorian year (the anonymous Gregorian algorithm), e.g. 2026 -> 04-05.
CivilDate EasterSunday(int year);

// Countries whose national public holidays are built in: "DE", "FR", "IR", "PL", "RO".
bool IsHolidayCountry(const std::string& country);
// The national public holidays of `country` in `year`, sorted, without duplicates:
//   FR  Jan 1, Easter Monday, May 1, May 8, Ascension, Whit Monday, Jul 14, Aug 15, Nov 1,
//       Nov 11, Dec 25 (not the Alsace-Moselle extras)
//   DE  Jan 1, Good Friday, Easter Monday, May 1, Ascension, Whit Monday, Oct 3, Dec 25, 26
//       (federal holidays only, not those of a Land)
//   PL  Jan 1, Jan 6, Easter Sunday and Monday, May 1, May 3, Whit Sunday, Corpus Christi,
//       Aug 15, Nov 1, Nov 11, Dec 24 (from 2025), Dec 25, 26
//   RO  Jan 1, 2, Jan 6, 7 (from 2024), Jan 24, Orthodox Good Friday (from 2018), Easter
//       Sunday and Monday, May 1, Jun 1, Orthodox Whit Sunday and Monday, Aug 15, Nov 30,
//       Dec 1, Dec 25, 26
//   IR  the Solar Hijri holidays: Nowruz (1-4 Farvardin), 12 and 13 Farvardin, 14 and 15
//       Khordad, 22 Bahman, 29 Esfand, 30 Esfand in leap years (from 1399). The lunar
//       (Islamic) holidays move each year: the shop adds them as dates (QuietHours::dates).
//       Quiet hours with holidays "IR" also keep Fridays quiet (Iran's weekend).
// Throws InvalidArgument("country", ...) for any other country.
std::vector<CivilDate> PublicHolidays(const std::string& country, int year);
bool IsPublicHoliday(const std::string& country, const CivilDate& date);

// ---- time zones ---------------------------------------------------------------------------

// True when the IANA database knows `name` ("Europe/Paris", "UTC", links such as
// "US/Eastern"). Throws Error(kConfig) when the database itself cannot be read (no tzdata).
bool IsKnownTimeZone(const std::string& name);

// ---- configuration ------------------------------------------------------------------------

// What a deferrable policy does with a message it blocks: move it to the first time the
// policy allows (kDefer), or drop it with its reason recorded (kSkip).
enum class PolicyAction { kDefer, kSkip };
const char* PolicyActionName(PolicyAction a);  // "defer", "skip"
std::optional<PolicyAction> ParsePolicyAction(const std::string& s);

// Days of the week as bits of QuietHours::days; Sunday is bit 0 as in struct tm.
enum class Weekday { kSunday = 0, kMonday, kTuesday, kWednesday, kThursday, kFriday, kSaturday };
constexpr uint8_t DayBit(Weekday d) { return static_cast<uint8_t>(1u << static_cast<unsigned>(d)); }
constexpr uint8_t kEveryDay = 0x7f;

struct QuietHours {
  // The daily window, in minutes of the local day (0..1439). from > until wraps midnight
  // (20:00-09:00: quiet from 20:00 until 09:00 the next morning, the common case); from <
  // until does not (12:00-14:00). from == until means no daily window: only quiet days.
  // The wall clock decides: on a fall-back night the repeated hour is quiet twice if it is
  // in the window, and a window edge that falls into a spring-forward gap moves to the
  // first minute after the gap.
  int from_minute = 20 * 60;
  int until_minute = 9 * 60;
  uint8_t days = 0;      // DayBit()s of whole quiet local days, e.g. DayBit(kSunday)
  std::string holidays;  // "" or a country of IsHolidayCountry(): its holidays are quiet days
  // The shop's own quiet dates: a CivilDate with year 0 repeats every year (Dec 24), others
  // are one day (a lunar holiday of 2026). Sorted, without duplicates.
  std::vector<CivilDate> dates;
  PolicyAction action = PolicyAction::kDefer;

  bool HasWindow() const { return from_minute != until_minute; }
};
bool operator==(const QuietHours& a, const QuietHours& b);

struct ChannelCap {
  Millis every_ms = 0;  // minimum gap between two messages of the channel to one contact; > 0
  PolicyAction action = PolicyAction::kDefer;
};
bool operator==(const ChannelCap& a, const ChannelCap& b);

struct DailyCeiling {
  int64_t max = 0;  // messages per contact per local calendar day, all contact channels; >= 1
  PolicyAction action = PolicyAction::kDefer;
};
bool operator==(const DailyCeiling& a, const DailyCeiling& b);

// kRequired: send only when the contact said yes for the channel. kUnlessRefused: send
// unless they said no. kNone: not a contact channel (see the file comment). Channels other
// than email, sms and push have no consent field in Contact, so "required" never lets them
// send and "unless_refused" always does.
enum class ConsentRule { kNone, kRequired, kUnlessRefused };
const char* ConsentRuleName(ConsentRule r);  // "none", "required", "unless_refused"
std::optional<ConsentRule> ParseConsentRule(const std::string& s);

// The shop-wide policies. A default-constructed Policies holds the defaults:
//   timezone UTC; quiet hours for sms 20:00-09:00 every day, defer (R3.2); no channel caps;
//   no daily ceiling; consent email unless_refused, sms required, push required.
struct Policies {
  Policies();

  std::string timezone;                            // the shop's IANA zone, e.g. "Europe/Paris"
  std::map<std::string, QuietHours> quiet_hours;   // by channel
  std::map<std::string, ChannelCap> channel_caps;  // by channel
  std::optional<DailyCeiling> daily_ceiling;       // nullopt: none
  std::map<std::string, ConsentRule> consent;      // by channel; absent means kNone

  // The consent rule for a channel (kNone when absent).
  ConsentRule ConsentFor(const std::string& channel) const;
  bool IsContactChannel(const std::string& channel) const {
    return ConsentFor(channel) != ConsentRule::kNone;
  }
};
bool operator==(const Policies& a, const Policies& b);
inline bool operator!=(const Policies& a, const Policies& b) { return !(a == b); }

// Parses a policies document. Every key is optional; absent keys keep the defaults above.
//   {
//     "timezone": "Europe/Paris",
//     "quiet_hours": {
//       "sms": {"from": "20:00", "until": "09:00", "days": ["sun"], "holidays": "FR",
//               "action": "defer"},
//       "push": ["21:00", "08:00"]
//     },
//     "channel_caps": {"email": {"every": "12h", "action": "defer"},
//                      "sms": {"every": "2d", "action": "skip"}},
//     "daily_ceiling": {"max": 3, "action": "defer"},
//     "consent": {"sms": "required", "email": "unless_refused", "webhook": "none"}
//   }
// quiet_hours and channel_caps, when given, replace the defaults entirely and list every
// channel that has them ({} turns the sms quiet hours off). consent entries override the
// defaults channel by channel. In a quiet_hours entry: "from" and "until" are "HH:MM", both
// or neither (neither: quiet days only); "days" lists mon..sun; "holidays" is a country of
// IsHolidayCountry() or null; "dates" lists the shop's own quiet dates, "YYYY-MM-DD" (that
// day) or "MM-DD" (every year); "action" is "defer" (default) or "skip". The list form
// ["from", "until"] is short for an entry with only those two. "every" is a duration as in
// flow.h ("30m", "12h", "2d"). "daily_ceiling" is null or an object with "max" >= 1.
// Errors: ConfigError whose field() is the path inside the document under `path_prefix`,
// e.g. "policies.quiet_hours.sms.from", "policies.quiet_hours.sms.days[1]"; unknown keys,
// wrong types, unknown zones, channels, days, countries, actions or rules, a window with
// from == until, all seven days quiet (no time left to send), "every" of 0.
Policies ParsePolicies(const std::string& json, const std::string& path_prefix = "policies");
// Canonical JSON: fixed key order, channels sorted, every key written out (quiet_hours
// entries omit from/until when there is no window and holidays when there are none;
// daily_ceiling is null when there is none). ParsePolicies(PoliciesToJson(p)) == p for any
// p that ParsePolicies accepts, and the text is byte-identical after a second round.
std::string PoliciesToJson(const Policies& policies);

// ---- decisions ----------------------------------------------------------------------------

// The first instant at or after t (UTC ms) that is outside the quiet window and not on a
// quiet day, both read on the wall clock of `time_zone`. Returns t itself when t is allowed.
// Never loops: days that do not exist locally or repeat are handled by the rules in
// QuietHours. Throws InvalidArgument("time_zone", ...) for an unknown zone, Error(kConfig)
// when the zone database cannot be read or when `quiet` leaves no time at all within a year
// (every day quiet; ParsePolicies refuses that).
Millis NextAllowed(const QuietHours& quiet, const std::string& time_zone, Millis t);

// The zone policies are read in for a contact (S6): theirs when set and known to the zone
// database, else the shop's. A contact's zone is validated loosely on ingest, so an unknown
// one must not stop sending.
std::string EffectiveTimeZone(const Policies& policies, const Contact& contact);

struct SentMessage {
  std::string channel;
  Millis sent_ms = 0;
};

// What has been sent to one contact, across all journeys and flows.
struct SendHistory {
  // The last message per channel (channel caps); channels never used are absent.
  std::map<std::string, Millis> last_sent_ms;
  // Every message sent in at least the last 48 hours, on any channel (the daily ceiling
  // counts those on contact channels). Older entries do no harm. When one step sends on
  // several channels at once, the engine adds each send here before deciding the next.
  std::vector<SentMessage> recent;
};

enum class SendAction { kSend, kDefer, kSkip };
const char* SendActionName(SendAction a);  // "send", "defer", "skip"

struct PolicyDecision {
  SendAction action = SendAction::kSend;
  // kSend: now. kDefer: when to decide again (> now). kSkip: 0.
  Millis not_before = 0;
  // Empty for kSend; otherwise one of "unsubscribed", "no_consent", "channel_cap",
  // "daily_ceiling", "quiet_hours", "quiet_day" (S7). For kDefer, the first policy that
  // blocked at `now`; for kSkip, the policy that drops the message.
  std::string reason;
};

// Whether to send a message on `channel` to `contact` at `now`. Order: unsubscribed, then
// consent (both skip), then channel cap, daily ceiling and quiet hours/days, each deferring
// or skipping as configured. A deferral moves to a time that satisfies every deferrable
// policy at once (iterated to a fixed point), so asking again at not_before with the same
// history says kSend and the engine reschedules exactly once. If a policy configured to skip
// blocks at that later time, the message is skipped now with that policy's reason, as it
// would be then.
// Does not check addresses or whether a channel is configured (the engine's "no_address",
// "channel_not_configured").
// Throws ConfigError("policies.timezone", ...) when a zone is needed (quiet hours or a
// ceiling apply) and neither the contact's nor the shop's zone is known,
// ConfigError("policies.daily_ceiling.max", ...) for a hand-built ceiling below 1,
// Error(kConfig) when the zone database cannot be read, and Error(kInternal) if the
// policies do not settle (only hand-built Policies that ParsePolicies would refuse).
PolicyDecision DecideSend(const Policies& policies, const std::string& channel,
                          const Contact& contact, const SendHistory& history, Millis now);

// ---- cart value thresholds across currencies (R3.10) ---------------------------------------

// "At least this much" for carts in any currency: a cart is compared with the minimum of its
// own currency when the shop gave one (per_currency), else converted into `currency` with
// the shop's rate table and compared with the minimum in `currency` (min_value, or
// per_currency[currency] when per_currency is given), else it does not qualify: a 250 JPY
// cart never passes a 200 EUR threshold. A min_value of 0 without per_currency lets every
// cart qualify.
struct ValueThreshold {
  std::string currency;             // the currency of min_value (the shop's), ISO 4217
  std::string min_value = "0";      // decimal text in `currency`; "0": every cart qualifies
  std::map<std::string, std::string> per_currency;  // currency -> decimal minimum in it
  // currency -> what one unit of it is worth in `currency` (decimal, > 0, at most 12
  // decimal places), e.g. {"JPY": "0.0061"} for a EUR shop.
  std::map<std::string, std::string> rates;
};

// Throws ConfigError("<prefix>.min_value" / ".min_value.<CUR>" / ".rates.<CUR>", ...) for a
// currency code that is not three upper-case letters, an amount that is not a decimal
// with at most the currency's digits or is negative, or a rate that is not > 0.
void ValidateValueThreshold(const ValueThreshold& threshold, const std::string& prefix);

// Whether a cart worth `value_minor` minor units of `cart_currency` reaches the threshold.
// Exact integer arithmetic (no floats). Assumes a validated threshold.
bool MeetsValueThreshold(const ValueThreshold& threshold, int64_t value_minor,
                         const std::string& cart_currency);

}  // namespace cartrecovery

#endif  // CARTRECOVERY_POLICY_H_
