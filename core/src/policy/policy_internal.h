// policy_internal.h: time zone arithmetic shared by the policy module's files. Not public:
// it names date/tz types, which stay out of the core's headers.
#ifndef CARTRECOVERY_SRC_POLICY_POLICY_INTERNAL_H_
#define CARTRECOVERY_SRC_POLICY_POLICY_INTERNAL_H_

#include <date/tz.h>

#include <string>

#include "cartrecovery/clock.h"
#include "cartrecovery/policy.h"

namespace cartrecovery {
namespace internal {

// The zone called `name`, or nullptr when the database does not know it. Throws
// Error(kConfig) when the database cannot be read at all.
const date::time_zone* FindZone(const std::string& name);

// The local calendar day that contains t in `zone`.
date::local_days LocalDay(const date::time_zone* zone, Millis t);
// The first instant after t at which the local day after t's begins (its midnight, or the
// first instant after a gap swallowing it).
Millis StartOfNextLocalDay(const date::time_zone* zone, Millis t);

enum class QuietKind { kAllowed, kQuietHours, kQuietDay };
// Whether t falls on a quiet day (that wins) or inside the daily window, on zone's wall clock.
QuietKind QuietAt(const QuietHours& quiet, const date::time_zone* zone, Millis t);
// NextAllowed with the zone already resolved.
Millis NextAllowedIn(const QuietHours& quiet, const date::time_zone* zone, Millis t);

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_POLICY_POLICY_INTERNAL_H_
