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
// Where Borkowski's Solar Hijri arithmetic holds (Gregorian years).
constexpr int kFirstSolarHijriYear = 1800;
constexpr int kLastSolarHijriYear = 3797;

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

enum class Computus { kGregorian, kOrthodox };

struct CountryRules {
  const char* country;
  std::vector<Fixed> fixed;
  std::vector<int> after_easter;  // days from Easter Sunday
  Computus easter = Computus::kGregorian;
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
      // Romania (Codul muncii, art. 139), Orthodox Easter: Good Friday -2, Easter Sunday 0
      // and Monday +1, Whit Sunday +49 and Monday +50. Jan 6 and 7 are added from 2024, and
      // Good Friday from 2018, below.
      {"RO", {{1, 1}, {1, 2}, {1, 24}, {5, 1}, {6, 1}, {8, 15}, {11, 30}, {12, 1}, {12, 25}, {12, 26}},
       {0, 1, 49, 50}, Computus::kOrthodox},
      // Iran: the solar (Solar Hijri) holidays; the lunar (Islamic) ones move every year and
      // are the shop's to add as dates. Fridays are the weekend (IsQuietDay). Computed below.
      {"IR", {}, {}},
  };
  return rules;
}

// The Gregorian date of 1 Farvardin of Solar Hijri year jy (Borkowski's algorithm, as in
// jalaali-js: exact for 1178..3177 AP, i.e. Gregorian 1799..3798), and whether jy is leap.
struct SolarYear {
  date::sys_days farvardin_1;
  bool leap;
};

SolarYear SolarHijriYear(int jy) {
  static const int kBreaks[] = {-61, 9, 38, 199, 426, 686, 756, 818, 1111, 1181,
                                1210, 1635, 2060, 2097, 2192, 2262, 2324, 2394, 2456, 3178};
  auto div = [](int a, int b) { return a / b; };  // inputs are >= 0 where it matters
  auto mod = [](int a, int b) { return a - (a / b) * b; };
  const int gy = jy + 621;
  int leap_j = -14;
  int jp = kBreaks[0];
  int jump = 0;
  for (size_t i = 1; i < sizeof kBreaks / sizeof kBreaks[0]; ++i) {
    const int jm = kBreaks[i];
    jump = jm - jp;
    if (jy < jm) break;
    leap_j += div(jump, 33) * 8 + div(mod(jump, 33), 4);
    jp = jm;
  }
  int n = jy - jp;
  leap_j += div(n, 33) * 8 + div(mod(n, 33) + 3, 4);
  if (mod(jump, 33) == 4 && jump - n == 4) leap_j += 1;
  const int leap_g = div(gy, 4) - div((div(gy, 100) + 1) * 3, 4) - 150;
  const int march = 20 + leap_j - leap_g;
  if (jump - n < 6) n = n - jump + div(jump + 4, 33) * 33;
  int leap = mod(mod(n + 1, 33) - 1, 4);
  if (leap == -1) leap = 4;
  return SolarYear{date::sys_days{date::year{gy} / date::March / date::day{1}} + date::days{march - 1},
                   leap == 0};
}

// Gregorian date of day `d` of month `m` (1..12) of Solar Hijri year jy.
CivilDate SolarHijri(int jy, int m, int d) {
  const int offset = (m <= 6 ? (m - 1) * 31 : 186 + (m - 7) * 30) + d - 1;
  return FromDays(SolarHijriYear(jy).farvardin_1 + date::days{offset});
}

// Iran's solar holidays that fall in Gregorian `year`: Nowruz (1-4 Farvardin), Islamic
// Republic Day and Nature Day (12, 13 Farvardin), Khomeini's death and the 15 Khordad
// uprising (14, 15 Khordad), all of year - 621; Revolution Day (22 Bahman), the oil
// nationalisation (29 Esfand) and, in leap years, 30 Esfand, of year - 622.
std::vector<CivilDate> IranSolarHolidays(int year) {
  const int jy = year - 621;
  std::vector<CivilDate> out;
  for (int d : {1, 2, 3, 4, 12, 13}) out.push_back(SolarHijri(jy, 1, d));
  out.push_back(SolarHijri(jy, 3, 14));
  out.push_back(SolarHijri(jy, 3, 15));
  out.push_back(SolarHijri(jy - 1, 11, 22));
  out.push_back(SolarHijri(jy - 1, 12, 29));
  // The last day of the year, 30 Esfand, exists in leap years only (a holiday from 1399).
  if (jy - 1 >= 1399 && SolarHijriYear(jy - 1).leap) out.push_back(SolarHijri(jy - 1, 12, 30));
  return out;
}

// Orthodox Easter Sunday: the Julian computus (Meeus), moved to the Gregorian calendar.
CivilDate OrthodoxEaster(int year) {
  const int a = year % 4;
  const int b = year % 7;
  const int c = year % 19;
  const int d = (19 * c + 15) % 30;
  const int e = (2 * a + 4 * b - d + 34) % 7;
  const int month = (d + e + 114) / 31;
  const int day = (d + e + 114) % 31 + 1;
  // Julian to Gregorian: the calendars drift apart by a day in every century year not
  // divisible by 400 (13 days for 1900-2099).
  const int julian_offset = year / 100 - year / 400 - 2;
  const date::sys_days julian_as_gregorian =
      date::sys_days{date::year{year} / date::month{static_cast<unsigned>(month)} /
                     date::day{static_cast<unsigned>(day)}};
  return FromDays(julian_as_gregorian + date::days{julian_offset});
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
                                         "' (known: DE, FR, IR, PL, RO)");
  std::vector<CivilDate> out;
  for (const Fixed& f : rules->fixed) out.push_back(CivilDate{year, f.month, f.day});
  // Wigilia (Dec 24) is a public holiday in Poland from 2025 on.
  if (country == "PL" && year >= 2025) out.push_back(CivilDate{year, 12, 24});
  // Romania: Epiphany and St John (Jan 6, 7) from 2024; Orthodox Good Friday from 2018.
  if (country == "RO" && year >= 2024) {
    out.push_back(CivilDate{year, 1, 6});
    out.push_back(CivilDate{year, 1, 7});
  }
  if (country == "IR" && year >= kFirstSolarHijriYear && year <= kLastSolarHijriYear) {
    for (const CivilDate& d : IranSolarHolidays(year)) out.push_back(d);
  }
  if (year >= kFirstGregorianYear && year <= kLastYear) {
    const bool orthodox = rules->easter == Computus::kOrthodox;
    const date::sys_days easter = ToDays(orthodox ? OrthodoxEaster(year) : EasterSunday(year));
    for (int offset : rules->after_easter) out.push_back(FromDays(easter + date::days{offset}));
    if (country == "RO" && year >= 2018) out.push_back(FromDays(easter - date::days{2}));
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
