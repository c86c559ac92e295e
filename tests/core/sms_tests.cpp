// sms_tests: GSM-7 / UCS-2 detection and segment counting (sms.h), table-driven.
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "cartrecovery/sms.h"
#include "cartrecovery/status.h"

namespace cartrecovery {
namespace {

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

struct Case {
  const char* name;
  std::string text;
  SmsInfo::Encoding encoding;
  int units;
  int segments;
  int chars;
};

// Every character of the GSM 03.38 basic table except ESC (3GPP TS 23.038 6.2.1).
const char kBasicTable[] =
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

}  // namespace

BOOST_AUTO_TEST_SUITE(sms_tests)

BOOST_AUTO_TEST_CASE(segment_table) {
  const SmsInfo::Encoding G = SmsInfo::kGsm7, U = SmsInfo::kUcs2;
  const std::string a = "a";
  const std::string emoji = "\xF0\x9F\x98\x80";  // U+1F600, a surrogate pair in UTF-16
  const std::vector<Case> cases = {
      {"empty", "", G, 0, 0, 0},
      {"one char", "a", G, 1, 1, 1},
      {"ascii 160", Repeat(a, 160), G, 160, 1, 160},
      {"ascii 161", Repeat(a, 161), G, 161, 2, 161},
      {"ascii 306", Repeat(a, 306), G, 306, 2, 306},
      {"ascii 307", Repeat(a, 307), G, 307, 3, 307},
      {"ascii 459 = 3 x 153", Repeat(a, 459), G, 459, 3, 459},
      {"euro counts 2", "€", G, 2, 1, 1},
      {"all extension chars", "\f^{}\\[~]|€", G, 20, 1, 10},
      {"80 braces = 160 septets", Repeat("{", 80), G, 160, 1, 80},
      {"81 braces = 162 septets", Repeat("{", 81), G, 162, 2, 81},
      // 152 + [2] + 152 = 306 septets: ceil(306/153) = 2, but the escape pair may not be
      // split after septet 152, so the parts are 152 | 2+151 | 1.
      {"extension char not split", Repeat(a, 152) + "€" + Repeat(a, 152), G, 306, 3, 305},
      {"extension char fits at the end", Repeat(a, 151) + "€" + Repeat(a, 153), G, 306, 2, 305},
      {"ucs2 70", "ç" + Repeat(a, 69), U, 70, 1, 70},
      {"ucs2 71", "ç" + Repeat(a, 70), U, 71, 2, 71},
      {"ucs2 134", "ç" + Repeat(a, 133), U, 134, 2, 134},
      {"ucs2 135", "ç" + Repeat(a, 134), U, 135, 3, 135},
      {"one UCS-2 char turns 160 GSM chars into 3 parts", Repeat(a, 159) + "ç", U, 160, 3, 160},
      {"extension chars count 1 in UCS-2", "€{ç", U, 3, 1, 3},
      {"emoji counts 2", emoji, U, 2, 1, 1},
      {"emoji at 70", Repeat(a, 68) + emoji, U, 70, 1, 69},
      {"emoji at 71", Repeat(a, 69) + emoji, U, 71, 2, 70},
      // 66 + [2] + 66 = 134 units: ceil(134/67) = 2, but the pair may not be split after
      // unit 66, so the parts are 66 | 2+65 | 1.
      {"surrogate pair not split", Repeat(a, 66) + emoji + Repeat(a, 66), U, 134, 3, 133},
      {"surrogate pair fits at the end", Repeat(a, 65) + emoji + Repeat(a, 67), U, 134, 2, 133},
      {"BMP CJK counts 1", "你好", U, 2, 1, 2},
      {"whole basic table", kBasicTable, G, 127, 1, 127},
      {"backtick is not GSM-7", "`", U, 1, 1, 1},
      {"a-acute is not GSM-7", "á", U, 1, 1, 1},
      {"E-circumflex is not GSM-7", "Ê", U, 1, 1, 1},
      {"NUL is not a GSM-7 character", std::string(1, '\0'), U, 1, 1, 1},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      SmsInfo info = DescribeSms(c.text);
      BOOST_TEST(info.encoding == c.encoding);
      BOOST_TEST(info.units == c.units);
      BOOST_TEST(info.segments == c.segments);
      BOOST_TEST(info.chars == c.chars);
    }
  }
}

// PLAYBOOKS R3.3 names n-tilde, a-umlaut and c-cedilla as characters outside the GSM 7-bit
// alphabet. The GSM 03.38 basic table has ñ (0x7D), ä (0x7B), Ñ (0x5D), Ä (0x5B) and
// upper-case Ç (0x09), but not lower-case ç: of the three, only ç forces UCS-2.
BOOST_AUTO_TEST_CASE(r3_3_examples_against_the_real_table) {
  struct Char {
    const char* text;
    SmsInfo::Encoding encoding;
  };
  const std::vector<Char> chars = {
      {"ñ", SmsInfo::kGsm7}, {"ä", SmsInfo::kGsm7}, {"ç", SmsInfo::kUcs2},
      {"Ñ", SmsInfo::kGsm7}, {"Ä", SmsInfo::kGsm7}, {"Ç", SmsInfo::kGsm7},
  };
  for (const Char& c : chars) {
    BOOST_TEST_CONTEXT(c.text) {
      SmsInfo info = DescribeSms(c.text);
      BOOST_TEST(info.encoding == c.encoding);
      BOOST_TEST(info.units == 1);
    }
  }
  // So a Spanish or German reminder keeps 160 characters per message...
  BOOST_TEST(DescribeSms("Mañana: tu carrito te espera. Schön, dass du da bist!").encoding ==
             SmsInfo::kGsm7);
  // ...while one French "ç" drops it to 70.
  SmsInfo french = DescribeSms("Votre panier vous attend, ça vous dit ?");
  BOOST_TEST(french.encoding == SmsInfo::kUcs2);
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_refused) {
  const std::vector<std::string> bad = {
      "\xFF",              // never valid
      "abc\xC3",           // truncated two-byte sequence
      "\xE2\x82",          // truncated three-byte sequence
      "\xC0\xAF",          // overlong '/'
      "\xE0\x80\xAF",      // overlong '/'
      "\xED\xA0\x80",      // UTF-16 surrogate
      "\xF4\x90\x80\x80",  // above U+10FFFF
      "\x80",              // stray continuation byte
  };
  for (const std::string& text : bad) {
    BOOST_TEST_CONTEXT("bytes of length " << text.size()) {
      try {
        DescribeSms(text);
        BOOST_FAIL("accepted invalid UTF-8");
      } catch (const Error& e) {
        BOOST_TEST((e.code() == ErrorCode::kInvalidArgument));
        BOOST_TEST(e.field() == "text");
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(encoding_names) {
  BOOST_TEST(std::string(SmsEncodingName(SmsInfo::kGsm7)) == "gsm7");
  BOOST_TEST(std::string(SmsEncodingName(SmsInfo::kUcs2)) == "ucs2");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cartrecovery
