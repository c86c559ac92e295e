// A person's data (GDPR Articles 15 and 17): Export() gathers every row about them as JSON;
// Forget() ends what is running for them and erases their personal data everywhere, keeping
// the rows reports count under anonymous keys (store.h ErasePerson), then compacts the
// store so no copy of it stays in the files.
#include <random>

#include "cartrecovery/status.h"
#include "engine/engine_impl.h"
#include "model/json_writer.h"

namespace cartrecovery {
namespace {

// The address and number as ingest spells them (lower-case e-mail, E.164 phone), or
// InvalidArgument naming the field: the same rules as an "unsubscribed" event.
std::pair<std::string, std::string> Normalized(const std::string& email, const std::string& phone,
                                               Millis now) {
  if (email.empty() && phone.empty())
    throw InvalidArgument("email", "give an e-mail address or a phone number (phone=...)");
  Value::Map fields;
  if (!email.empty()) fields["email"] = Value::String(email);
  if (!phone.empty()) fields["phone"] = Value::String(phone);
  Event e = ParseEvent("unsubscribed", Value::MakeMap(std::move(fields)), now, "EUR");
  return {e.email, e.phone};
}

std::string AnonymousKey() {
  std::random_device rd;
  static const char* kHex = "0123456789abcdef";
  std::string out = "x:";
  for (int i = 0; i < 16; ++i) {
    unsigned v = rd();
    out += kHex[v & 15];
    out += kHex[(v >> 4) & 15];
  }
  return out;
}

}  // namespace

std::string Engine::Export(const std::string& email_in, const std::string& phone_in) {
  auto [email, phone] = Normalized(email_in, phone_in, impl_->clock->NowMillis());
  Flush();
  Runtime& r = impl_->R();
  std::vector<std::pair<std::string, std::string>> rows;
  {
    std::lock_guard<std::timed_mutex> lock(r.store_mu);
    PersonKeys who = r.store->FindPerson(email, phone);
    if (!who.empty()) rows = r.store->PersonRows(who);
  }
  // {"email": ..., "phone": ..., "<table>": [rows...], ...}, tables in the store's order.
  std::string out = "{\"email\": " + internal::JsonQuote(email) + ", \"phone\": " + internal::JsonQuote(phone);
  std::string table;
  for (const auto& [t, json] : rows) {
    if (t != table) {
      out += (table.empty() ? "" : "]") + std::string(", ") + internal::JsonQuote(t) + ": [";
      table = t;
    } else {
      out += ", ";
    }
    out += json;
  }
  if (!table.empty()) out += "]";
  return out + "}";
}

std::map<std::string, int64_t> Engine::Forget(const std::string& email_in, const std::string& phone_in) {
  const Millis now = impl_->clock->NowMillis();
  auto [email, phone] = Normalized(email_in, phone_in, now);
  Flush();
  Runtime& r = impl_->R();
  std::map<std::string, int64_t> erased;
  std::lock_guard<std::timed_mutex> lock(r.store_mu);
  Store& store = *r.store;
  store.Write([&] {
    PersonKeys who = store.FindPerson(email, phone);
    if (who.empty()) return;
    // Nothing more goes to them: running journeys end, unsent steps are suppressed, carts
    // waiting to be called abandoned are not.
    for (const auto& key : who.contact_keys)
      while (auto j = store.RunningJourneyOfContact(key)) impl_->EndJourney(store, *j, "forgotten", now);
    for (const auto& cart : who.cart_ids) store.CancelJobs("abandon", cart);
    erased = store.ErasePerson(who, AnonymousKey());
  });
  store.Compact();
  for (auto it = erased.begin(); it != erased.end();) it = it->second ? std::next(it) : erased.erase(it);
  return erased;  // empty: nobody was stored under that address or number
}

}  // namespace cartrecovery
