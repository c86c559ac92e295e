#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <random>
#include <string>
#include <vector>
#include <thread>

#include "cartrecovery/clock.h"
#include "cartrecovery/model.h"
#include "cartrecovery/status.h"
#include "cartrecovery/text.h"
#include "cartrecovery/value.h"
#include "ingest/cart_event_cap.h"
#include "model/json_reader.h"

using namespace cartrecovery;

BOOST_AUTO_TEST_SUITE(model_tests)

BOOST_AUTO_TEST_CASE(value_maps_keep_the_order_of_std_less) {
  // Value::Map compares keys in line (ValueKeyLess); the order, and so every iteration over a
  // map (JSON written from it, for one), must stay std::less<std::string>'s.
  std::mt19937 rng(7);
  const std::string alphabet = std::string("ab_\x7f\x80\xff", 6) + std::string(1, '\0');
  std::vector<std::string> keys = {"", "a", "ab", "a_", "stage", "stage_cart", "stage_contact",
                                   "\xc3\xa9", "z"};
  for (int i = 0; i < 300; ++i) {
    std::string k;
    for (size_t n = rng() % 6; n > 0; --n) k += alphabet[rng() % alphabet.size()];
    keys.push_back(k);
  }
  const ValueKeyLess less;
  for (const std::string& a : keys)
    for (const std::string& b : keys) BOOST_TEST(less(a, b) == std::less<std::string>()(a, b));
  Value v = Value::MakeMap();
  for (const std::string& k : keys) v.Set(k, Value::String(k));
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::vector<std::string> seen;
  for (const auto& [k, value] : v.as_map()) seen.push_back(k);
  BOOST_TEST(seen == sorted);
  for (const std::string& k : keys) BOOST_TEST(v.Find(k)->as_string() == k);
  BOOST_TEST(v.Find("absent") == nullptr);
}

BOOST_AUTO_TEST_CASE(parses_amounts_exactly_in_minor_units) {
  BOOST_TEST(ParseMinorUnits("19.90", 2, "price") == 1990);
  BOOST_TEST(ParseMinorUnits("19.9", 2, "price") == 1990);
  BOOST_TEST(ParseMinorUnits("0.1", 2, "price") == 10);
  BOOST_TEST(ParseMinorUnits("500", 0, "price") == 500);
  BOOST_TEST(ParseMinorUnits("1.234", 3, "price") == 1234);
  BOOST_TEST(ParseMinorUnits("-3", 2, "price") == -300);
  BOOST_TEST(ParseMinorUnits("2.500", 2, "price") == 250);  // trailing zeros are harmless
}

BOOST_AUTO_TEST_CASE(refuses_what_is_not_an_exact_amount) {
  for (const char* bad : {"", ".", "1e3", "19.999", "abc", "1.2.3", " 1", "99999999999999999999"}) {
    try {
      ParseMinorUnits(bad, 2, "items[0].price");
      BOOST_FAIL("accepted '" << bad << "'");
    } catch (const Error& e) {
      BOOST_TEST((e.code() == ErrorCode::kInvalidArgument));
      BOOST_TEST(e.field() == "items[0].price");
    }
  }
}

BOOST_AUTO_TEST_CASE(formats_minor_units) {
  BOOST_TEST(FormatMinorUnits(1990, 2) == "19.90");
  BOOST_TEST(FormatMinorUnits(5, 2) == "0.05");
  BOOST_TEST(FormatMinorUnits(-5, 2) == "-0.05");
  BOOST_TEST(FormatMinorUnits(500, 0) == "500");
  BOOST_TEST(CurrencyExponent("JPY") == 0);
  BOOST_TEST(CurrencyExponent("KWD") == 3);
  BOOST_TEST(CurrencyExponent("EUR") == 2);
}

BOOST_AUTO_TEST_CASE(currencies_are_iso_4217_codes_with_their_minor_units) {
  for (const char* code : {"EUR", "USD", "JPY", "KWD", "CLF", "PLN", "XOF", "AED", "ZWG"})
    BOOST_TEST(IsCurrencyCode(code), code);
  for (const char* code : {"XYZ", "QQQ", "eur", "EU", "EURO", "", "E1R", "AAA", "ZZZ"})
    BOOST_TEST(!IsCurrencyCode(code), code);
  BOOST_TEST(CurrencyExponent("JPY") == 0);
  BOOST_TEST(CurrencyExponent("KWD") == 3);
  BOOST_TEST(CurrencyExponent("CLF") == 4);
  BOOST_TEST(CurrencyExponent("EUR") == 2);
  BOOST_TEST(CurrencyExponent("MIXED") == 2);  // reports across currencies
}

BOOST_AUTO_TEST_CASE(amounts_stop_at_ten_to_the_fifteen_minor_units) {
  BOOST_TEST(ParseMinorUnits("10000000000000", 2, "v") == kMaxAmountMinor);
  BOOST_TEST(ParseMinorUnits("-10000000000000", 2, "v") == -kMaxAmountMinor);
  for (const char* big : {"10000000000000.01", "1000000000000001", "92233720368547758.07"}) {
    try {
      ParseMinorUnits(big, big[0] == '1' && std::string(big).size() == 16 ? 0 : 2, "value");
      BOOST_FAIL("accepted " << big);
    } catch (const Error& e) {
      BOOST_TEST(e.field() == "value");
    }
  }
}

BOOST_AUTO_TEST_CASE(utf8_and_control_characters) {
  BOOST_TEST(IsValidUtf8(""));
  BOOST_TEST(IsValidUtf8("Zo\xC3\xAB \xE2\x82\xAC \xF0\x9F\x9B\x92"));  // e-umlaut, euro, cart
  for (const char* bad : {"\xFF", "\xC3", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                          "ok\xE9t\xE9"})
    BOOST_TEST(!IsValidUtf8(bad), bad);
  BOOST_TEST(!HasControlCharacter("Ann-Marie O'Neil \xC5\x81ucja"));
  for (const char* bad : {"a\nb", "a\rb", "a\tb", "a\x7F", "a\xC2\x85", "a\xE2\x80\xA8"})
    BOOST_TEST(HasControlCharacter(bad), bad);
  BOOST_TEST(HasControlCharacter(std::string("a\0b", 3)));
  BOOST_TEST(QuoteForError("caf\xE9!") == "caf\\xE9!");
  BOOST_TEST(QuoteForError("\xC3\xA9t\xC3\xA9") == "\xC3\xA9t\xC3\xA9");
  BOOST_TEST(QuoteForError(std::string(500, 'x'), 10) == std::string(10, 'x') + "...");
}

BOOST_AUTO_TEST_CASE(json_nesting_is_measured_without_recursion) {
  BOOST_TEST(internal::NestingDepth("{\"a\": [1, {\"b\": []}]}") == 4);
  BOOST_TEST(internal::NestingDepth("{\"a\": \"[[[[\\\"]]\"}") == 1);
  BOOST_TEST(internal::NestingDepth(std::string(1000000, '[')) == 1000000u);
  try {
    internal::ParseJson(std::string(100000, '['), "flow");
    BOOST_FAIL("deep JSON accepted");
  } catch (const Error& e) {
    BOOST_TEST((e.code() == ErrorCode::kConfig));
    BOOST_TEST(std::string(e.what()).find("nested deeper") != std::string::npos);
  }
  try {
    internal::ParseJson("{\"name\": \"\xFF\"}", "");
    BOOST_FAIL("bytes that are not UTF-8 accepted");
  } catch (const Error& e) {
    BOOST_TEST(IsValidUtf8(e.what()));
  }
}

BOOST_AUTO_TEST_CASE(the_cap_on_events_per_cart_counts_per_window_and_batch) {
  internal::CartEventCap cap(3, 1000);
  BOOST_TEST(cap.Admit({{"c1", 0}, {"c1", 10}, {"", 11}, {"c2", 12}}) == -1);
  BOOST_TEST(cap.Admit({{"c2", 20}, {"c1", 21}, {"c1", 22}}) == 2);  // c1's fourth
  BOOST_TEST(cap.Admit({{"c2", 30}, {"c2", 31}}) == -1);  // the refused batch counted nothing
  BOOST_TEST(cap.Admit({{"c2", 32}}) == 0);
  BOOST_TEST(cap.Admit({{"c1", 1000}, {"c1", 1001}, {"c1", 1002}}) == -1);  // a new window
  internal::CartEventCap off(0, 1000);
  for (int i = 0; i < 10; ++i) BOOST_TEST(off.Admit({{"c1", i}}) == -1);
  internal::CartEventCap small(1, 1000, 2);  // at most two carts remembered
  BOOST_TEST(small.Admit({{"a", 0}, {"b", 0}, {"c", 0}}) == -1);
}

BOOST_AUTO_TEST_CASE(the_stores_counters_admit_by_the_same_rule) {
  std::map<std::string, CartEventCount> counts;
  counts["c1"] = {0, 2, 5};  // two counted in the window opened at 0, five refused before
  auto admitted = internal::AdmitToCap(counts, {{"c1", 10}, {"c1", 11}, {"", 12}, {"c2", 13}, {"c1", 1000}}, 3, 1000);
  BOOST_TEST((admitted == std::vector<bool>{true, false, true, true, true}));
  BOOST_TEST(counts["c1"].window_start_ms == 1000);  // a new window, one event in it
  BOOST_TEST(counts["c1"].events == 1);
  BOOST_TEST(counts["c1"].refused == 6);
  BOOST_TEST(counts["c2"].events == 1);
  BOOST_TEST(counts.count("") == 0);
}

// A forked child keeps using the engine's ManualClock (gunicorn --preload, a notebook's
// multiprocessing). Another thread of the parent subscribes and unsubscribes all the time
// here, as the worker's lease keeper does; without the clock's fork guard most children are
// born with its mutex held and never get past their first Subscribe.
BOOST_AUTO_TEST_CASE(a_child_forked_while_another_thread_holds_the_manual_clock_can_use_it) {
  ManualClock clock(0);
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    while (!stop) clock.Unsubscribe(clock.Subscribe([] {}));
  });
  int hung = 0;
  for (int i = 0; i < 100 && hung == 0; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      clock.Unsubscribe(clock.Subscribe([] {}));
      clock.Advance(kSecond);
      _exit(0);
    }
    BOOST_REQUIRE(pid > 0);
    int status = 0;
    bool done = false;
    for (int waited_ms = 0; waited_ms < 5000 && !done; ++waited_ms) {  // a hang detector
      done = waitpid(pid, &status, WNOHANG) == pid;
      if (!done) usleep(1000);
    }
    if (!done) {
      ++hung;
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    } else {
      BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }
  }
  stop = true;
  churn.join();
  BOOST_TEST(hung == 0);
}

BOOST_AUTO_TEST_SUITE_END()
