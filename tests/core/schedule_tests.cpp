#include <boost/test/unit_test.hpp>

#include <set>

#include "cartrecovery/retry.h"

using namespace cartrecovery;

BOOST_AUTO_TEST_SUITE(schedule_tests)

BOOST_AUTO_TEST_CASE(backoff_grows_by_four_within_the_jitter_and_stops_at_the_cap) {
  RetryPolicy p;  // 1 min base, 6 h cap, +-20 %
  const Millis expected[] = {kMinute, 4 * kMinute, 16 * kMinute, 64 * kMinute, 256 * kMinute,
                             6 * kHour, 6 * kHour};
  for (int attempt = 1; attempt <= 7; ++attempt) {
    Millis d = RetryDelay(p, attempt, 0, "m_abc");
    Millis want = expected[attempt - 1];
    BOOST_TEST(d >= want * 8 / 10, "attempt " << attempt << ": " << d);
    BOOST_TEST(d <= want * 12 / 10, "attempt " << attempt << ": " << d);
  }
}

BOOST_AUTO_TEST_CASE(jitter_is_repeatable_per_message_and_spreads_messages_apart) {
  RetryPolicy p;
  BOOST_TEST(RetryDelay(p, 2, 0, "m_1") == RetryDelay(p, 2, 0, "m_1"));
  std::set<Millis> delays;
  for (int i = 0; i < 50; ++i) delays.insert(RetryDelay(p, 2, 0, "m_" + std::to_string(i)));
  BOOST_TEST(delays.size() > 40u);  // fifty messages that failed together come back apart
}

BOOST_AUTO_TEST_CASE(retry_after_is_a_floor) {
  RetryPolicy p;
  BOOST_TEST(RetryDelay(p, 1, 10 * kMinute, "m") == 10 * kMinute);
  BOOST_TEST(RetryDelay(p, 5, kSecond, "m") > kHour);  // a small Retry-After does not shorten
}

BOOST_AUTO_TEST_CASE(attempts_are_bounded) {
  RetryPolicy p;
  p.max_attempts = 3;
  BOOST_TEST(MayRetry(p, 1));
  BOOST_TEST(MayRetry(p, 2));
  BOOST_TEST(!MayRetry(p, 3));
}

BOOST_AUTO_TEST_SUITE_END()
