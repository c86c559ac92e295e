// holidays.cpp: national public holidays for quiet days (France forbids marketing SMS on
// Sundays and public holidays). Pure calendar arithmetic; the movable feasts hang off
// Easter Sunday.
#include <date/date.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "cartrecovery/policy.h"
#include "cartrecovery/status.h"

namespace cartrecovery {

namespace {

// The Gregorian computus is defined from its adoption on; outside this range the movable
// feasts are left out rather than computed from a formula that does not apply.
constexpr int kFirstGregorianYear = 1583;
constexpr int kLastYear = 9999;

date::sys_days ToDays(const CivilDate& d) {
  return date::sys_days{date::year{d.year} / date::month{d.month} / date::day{d.day}};
}

CivilDate FromDays(date::sys_days days) {
  date::year_month_day ymd{days};
  return CivilDate{static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                   static_cast<unsigned>(ymd.day())};
}

struct Fixed {
  unsigned month;
  unsigned day;
};

struct CountryRules {
  const char* country;
  std::vector<Fixed> fixed;
  std::vector<int> after_easter;  // days from Easter Sunday
};

const std::vector<CountryRules>& Rules() {
  static const std::vector<CountryRules> rules = {
      // Good Friday -2, Easter Monday +1, Ascension +39, Whit Monday +50.
      {"DE", {{1, 1}, {5, 1}, {10, 3}, {12, 25}, {12, 26}}, {-2, 1, 39, 50}},
      // Easter Monday +1, Ascension +39, Whit Monday +50 (the "journée de solidarité" may
      // make it a working day for some employers; it stays a public holiday).
      {"FR", {{1, 1}, {5, 1}, {5, 8}, {7, 14}, {8, 15}, {11, 1}, {11, 11}, {12, 25}}, {1, 39, 50}},
      // Easter Sunday 0, Easter Monday +1, Whit Sunday +49, Corpus Christi +60. Dec 24 is
      // added from 2025 below.
      {"PL", {{1, 1}, {1, 6}, {5, 1}, {5, 3}, {8, 15}, {11, 1}, {11, 11}, {12, 25}, {12, 26}},
       {0, 1, 49, 60}},
  };
  return rules;
}

const CountryRules* FindRules(const std::string& country) {
  for (const CountryRules& r : Rules())
    if (country == r.country) return &r;
  return nullptr;
}

}  // namespace

bool operator==(const CivilDate& a, const CivilDate& b) {
  return a.year == b.year && a.month == b.month && a.day == b.day;
}

bool operator<(const CivilDate& a, const CivilDate& b) {
  return std::tie(a.year, a.month, a.day) < std::tie(b.year, b.month, b.day);
}

CivilDate EasterSunday(int year) {
  // The anonymous Gregorian algorithm (Meeus/Jones/Butcher).
  const int a = year % 19;
  const int b = year / 100;
  const int c = year % 100;
  const int d = b / 4;
  const int e = b % 4;
  const int f = (b + 8) / 25;
  const int g = (b - f + 1) / 3;
  const int h = (19 * a + b - d - g + 15) % 30;
  const int i = c / 4;
  const int k = c % 4;
  const int l = (32 + 2 * e + 2 * i - h - k) % 7;
  const int m = (a + 11 * h + 22 * l) / 451;
  const int month = (h + l - 7 * m + 114) / 31;
  const int day = (h + l - 7 * m + 114) % 31 + 1;
  return CivilDate{year, static_cast<unsigned>(month), static_cast<unsigned>(day)};
}

bool IsHolidayCountry(const std::string& country) { return FindRules(country) != nullptr; }

std::vector<CivilDate> PublicHolidays(const std::string& country, int year) {
  const CountryRules* rules = FindRules(country);
  if (!rules)
    throw InvalidArgument("country", "no public holidays are known for '" + country +
                                         "' (known: DE, FR, PL)");
  std::vector<CivilDate> out;
  for (const Fixed& f : rules->fixed) out.push_back(CivilDate{year, f.month, f.day});
  // Wigilia (Dec 24) is a public holiday in Poland from 2025 on.
  if (country == "PL" && year >= 2025) out.push_back(CivilDate{year, 12, 24});
  if (year >= kFirstGregorianYear && year <= kLastYear) {
    const date::sys_days easter = ToDays(EasterSunday(year));
    for (int offset : rules->after_easter) out.push_back(FromDays(easter + date::days{offset}));
  }
  std::sort(out.begin(), out.end());
  // Movable feasts can fall on fixed ones (Ascension on May 1 or May 8, Corpus Christi...).
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool IsPublicHoliday(const std::string& country, const CivilDate& date) {
  const std::vector<CivilDate> days = PublicHolidays(country, date.year);
  return std::binary_search(days.begin(), days.end(), date);
}

}  // namespace cartrecovery
