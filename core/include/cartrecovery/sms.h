// sms.h: how long an SMS is, as the network counts it (R3.3). Pure logic, no I/O.
//
// A text that uses only the GSM 03.38 alphabet travels as GSM-7: 160 septets in a single
// message, 153 per part once it is split (the other 7 septets carry the concatenation
// header). One character outside that alphabet makes the whole text UCS-2 (UTF-16): 70
// code units in a single message, 67 per part. Providers bill per part, so the renderer
// and the shop owner want the count before sending.
//
// Counting rules, as handsets and SMS centres apply them:
//  - GSM-7 basic table characters count 1 septet; the extension table (^ { } \ [ ~ ] | €
//    and form feed) counts 2 (ESC + the character), and the pair never straddles two parts.
//  - UCS-2 counts UTF-16 code units: a character beyond U+FFFF (most emoji) counts 2 and
//    its surrogate pair never straddles two parts.
//  - Note for R3.3: n-tilde (ñ) and a-umlaut (ä) ARE in the GSM-7 basic table; lower-case
//    c-cedilla (ç) is not (only upper-case Ç is), so only ç of the playbook's examples
//    forces UCS-2.
#ifndef CARTRECOVERY_SMS_H_
#define CARTRECOVERY_SMS_H_

#include <string>

namespace cartrecovery {

constexpr int kGsm7SingleUnits = 160;   // septets in a one-part message
constexpr int kGsm7PartUnits = 153;     // septets per part of a concatenated message
constexpr int kUcs2SingleUnits = 70;    // UTF-16 code units in a one-part message
constexpr int kUcs2PartUnits = 67;      // UTF-16 code units per part

struct SmsInfo {
  enum Encoding { kGsm7, kUcs2 };
  Encoding encoding = kGsm7;
  int units = 0;     // septets (GSM-7) or UTF-16 code units (UCS-2)
  int segments = 0;  // parts the network sends; 0 for the empty text
  int chars = 0;     // Unicode code points
};

// Describes `utf8` as an SMS (see the file comment for the rules). The empty text is
// GSM-7 with 0 units and 0 segments. Throws InvalidArgument("text", ...) when `utf8` is not
// valid UTF-8 (overlong forms, surrogates and code points above U+10FFFF included).
// Thread-safe.
SmsInfo DescribeSms(const std::string& utf8);

// "gsm7" or "ucs2", the names the Python API uses.
const char* SmsEncodingName(SmsInfo::Encoding encoding);

}  // namespace cartrecovery

#endif  // CARTRECOVERY_SMS_H_
