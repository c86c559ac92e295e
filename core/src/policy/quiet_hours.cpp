// quiet_hours.cpp: quiet hours and quiet days on a zone's wall clock (S6, R3.2), and the
// local-day arithmetic the daily ceiling shares.
//
// Everything is computed on local time and converted back to UTC at the edges. Two things
// make that delicate: on a spring-forward day a local time may not exist (the clock jumps
// from 02:00 to 03:00), and on a fall-back day it may exist twice. Every conversion here
// therefore asks for "the first instant after t at which the wall clock shows this", which
// always exists (a skipped time becomes the end of the gap) and always moves forward, so
// the search below cannot stall or loop.
#include <chrono>
#include <exception>
#include <string>

#include "cartrecovery/policy.h"
#include "cartrecovery/status.h"
#include "policy/policy_internal.h"

namespace cartrecovery {
namespace internal {

namespace {

using Ms = std::chrono::milliseconds;

// A day costs at most two steps (the window, then a quiet day or the window again), so this
// covers a little more than a year of quiet days; more means the policy allows nothing.
constexpr int kMaxSteps = 800;

date::sys_time<Ms> Sys(Millis t) { return date::sys_time<Ms>{Ms{t}}; }
Millis ToMillis(date::sys_time<Ms> t) { return t.time_since_epoch().count(); }

date::local_time<Ms> Local(const date::time_zone* zone, Millis t) { return zone->to_local(Sys(t)); }

// The first instant after `after` at which zone's wall clock shows `wall` (or, when `wall`
// falls into a gap, the end of that gap). Callers pass a wall time later than after's own,
// so one of the two readings of an ambiguous time is always later; the last line is a
// guard that keeps the search moving should that ever fail.
Millis FirstInstantAfter(const date::time_zone* zone, date::local_time<Ms> wall, Millis after) {
  const Millis earliest = ToMillis(zone->to_sys(wall, date::choose::earliest));
  if (earliest > after) return earliest;
  const Millis latest = ToMillis(zone->to_sys(wall, date::choose::latest));
  if (latest > after) return latest;
  return after + kMinute;
}

bool IsQuietDay(const QuietHours& quiet, date::local_days day) {
  const date::weekday wd{day};
  if (quiet.days & (1u << wd.c_encoding())) return true;
  const date::year_month_day ymd{day};
  const CivilDate civil{static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                        static_cast<unsigned>(ymd.day())};
  for (const CivilDate& d : quiet.dates)
    if (d.month == civil.month && d.day == civil.day && (d.year == 0 || d.year == civil.year))
      return true;
  if (quiet.holidays.empty()) return false;
  if (quiet.holidays == "IR" && wd == date::Friday) return true;  // Iran's weekend
  return IsPublicHoliday(quiet.holidays, civil);
}

// When t's local time of day is inside the daily window: the local time the window ends.
std::optional<date::local_time<Ms>> WindowEnd(const QuietHours& quiet, date::local_time<Ms> local) {
  if (!quiet.HasWindow()) return std::nullopt;
  const date::local_days day = date::floor<date::days>(local);
  const Ms tod = local - day;
  const Ms from = std::chrono::minutes{quiet.from_minute};
  const Ms until = std::chrono::minutes{quiet.until_minute};
  if (from < until) {
    if (tod >= from && tod < until) return day + until;
    return std::nullopt;
  }
  // The window wraps midnight: its evening part ends tomorrow morning.
  if (tod >= from) return day + date::days{1} + until;
  if (tod < until) return day + until;
  return std::nullopt;
}

}  // namespace

const date::time_zone* FindZone(const std::string& name) {
  try {
    date::get_tzdb();
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kConfig,
                std::string("the IANA time zone database could not be read (is tzdata "
                            "installed in /usr/share/zoneinfo?): ") + e.what());
  }
  if (name.empty()) return nullptr;
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    // date/tz reports an unknown name only by throwing.
    return nullptr;
  }
}

date::local_days LocalDay(const date::time_zone* zone, Millis t) {
  return date::floor<date::days>(Local(zone, t));
}

Millis StartOfNextLocalDay(const date::time_zone* zone, Millis t) {
  return FirstInstantAfter(zone, date::local_time<Ms>{LocalDay(zone, t) + date::days{1}}, t);
}

QuietKind QuietAt(const QuietHours& quiet, const date::time_zone* zone, Millis t) {
  const date::local_time<Ms> local = Local(zone, t);
  if (IsQuietDay(quiet, date::floor<date::days>(local))) return QuietKind::kQuietDay;
  if (WindowEnd(quiet, local)) return QuietKind::kQuietHours;
  return QuietKind::kAllowed;
}

Millis NextAllowedIn(const QuietHours& quiet, const date::time_zone* zone, Millis t) {
  for (int step = 0; step < kMaxSteps; ++step) {
    const date::local_time<Ms> local = Local(zone, t);
    const date::local_days day = date::floor<date::days>(local);
    if (IsQuietDay(quiet, day)) {
      t = FirstInstantAfter(zone, date::local_time<Ms>{day + date::days{1}}, t);
      continue;
    }
    if (auto end = WindowEnd(quiet, local)) {
      t = FirstInstantAfter(zone, *end, t);
      continue;
    }
    return t;
  }
  throw Error(ErrorCode::kConfig, "quiet_hours: the quiet days and hours leave no time to send",
              "quiet_hours");
}

}  // namespace internal

bool IsKnownTimeZone(const std::string& name) { return internal::FindZone(name) != nullptr; }

Millis NextAllowed(const QuietHours& quiet, const std::string& time_zone, Millis t) {
  const date::time_zone* zone = internal::FindZone(time_zone);
  if (!zone) throw InvalidArgument("time_zone", "unknown time zone '" + time_zone + "'");
  return internal::NextAllowedIn(quiet, zone, t);
}

}  // namespace cartrecovery
