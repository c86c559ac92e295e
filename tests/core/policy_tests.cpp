// policy_tests: holidays, quiet hours on the wall clocks of several zones across DST changes
// (S6, R3.2), consent, the shared unsubscribe (R3.4), channel caps, the daily ceiling,
// the decision order and its deferrals (S7 reasons), and the policies document.
//
// Expected instants are written in UTC and were worked out by hand from the zones' offsets
// (Europe/Paris CET +1 / CEST +2, switching 2026-03-29 01:00Z and 2026-10-25 01:00Z;
// America/New_York EST -5 / EDT -4, switching 2026-03-08 07:00Z and 2026-11-01 06:00Z;
// Asia/Kolkata +5:30; Australia/Sydney AEDT +11 until 2026-04-04 16:00Z, then AEST +10),
// not computed with the library under test.
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cartrecovery/model.h"
#include "cartrecovery/policy.h"
#include "cartrecovery/status.h"

using namespace cartrecovery;

namespace {

// Days since 1970-01-01 of a Gregorian date (Hinnant's days_from_civil), so that the tests
// do not lean on date/tz for their own expectations.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// "2026-03-29T01:30Z" or "2026-03-29T01:30:15Z" -> UTC milliseconds.
Millis Utc(const std::string& s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &sec) < 5)
    throw std::runtime_error("bad test time " + s);
  return DaysFromCivil(y, mo, d) * kDay + h * kHour + mi * kMinute + sec * kSecond;
}

// The inverse, for readable failures.
std::string Iso(Millis t) {
  int64_t days = t >= 0 ? t / kDay : (t - kDay + 1) / kDay;
  Millis rest = t - days * kDay;
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", static_cast<long long>(y), m, d,
                static_cast<long long>(rest / kHour), static_cast<long long>(rest % kHour / kMinute),
                static_cast<long long>(rest % kMinute / kSecond));
  return buf;
}

QuietHours Window(int from_h, int from_m, int until_h, int until_m, uint8_t days = 0,
                  std::string holidays = "", PolicyAction action = PolicyAction::kDefer) {
  QuietHours q;
  q.from_minute = from_h * 60 + from_m;
  q.until_minute = until_h * 60 + until_m;
  q.days = days;
  q.holidays = std::move(holidays);
  q.action = action;
  return q;
}

const QuietHours kSms = Window(20, 0, 9, 0);  // R3.2, the default for sms
const uint8_t kSun = DayBit(Weekday::kSunday);

std::string Dates(const std::vector<CivilDate>& days) {
  std::string out;
  for (const CivilDate& d : days) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%02u-%02u", d.month, d.day);
    out += (out.empty() ? "" : " ") + std::string(buf);
  }
  return out;
}

Contact Shopper() {
  Contact c;
  c.key = "e:ann@example.com";
  c.email = "ann@example.com";
  c.phone = "+33612345678";
  c.consent.sms = true;
  c.consent.push = true;
  return c;
}

Policies Paris() {
  Policies p;
  p.timezone = "Europe/Paris";
  return p;
}

// Decision as one comparable line: "defer 2026-03-11T08:00:00Z quiet_hours".
std::string Show(const PolicyDecision& d) {
  std::string out = SendActionName(d.action);
  if (d.action == SendAction::kDefer) out += " " + Iso(d.not_before);
  if (!d.reason.empty()) out += " " + d.reason;
  return out;
}

std::string ErrorField(const std::string& json) {
  try {
    ParsePolicies(json);
  } catch (const Error& e) {
    BOOST_TEST(static_cast<int>(e.code()) == static_cast<int>(ErrorCode::kConfig));
    return e.field();
  }
  return "<accepted>";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(policy_tests)

// ---- calendar -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(easter_sunday_matches_published_dates) {
  struct Row { int year; unsigned month, day; };
  const Row rows[] = {
      {1818, 3, 22}, {1943, 4, 25}, {2000, 4, 23}, {2008, 3, 23}, {2011, 4, 24}, {2019, 4, 21},
      {2024, 3, 31}, {2025, 4, 20}, {2026, 4, 5},  {2027, 3, 28}, {2038, 4, 25}, {2285, 3, 22},
  };
  for (const Row& r : rows) {
    BOOST_TEST_CONTEXT(r.year) {
      const CivilDate e = EasterSunday(r.year);
      BOOST_TEST(e.year == r.year);
      BOOST_TEST(e.month == r.month);
      BOOST_TEST(e.day == r.day);
    }
  }
}

BOOST_AUTO_TEST_CASE(national_holidays_2026) {
  BOOST_TEST(Dates(PublicHolidays("FR", 2026)) ==
             "01-01 04-06 05-01 05-08 05-14 05-25 07-14 08-15 11-01 11-11 12-25");
  BOOST_TEST(Dates(PublicHolidays("DE", 2026)) == "01-01 04-03 04-06 05-01 05-14 05-25 10-03 12-25 12-26");
  BOOST_TEST(Dates(PublicHolidays("PL", 2026)) ==
             "01-01 01-06 04-05 04-06 05-01 05-03 05-24 06-04 08-15 11-01 11-11 12-24 12-25 12-26");
  // Wigilia became a holiday in 2025.
  BOOST_TEST(Dates(PublicHolidays("PL", 2024)) ==
             "01-01 01-06 03-31 04-01 05-01 05-03 05-19 05-30 08-15 11-01 11-11 12-25 12-26");
  // 2008: Ascension fell on May 1 in France; listed once.
  BOOST_TEST(Dates(PublicHolidays("FR", 2008)) ==
             "01-01 03-24 05-01 05-08 05-12 07-14 08-15 11-01 11-11 12-25");
  // Romania keeps Orthodox Easter (12 April 2026, Western Easter was 5 April); Iran the
  // Solar Hijri holidays (Nowruz 1405 = 21 March 2026). tests/python/test_quiet_days.py
  // checks both against the `holidays` package for 2020-2035.
  BOOST_TEST(Dates(PublicHolidays("RO", 2026)) ==
             "01-01 01-02 01-06 01-07 01-24 04-10 04-12 04-13 05-01 05-31 06-01 08-15 11-30 12-01 "
             "12-25 12-26");
  BOOST_TEST(Dates(PublicHolidays("IR", 2026)) ==
             "02-11 03-20 03-21 03-22 03-23 03-24 04-01 04-02 06-04 06-05");
  BOOST_TEST(IsPublicHoliday("FR", CivilDate{2026, 7, 14}));
  BOOST_TEST(!IsPublicHoliday("FR", CivilDate{2026, 7, 15}));
  BOOST_TEST(!IsPublicHoliday("FR", CivilDate{2026, 12, 26}));
  BOOST_TEST(IsPublicHoliday("DE", CivilDate{2026, 12, 26}));
  BOOST_TEST(IsHolidayCountry("FR"));
  BOOST_TEST(!IsHolidayCountry("fr"));
  BOOST_TEST(!IsHolidayCountry("XX"));
  try {
    PublicHolidays("XX", 2026);
    BOOST_FAIL("XX accepted");
  } catch (const Error& e) {
    BOOST_TEST(static_cast<int>(e.code()) == static_cast<int>(ErrorCode::kInvalidArgument));
    BOOST_TEST(e.field() == "country");
  }
}

// ---- quiet hours --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(next_allowed_across_zones_windows_and_dst) {
  const QuietHours night = Window(1, 0, 2, 30);        // ends inside the DST hour
  const QuietHours gap_start = Window(2, 15, 5, 0);    // begins inside the spring gap
  const QuietHours lunch = Window(12, 0, 14, 0);       // does not wrap
  const QuietHours to_midnight = Window(22, 0, 0, 0);  // wraps to exactly 00:00
  const QuietHours from_midnight = Window(0, 0, 6, 0);
  struct Row {
    const char* name;
    QuietHours quiet;
    const char* zone;
    const char* t;
    const char* expected;
  };
  const Row rows[] = {
      // R3.2: left at 17:00 with a 4 h delay: due 21:00, quiet, sent 09:00 the next day.
      {"R3.2 winter", kSms, "Europe/Paris", "2026-03-10T20:00Z", "2026-03-11T08:00:00Z"},
      {"R3.2 summer", kSms, "Europe/Paris", "2026-06-10T19:00Z", "2026-06-11T07:00:00Z"},
      {"noon is allowed", kSms, "Europe/Paris", "2026-03-10T11:00Z", "2026-03-10T11:00:00Z"},
      {"19:59 is allowed", kSms, "Europe/Paris", "2026-03-10T18:59Z", "2026-03-10T18:59:00Z"},
      {"20:00 is quiet", kSms, "Europe/Paris", "2026-03-10T19:00Z", "2026-03-11T08:00:00Z"},
      {"09:00 is allowed", kSms, "Europe/Paris", "2026-03-10T08:00Z", "2026-03-10T08:00:00Z"},
      {"08:59:30 waits 30 s", kSms, "Europe/Paris", "2026-03-10T07:59:30Z", "2026-03-10T08:00:00Z"},
      {"after midnight", kSms, "Europe/Paris", "2026-03-10T23:30Z", "2026-03-11T08:00:00Z"},
      {"into spring-forward", kSms, "Europe/Paris", "2026-03-28T21:00Z", "2026-03-29T07:00:00Z"},
      {"just after the gap", kSms, "Europe/Paris", "2026-03-29T01:00Z", "2026-03-29T07:00:00Z"},
      {"into fall-back", kSms, "Europe/Paris", "2026-10-24T19:00Z", "2026-10-25T08:00:00Z"},
      {"repeated hour, 1st", kSms, "Europe/Paris", "2026-10-25T00:30Z", "2026-10-25T08:00:00Z"},
      {"repeated hour, 2nd", kSms, "Europe/Paris", "2026-10-25T01:30Z", "2026-10-25T08:00:00Z"},
      {"end in the gap", night, "Europe/Paris", "2026-03-29T00:30Z", "2026-03-29T01:00:00Z"},
      {"start of night, spring", night, "Europe/Paris", "2026-03-29T00:00Z", "2026-03-29T01:00:00Z"},
      {"end at 1st 02:30", night, "Europe/Paris", "2026-10-24T23:30Z", "2026-10-25T00:30:00Z"},
      {"02:45 CEST allowed", night, "Europe/Paris", "2026-10-25T00:45Z", "2026-10-25T00:45:00Z"},
      {"02:00 CET quiet again", night, "Europe/Paris", "2026-10-25T01:00Z", "2026-10-25T01:30:00Z"},
      {"02:10 CET to 02:30 CET", night, "Europe/Paris", "2026-10-25T01:10Z", "2026-10-25T01:30:00Z"},
      {"before the gap", gap_start, "Europe/Paris", "2026-03-29T00:30Z", "2026-03-29T00:30:00Z"},
      {"start lost in gap", gap_start, "Europe/Paris", "2026-03-29T01:00Z", "2026-03-29T03:00:00Z"},
      {"lunch", lunch, "Europe/Paris", "2026-03-10T11:30Z", "2026-03-10T13:00:00Z"},
      {"after lunch", lunch, "Europe/Paris", "2026-03-10T13:00Z", "2026-03-10T13:00:00Z"},
      {"before lunch", lunch, "Europe/Paris", "2026-03-10T10:59Z", "2026-03-10T10:59:00Z"},
      {"until midnight", to_midnight, "Europe/Paris", "2026-03-10T21:30Z", "2026-03-10T23:00:00Z"},
      {"midnight allowed", to_midnight, "Europe/Paris", "2026-03-10T23:00Z", "2026-03-10T23:00:00Z"},
      {"23:59 allowed", from_midnight, "Europe/Paris", "2026-03-10T22:59Z", "2026-03-10T22:59:00Z"},
      {"from midnight", from_midnight, "Europe/Paris", "2026-03-10T23:00Z", "2026-03-11T05:00:00Z"},
      {"NY into spring", kSms, "America/New_York", "2026-03-08T02:00Z", "2026-03-08T13:00:00Z"},
      {"NY after the gap", kSms, "America/New_York", "2026-03-08T07:30Z", "2026-03-08T13:00:00Z"},
      {"NY noon EDT", kSms, "America/New_York", "2026-03-08T16:00Z", "2026-03-08T16:00:00Z"},
      {"NY into fall", kSms, "America/New_York", "2026-11-01T02:00Z", "2026-11-01T14:00:00Z"},
      {"NY 01:30 EDT", kSms, "America/New_York", "2026-11-01T05:30Z", "2026-11-01T14:00:00Z"},
      {"NY 01:30 EST", kSms, "America/New_York", "2026-11-01T06:30Z", "2026-11-01T14:00:00Z"},
      {"NY end in the gap", night, "America/New_York", "2026-03-08T06:30Z", "2026-03-08T07:00:00Z"},
      {"NY 1st 01:30", night, "America/New_York", "2026-11-01T05:30Z", "2026-11-01T07:30:00Z"},
      {"NY 2nd 01:30", night, "America/New_York", "2026-11-01T06:30Z", "2026-11-01T07:30:00Z"},
      {"Kolkata evening", kSms, "Asia/Kolkata", "2026-03-10T15:00Z", "2026-03-11T03:30:00Z"},
      {"Kolkata 08:59", kSms, "Asia/Kolkata", "2026-03-10T03:29Z", "2026-03-10T03:30:00Z"},
      {"Sydney DST ends", kSms, "Australia/Sydney", "2026-04-04T10:00Z", "2026-04-04T23:00:00Z"},
      {"UTC", kSms, "UTC", "2026-03-10T20:00Z", "2026-03-11T09:00:00Z"},
      {"a link name", kSms, "US/Eastern", "2026-03-08T02:00Z", "2026-03-08T13:00:00Z"},
  };
  for (const Row& r : rows) {
    BOOST_TEST_CONTEXT(r.name << " (" << r.zone << ", " << r.t << ")") {
      BOOST_TEST(Iso(NextAllowed(r.quiet, r.zone, Utc(r.t))) == r.expected);
    }
  }
}

BOOST_AUTO_TEST_CASE(quiet_days_sundays_and_holidays) {
  const QuietHours fr = Window(20, 0, 9, 0, kSun, "FR");
  const QuietHours fr_holidays_only = Window(20, 0, 9, 0, 0, "FR");
  const QuietHours sundays_only = Window(0, 0, 0, 0, kSun);
  const QuietHours de = Window(20, 0, 9, 0, kSun, "DE");
  const QuietHours pl = Window(20, 0, 9, 0, kSun, "PL");
  struct Row {
    const char* name;
    QuietHours quiet;
    const char* zone;
    const char* t;
    const char* expected;
  };
  const Row rows[] = {
      {"Saturday night over Sunday", fr, "Europe/Paris", "2026-03-14T20:00Z", "2026-03-16T08:00:00Z"},
      {"Sunday noon", fr, "Europe/Paris", "2026-03-15T11:00Z", "2026-03-16T08:00:00Z"},
      {"Saturday 19:59", fr, "Europe/Paris", "2026-03-14T18:59Z", "2026-03-14T18:59:00Z"},
      {"Sunday of spring-forward", fr, "Europe/Paris", "2026-03-28T21:00Z", "2026-03-30T07:00:00Z"},
      {"whole Sunday, no window", sundays_only, "Europe/Paris", "2026-03-15T11:00Z", "2026-03-15T23:00:00Z"},
      {"Easter Sunday + Monday", fr, "Europe/Paris", "2026-04-04T19:00Z", "2026-04-07T07:00:00Z"},
      {"Easter Monday alone", fr_holidays_only, "Europe/Paris", "2026-04-05T19:00Z", "2026-04-07T07:00:00Z"},
      {"Ascension", fr, "Europe/Paris", "2026-05-13T18:30Z", "2026-05-15T07:00:00Z"},
      {"Whit Monday", fr, "Europe/Paris", "2026-05-23T18:00Z", "2026-05-26T07:00:00Z"},
      {"Bastille Day", fr, "Europe/Paris", "2026-07-14T08:00Z", "2026-07-15T07:00:00Z"},
      {"eve of Bastille Day", fr, "Europe/Paris", "2026-07-13T17:59Z", "2026-07-13T17:59:00Z"},
      {"May 1 then Saturday", fr, "Europe/Paris", "2026-04-30T19:00Z", "2026-05-02T07:00:00Z"},
      {"May 8", fr, "Europe/Paris", "2026-05-07T19:00Z", "2026-05-09T07:00:00Z"},
      {"All Saints on a Sunday", fr_holidays_only, "Europe/Paris", "2026-10-31T20:00Z", "2026-11-02T08:00:00Z"},
      {"Armistice", fr, "Europe/Paris", "2026-11-10T19:30Z", "2026-11-12T08:00:00Z"},
      {"Christmas, no Dec 26 in FR", fr, "Europe/Paris", "2026-12-24T19:00Z", "2026-12-26T08:00:00Z"},
      {"Christmas, Dec 26, Sunday DE", de, "Europe/Berlin", "2026-12-24T19:00Z", "2026-12-28T08:00:00Z"},
      {"New Year over the year end", fr, "Europe/Paris", "2026-12-31T19:30Z", "2027-01-02T08:00:00Z"},
      {"Corpus Christi PL", pl, "Europe/Warsaw", "2026-06-03T18:30Z", "2026-06-05T07:00:00Z"},
  };
  for (const Row& r : rows) {
    BOOST_TEST_CONTEXT(r.name << " (" << r.zone << ", " << r.t << ")") {
      BOOST_TEST(Iso(NextAllowed(r.quiet, r.zone, Utc(r.t))) == r.expected);
    }
  }
}

// Whatever the zone, the window and the instant: the answer is allowed, not earlier than
// asked, and the first such instant (the minute before it, when later than t, is quiet).
BOOST_AUTO_TEST_CASE(next_allowed_is_the_first_allowed_instant) {
  const QuietHours windows[] = {kSms, Window(1, 0, 2, 30), Window(2, 15, 5, 0), Window(12, 0, 14, 0),
                                Window(23, 30, 0, 30, kSun, "FR"), Window(0, 0, 0, 0, kSun, "DE")};
  const char* zones[] = {"Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Sydney"};
  const char* starts[] = {"2026-03-07T00:00Z", "2026-03-27T00:00Z", "2026-10-23T00:00Z", "2026-10-30T00:00Z",
                          "2026-04-02T00:00Z"};
  int checked = 0;
  for (const QuietHours& q : windows) {
    for (const char* zone : zones) {
      for (const char* start : starts) {
        for (Millis t = Utc(start); t < Utc(start) + 3 * kDay; t += 23 * kMinute) {
          const Millis r = NextAllowed(q, zone, t);
          BOOST_TEST_CONTEXT(zone << " t=" << Iso(t) << " -> " << Iso(r)) {
            BOOST_TEST(r >= t);
            BOOST_TEST(NextAllowed(q, zone, r) == r);
            if (r - kMinute >= t) BOOST_TEST(NextAllowed(q, zone, r - kMinute) == r);
          }
          ++checked;
        }
      }
    }
  }
  BOOST_TEST(checked > 3000);
}

BOOST_AUTO_TEST_CASE(next_allowed_errors) {
  try {
    NextAllowed(kSms, "Mars/Olympus_Mons", Utc("2026-03-10T20:00Z"));
    BOOST_FAIL("unknown zone accepted");
  } catch (const Error& e) {
    BOOST_TEST(static_cast<int>(e.code()) == static_cast<int>(ErrorCode::kInvalidArgument));
    BOOST_TEST(e.field() == "time_zone");
  }
  // Only a hand-built policy can make every day quiet; it must end, not hang.
  try {
    NextAllowed(Window(0, 0, 0, 0, kEveryDay), "Europe/Paris", Utc("2026-03-10T20:00Z"));
    BOOST_FAIL("every day quiet accepted");
  } catch (const Error& e) {
    BOOST_TEST(static_cast<int>(e.code()) == static_cast<int>(ErrorCode::kConfig));
  }
  BOOST_TEST(IsKnownTimeZone("Europe/Paris"));
  BOOST_TEST(IsKnownTimeZone("UTC"));
  BOOST_TEST(!IsKnownTimeZone("Mars/Olympus_Mons"));
  BOOST_TEST(!IsKnownTimeZone(""));
}

// ---- decisions ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(r32_through_the_decision) {
  const Policies p = Paris();
  const Contact c = Shopper();
  // Left at 17:00, SMS step 4 h later.
  BOOST_TEST(Show(DecideSend(p, "sms", c, {}, Utc("2026-03-10T20:00Z"))) == "defer 2026-03-11T08:00:00Z quiet_hours");
  BOOST_TEST(Show(DecideSend(p, "sms", c, {}, Utc("2026-03-11T08:00Z"))) == "send");
  // E-mail has no quiet hours by default.
  BOOST_TEST(Show(DecideSend(p, "email", c, {}, Utc("2026-03-10T20:00Z"))) == "send");
  const PolicyDecision now = DecideSend(p, "email", c, {}, Utc("2026-03-10T20:00Z"));
  BOOST_TEST(now.not_before == Utc("2026-03-10T20:00Z"));
}

BOOST_AUTO_TEST_CASE(contact_zone_then_shop_zone) {
  const Policies p = Paris();
  struct Row {
    const char* contact_zone;
    const char* effective;
    const char* expected;
  };
  // 22:00Z: 23:00 in Paris, 18:00 in New York (EDT), 03:30 in Kolkata.
  const Row rows[] = {
      {"America/New_York", "America/New_York", "send"},
      {"Asia/Kolkata", "Asia/Kolkata", "defer 2026-03-11T03:30:00Z quiet_hours"},
      {"", "Europe/Paris", "defer 2026-03-11T08:00:00Z quiet_hours"},
      {"Mars/Olympus_Mons", "Europe/Paris", "defer 2026-03-11T08:00:00Z quiet_hours"},
      {"europe/paris", "Europe/Paris", "defer 2026-03-11T08:00:00Z quiet_hours"},
  };
  for (const Row& r : rows) {
    BOOST_TEST_CONTEXT("'" << r.contact_zone << "'") {
      Contact c = Shopper();
      c.timezone = r.contact_zone;
      BOOST_TEST(EffectiveTimeZone(p, c) == r.effective);
      BOOST_TEST(Show(DecideSend(p, "sms", c, {}, Utc("2026-03-10T22:00Z"))) == r.expected);
    }
  }
  // A shop zone that is not known is a configuration error, named by its setting, but only
  // once a zone is needed.
  Policies bad = p;
  bad.timezone = "Mars/Base";
  BOOST_TEST(Show(DecideSend(bad, "email", Shopper(), {}, Utc("2026-03-10T22:00Z"))) == "send");
  try {
    DecideSend(bad, "sms", Shopper(), {}, Utc("2026-03-10T22:00Z"));
    BOOST_FAIL("unknown shop zone accepted");
  } catch (const Error& e) {
    BOOST_TEST(static_cast<int>(e.code()) == static_cast<int>(ErrorCode::kConfig));
    BOOST_TEST(e.field() == "policies.timezone");
  }
  // ...while a known contact zone carries on.
  Contact ny = Shopper();
  ny.timezone = "America/New_York";
  BOOST_TEST(Show(DecideSend(bad, "sms", ny, {}, Utc("2026-03-10T22:00Z"))) == "send");
}

BOOST_AUTO_TEST_CASE(consent_rules_per_channel) {
  Policies p = Paris();
  p.consent["whatsapp"] = ConsentRule::kRequired;
  p.consent["viber"] = ConsentRule::kUnlessRefused;
  struct Row {
    const char* channel;
    std::optional<bool> given;  // for email, sms, push: the contact's consent for it
    const char* expected;
  };
  const std::optional<bool> never;
  const Row rows[] = {
      {"email", never, "send"},       {"email", true, "send"},       {"email", false, "skip no_consent"},
      {"sms", never, "skip no_consent"}, {"sms", true, "send"},      {"sms", false, "skip no_consent"},
      {"push", never, "skip no_consent"}, {"push", true, "send"},    {"push", false, "skip no_consent"},
      {"webhook", never, "send"},     {"webhook", false, "send"},
      {"whatsapp", never, "skip no_consent"}, {"whatsapp", true, "skip no_consent"},
      {"viber", never, "send"},
  };
  for (const Row& r : rows) {
    BOOST_TEST_CONTEXT(r.channel << " consent " << (r.given ? (*r.given ? "yes" : "no") : "never said")) {
      Contact c = Shopper();
      // All channels refuse or agree alike, so the row's channel decides alone.
      c.consent.email = c.consent.sms = c.consent.push = r.given;
      BOOST_TEST(Show(DecideSend(p, r.channel, c, {}, Utc("2026-03-10T11:00Z"))) == r.expected);
    }
  }
  // A shop may ask for an explicit yes for e-mail too.
  p.consent["email"] = ConsentRule::kRequired;
  Contact c = Shopper();
  BOOST_TEST(Show(DecideSend(p, "email", c, {}, Utc("2026-03-10T11:00Z"))) == "skip no_consent");
  c.consent.email = true;
  BOOST_TEST(Show(DecideSend(p, "email", c, {}, Utc("2026-03-10T11:00Z"))) == "send");
}

BOOST_AUTO_TEST_CASE(unsubscribe_stops_every_contact_channel) {
  Policies p = Paris();
  p.consent["viber"] = ConsentRule::kUnlessRefused;
  Contact c = Shopper();
  c.consent.email = true;
  c.unsubscribed = true;
  for (const char* channel : {"email", "sms", "push", "viber"}) {
    BOOST_TEST_CONTEXT(channel) {
      BOOST_TEST(Show(DecideSend(p, channel, c, {}, Utc("2026-03-10T11:00Z"))) == "skip unsubscribed");
    }
  }
  // The shop's own webhook is not a message to the shopper.
  BOOST_TEST(Show(DecideSend(p, "webhook", c, {}, Utc("2026-03-10T11:00Z"))) == "send");
}

BOOST_AUTO_TEST_CASE(channel_caps_are_independent) {
  Policies p = Paris();
  p.channel_caps["email"] = ChannelCap{12 * kHour, PolicyAction::kDefer};
  p.channel_caps["sms"] = ChannelCap{2 * kDay, PolicyAction::kSkip};
  const Contact c = Shopper();
  const Millis now = Utc("2026-03-10T11:00Z");
  struct Row {
    const char* name;
    std::optional<Millis> last_email, last_sms;
    const char* email, *sms;
  };
  const Row rows[] = {
      {"nothing sent yet", std::nullopt, std::nullopt, "send", "send"},
      {"e-mail 6 h ago", now - 6 * kHour, std::nullopt, "defer 2026-03-10T17:00:00Z channel_cap", "send"},
      {"e-mail a minute ago", now - kMinute, now - 3 * kDay, "defer 2026-03-10T22:59:00Z channel_cap", "send"},
      {"e-mail exactly 12 h ago", now - 12 * kHour, std::nullopt, "send", "send"},
      {"sms a day ago", now - 13 * kHour, now - kDay, "send", "skip channel_cap"},
      {"sms 47h59 ago", std::nullopt, now - 2 * kDay + kMinute, "send", "skip channel_cap"},
  };
  for (const Row& r : rows) {
    BOOST_TEST_CONTEXT(r.name) {
      SendHistory h;
      if (r.last_email) h.last_sent_ms["email"] = *r.last_email;
      if (r.last_sms) h.last_sent_ms["sms"] = *r.last_sms;
      h.last_sent_ms["webhook"] = now;  // another channel's sends count for nothing here
      BOOST_TEST(Show(DecideSend(p, "email", c, h, now)) == r.email);
      BOOST_TEST(Show(DecideSend(p, "sms", c, h, now)) == r.sms);
    }
  }
}

BOOST_AUTO_TEST_CASE(daily_ceiling_counts_contact_channels_per_local_day) {
  Policies p = Paris();
  p.daily_ceiling = DailyCeiling{2, PolicyAction::kDefer};
  struct Row {
    const char* name;
    const char* zone;
    std::vector<SentMessage> recent;
    const char* now;
    const char* channel;
    const char* expected;
  };
  const Row rows[] = {
      {"two today: e-mail to midnight", "", {{"email", Utc("2026-03-10T08:00Z")}, {"sms", Utc("2026-03-10T10:00Z")}},
       "2026-03-10T15:00Z", "email", "defer 2026-03-10T23:00:00Z daily_ceiling"},
      {"two today: sms to midnight, then 09:00", "",
       {{"email", Utc("2026-03-10T08:00Z")}, {"sms", Utc("2026-03-10T10:00Z")}}, "2026-03-10T15:00Z", "sms",
       "defer 2026-03-11T08:00:00Z daily_ceiling"},
      {"webhook is not ceilinged", "", {{"email", Utc("2026-03-10T08:00Z")}, {"sms", Utc("2026-03-10T10:00Z")}},
       "2026-03-10T15:00Z", "webhook", "send"},
      {"one today", "", {{"email", Utc("2026-03-10T08:00Z")}}, "2026-03-10T15:00Z", "email", "send"},
      {"webhooks are not counted", "",
       {{"email", Utc("2026-03-10T08:00Z")}, {"webhook", Utc("2026-03-10T09:00Z")}, {"webhook", Utc("2026-03-10T09:01Z")}},
       "2026-03-10T15:00Z", "email", "send"},
      {"reset at local midnight", "",
       {{"email", Utc("2026-03-09T22:30Z")}, {"sms", Utc("2026-03-09T22:50Z")}, {"email", Utc("2026-03-09T23:10Z")}},
       "2026-03-10T15:00Z", "email", "send"},
      {"a minute before local midnight", "",
       {{"email", Utc("2026-03-09T22:30Z")}, {"sms", Utc("2026-03-09T22:50Z")}}, "2026-03-09T22:59Z", "email",
       "defer 2026-03-09T23:00:00Z daily_ceiling"},
      {"Paris day: both today", "", {{"email", Utc("2026-03-10T02:00Z")}, {"email", Utc("2026-03-10T03:00Z")}},
       "2026-03-10T15:00Z", "email", "defer 2026-03-10T23:00:00Z daily_ceiling"},
      {"New York day: both yesterday", "America/New_York",
       {{"email", Utc("2026-03-10T02:00Z")}, {"email", Utc("2026-03-10T03:00Z")}}, "2026-03-10T15:00Z", "email",
       "send"},
      {"23 h day", "", {{"email", Utc("2026-03-29T08:00Z")}, {"email", Utc("2026-03-29T09:00Z")}},
       "2026-03-29T12:00Z", "email", "defer 2026-03-29T22:00:00Z daily_ceiling"},
      {"25 h day", "", {{"email", Utc("2026-10-25T08:00Z")}, {"email", Utc("2026-10-25T09:00Z")}},
       "2026-10-25T12:00Z", "email", "defer 2026-10-25T23:00:00Z daily_ceiling"},
  };
  for (const Row& r : rows) {
    BOOST_TEST_CONTEXT(r.name) {
      Contact c = Shopper();
      c.timezone = r.zone;
      SendHistory h;
      h.recent = r.recent;
      BOOST_TEST(Show(DecideSend(p, r.channel, c, h, Utc(r.now))) == r.expected);
    }
  }
  p.daily_ceiling->action = PolicyAction::kSkip;
  SendHistory h;
  h.recent = {{"email", Utc("2026-03-10T08:00Z")}, {"push", Utc("2026-03-10T10:00Z")}};
  BOOST_TEST(Show(DecideSend(p, "email", Shopper(), h, Utc("2026-03-10T15:00Z"))) == "skip daily_ceiling");
}

// Unsubscribed, then consent, then caps, the ceiling, quiet hours and days: the reason is
// the first that blocks, and a deferral satisfies every deferrable policy at once.
BOOST_AUTO_TEST_CASE(decision_order_and_fixed_point) {
  Policies p = Paris();
  p.quiet_hours["sms"] = Window(20, 0, 9, 0, kSun, "FR");
  p.channel_caps["sms"] = ChannelCap{2 * kHour, PolicyAction::kDefer};
  p.daily_ceiling = DailyCeiling{1, PolicyAction::kDefer};
  const Millis evening = Utc("2026-03-10T19:30Z");  // Tuesday 20:30, quiet
  SendHistory capped;
  capped.last_sent_ms["sms"] = evening - kHour;
  SendHistory full;
  full.recent = {{"email", Utc("2026-03-10T08:00Z")}};
  SendHistory both = capped;
  both.recent = full.recent;
  struct Row {
    const char* name;
    bool unsubscribed;
    std::optional<bool> sms_consent;
    SendHistory history;
    const char* now;
    const char* expected;
  };
  const Row rows[] = {
      {"unsubscribed wins", true, false, both, "2026-03-10T19:30Z", "skip unsubscribed"},
      {"then consent", false, std::nullopt, both, "2026-03-10T19:30Z", "skip no_consent"},
      {"then the cap", false, true, both, "2026-03-10T19:30Z", "defer 2026-03-11T08:00:00Z channel_cap"},
      {"then the ceiling", false, true, full, "2026-03-10T19:30Z", "defer 2026-03-11T08:00:00Z daily_ceiling"},
      {"then quiet hours", false, true, {}, "2026-03-10T19:30Z", "defer 2026-03-11T08:00:00Z quiet_hours"},
      {"quiet day", false, true, {}, "2026-03-15T11:00Z", "defer 2026-03-16T08:00:00Z quiet_day"},
      // 18:00 + a 2 h cap = 20:00, quiet: one deferral to the morning, not two.
      {"cap into quiet hours", false, true,
       [] { SendHistory h; h.last_sent_ms["sms"] = Utc("2026-03-10T17:30Z"); return h; }(), "2026-03-10T18:00Z",
       "defer 2026-03-11T08:00:00Z channel_cap"},
      // Saturday afternoon, ceiling reached: midnight is Sunday (quiet), Monday 09:00.
      {"ceiling into Sunday", false, true,
       [] { SendHistory h; h.recent = {{"email", Utc("2026-03-14T08:00Z")}}; return h; }(), "2026-03-14T14:00Z",
       "defer 2026-03-16T08:00:00Z daily_ceiling"},
      // Easter Saturday: Sunday and Easter Monday are quiet.
      {"ceiling over Easter", false, true,
       [] { SendHistory h; h.recent = {{"email", Utc("2026-04-04T08:00Z")}}; return h; }(), "2026-04-04T14:00Z",
       "defer 2026-04-07T07:00:00Z daily_ceiling"},
  };
  for (const Row& r : rows) {
    BOOST_TEST_CONTEXT(r.name << " at " << r.now) {
      Contact c = Shopper();
      c.unsubscribed = r.unsubscribed;
      c.consent.sms = r.sms_consent;
      const PolicyDecision d = DecideSend(p, "sms", c, r.history, Utc(r.now));
      BOOST_TEST(Show(d) == r.expected);
      if (d.action == SendAction::kDefer) {
        // Asked again at not_before with the same history: it goes.
        BOOST_TEST(Show(DecideSend(p, "sms", c, r.history, d.not_before)) == "send");
      }
    }
  }
}

// A later policy can push the time onto a day an earlier one blocks when the history holds
// a send stamped after `now` (another worker whose clock runs ahead): the policies are
// re-applied until none moves the time, so one deferral still suffices.
BOOST_AUTO_TEST_CASE(policies_are_reapplied_until_none_moves) {
  Policies p = Paris();
  p.daily_ceiling = DailyCeiling{1, PolicyAction::kDefer};
  SendHistory h;
  h.recent = {{"email", Utc("2026-03-11T08:30Z")}};
  // 20:30 Tuesday, quiet until 09:00 Wednesday, but Wednesday already has its message.
  const PolicyDecision d = DecideSend(p, "sms", Shopper(), h, Utc("2026-03-10T19:30Z"));
  BOOST_TEST(Show(d) == "defer 2026-03-12T08:00:00Z quiet_hours");
  BOOST_TEST(Show(DecideSend(p, "sms", Shopper(), h, d.not_before)) == "send");
}

BOOST_AUTO_TEST_CASE(a_skipping_policy_at_the_deferred_time_skips_now) {
  Policies p = Paris();
  p.quiet_hours["sms"] = Window(20, 0, 9, 0, 0, "", PolicyAction::kSkip);
  p.channel_caps["sms"] = ChannelCap{2 * kHour, PolicyAction::kDefer};
  SendHistory h;
  h.last_sent_ms["sms"] = Utc("2026-03-10T17:30Z");
  // The cap moves 19:00 CET to 20:30 CET, inside quiet hours, which skip.
  BOOST_TEST(Show(DecideSend(p, "sms", Shopper(), h, Utc("2026-03-10T18:00Z"))) == "skip quiet_hours");
  // Earlier, the cap ends before 20:00: deferred.
  h.last_sent_ms["sms"] = Utc("2026-03-10T16:00Z");
  BOOST_TEST(Show(DecideSend(p, "sms", Shopper(), h, Utc("2026-03-10T17:00Z"))) ==
             "defer 2026-03-10T18:00:00Z channel_cap");
  // Quiet days that skip name themselves.
  p.quiet_hours["sms"] = Window(20, 0, 9, 0, kSun, "", PolicyAction::kSkip);
  BOOST_TEST(Show(DecideSend(p, "sms", Shopper(), {}, Utc("2026-03-15T11:00Z"))) == "skip quiet_day");
}

// The engine reschedules exactly once: for every instant over two DST weeks and Easter,
// asking again at not_before (same history) sends.
BOOST_AUTO_TEST_CASE(deferral_is_final_across_dst_weeks) {
  Policies p = Paris();
  p.quiet_hours["sms"] = Window(20, 0, 9, 0, kSun, "FR");
  p.quiet_hours["push"] = Window(22, 0, 7, 30);
  p.channel_caps["sms"] = ChannelCap{3 * kHour, PolicyAction::kDefer};
  p.channel_caps["email"] = ChannelCap{12 * kHour, PolicyAction::kDefer};
  p.daily_ceiling = DailyCeiling{2, PolicyAction::kDefer};
  int deferred = 0, sent = 0;
  for (const char* zone : {"", "America/New_York"}) {
    for (const char* start : {"2026-03-27T00:00Z", "2026-10-23T00:00Z", "2026-04-02T00:00Z"}) {
      for (Millis now = Utc(start); now < Utc(start) + 5 * kDay; now += 37 * kMinute) {
        Contact c = Shopper();
        c.timezone = zone;
        SendHistory h;
        h.last_sent_ms["email"] = now - 5 * kHour;
        h.last_sent_ms["sms"] = now - 2 * kHour;
        h.recent = {{"sms", now - 2 * kHour}, {"webhook", now - kHour}};
        for (const char* channel : {"email", "sms", "push"}) {
          const PolicyDecision d = DecideSend(p, channel, c, h, now);
          BOOST_TEST_CONTEXT(channel << " zone '" << zone << "' now " << Iso(now) << ": " << Show(d)) {
            BOOST_TEST((d.action != SendAction::kSkip));
            if (d.action == SendAction::kSend) {
              BOOST_TEST(d.not_before == now);
              ++sent;
            } else {
              BOOST_TEST(d.not_before > now);
              BOOST_TEST(Show(DecideSend(p, channel, c, h, d.not_before)) == "send");
              ++deferred;
            }
          }
        }
      }
    }
  }
  BOOST_TEST(deferred > 100);
  BOOST_TEST(sent > 100);
}

// ---- the policies document ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(defaults) {
  const Policies p;
  BOOST_TEST(p.timezone == "UTC");
  BOOST_TEST(p.quiet_hours.size() == 1u);
  BOOST_TEST((p.quiet_hours.at("sms") == Window(20, 0, 9, 0)));
  BOOST_TEST(p.channel_caps.empty());
  BOOST_TEST(!p.daily_ceiling.has_value());
  BOOST_TEST(static_cast<int>(p.ConsentFor("email")) == static_cast<int>(ConsentRule::kUnlessRefused));
  BOOST_TEST(static_cast<int>(p.ConsentFor("sms")) == static_cast<int>(ConsentRule::kRequired));
  BOOST_TEST(static_cast<int>(p.ConsentFor("push")) == static_cast<int>(ConsentRule::kRequired));
  BOOST_TEST(static_cast<int>(p.ConsentFor("webhook")) == static_cast<int>(ConsentRule::kNone));
  BOOST_TEST(!p.IsContactChannel("webhook"));
  BOOST_TEST((ParsePolicies("{}") == p));
  BOOST_TEST(PoliciesToJson(p) ==
             "{\n"
             "  \"timezone\": \"UTC\",\n"
             "  \"quiet_hours\": {\n"
             "    \"sms\": {\"from\": \"20:00\", \"until\": \"09:00\", \"days\": [], \"action\": \"defer\"}\n"
             "  },\n"
             "  \"channel_caps\": {},\n"
             "  \"daily_ceiling\": null,\n"
             "  \"consent\": {\n"
             "    \"email\": \"unless_refused\",\n"
             "    \"push\": \"required\",\n"
             "    \"sms\": \"required\"\n"
             "  }\n"
             "}\n");
}

BOOST_AUTO_TEST_CASE(parse_a_full_document) {
  const Policies p = ParsePolicies(R"({
    "timezone": "Europe/Paris",
    "quiet_hours": {
      "sms": {"from": "20:00", "until": "09:00", "days": ["sun", "sat"], "holidays": "FR", "action": "defer"},
      "push": ["21:30", "08:00"],
      "email": {"days": ["sun"], "holidays": null, "action": "skip"}
    },
    "channel_caps": {"email": {"every": "12h"}, "sms": {"every": "2d", "action": "skip"}},
    "daily_ceiling": {"max": 3, "action": "skip"},
    "consent": {"email": "required", "webhook": "none", "whatsapp": "unless_refused"}
  })");
  BOOST_TEST(p.timezone == "Europe/Paris");
  BOOST_TEST((p.quiet_hours.at("sms") == Window(20, 0, 9, 0, kSun | DayBit(Weekday::kSaturday), "FR")));
  BOOST_TEST((p.quiet_hours.at("push") == Window(21, 30, 8, 0)));
  BOOST_TEST((p.quiet_hours.at("email") == Window(0, 0, 0, 0, kSun, "", PolicyAction::kSkip)));
  BOOST_TEST(!p.quiet_hours.at("email").HasWindow());
  BOOST_TEST((p.channel_caps.at("email") == ChannelCap{12 * kHour, PolicyAction::kDefer}));
  BOOST_TEST((p.channel_caps.at("sms") == ChannelCap{2 * kDay, PolicyAction::kSkip}));
  BOOST_TEST((p.daily_ceiling == DailyCeiling{3, PolicyAction::kSkip}));
  BOOST_TEST(static_cast<int>(p.ConsentFor("email")) == static_cast<int>(ConsentRule::kRequired));
  BOOST_TEST(static_cast<int>(p.ConsentFor("sms")) == static_cast<int>(ConsentRule::kRequired));  // default kept
  BOOST_TEST(static_cast<int>(p.ConsentFor("whatsapp")) == static_cast<int>(ConsentRule::kUnlessRefused));
  BOOST_TEST(!p.IsContactChannel("webhook"));
  // An empty quiet_hours turns the default off; a different prefix names the paths.
  BOOST_TEST(ParsePolicies(R"({"quiet_hours": {}})").quiet_hours.empty());
  try {
    ParsePolicies(R"({"timezone": "Nowhere"})", "settings.policies");
    BOOST_FAIL("accepted");
  } catch (const Error& e) {
    BOOST_TEST(e.field() == "settings.policies.timezone");
  }
}

BOOST_AUTO_TEST_CASE(round_trip_is_canonical) {
  const char* docs[] = {
      "{}",
      R"({"quiet_hours": {}, "daily_ceiling": null})",
      R"({"timezone": "America/New_York", "quiet_hours": {"sms": {"from": "20:00", "until": "09:00",
          "days": ["sun", "mon"], "holidays": "DE"}, "push": ["23:00", "07:00"],
          "email": {"days": ["sat"], "action": "skip"}, "viber": {"from": "12:00", "until": "13:30"}},
          "channel_caps": {"sms": {"every": "1d12h", "action": "skip"}, "email": {"every": "90m"}},
          "daily_ceiling": {"max": 5}, "consent": {"webhook": "none", "email": "required"}})",
  };
  for (const char* doc : docs) {
    BOOST_TEST_CONTEXT(doc) {
      const Policies p = ParsePolicies(doc);
      const std::string once = PoliciesToJson(p);
      const Policies again = ParsePolicies(once);
      BOOST_TEST((again == p));
      BOOST_TEST(PoliciesToJson(again) == once);
    }
  }
  // Canonical forms: days Monday first, durations normalised, channels sorted.
  const std::string text = PoliciesToJson(ParsePolicies(docs[2]));
  BOOST_TEST(text.find(R"("sms": {"from": "20:00", "until": "09:00", "days": ["mon", "sun"], "holidays": "DE", "action": "defer"})") != std::string::npos);
  BOOST_TEST(text.find(R"("email": {"days": ["sat"], "action": "skip"})") != std::string::npos);
  BOOST_TEST(text.find(R"("email": {"every": "1h30m", "action": "defer"})") != std::string::npos);
  BOOST_TEST(text.find(R"("daily_ceiling": {"max": 5, "action": "defer"})") != std::string::npos);
  BOOST_TEST(text.find(R"("email": "required",)") < text.find(R"("push": "required",)"));
}

BOOST_AUTO_TEST_CASE(parse_errors_name_their_path) {
  struct Row {
    const char* json;
    const char* path;
  };
  const Row rows[] = {
      {"not json", "policies"},
      {"[]", "policies"},
      {R"({"quiet_hour": {}})", "policies.quiet_hour"},
      {R"({"timezone": "Mars/Base"})", "policies.timezone"},
      {R"({"timezone": 3})", "policies.timezone"},
      {R"({"quiet_hours": []})", "policies.quiet_hours"},
      {R"({"quiet_hours": {"SMS": ["20:00", "09:00"]}})", "policies.quiet_hours.SMS"},
      {R"({"quiet_hours": {"sms": {"from": "25:00", "until": "09:00"}}})", "policies.quiet_hours.sms.from"},
      {R"({"quiet_hours": {"sms": {"from": "20:60", "until": "09:00"}}})", "policies.quiet_hours.sms.from"},
      {R"({"quiet_hours": {"sms": {"from": 20, "until": "09:00"}}})", "policies.quiet_hours.sms.from"},
      {R"({"quiet_hours": {"sms": {"from": "20:00", "until": "9:00"}}})", "policies.quiet_hours.sms.until"},
      {R"({"quiet_hours": {"sms": {"from": "20:00"}}})", "policies.quiet_hours.sms.until"},
      {R"({"quiet_hours": {"sms": {"until": "09:00"}}})", "policies.quiet_hours.sms.from"},
      {R"({"quiet_hours": {"sms": {"from": "09:00", "until": "09:00"}}})", "policies.quiet_hours.sms.until"},
      {R"({"quiet_hours": {"sms": {"form": "20:00"}}})", "policies.quiet_hours.sms.form"},
      {R"({"quiet_hours": {"sms": {"days": ["sun", "funday"]}}})", "policies.quiet_hours.sms.days[1]"},
      {R"({"quiet_hours": {"sms": {"days": ["sun", "sun"]}}})", "policies.quiet_hours.sms.days[1]"},
      {R"({"quiet_hours": {"sms": {"days": "sun"}}})", "policies.quiet_hours.sms.days"},
      {R"({"quiet_hours": {"sms": {"days": ["mon","tue","wed","thu","fri","sat","sun"]}}})",
       "policies.quiet_hours.sms.days"},
      {R"({"quiet_hours": {"sms": {"holidays": "XX"}}})", "policies.quiet_hours.sms.holidays"},
      {R"({"quiet_hours": {"sms": {"holidays": ["FR"]}}})", "policies.quiet_hours.sms.holidays"},
      {R"({"quiet_hours": {"sms": {"action": "drop"}}})", "policies.quiet_hours.sms.action"},
      {R"({"quiet_hours": {"sms": ["20:00"]}})", "policies.quiet_hours.sms"},
      {R"({"quiet_hours": {"sms": ["20:00", 9]}})", "policies.quiet_hours.sms[1]"},
      {R"({"quiet_hours": {"sms": ["20:00", "20:00"]}})", "policies.quiet_hours.sms[1]"},
      {R"({"quiet_hours": {"sms": "20:00-09:00"}})", "policies.quiet_hours.sms"},
      {R"({"channel_caps": {"email": {"every": "12x"}}})", "policies.channel_caps.email.every"},
      {R"({"channel_caps": {"email": {"every": "0m"}}})", "policies.channel_caps.email.every"},
      {R"({"channel_caps": {"email": {"every": 12}}})", "policies.channel_caps.email.every"},
      {R"({"channel_caps": {"email": {}}})", "policies.channel_caps.email.every"},
      {R"({"channel_caps": {"email": {"every": "1h", "action": "later"}}})", "policies.channel_caps.email.action"},
      {R"({"channel_caps": {"email": {"every": "1h", "max": 2}}})", "policies.channel_caps.email.max"},
      {R"({"channel_caps": {"e-mail": {"every": "1h"}}})", "policies.channel_caps.e-mail"},
      {R"({"daily_ceiling": {"max": 0}})", "policies.daily_ceiling.max"},
      {R"({"daily_ceiling": {"max": -1}})", "policies.daily_ceiling.max"},
      {R"({"daily_ceiling": {"max": "3"}})", "policies.daily_ceiling.max"},
      {R"({"daily_ceiling": {"max": 2.5}})", "policies.daily_ceiling.max"},
      {R"({"daily_ceiling": {"max": true}})", "policies.daily_ceiling.max"},
      {R"({"daily_ceiling": {}})", "policies.daily_ceiling.max"},
      {R"({"daily_ceiling": {"max": 3, "action": "wait"}})", "policies.daily_ceiling.action"},
      {R"({"daily_ceiling": 3})", "policies.daily_ceiling"},
      {R"({"consent": {"sms": "maybe"}})", "policies.consent.sms"},
      {R"({"consent": {"sms": true}})", "policies.consent.sms"},
      {R"({"consent": []})", "policies.consent"},
  };
  for (const Row& r : rows) {
    BOOST_TEST_CONTEXT(r.json) { BOOST_TEST(ErrorField(r.json) == r.path); }
  }
}

BOOST_AUTO_TEST_CASE(names_round_trip) {
  for (PolicyAction a : {PolicyAction::kDefer, PolicyAction::kSkip})
    BOOST_TEST((ParsePolicyAction(PolicyActionName(a)) == a));
  for (ConsentRule r : {ConsentRule::kNone, ConsentRule::kRequired, ConsentRule::kUnlessRefused})
    BOOST_TEST((ParseConsentRule(ConsentRuleName(r)) == r));
  BOOST_TEST(!ParsePolicyAction("Defer"));
  BOOST_TEST(!ParseConsentRule("optional"));
  BOOST_TEST(std::string(SendActionName(SendAction::kDefer)) == "defer");
}

BOOST_AUTO_TEST_CASE(value_thresholds_across_currencies) {
  ValueThreshold eur;
  eur.currency = "EUR";
  eur.min_value = "200";
  BOOST_TEST(MeetsValueThreshold(eur, 20000, "EUR"));
  BOOST_TEST(!MeetsValueThreshold(eur, 19999, "EUR"));
  BOOST_TEST(!MeetsValueThreshold(eur, 25000000, "JPY"));  // no rate: never compared as EUR
  eur.rates = {{"JPY", "0.0061"}, {"KWD", "3"}};
  BOOST_TEST(MeetsValueThreshold(eur, 32787, "JPY"));   // 200.0007 EUR
  BOOST_TEST(!MeetsValueThreshold(eur, 32786, "JPY"));  // 199.9946 EUR
  BOOST_TEST(MeetsValueThreshold(eur, 66667, "KWD"));   // 66.667 KWD = 200.001 EUR
  ValueThreshold table;
  table.currency = "EUR";
  table.per_currency = {{"JPY", "30000"}};
  BOOST_TEST(MeetsValueThreshold(table, 30000, "JPY"));
  BOOST_TEST(!MeetsValueThreshold(table, 29999, "JPY"));
  BOOST_TEST(!MeetsValueThreshold(table, 1000000, "EUR"));  // the table has no EUR entry
  ValueThreshold everyone;
  everyone.currency = "EUR";
  BOOST_TEST(MeetsValueThreshold(everyone, 1, "JPY"));
  ValidateValueThreshold(eur, "sales_alert");
  eur.rates["JPY"] = "0";
  try {
    ValidateValueThreshold(eur, "sales_alert");
    BOOST_FAIL("rate 0 accepted");
  } catch (const Error& e) {
    BOOST_TEST(e.field() == "sales_alert.rates.JPY");
  }
}

BOOST_AUTO_TEST_SUITE_END()
