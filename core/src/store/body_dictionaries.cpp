// body_dictionaries.cpp: body_dictionaries' rows and unpack_body (body_dictionaries.h).
#include "store/body_dictionaries.h"

#include "cartrecovery/status.h"
#include "store/body_codec.h"

namespace cartrecovery {
namespace internal {
namespace {

// A worker renders a handful of templates; a process that builds template sets over and over
// (tests, a notebook) keeps at most this many before starting again.
constexpr size_t kMaxRemembered = 256;

}  // namespace

BodyDictionaries::BodyDictionaries(SqliteDb& db) : db_(db) {
  db_.CreateFunction("unpack_body", 2, &BodyDictionaries::Unpack, this);
}

const BodyDictionaries::Entry& BodyDictionaries::For(
    const std::shared_ptr<const std::string>& dictionary, Millis now) {
  auto known = ids_.find(dictionary.get());
  if (known != ids_.end()) return known->second;
  const std::string digest = DictionaryDigest(*dictionary);
  db_.Prepare("INSERT OR IGNORE INTO body_dictionaries(digest, bytes, written_ms) VALUES(?1, ?2, ?3)")
      .Bind(1, digest)
      .BindBlob(2, *dictionary)
      .Bind(3, now)
      .Run();
  auto s = db_.Prepare("SELECT dict_id FROM body_dictionaries WHERE digest = ?1");
  s.Bind(1, digest);
  if (!s.Step()) throw Error(ErrorCode::kStorage, "body_dictionaries: the row just written is not there");
  Entry entry{std::make_shared<const BodyPacker>(dictionary), s.Int(0)};
  if (ids_.size() >= kMaxRemembered) ids_.clear();
  if (bytes_.size() >= kMaxRemembered) bytes_.clear();
  bytes_[entry.dict_id] = dictionary;
  fresh_.insert(entry.dict_id);
  return ids_[dictionary.get()] = std::move(entry);
}

void BodyDictionaries::RolledBack() {
  if (fresh_.empty()) return;
  for (int64_t id : fresh_) bytes_.erase(id);
  for (auto it = ids_.begin(); it != ids_.end();) {
    if (fresh_.count(it->second.dict_id)) it = ids_.erase(it);
    else ++it;
  }
  fresh_.clear();
}

const std::string* BodyDictionaries::Bytes(int64_t dict_id) {
  auto known = bytes_.find(dict_id);
  if (known != bytes_.end()) return known->second.get();
  // Read on the same connection, inside the statement that called unpack_body: SQLite
  // allows a nested statement there, and it sees what that statement's transaction sees.
  auto s = db_.Prepare("SELECT bytes FROM body_dictionaries WHERE dict_id = ?1");
  s.Bind(1, dict_id);
  if (!s.Step()) return nullptr;
  if (bytes_.size() >= kMaxRemembered) bytes_.clear();
  auto bytes = std::make_shared<const std::string>(s.Text(0));
  fresh_.insert(dict_id);
  return (bytes_[dict_id] = std::move(bytes)).get();
}

// unpack_body(value, dict_id): a packed BLOB unpacked against its dictionary; anything else
// (TEXT written as it is, NULL) as it is.
void BodyDictionaries::Unpack(sqlite3_context* ctx, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) != SQLITE_BLOB || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
    sqlite3_result_value(ctx, argv[0]);
    return;
  }
  auto* self = static_cast<BodyDictionaries*>(sqlite3_user_data(ctx));
  try {
    const int64_t dict_id = sqlite3_value_int64(argv[1]);
    const std::string* dictionary = self->Bytes(dict_id);
    if (!dictionary) {
      const std::string what = "message_bodies: dictionary " + std::to_string(dict_id) + " is missing";
      sqlite3_result_error(ctx, what.c_str(), static_cast<int>(what.size()));
      return;
    }
    const auto* packed = static_cast<const char*>(sqlite3_value_blob(argv[0]));
    const std::string text =
        UnpackBodyPart(packed, static_cast<size_t>(sqlite3_value_bytes(argv[0])), *dictionary);
    sqlite3_result_text(ctx, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  } catch (const std::exception& e) {
    sqlite3_result_error(ctx, e.what(), -1);
  }
}

}  // namespace internal
}  // namespace cartrecovery
