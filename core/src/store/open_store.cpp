#include "cartrecovery/status.h"
#include "cartrecovery/store.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace cartrecovery {

std::unique_ptr<Store> OpenStore(const std::string& url) {
  if (url == ":memory:" || url == "sqlite://:memory:" || url == "sqlite:///:memory:")
    return internal::OpenSqliteStore(":memory:");
  const std::string kSqlite = "sqlite:///";
  if (url.rfind(kSqlite, 0) == 0) {
    // sqlite:///relative.db and sqlite:////absolute/path.db, as SQLAlchemy spells them.
    return internal::OpenSqliteStore(url.substr(kSqlite.size()));
  }
  if (url.find("://") == std::string::npos && !url.empty()) return internal::OpenSqliteStore(url);
  // Both spellings libpq (and SQLAlchemy, Django's dj-database-url) accept.
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0)
    return internal::OpenPostgresStore(url);
  throw Error(ErrorCode::kConfig,
              "store: '" + url.substr(0, url.find("://")) +
                  "' is not a known store scheme (use sqlite:///path.db, :memory: or "
                  "postgresql://user@host/db)",
              "store");
}

}  // namespace cartrecovery
