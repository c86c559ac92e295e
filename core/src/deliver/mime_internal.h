// mime_internal.h: helpers shared by the deliver module's channels (not public API).
#ifndef CARTRECOVERY_DELIVER_MIME_INTERNAL_H_
#define CARTRECOVERY_DELIVER_MIME_INTERNAL_H_

#include <string>

namespace cartrecovery {
namespace internal {

// "Kite Shop <shop@kite.example>", "\"Kite, Shop\" <shop@kite.example>" or a bare address.
struct Mailbox {
  std::string name;     // display name, unquoted; may be empty
  std::string address;  // addr-spec, never empty
};

// Throws InvalidArgument(field, ...) for line breaks, an empty or malformed address.
Mailbox ParseMailbox(const std::string& text, const std::string& field);

// Throws InvalidArgument(field, ...) unless `address` is a single addr-spec that is safe in
// an SMTP command and a header (no line breaks, spaces, angle brackets or commas).
void CheckAddress(const std::string& address, const std::string& field);

// Standard base64 (RFC 4648) without line breaks.
std::string Base64(const std::string& bytes);

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_DELIVER_MIME_INTERNAL_H_
