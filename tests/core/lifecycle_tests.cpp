// The states of messages, journeys and jobs (message_status.h, journey_state.h, store.h):
// every pair of the transition tables against the drawings, and the stored names.
#include <boost/test/unit_test.hpp>

#include <iterator>
#include <optional>
#include <string>

#include "cartrecovery/journey_state.h"
#include "cartrecovery/message_status.h"
#include "cartrecovery/store.h"

#include "test_util.h"

using namespace cartrecovery;

namespace {

// The drawing in message_status.h, read by hand: kAllowed[from][to], in declaration order
// (sending, sent, retrying, deferred, paused, failed, suppressed, bounced).
constexpr bool kMessageMoves[8][8] = {
    /* sending    */ {1, 1, 1, 1, 1, 1, 1, 1},
    /* sent       */ {0, 0, 0, 0, 0, 0, 0, 1},
    /* retrying   */ {1, 0, 0, 1, 1, 0, 1, 1},
    /* deferred   */ {1, 0, 0, 1, 1, 0, 1, 1},
    /* paused     */ {1, 0, 0, 1, 1, 0, 1, 1},
    /* failed     */ {0, 0, 0, 0, 0, 0, 0, 1},
    /* suppressed */ {0, 0, 0, 0, 0, 0, 0, 1},
    /* bounced    */ {0, 0, 0, 0, 0, 0, 0, 0},
};
constexpr bool kMessageStarts[8] = {1, 0, 0, 1, 1, 0, 1, 0};
constexpr bool kMessageUnresolved[8] = {1, 0, 1, 1, 1, 0, 0, 0};

// journey_state.h: running, completed, ended, refused.
constexpr bool kJourneyMoves[4][4] = {
    /* running   */ {1, 1, 1, 0},
    /* completed */ {0, 0, 0, 0},
    /* ended     */ {0, 0, 0, 0},
    /* refused   */ {0, 0, 0, 0},
};
constexpr bool kJourneyStarts[4] = {1, 0, 0, 1};

// store.h: pending, claimed, done.
constexpr bool kJobMoves[3][3] = {
    /* pending */ {1, 1, 1},
    /* claimed */ {1, 1, 1},
    /* done    */ {1, 0, 0},
};

// Texts no state is stored as: near misses of the real names, and other tables' words.
const char* const kUnknownTexts[] = {"", "Sent", "SENDING", " sent", "sent ", "shipped", "sent\n",
                                     "done", "running", "pending", "suppresse"};

}  // namespace

BOOST_AUTO_TEST_SUITE(lifecycle_tests)

BOOST_AUTO_TEST_CASE(message_moves_follow_the_drawing_for_every_pair) {
  BOOST_REQUIRE(std::size(kMessageStatuses) == 8u);
  for (size_t f = 0; f < 8; ++f) {
    const MessageStatus from = kMessageStatuses[f];
    BOOST_TEST(static_cast<size_t>(from) == f);
    BOOST_TEST(CanStartAs(from) == kMessageStarts[f], "start as " << from);
    BOOST_TEST(IsUnresolved(from) == kMessageUnresolved[f], from);
    for (size_t t = 0; t < 8; ++t) {
      const MessageStatus to = kMessageStatuses[t];
      BOOST_TEST(CanMove(from, to) == kMessageMoves[f][t], from << " -> " << to);
    }
  }
}

BOOST_AUTO_TEST_CASE(journey_moves_follow_the_drawing_for_every_pair) {
  BOOST_REQUIRE(std::size(kJourneyStates) == 4u);
  for (size_t f = 0; f < 4; ++f) {
    const JourneyState from = kJourneyStates[f];
    BOOST_TEST(static_cast<size_t>(from) == f);
    BOOST_TEST(CanStartAs(from) == kJourneyStarts[f], "start as " << from);
    for (size_t t = 0; t < 4; ++t)
      BOOST_TEST(CanMove(from, kJourneyStates[t]) == kJourneyMoves[f][t],
                 from << " -> " << kJourneyStates[t]);
  }
}

BOOST_AUTO_TEST_CASE(job_moves_follow_the_drawing_for_every_pair) {
  BOOST_REQUIRE(std::size(kJobStates) == 3u);
  for (size_t f = 0; f < 3; ++f) {
    BOOST_TEST(static_cast<size_t>(kJobStates[f]) == f);
    for (size_t t = 0; t < 3; ++t)
      BOOST_TEST(CanMove(kJobStates[f], kJobStates[t]) == kJobMoves[f][t],
                 kJobStates[f] << " -> " << kJobStates[t]);
  }
}

// The names are what the stores hold and what Python shows: they must never change.
BOOST_AUTO_TEST_CASE(names_round_trip_and_stay_the_stored_words) {
  const char* const message_names[] = {"sending", "sent",   "retrying",   "deferred",
                                       "paused",  "failed", "suppressed", "bounced"};
  for (size_t i = 0; i < 8; ++i) {
    BOOST_TEST(MessageStatusName(kMessageStatuses[i]) == std::string(message_names[i]));
    BOOST_TEST((ParseMessageStatus(message_names[i]) == std::make_optional(kMessageStatuses[i])));
  }
  const char* const journey_names[] = {"running", "completed", "ended", "refused"};
  for (size_t i = 0; i < 4; ++i) {
    BOOST_TEST(JourneyStateName(kJourneyStates[i]) == std::string(journey_names[i]));
    BOOST_TEST((ParseJourneyState(journey_names[i]) == std::make_optional(kJourneyStates[i])));
  }
  const char* const job_names[] = {"pending", "claimed", "done"};
  for (size_t i = 0; i < 3; ++i) {
    BOOST_TEST(JobStateName(kJobStates[i]) == std::string(job_names[i]));
    BOOST_TEST((ParseJobState(job_names[i]) == std::make_optional(kJobStates[i])));
  }
}

BOOST_AUTO_TEST_CASE(unknown_text_is_refused) {
  for (const char* text : kUnknownTexts) {
    const std::string s(text);
    BOOST_TEST(!ParseMessageStatus(s).has_value(), '"' << s << '"');
    if (s != "running") BOOST_TEST(!ParseJourneyState(s).has_value(), '"' << s << '"');
    if (s != "pending" && s != "done") BOOST_TEST(!ParseJobState(s).has_value(), '"' << s << '"');
  }
  BOOST_TEST(!ParseJourneyState("sent").has_value());
  BOOST_TEST(!ParseJobState("running").has_value());
  BOOST_TEST(!ParseJobState(std::string("claimed\0", 8)).has_value());
  BOOST_TEST(!ParseMessageStatus(std::string("bounced\0x", 9)).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
