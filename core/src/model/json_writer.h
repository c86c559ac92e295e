// json_writer.h: writing JSON text by hand where the exact bytes matter (canonical flow
// and policy documents, signed webhook bodies, push payloads). Not public API.
#ifndef CARTRECOVERY_SRC_MODEL_JSON_WRITER_H_
#define CARTRECOVERY_SRC_MODEL_JSON_WRITER_H_

#include <string>
#include <utility>
#include <vector>

namespace cartrecovery {
namespace internal {

// A JSON string literal: quotes, backslash and control characters escaped (\b \f \n \r \t
// short, the rest and DEL as \u00XX); every other byte (UTF-8 included) as is.
std::string JsonQuote(const std::string& text);

// Object members whose values are already JSON text.
using JsonMembers = std::vector<std::pair<std::string, std::string>>;

// One member (or item) per line, indented by `depth` levels of two spaces; "{}" / "[]"
// when empty.
std::string JsonBlockObject(const JsonMembers& members, int depth);
std::string JsonBlockList(const std::vector<std::string>& items, int depth);
// {"a": 1, "b": 2} and ["x", "y"] on one line (the list quotes its names).
std::string JsonInlineObject(const JsonMembers& members);
std::string JsonInlineNames(const std::vector<std::string>& names);

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_MODEL_JSON_WRITER_H_
