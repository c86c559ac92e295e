// sqlite_store.h: the embedded default Store (WAL, FULL sync, prepared statements,
// schema versioned by PRAGMA user_version, files marked by PRAGMA application_id).
#ifndef CARTRECOVERY_SRC_STORE_SQLITE_STORE_H_
#define CARTRECOVERY_SRC_STORE_SQLITE_STORE_H_

#include <memory>
#include <string>

#include "cartrecovery/store.h"

namespace cartrecovery {
namespace internal {

// 'CaRt': marks a SQLite file as ours, so opening some other application's database is
// refused instead of being "migrated".
constexpr int32_t kApplicationId = 0x43615274;
// The schema version this build writes; files with a higher user_version are refused.
int SqliteSchemaVersion();
// The SQL of migration i (0-based: it brings version i to i + 1); for tests that build a
// file as an older version wrote it.
const char* SqliteMigration(int i);

std::unique_ptr<Store> OpenSqliteStore(const std::string& path);

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_STORE_SQLITE_STORE_H_
