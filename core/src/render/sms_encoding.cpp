// sms_encoding.cpp: GSM-7 / UCS-2 detection and segment counting (sms.h).
//
// The tables are GSM 03.38 (3GPP TS 23.038 6.2.1): the 128-entry basic table minus ESC,
// and the characters of the extension table that handsets actually send.
#include <string>
#include <vector>

#include "cartrecovery/sms.h"
#include "cartrecovery/status.h"

namespace cartrecovery {
namespace {

// In table order, 0x00 .. 0x7F, ESC (0x1B) left out.
constexpr char32_t kGsm7Basic[] =
    U"@£$¥èéùìòÇ\nØø\rÅå"
    U"Δ_ΦΓΛΩΠΨΣΘΞ" U"ÆæßÉ"
    U" !\"#¤%&'()*+,-./"
    U"0123456789:;<=>?"
    U"¡ABCDEFGHIJKLMNO"
    U"PQRSTUVWXYZÄÖÑÜ§"
    U"¿abcdefghijklmno"
    U"pqrstuvwxyzäöñüà";

// Sent as ESC + one septet, so each counts 2.
constexpr char32_t kGsm7Extension[] = U"\f^{}\\[~]|€";

bool In(const char32_t* table, char32_t c) {
  for (; *table; ++table) {
    if (*table == c) return true;
  }
  return false;
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
std::vector<char32_t> DecodeUtf8(const std::string& text) {
  std::vector<char32_t> out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    unsigned char lead = static_cast<unsigned char>(text[i]);
    int extra;
    char32_t c;
    char32_t min;
    if (lead < 0x80) {
      extra = 0, c = lead, min = 0;
    } else if ((lead & 0xE0) == 0xC0) {
      extra = 1, c = lead & 0x1F, min = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      extra = 2, c = lead & 0x0F, min = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      extra = 3, c = lead & 0x07, min = 0x10000;
    } else {
      throw InvalidArgument("text", "is not valid UTF-8 (byte " + std::to_string(i) + ")");
    }
    if (i + static_cast<size_t>(extra) >= text.size()) {  // (never true for ASCII: i < size)
      throw InvalidArgument("text", "is not valid UTF-8 (truncated at byte " + std::to_string(i) + ")");
    }
    for (int k = 1; k <= extra; ++k) {
      unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) {
        throw InvalidArgument("text", "is not valid UTF-8 (byte " + std::to_string(i + k) + ")");
      }
      c = (c << 6) | (next & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
      throw InvalidArgument("text", "is not valid UTF-8 (byte " + std::to_string(i) + ")");
    }
    out.push_back(c);
    i += static_cast<size_t>(extra) + 1;
  }
  return out;
}

// Parts needed when every character's units must stay within one part.
int CountSegments(const std::vector<int>& costs, int total, int single, int per_part) {
  if (total == 0) return 0;
  if (total <= single) return 1;
  int segments = 1;
  int used = 0;
  for (int cost : costs) {
    if (used + cost > per_part) {
      ++segments;
      used = 0;
    }
    used += cost;
  }
  return segments;
}

}  // namespace

SmsInfo DescribeSms(const std::string& utf8) {
  std::vector<char32_t> chars = DecodeUtf8(utf8);
  SmsInfo info;
  info.chars = static_cast<int>(chars.size());
  std::vector<int> costs;
  costs.reserve(chars.size());
  bool gsm7 = true;
  for (char32_t c : chars) {
    if (In(kGsm7Basic, c)) {
      costs.push_back(1);
    } else if (In(kGsm7Extension, c)) {
      costs.push_back(2);
    } else {
      gsm7 = false;
      break;
    }
  }
  if (!gsm7) {
    costs.clear();
    for (char32_t c : chars) costs.push_back(c > 0xFFFF ? 2 : 1);
  }
  for (int cost : costs) info.units += cost;
  info.encoding = gsm7 ? SmsInfo::kGsm7 : SmsInfo::kUcs2;
  info.segments = gsm7 ? CountSegments(costs, info.units, kGsm7SingleUnits, kGsm7PartUnits)
                       : CountSegments(costs, info.units, kUcs2SingleUnits, kUcs2PartUnits);
  return info;
}

const char* SmsEncodingName(SmsInfo::Encoding encoding) {
  return encoding == SmsInfo::kGsm7 ? "gsm7" : "ucs2";
}

}  // namespace cartrecovery
