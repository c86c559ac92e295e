// body_dictionaries.h: the SQLite store's body dictionaries (body_codec.h), one row per
// template text in body_dictionaries, found by its digest when a body is packed and by its
// dict_id when one is read: the SQL function unpack_body(value, dict_id) that every
// statement reading message_bodies uses (store_rows.h UNPACKED_TEXT).
//
// A dictionary row is written once and never changed or deleted (retention leaves them:
// one per template text ever sent, a few KB each, no shopper's data; deleting one would
// need every process that remembers it to know), so what was read of one is good for the
// life of the connection, whoever wrote it. The exception is a row inserted in a
// transaction that was then undone: its dict_id may be given to another row later. So
// whatever was learnt since the last commit (written or read: a read may have seen this
// transaction's own row) is forgotten on a rollback, a savepoint's included.
#ifndef CARTRECOVERY_SRC_STORE_BODY_DICTIONARIES_H_
#define CARTRECOVERY_SRC_STORE_BODY_DICTIONARIES_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "cartrecovery/clock.h"
#include "store/body_codec.h"
#include "store/sqlite_db.h"

namespace cartrecovery {
namespace internal {

class BodyDictionaries {
 public:
  // Registers unpack_body on `db`, which must outlive this.
  explicit BodyDictionaries(SqliteDb& db);
  BodyDictionaries(const BodyDictionaries&) = delete;
  BodyDictionaries& operator=(const BodyDictionaries&) = delete;

  // The packer for `dictionary` and its dict_id; the row is inserted (inside the caller's
  // transaction) when the store has none yet.
  struct Entry {
    std::shared_ptr<const BodyPacker> packer;
    int64_t dict_id = 0;
  };
  // The entry stays as it is until the next call.
  const Entry& For(const std::shared_ptr<const std::string>& dictionary, Millis now);

  // The caller's transaction committed: what it inserted is there for good.
  void Committed() { fresh_.clear(); }
  // A transaction or a savepoint was undone: the rows inserted since the last commit may
  // be gone.
  void RolledBack();

 private:
  static void Unpack(sqlite3_context* ctx, int argc, sqlite3_value** argv);
  // The dictionary's bytes by dict_id; nullptr when there is no such row.
  const std::string* Bytes(int64_t dict_id);

  SqliteDb& db_;
  // By the template text a message carries (held by the packer, so that its address is
  // not reused).
  std::map<const std::string*, Entry> ids_;
  std::map<int64_t, std::shared_ptr<const std::string>> bytes_;  // by dict_id
  std::set<int64_t> fresh_;  // learnt since this connection's last commit
};

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_STORE_BODY_DICTIONARIES_H_
