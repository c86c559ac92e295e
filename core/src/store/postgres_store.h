// postgres_store.h: the Store for shops on several hosts: every web process and worker
// points at one PostgreSQL database. Same tables and columns as the SQLite store (BIGINT
// for integers, TEXT for text), plus key_locks (the rows its writers lock per shopper),
// schema versioned by a schema_version table, migrations applied in one transaction under
// an advisory lock.
#ifndef CARTRECOVERY_SRC_STORE_POSTGRES_STORE_H_
#define CARTRECOVERY_SRC_STORE_POSTGRES_STORE_H_

#include <memory>
#include <string>

#include "cartrecovery/store.h"

namespace cartrecovery {
namespace internal {

// The schema version this build writes; a schema with a higher version is refused.
int PostgresSchemaVersion();
// The SQL of migration i (0-based: it brings version i to i + 1); for tests that build a
// schema as an older version wrote it.
const char* PostgresMigration(int i);

// url: postgresql://user:password@host:port/db?schema=name (also postgres://). `schema`
// keeps the store in its own schema (created if missing); libpq's own parameters (sslmode,
// connect_timeout, ...) pass through.
std::unique_ptr<Store> OpenPostgresStore(const std::string& url);

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_STORE_POSTGRES_STORE_H_
