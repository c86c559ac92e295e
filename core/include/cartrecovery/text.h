// Text checks shared by every parser that takes strings from outside (events, flows, CSV,
// settings): whatever the bytes, a refusal names the field and its message is itself
// valid UTF-8, so the Python side can always show it.
#ifndef CARTRECOVERY_TEXT_H_
#define CARTRECOVERY_TEXT_H_

#include <string>

namespace cartrecovery {

// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates
// U+D800..U+DFFF, nothing above U+10FFFF). The empty string is valid.
bool IsValidUtf8(const std::string& s);

// True when valid UTF-8 `s` holds a character that has no place in a name or a header line:
// C0 controls (CR, LF, TAB, NUL, ...), DEL, C1 controls and the Unicode line and paragraph
// separators (U+2028, U+2029).
bool HasControlCharacter(const std::string& s);

// `s` made safe to quote in an error message: valid UTF-8 passes unchanged, every byte of an
// invalid sequence becomes "\xNN", and the result is cut at `max_bytes` (with "...").
std::string QuoteForError(const std::string& s, size_t max_bytes = 80);

}  // namespace cartrecovery

#endif  // CARTRECOVERY_TEXT_H_
