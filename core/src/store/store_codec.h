// store_codec.h: how both stores spell values that have no column type of their own: a
// cart's line items as JSON text, an engagement as its name ("" for none), a message's
// status and a journey's state as their names. The SQLite and
// PostgreSQL stores must agree, so that a store moved from one to the other reads the same.
#ifndef CARTRECOVERY_SRC_STORE_STORE_CODEC_H_
#define CARTRECOVERY_SRC_STORE_STORE_CODEC_H_

#include <optional>
#include <string>
#include <vector>

#include "cartrecovery/flow.h"
#include "cartrecovery/journey_state.h"
#include "cartrecovery/message_status.h"
#include "cartrecovery/model.h"

namespace cartrecovery {
namespace internal {

std::string ItemsToJson(const std::vector<LineItem>& items);
std::vector<LineItem> ItemsFromJson(const std::string& text);

inline std::string EngagementText(std::optional<Engagement> e) { return e ? EngagementName(*e) : ""; }
inline std::optional<Engagement> EngagementFrom(const std::string& s) {
  return s.empty() ? std::nullopt : ParseEngagement(s);
}

// A status or state as read from the store; a text no version of the engine wrote is
// Error(kStorage) naming it (a row edited by hand, a store of a newer engine).
MessageStatus MessageStatusFrom(const std::string& text);
JourneyState JourneyStateFrom(const std::string& text);

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_STORE_STORE_CODEC_H_
