// offer_tests: coupon codes, the CSV import, coupon rules, A/B assignment, the incentive
// budget, the exit-intent decision and the report statistics (offer.h). All pure: no store,
// no clock, no network. Expected values come from the playbooks' rules, from published
// tables (Newcombe 1998) or from an independent Python computation noted beside them.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <deque>
#include <istream>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include "cartrecovery/offer.h"
#include "cartrecovery/status.h"

namespace cartrecovery {
static std::ostream& boost_test_print_type(std::ostream& os, CouponProblem p) {
  return os << CouponProblemName(p);
}
static std::ostream& boost_test_print_type(std::ostream& os, ErrorCode c) {
  return os << ErrorCodeName(c);
}
}  // namespace cartrecovery

using namespace cartrecovery;

namespace {

constexpr Millis kNow = 1'780'000'000'000;

// Hands out scripted bytes; throws when it runs dry, so a test sees exactly what was used.
class ScriptedRandom final : public RandomSource {
 public:
  explicit ScriptedRandom(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  void Fill(uint8_t* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) {
      // Past the script, repeat 255 (always rejected) so the code must come from the script.
      out[i] = pos_ < bytes_.size() ? bytes_[pos_++] : 255;
      if (++asked_ > 100000) throw Error(ErrorCode::kInternal, "scripted source exhausted");
    }
  }

 private:
  std::vector<uint8_t> bytes_;
  size_t pos_ = 0;
  size_t asked_ = 0;
};

// Counts 0, 1, ..., 255, 0, 1, ...: every byte value equally often.
class CountingRandom final : public RandomSource {
 public:
  void Fill(uint8_t* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(next_++);
  }
  uint64_t next_ = 0;
};

class FailingRandom final : public RandomSource {
 public:
  void Fill(uint8_t*, size_t) override { throw Error(ErrorCode::kInternal, "no entropy"); }
};

template <typename F>
ErrorCode CodeOf(F&& f, std::string* field = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (field) *field = e.field();
    return e.code();
  }
  BOOST_FAIL("no Error thrown");
  return ErrorCode::kInternal;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(offer_tests)

// ---- coupon codes ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(alphabet_has_no_look_alikes) {
  const std::string alphabet = kCouponAlphabet;
  BOOST_TEST(alphabet.size() == kCouponAlphabetSize);
  BOOST_TEST(kCouponAlphabetSize == 25u);
  BOOST_TEST(std::set<char>(alphabet.begin(), alphabet.end()).size() == alphabet.size());
  for (char c : std::string("0O1IL2Z5S8B")) {
    BOOST_TEST_CONTEXT("look-alike " << c) { BOOST_TEST(alphabet.find(c) == std::string::npos); }
  }
  for (char c : alphabet) BOOST_TEST(CouponCodeProblem(std::string(1, c)) == nullptr);
  BOOST_TEST(std::abs(CouponCodeEntropyBits(12) - 55.726) < 1e-3);
  BOOST_TEST(std::abs(CouponCodeEntropyBits(10) - 46.439) < 1e-3);
  BOOST_TEST(std::abs(kCouponBitsPerSymbol - std::log2(25.0)) < 1e-12);
  BOOST_TEST(CouponCodeEntropyBits(0) == 0.0);
}

BOOST_AUTO_TEST_CASE(generated_code_maps_bytes_and_rejects_the_top_six) {
  struct Case {
    std::vector<uint8_t> bytes;
    std::string prefix;
    int length;
    std::string expected;
  };
  const std::string a = kCouponAlphabet;
  const std::vector<Case> cases = {
      // b % 25 indexes the alphabet: 0 -> A, 24 -> 9, 25 -> A, 249 -> 9.
      {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "", 10, a.substr(0, 10)},
      {{15, 16, 17, 18, 19, 20, 21, 22, 23, 24}, "", 10, a.substr(15, 10)},
      {{25, 50, 75, 100, 125, 150, 175, 200, 225, 249}, "", 10, "AAAAAAAAA9"},
      // 250..255 are skipped, never mapped (250 % 25 == 0 would favour 'A').
      {{250, 251, 252, 253, 254, 255, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, "", 10, "CCCCCCCCCC"},
      {{0, 255, 0, 250, 0, 0, 0, 0, 0, 0, 0, 0}, "CART", 10, "CARTAAAAAAAAAA"},
      // The prefix is normalized like a typed code.
      {{24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24}, "vip-5 ", 12, "VIP5999999999999"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT("expected " << c.expected) {
      ScriptedRandom random(c.bytes);
      BOOST_TEST(GenerateCouponCode(c.prefix, c.length, random) == c.expected);
    }
  }
}

BOOST_AUTO_TEST_CASE(generated_symbols_are_exactly_uniform_over_all_byte_values) {
  // Every byte value once per 256 draws: the 250 accepted ones give each symbol exactly 10
  // times. Plain b % 25 without rejection would give A..G 11 times and the rest 10.
  CountingRandom exact;
  std::map<char, int> exact_counts;
  for (int i = 0; i < 100; ++i) {  // 100 codes x 10 = 1000 symbols = 4 cycles of 250
    for (char c : GenerateCouponCode("", 10, exact)) ++exact_counts[c];
  }
  BOOST_TEST(exact_counts.size() == kCouponAlphabetSize);
  for (const auto& [c, n] : exact_counts) {
    BOOST_TEST_CONTEXT("symbol " << c) { BOOST_TEST(n == 40); }
  }
}

BOOST_AUTO_TEST_CASE(crypto_codes_are_distinct_and_well_formed) {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    const std::string code = GenerateCouponCode("SAVE", kDefaultGeneratedCodeLength);
    BOOST_TEST(code.size() == 4u + kDefaultGeneratedCodeLength);
    BOOST_TEST(code.compare(0, 4, "SAVE") == 0);
    BOOST_TEST(code.find_first_not_of(kCouponAlphabet, 4) == std::string::npos);
    BOOST_TEST(NormalizeCouponCode(code) == code);
    seen.insert(code);
  }
  // 2000 draws from 25^12: a clash has probability ~3e-11.
  BOOST_TEST(seen.size() == 2000u);
}

BOOST_AUTO_TEST_CASE(generate_refuses_bad_arguments) {
  struct Case {
    std::string prefix;
    int length;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"", 9, "length"},   {"", 33, "length"},          {"", 0, "length"},
      {"AB!", 12, "prefix"}, {"ÄB", 12, "prefix"},      {std::string(53, 'A'), 12, "prefix"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.prefix << "/" << c.length) {
      std::string field;
      BOOST_TEST(CodeOf([&] { GenerateCouponCode(c.prefix, c.length); }, &field) ==
                 ErrorCode::kInvalidArgument);
      BOOST_TEST(field == c.field);
    }
  }
  // 52 + 12 = 64 is the longest allowed.
  BOOST_TEST(GenerateCouponCode(std::string(52, 'A'), 12).size() == kMaxCouponCodeLength);
  FailingRandom failing;
  BOOST_TEST(CodeOf([&] { GenerateCouponCode("", 12, failing); }) == ErrorCode::kInternal);
}

BOOST_AUTO_TEST_CASE(normalize_what_shoppers_type) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"abcd-efgh", "ABCDEFGH"},     {" ab cd\t12 ", "ABCD12"},  {"SAVE_10", "SAVE10"},
      {"save-10\r\n", "SAVE10"},     {"", ""},                   {"---", ""},
      {"x7q9", "X7Q9"},              {"a.b", "A.B"},             {"o0O", "O0O"},
      {"\xc3\xa4" "b", "\xc3\xa4" "B"},
  };
  for (const auto& [typed, canonical] : cases) {
    BOOST_TEST_CONTEXT("'" << typed << "'") { BOOST_TEST(NormalizeCouponCode(typed) == canonical); }
  }
}

BOOST_AUTO_TEST_CASE(code_problems) {
  struct Case {
    std::string code;
    size_t max;
    const char* problem;
  };
  const std::vector<Case> cases = {
      {"ABC123", 64, nullptr},
      {"", 64, "empty_code"},
      {std::string(64, 'A'), 64, nullptr},
      {std::string(65, 'A'), 64, "too_long"},
      {"ABCDEF", 5, "too_long"},
      {"ABC.1", 64, "invalid_characters"},
      {"abc", 64, "invalid_characters"},  // not canonical
      {"AB\"C", 64, "invalid_characters"},
      {"\xc3\x84" "B", 64, "invalid_characters"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.code) {
      const char* got = CouponCodeProblem(c.code, c.max);
      BOOST_TEST(std::string(got ? got : "-") == std::string(c.problem ? c.problem : "-"));
    }
  }
}

// ---- coupons and pools -------------------------------------------------------------------

namespace {

Coupon Unique(const std::string& contact, const std::string& order = "", Millis expires = 0) {
  Coupon c;
  c.code = "K7QXW4NMRTAH";
  c.pool = "step3";
  c.discount = {DiscountKind::kPercent, 1000, ""};
  c.assigned_contact = contact;
  c.redeemed_order = order;
  c.expires_ms = expires;
  return c;
}

Coupon Shared(Millis expires = 0) {
  Coupon c;
  c.code = "WELCOME10";
  c.pool = "welcome";
  c.shared = true;
  c.expires_ms = expires;
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(validate_and_redeem_rules) {
  const std::string ann = "e:ann@example.com";
  const std::string bob = "e:bob@example.com";
  struct Case {
    const char* name;
    std::optional<Coupon> coupon;
    std::string contact;
    std::string order;
    CouponProblem validate;
    CouponProblem redeem;
  };
  const std::vector<Case> cases = {
      {"unknown", std::nullopt, ann, "o1", CouponProblem::kUnknown, CouponProblem::kUnknown},
      {"own code", Unique(ann), ann, "o1", CouponProblem::kNone, CouponProblem::kNone},
      {"foreign code", Unique(ann), bob, "o1", CouponProblem::kAssignedToAnotherContact,
       CouponProblem::kAssignedToAnotherContact},
      {"no contact at checkout", Unique(ann), "", "o1", CouponProblem::kAssignedToAnotherContact,
       CouponProblem::kAssignedToAnotherContact},
      {"never handed out", Unique(""), ann, "o1", CouponProblem::kNotIssued,
       CouponProblem::kNotIssued},
      {"used by another order", Unique(ann, "o0"), ann, "o1", CouponProblem::kAlreadyRedeemed,
       CouponProblem::kAlreadyRedeemed},
      {"retry of the same order", Unique(ann, "o1"), ann, "o1", CouponProblem::kAlreadyRedeemed,
       CouponProblem::kNone},
      {"same order id, other contact", Unique(ann, "o1"), bob, "o1",
       CouponProblem::kAlreadyRedeemed, CouponProblem::kAlreadyRedeemed},
      {"retry after expiry", Unique(ann, "o1", kNow - 1), ann, "o1",
       CouponProblem::kAlreadyRedeemed, CouponProblem::kNone},
      {"used beats foreign", Unique(ann, "o0"), bob, "o1", CouponProblem::kAlreadyRedeemed,
       CouponProblem::kAlreadyRedeemed},
      {"expires at now", Unique(ann, "", kNow), ann, "o1", CouponProblem::kExpired,
       CouponProblem::kExpired},
      {"expires a ms later", Unique(ann, "", kNow + 1), ann, "o1", CouponProblem::kNone,
       CouponProblem::kNone},
      {"foreign beats expired", Unique(ann, "", kNow - 1), bob, "o1",
       CouponProblem::kAssignedToAnotherContact, CouponProblem::kAssignedToAnotherContact},
      {"shared code, anyone", Shared(), bob, "o1", CouponProblem::kNone, CouponProblem::kNone},
      {"shared code, no contact", Shared(), "", "o1", CouponProblem::kNone, CouponProblem::kNone},
      {"shared code, expired", Shared(kNow), ann, "o1", CouponProblem::kExpired,
       CouponProblem::kExpired},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST(ValidateCoupon(c.coupon, c.contact, kNow) == c.validate);
      BOOST_TEST(CanRedeem(c.coupon, c.contact, c.order, kNow) == c.redeem);
    }
  }
  // A shared code can be used by any number of orders.
  Coupon shared = Shared();
  shared.redeemed_order = "o0";
  BOOST_TEST(CanRedeem(shared, ann, "o9", kNow) == CouponProblem::kNone);
  std::string field;
  BOOST_TEST(CodeOf([&] { CanRedeem(Unique(ann), ann, "", kNow); }, &field) ==
             ErrorCode::kInvalidArgument);
  BOOST_TEST(field == "order_id");
}

BOOST_AUTO_TEST_CASE(problem_and_kind_names) {
  const std::vector<std::pair<CouponProblem, std::string>> problems = {
      {CouponProblem::kNone, "none"},
      {CouponProblem::kUnknown, "unknown"},
      {CouponProblem::kAlreadyRedeemed, "already_redeemed"},
      {CouponProblem::kNotIssued, "not_issued"},
      {CouponProblem::kAssignedToAnotherContact, "assigned_to_another_contact"},
      {CouponProblem::kExpired, "expired"},
  };
  for (const auto& [p, name] : problems) BOOST_TEST(CouponProblemName(p) == name);
  for (PoolKind k : {PoolKind::kStatic, PoolKind::kImported, PoolKind::kGenerated}) {
    BOOST_TEST((ParsePoolKind(PoolKindName(k)) == k));
  }
  BOOST_TEST(!ParsePoolKind("Static"));
  for (DiscountKind k : {DiscountKind::kPercent, DiscountKind::kFixed}) {
    BOOST_TEST((ParseDiscountKind(DiscountKindName(k)) == k));
  }
  BOOST_TEST(!ParseDiscountKind(""));
}

BOOST_AUTO_TEST_CASE(prune_expired_unused_codes_after_grace) {
  struct Case {
    const char* name;
    Coupon coupon;
    Millis now;
    bool prunable;
  };
  const Millis exp = kNow;
  const Millis grace = 30 * kDay;
  const std::vector<Case> cases = {
      {"free, expired long ago", Unique("", "", exp), exp + grace, true},
      {"assigned, expired long ago", Unique("e:a", "", exp), exp + grace, true},
      {"within grace", Unique("e:a", "", exp), exp + grace - 1, false},
      {"just expired", Unique("e:a", "", exp), exp, false},
      {"redeemed", Unique("e:a", "o1", exp), exp + 100 * kDay, false},
      {"never expires", Unique("e:a", "", 0), exp + 1000 * kDay, false},
      {"shared", Shared(exp), exp + 100 * kDay, false},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) { BOOST_TEST(IsPrunable(c.coupon, c.now, grace) == c.prunable); }
  }
  BOOST_TEST(IsPrunable(Unique("", "", exp), exp, 0));
}

BOOST_AUTO_TEST_CASE(discount_amounts) {
  struct Case {
    Discount d;
    int64_t value;
    std::string currency;
    int64_t expected;
  };
  const std::vector<Case> cases = {
      {{DiscountKind::kPercent, 1000, ""}, 12345, "EUR", 1234},  // 10 %, rounded down
      {{DiscountKind::kPercent, 1500, ""}, 999, "EUR", 149},     // 149.85 -> 149
      {{DiscountKind::kPercent, 10000, ""}, 5000, "JPY", 5000},
      {{DiscountKind::kPercent, 1, ""}, 9999, "EUR", 0},
      {{DiscountKind::kPercent, 5000, ""}, std::numeric_limits<int64_t>::max(), "EUR",
       std::numeric_limits<int64_t>::max() / 2},  // no overflow
      {{DiscountKind::kFixed, 500, "EUR"}, 12345, "EUR", 500},
      {{DiscountKind::kFixed, 500, "EUR"}, 300, "EUR", 300},  // never below zero
      {{DiscountKind::kFixed, 500, "EUR"}, 0, "EUR", 0},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(DiscountKindName(c.d.kind) << " " << c.d.amount << " of " << c.value) {
      BOOST_TEST(DiscountMinor(c.d, c.value, c.currency) == c.expected);
    }
  }
  struct Bad {
    Discount d;
    int64_t value;
    std::string currency;
    std::string field;
  };
  const std::vector<Bad> bad = {
      {{DiscountKind::kPercent, 0, ""}, 100, "EUR", "discount"},
      {{DiscountKind::kPercent, 10001, ""}, 100, "EUR", "discount"},
      {{DiscountKind::kFixed, 0, "EUR"}, 100, "EUR", "discount"},
      {{DiscountKind::kFixed, 100, ""}, 100, "EUR", "discount"},
      {{DiscountKind::kFixed, 100, "EUR"}, 100, "PLN", "currency"},
      {{DiscountKind::kPercent, 100, ""}, -1, "EUR", "cart_value"},
  };
  for (const Bad& b : bad) {
    std::string field;
    BOOST_TEST(CodeOf([&] { DiscountMinor(b.d, b.value, b.currency); }, &field) ==
               ErrorCode::kInvalidArgument);
    BOOST_TEST(field == b.field);
  }
}

BOOST_AUTO_TEST_CASE(pool_validation_and_expiry) {
  CouponPool good;
  good.name = "step3";
  good.kind = PoolKind::kGenerated;
  good.discount = {DiscountKind::kPercent, 1000, ""};
  good.prefix = "cart-";
  BOOST_CHECK_NO_THROW(ValidateCouponPool(good));

  struct Case {
    const char* name;
    CouponPool pool;
    std::string field;
  };
  auto with = [&](auto edit) {
    CouponPool p = good;
    edit(p);
    return p;
  };
  const std::vector<Case> cases = {
      {"no name", with([](CouponPool& p) { p.name = ""; }), "pool.name"},
      {"bad discount", with([](CouponPool& p) { p.discount.amount = 0; }), "pool.discount"},
      {"short codes", with([](CouponPool& p) { p.code_length = 8; }), "pool.code_length"},
      {"bad prefix", with([](CouponPool& p) { p.prefix = "a+b"; }), "pool.prefix"},
      {"long prefix", with([](CouponPool& p) { p.prefix = std::string(60, 'A'); }), "pool.prefix"},
      {"negative validity", with([](CouponPool& p) { p.valid_for_ms = -1; }), "pool.valid_for"},
      {"negative end", with([](CouponPool& p) { p.expires_ms = -1; }), "pool.expires"},
      {"static without code", with([](CouponPool& p) { p.kind = PoolKind::kStatic; }),
       "pool.static_code"},
      {"static not canonical", with([](CouponPool& p) {
         p.kind = PoolKind::kStatic;
         p.static_code = "welcome10";
       }),
       "pool.static_code"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      std::string field;
      BOOST_TEST(CodeOf([&] { ValidateCouponPool(c.pool); }, &field) == ErrorCode::kConfig);
      BOOST_TEST(field == c.field);
    }
  }
  CouponPool st = good;
  st.kind = PoolKind::kStatic;
  st.static_code = "WELCOME10";
  BOOST_CHECK_NO_THROW(ValidateCouponPool(st));

  struct Exp {
    PoolKind kind;
    Millis valid_for, fixed_end, expected;
  };
  const std::vector<Exp> exps = {
      {PoolKind::kGenerated, 7 * kDay, 0, kNow + 7 * kDay},
      {PoolKind::kImported, 7 * kDay, kNow + kDay, kNow + kDay},   // the earlier wins
      {PoolKind::kImported, 1 * kDay, kNow + 9 * kDay, kNow + kDay},
      {PoolKind::kGenerated, 0, 0, 0},
      {PoolKind::kGenerated, 0, kNow + 5, kNow + 5},
      {PoolKind::kStatic, 7 * kDay, 0, 0},  // a static code is not issued per contact
      {PoolKind::kStatic, 7 * kDay, kNow + 3, kNow + 3},
  };
  for (const Exp& e : exps) {
    CouponPool p = good;
    p.kind = e.kind;
    p.valid_for_ms = e.valid_for;
    p.expires_ms = e.fixed_end;
    BOOST_TEST(CouponExpiry(p, kNow) == e.expected);
  }
}

// ---- CSV import --------------------------------------------------------------------------

namespace {

// A code or a bad row's reason at a line.
struct At {
  int64_t line;
  std::string text;
  bool operator==(const At& o) const { return line == o.line && text == o.text; }
};
std::ostream& operator<<(std::ostream& os, const At& a) {
  return os << a.line << ":" << a.text;
}
using Lines = std::vector<At>;

struct CsvResult {
  Lines codes;  // (line, code)
  Lines bad;    // (line, reason)
  int64_t duplicates = 0;
  uint64_t bytes = 0;
};

CsvResult ReadAll(const std::string& text, CsvImportOptions options) {
  std::istringstream in(text);
  CsvCodeReader reader(in, std::move(options));
  CsvResult r;
  CsvCode code;
  while (reader.Next(&code)) r.codes.push_back({code.line, code.code});
  for (const CsvBadRow& b : reader.bad_rows()) r.bad.push_back({b.line, b.reason});
  r.duplicates = reader.duplicates();
  r.bytes = reader.bytes_read();
  BOOST_TEST(reader.codes() == static_cast<int64_t>(r.codes.size()));
  BOOST_TEST(reader.bad_row_count() == static_cast<int64_t>(r.bad.size()));
  BOOST_TEST(!reader.Next(&code));  // stays at the end
  return r;
}

CsvImportOptions ByName(const std::string& name) {
  CsvImportOptions o;
  o.column_name = name;
  return o;
}

CsvImportOptions ByIndex(int index, bool header = true) {
  CsvImportOptions o;
  o.column_index = index;
  o.has_header = header;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(csv_reads_codes_with_line_numbers) {
  struct Case {
    const char* name;
    std::string text;
    CsvImportOptions options;
    Lines codes;
    Lines bad;
    int64_t duplicates;
  };
  const std::vector<Case> cases = {
      {"LF, by name", "id,code\n1,AAA111\n2,bbb-222\n", ByName("code"),
       {{2, "AAA111"}, {3, "BBB222"}}, {}, 0},
      {"CRLF, name case and spaces", "id, Code \r\n1,AAA111\r\n2,BBB222\r\n", ByName("CODE"),
       {{2, "AAA111"}, {3, "BBB222"}}, {}, 0},
      {"lone CR", "code\rAAA111\rBBB222", ByName("code"), {{2, "AAA111"}, {3, "BBB222"}}, {}, 0},
      {"no final newline", "code\nAAA111\nBBB222", ByName("code"),
       {{2, "AAA111"}, {3, "BBB222"}}, {}, 0},
      {"by index", "a,b,c\nx,AAA111,z\n", ByIndex(1), {{2, "AAA111"}}, {}, 0},
      {"no header", "AAA111,x\nBBB222,y\n", ByIndex(0, false), {{1, "AAA111"}, {2, "BBB222"}},
       {}, 0},
      {"byte-order mark", "\xEF\xBB\xBF" "code\nAAA111\n", ByName("code"), {{2, "AAA111"}}, {}, 0},
      {"blank lines skipped", "code\n\nAAA111\r\n\r\n\nBBB222\n\n", ByName("code"),
       {{3, "AAA111"}, {6, "BBB222"}}, {}, 0},
      {"quoted delimiter in another column", "note,code\n\"a, b\",AAA111\n", ByName("code"),
       {{2, "AAA111"}}, {}, 0},
      {"quoted code", "code,n\n\"AAA111\",1\n", ByName("code"), {{2, "AAA111"}}, {}, 0},
      {"quoted newline shifts later lines", "note,code\n\"two\nlines\",AAA111\nx,BBB222\n",
       ByName("code"), {{2, "AAA111"}, {4, "BBB222"}}, {}, 0},
      {"quoted CRLF counts one line", "note,code\r\n\"two\r\nlines\",AAA111\r\nx,BBB222\r\n",
       ByName("code"), {{2, "AAA111"}, {4, "BBB222"}}, {}, 0},
      {"escaped quote is an invalid character", "code\n\"AB\"\"C\"\nAAA111\n", ByName("code"),
       {{3, "AAA111"}}, {{2, "invalid_characters"}}, 0},
      {"duplicates skipped after normalizing", "code\nAAA111\naaa-111\n AAA111 \nBBB222\nAAA111\n",
       ByName("code"), {{2, "AAA111"}, {5, "BBB222"}}, {}, 3},
      {"empty code", "id,code\n1,\n2,\"\"\n3,AAA111\n", ByName("code"), {{4, "AAA111"}},
       {{2, "empty_code"}, {3, "empty_code"}}, 0},
      {"dashes only is empty", "code\n---\n", ByName("code"), {}, {{2, "empty_code"}}, 0},
      {"invalid characters", "code\nAB.12\nZÜRICH\nGOOD1\n", ByName("code"), {{4, "GOOD1"}},
       {{2, "invalid_characters"}, {3, "invalid_characters"}}, 0},
      {"wrong column count", "id,code\n1,AAA111\n2\n3,BBB222,extra\n4,CCC333\n", ByName("code"),
       {{2, "AAA111"}, {5, "CCC333"}}, {{3, "wrong_column_count"}, {4, "wrong_column_count"}}, 0},
      {"bad quote", "code,n\n\"AAA\"111,1\nBBB222,2\n", ByName("code"), {{3, "BBB222"}},
       {{2, "bad_quote"}}, 0},
      {"unterminated quote swallows the rest", "code\nAAA111\n\"BBB222\nCCC333\n", ByName("code"),
       {{2, "AAA111"}}, {{3, "unterminated_quote"}}, 0},
      {"semicolons", "id;code\n1;AAA111\n", [] {
         CsvImportOptions o = ByName("code");
         o.delimiter = ';';
         return o;
       }(),
       {{2, "AAA111"}}, {}, 0},
      {"header only", "code\n", ByName("code"), {}, {}, 0},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      const CsvResult r = ReadAll(c.text, c.options);
      BOOST_TEST(r.codes == c.codes, boost::test_tools::per_element());
      BOOST_TEST(r.bad == c.bad, boost::test_tools::per_element());
      BOOST_TEST(r.duplicates == c.duplicates);
      BOOST_TEST(r.bytes == c.text.size());
    }
  }
}

BOOST_AUTO_TEST_CASE(csv_too_long_codes) {
  CsvImportOptions o = ByName("code");
  o.max_code_length = 8;
  // 8 ok; 9 too long; a 100-character field is cut at 2*8+64 bytes while reading and still
  // reported too_long; dashes do not count towards the length.
  const std::string text = "code\nABCDEFGH\nABCDEFGHJ\n" + std::string(100, 'A') +
                           "\nAB-CD-EF-GH\n\"" + std::string(500, 'C') + "\"\n";
  const CsvResult r = ReadAll(text, o);
  BOOST_TEST(r.codes == (Lines{{2, "ABCDEFGH"}}), boost::test_tools::per_element());
  BOOST_TEST(r.bad == (Lines{{3, "too_long"}, {4, "too_long"}, {6, "too_long"}}),
             boost::test_tools::per_element());
  BOOST_TEST(r.duplicates == 1);  // AB-CD-EF-GH is ABCDEFGH
}

BOOST_AUTO_TEST_CASE(csv_constructor_errors) {
  struct Case {
    const char* name;
    std::string text;
    CsvImportOptions options;
    std::string field;
  };
  CsvImportOptions name_no_header = ByName("code");
  name_no_header.has_header = false;
  const std::vector<Case> cases = {
      {"no such column", "id,coupon\n1,A\n", ByName("code"), "column"},
      {"index past the header", "id,coupon\n1,A\n", ByIndex(2), "column"},
      {"negative index", "code\nA\n", ByIndex(-1), "column"},
      {"empty input", "", ByName("code"), "csv"},
      {"only blank lines", "\n\r\n\n", ByName("code"), "csv"},
      {"name without header", "code\nA\n", name_no_header, "csv"},
      {"broken header", "\"code\nA\n", ByName("code"), "csv"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      std::istringstream in(c.text);
      std::string field;
      BOOST_TEST(CodeOf([&] { CsvCodeReader r(in, c.options); }, &field) ==
                 ErrorCode::kInvalidArgument);
      BOOST_TEST(field == c.field);
    }
  }
  std::istringstream in("ID,Coupon Code\n");
  CsvCodeReader r(in, ByName("coupon code"));
  BOOST_TEST(r.header() == (std::vector<std::string>{"ID", "Coupon Code"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(csv_keeps_a_bounded_number_of_bad_rows) {
  std::string text = "code\n";
  for (int i = 0; i < 10; ++i) text += "bad!\n";
  text += "GOOD1\n";
  CsvImportOptions o = ByName("code");
  o.max_bad_rows_kept = 3;
  std::istringstream in(text);
  CsvCodeReader reader(in, o);
  CsvCode code;
  BOOST_TEST(reader.Next(&code));
  BOOST_TEST(code.code == "GOOD1");
  BOOST_TEST(code.line == 12);
  BOOST_TEST(reader.bad_rows().size() == 3u);
  BOOST_TEST(reader.bad_row_count() == 10);
  BOOST_TEST(reader.bad_rows()[2].line == 4);
  BOOST_TEST(reader.bad_rows()[0].detail == "only A-Z and 0-9 are allowed");
}

namespace {

// Produces "id,code\n" then `rows` rows on demand, never holding the file: shows the reader
// streams (and is how a multi-gigabyte import would look to it).
class GeneratedCsv final : public std::streambuf {
 public:
  explicit GeneratedCsv(int rows) : rows_(rows) { Refill("id,code\n"); }
  uint64_t size = 0;

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (next_ >= rows_) return traits_type::eof();
    // Every 1000th row repeats an earlier code; every 5000th is bad.
    const int i = next_++;
    std::string code = "CODE" + std::to_string(i % 1000 == 999 ? i - 1 : i);
    if (i % 5000 == 4999) code = "bad code!";
    Refill(std::to_string(i) + "," + code + "\r\n");
    return traits_type::to_int_type(*gptr());
  }

 private:
  void Refill(std::string s) {
    line_ = std::move(s);
    size += line_.size();
    setg(&line_[0], &line_[0], &line_[0] + line_.size());
  }
  int rows_;
  int next_ = 0;
  std::string line_;
};

class BrokenBuf final : public std::streambuf {
 protected:
  int_type underflow() override { throw std::runtime_error("disk on fire"); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(csv_streams_a_large_file_with_progress) {
  const int rows = 200000;
  GeneratedCsv gen(rows);
  std::istream in(&gen);
  std::vector<uint64_t> progress;
  CsvImportOptions o = ByName("code");
  o.progress_every_bytes = 256 * 1024;
  o.on_progress = [&](uint64_t bytes) { progress.push_back(bytes); };
  CsvCodeReader reader(in, o);
  CsvCode code;
  int64_t n = 0;
  int64_t last_line = 0;
  while (reader.Next(&code)) {
    ++n;
    BOOST_REQUIRE(code.line > last_line);
    last_line = code.line;
  }
  const int64_t bad = rows / 5000;                    // 40
  const int64_t dups = rows / 1000 - bad;             // 200 repeats, 40 of which are the bad rows
  BOOST_TEST(reader.bad_row_count() == bad);
  BOOST_TEST(reader.duplicates() == dups);
  BOOST_TEST(n == rows - bad - dups);
  BOOST_TEST(reader.bytes_read() == gen.size);
  BOOST_TEST(reader.bad_rows().front().line == 5001);  // row 4999 is on line 5001
  BOOST_REQUIRE(progress.size() >= 10u);
  BOOST_TEST(progress.back() == gen.size);  // the final call reports everything
  for (size_t i = 1; i < progress.size(); ++i) BOOST_TEST(progress[i] > progress[i - 1]);
  for (size_t i = 1; i + 1 < progress.size(); ++i) {
    BOOST_TEST(progress[i] - progress[i - 1] >= o.progress_every_bytes);
  }
  const size_t calls = progress.size();
  BOOST_TEST(!reader.Next(&code));
  BOOST_TEST(progress.size() == calls);  // the final call happens once
}

BOOST_AUTO_TEST_CASE(csv_read_failure_and_cancel) {
  BrokenBuf broken;
  std::istream in(&broken);
  BOOST_TEST(CodeOf([&] { CsvCodeReader r(in, ByName("code")); }) == ErrorCode::kStorage);

  // A progress callback that throws cancels the import.
  GeneratedCsv gen(100000);
  std::istream in2(&gen);
  CsvImportOptions o = ByName("code");
  o.progress_every_bytes = 1000;
  o.on_progress = [](uint64_t bytes) {
    if (bytes > 50000) throw std::runtime_error("cancelled");
  };
  CsvCodeReader reader(in2, o);
  CsvCode code;
  BOOST_CHECK_THROW(
      while (reader.Next(&code)) {}, std::runtime_error);
  BOOST_TEST(reader.bytes_read() < 60000u);
}

// ---- A/B assignment ----------------------------------------------------------------------

namespace {

Experiment Popup() {
  Experiment e;
  e.name = "popup-2026";
  e.variants = {{"a", 50}, {"b", 30}, {"c", 20}};
  e.holdout_weight = 10;
  return e;
}

}  // namespace

BOOST_AUTO_TEST_CASE(assignment_matches_the_documented_hash) {
  // Expected values from Python: h = int.from_bytes(sha256(b"cartrecovery.ab.v1\0" + name +
  // b"\0" + key).digest()[:8], "big"); cut (h * 110) >> 64 at 50, 80, 100, 110.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"e:ann@example.com", "b"}, {"e:bob@example.com", "b"}, {"v:visitor-1", "c"},
      {"p:+48123456789", "a"},    {"e:zoe@example.com", "a"}, {"v:x", "b"},
  };
  for (const auto& [key, variant] : cases) {
    BOOST_TEST_CONTEXT(key) {
      BOOST_TEST(AssignVariant(Popup(), key) == variant);
      BOOST_TEST(AssignVariant(Popup(), key) == variant);  // sticky
    }
  }
}

BOOST_AUTO_TEST_CASE(assignment_weights_hold_over_100k_contacts) {
  // Each share is a binomial proportion over n = 100,000: its standard deviation is at most
  // sqrt(0.25 / n) = 0.0016, so a tolerance of 0.006 is ~4 sigma. The hash is fixed, so the
  // result is the same on every run; the tolerance says how far from the weights a correct
  // hash may land, not how flaky the test is.
  const int n = 100000;
  std::map<std::string, int> counts;
  for (int i = 0; i < n; ++i) ++counts[AssignVariant(Popup(), "e:shopper" + std::to_string(i))];
  const std::map<std::string, double> expected = {
      {"a", 50.0 / 110}, {"b", 30.0 / 110}, {"c", 20.0 / 110}, {"holdout", 10.0 / 110}};
  BOOST_TEST(counts.size() == expected.size());
  for (const auto& [name, share] : expected) {
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST(std::abs(counts[name] / double(n) - share) < 0.006);
    }
  }
  // Weight 0 switches a variant off; no holdout weight, no holdout.
  Experiment e = Popup();
  e.variants[1].weight = 0;
  e.holdout_weight = 0;
  std::map<std::string, int> c2;
  for (int i = 0; i < 20000; ++i) ++c2[AssignVariant(e, "e:shopper" + std::to_string(i))];
  BOOST_TEST(c2.count("b") == 0u);
  BOOST_TEST(c2.count("holdout") == 0u);
  BOOST_TEST(std::abs(c2["a"] / 20000.0 - 50.0 / 70) < 0.015);
}

BOOST_AUTO_TEST_CASE(other_experiments_do_not_reshuffle_this_one) {
  const int n = 20000;
  std::vector<std::string> before;
  for (int i = 0; i < n; ++i) before.push_back(AssignVariant(Popup(), "c" + std::to_string(i)));
  // Another experiment, assigned, then changed (weights, variants, holdout) and assigned again.
  Experiment other;
  other.name = "email-subject";
  other.variants = {{"short", 1}, {"long", 1}};
  std::map<std::pair<std::string, std::string>, int> joint;
  for (int i = 0; i < n; ++i) {
    joint[{before[i], AssignVariant(other, "c" + std::to_string(i))}]++;
  }
  other.variants = {{"short", 3}, {"long", 1}, {"emoji", 5}};
  other.holdout_weight = 4;
  for (int i = 0; i < n; ++i) AssignVariant(other, "c" + std::to_string(i));
  for (int i = 0; i < n; ++i) {
    BOOST_REQUIRE(AssignVariant(Popup(), "c" + std::to_string(i)) == before[i]);
  }
  // And the two experiments are independent: each of this one's groups splits ~50/50 in the
  // other (a shared hash would make them correlate). Smallest group ~1800, sd of the half
  // <= 0.012; tolerance 0.04.
  for (const std::string& v : {"a", "b", "c", "holdout"}) {
    const double s = joint[{v, "short"}], l = joint[{v, "long"}];
    BOOST_TEST_CONTEXT(v) { BOOST_TEST(std::abs(s / (s + l) - 0.5) < 0.04); }
  }
  // Renaming this experiment does reshuffle it (the name is part of the hash).
  Experiment renamed = Popup();
  renamed.name = "popup-2027";
  int moved = 0;
  for (int i = 0; i < 2000; ++i) moved += AssignVariant(renamed, "c" + std::to_string(i)) != before[i];
  BOOST_TEST(moved > 1000);
}

BOOST_AUTO_TEST_CASE(experiment_validation) {
  struct Case {
    const char* name;
    Experiment e;
    std::string field;
  };
  auto with = [](auto edit) {
    Experiment e = Popup();
    edit(e);
    return e;
  };
  const std::vector<Case> cases = {
      {"no name", with([](Experiment& e) { e.name = ""; }), "experiment.name"},
      {"no variants", with([](Experiment& e) { e.variants.clear(); }), "experiment.variants"},
      {"empty variant name", with([](Experiment& e) { e.variants[1].name = ""; }),
       "experiment.variants[1].name"},
      {"duplicate", with([](Experiment& e) { e.variants[2].name = "a"; }),
       "experiment.variants[2].name"},
      {"reserved", with([](Experiment& e) { e.variants[0].name = "holdout"; }),
       "experiment.variants[0].name"},
      {"negative weight", with([](Experiment& e) { e.variants[1].weight = -1; }),
       "experiment.variants[1].weight"},
      {"negative holdout", with([](Experiment& e) { e.holdout_weight = -1; }),
       "experiment.holdout_weight"},
      {"all zero", with([](Experiment& e) {
         for (auto& v : e.variants) v.weight = 0;
       }),
       "experiment.variants"},
      {"too heavy", with([](Experiment& e) { e.variants[0].weight = int64_t{1} << 32; }),
       "experiment.variants"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      std::string field;
      BOOST_TEST(CodeOf([&] { AssignVariant(c.e, "e:x"); }, &field) == ErrorCode::kConfig);
      BOOST_TEST(field == c.field);
    }
  }
  std::string field;
  BOOST_TEST(CodeOf([&] { AssignVariant(Popup(), ""); }, &field) == ErrorCode::kInvalidArgument);
  BOOST_TEST(field == "contact_key");
}

// ---- incentive budget --------------------------------------------------------------------

namespace {

IncentivePolicy Budget() {
  IncentivePolicy p;
  p.valuable_min_orders = 3;
  p.valuable_min_lifetime_value_minor = 50000;
  return p;
}

ContactFacts Ordinary(const std::string& key, const std::string& cart = "cart-1") {
  ContactFacts c;
  c.contact_key = key;
  c.draw_key = cart;
  return c;
}

ContactFacts Valuable(const std::string& key) {
  ContactFacts c = Ordinary(key);
  c.orders_count = 5;
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(incentive_rules) {
  // Draws from Python (see assignment_matches_the_documented_hash, domain
  // "cartrecovery.incentive", salt "incentive.v1", >> 11 * 2^-53):
  //   ann/cart-1 0.0351, ann/cart-2 0.0091, bob/cart-1 0.5632.
  const ContactFacts ann = Ordinary("e:ann@example.com");
  const ContactFacts bob = Ordinary("e:bob@example.com");
  ContactFacts ltv = Ordinary("e:bob@example.com");
  ltv.lifetime_value_minor = 50000;
  ContactFacts recent = Valuable("e:vip@example.com");
  recent.last_incentive_ms = kNow - 30 * kDay + 1;
  ContactFacts old = Valuable("e:vip@example.com");
  old.last_incentive_ms = kNow - 30 * kDay;
  const IncentiveHistory roomy{100, 0};
  struct Case {
    const char* name;
    IncentivePolicy policy;
    IncentiveHistory history;
    ContactFacts contact;
    bool offer;
    std::string rule;
  };
  IncentivePolicy off = Budget();
  off.share = 0;
  IncentivePolicy all = Budget();
  all.share = 1;
  IncentivePolicy no_priority = Budget();
  no_priority.valuable_min_orders = 0;
  no_priority.valuable_min_lifetime_value_minor = 0;
  const std::vector<Case> cases = {
      {"disabled", off, roomy, Valuable("e:v"), false, "disabled"},
      {"ordinary, drawn", Budget(), roomy, ann, true, "within_share"},
      {"ordinary, not drawn", Budget(), roomy, bob, false, "not_drawn"},
      {"valuable by orders", Budget(), roomy, Valuable("e:v"), true, "priority_customer"},
      {"valuable by lifetime value", Budget(), roomy, ltv, true, "priority_customer"},
      {"priority rule off", no_priority, roomy, Valuable("e:bob@example.com"), false, "not_drawn"},
      {"incentive 1 ms inside cooldown", Budget(), roomy, recent, false, "recent_incentive"},
      {"cooldown just over", Budget(), roomy, old, true, "priority_customer"},
      // The cap, this abandoner included: (incentives + 1) <= 0.2 * (abandoners + 1).
      {"first abandoner ever", Budget(), {0, 0}, Valuable("e:v"), false, "priority_budget_exhausted"},
      {"fifth abandoner", Budget(), {4, 0}, Valuable("e:v"), true, "priority_customer"},
      {"fourth abandoner", Budget(), {3, 0}, Valuable("e:v"), false, "priority_budget_exhausted"},
      {"tenth, one given", Budget(), {9, 1}, Valuable("e:v"), true, "priority_customer"},
      {"tenth, two given", Budget(), {9, 2}, Valuable("e:v"), false, "priority_budget_exhausted"},
      {"exhausted beats the draw", Budget(), {9, 2}, ann, false, "budget_exhausted"},
      {"recent beats exhausted", Budget(), {0, 0}, recent, false, "recent_incentive"},
      {"share 1: everyone", all, {0, 0}, bob, true, "within_share"},
      // Asked again for a cart already counted (its popup decided): no second abandoner.
      // 5 abandoners with this one among them: 1 <= 0.2 * 5 fits, 2 does not.
      {"counted fifth, none given", Budget(), {5, 0, 0, 0, true}, Valuable("e:v"), true, "priority_customer"},
      {"counted fifth, one given", Budget(), {5, 1, 0, 0, true}, Valuable("e:v"), false,
       "priority_budget_exhausted"},
      {"counted fourth", Budget(), {4, 0, 0, 0, true}, Valuable("e:v"), false, "priority_budget_exhausted"},
      {"counted, ordinary", Budget(), {9, 1, 0, 0, true}, ann, false, "budget_exhausted"},
      // One cart given a popup code and a reminder code, its fellows gone from the window:
      // more incentives than abandoners is a state the store can be in, and refused.
      {"incentives beyond abandoners", all, {1, 2, 0, 0, true}, Valuable("e:v"), false,
       "priority_budget_exhausted"},
      // S8: valuable customers' share is reserved: one per valuable customer seen, plus one.
      // 20 abandoners, 1 valuable seen (served), 2 ordinary given: 2 + 1 + (1 + 1) = 5 > 4.2.
      {"reserved for valuable", Budget(), {20, 3, 1, 1}, ann, false, "reserved_for_valuable"},
      // 25 abandoners: 5.2 allowed, 2 + 1 + 2 = 5 fits.
      {"room beyond the reserve", Budget(), {25, 3, 1, 1}, ann, true, "within_share"},
      // The reserve is not for ordinary abandoners, but a valuable customer may use it.
      {"valuable uses the reserve", Budget(), {20, 3, 1, 1}, Valuable("e:v"), true, "priority_customer"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      const IncentiveDecision d = DecideIncentive(c.policy, c.history, c.contact, kNow);
      BOOST_TEST(d.offer == c.offer);
      BOOST_TEST(d.rule == c.rule);
      const IncentiveDecision again = DecideIncentive(c.policy, c.history, c.contact, kNow);
      BOOST_TEST(again.offer == d.offer);
      BOOST_TEST(again.draw == d.draw);
    }
  }
  BOOST_TEST(std::abs(DecideIncentive(Budget(), roomy, ann, kNow).draw - 0.0351149743005551) < 1e-15);
  BOOST_TEST(std::abs(DecideIncentive(Budget(), roomy, Ordinary("e:ann@example.com", "cart-2"),
                                      kNow).draw - 0.009079610075632627) < 1e-15);
  BOOST_TEST(std::abs(DecideIncentive(Budget(), roomy, bob, kNow).draw - 0.5632222010773041) < 1e-15);
  // A new salt gives a new draw.
  IncentivePolicy salted = Budget();
  salted.salt = "2027";
  BOOST_TEST(DecideIncentive(salted, roomy, bob, kNow).draw !=
             DecideIncentive(Budget(), roomy, bob, kNow).draw);
}

BOOST_AUTO_TEST_CASE(incentive_validation) {
  struct Case {
    const char* name;
    IncentivePolicy p;
    std::string field;
  };
  auto with = [](auto edit) {
    IncentivePolicy p = Budget();
    edit(p);
    return p;
  };
  const std::vector<Case> cases = {
      {"share > 1", with([](IncentivePolicy& p) { p.share = 1.5; }), "incentive.share"},
      {"share < 0", with([](IncentivePolicy& p) { p.share = -0.1; }), "incentive.share"},
      {"share NaN", with([](IncentivePolicy& p) { p.share = std::nan(""); }), "incentive.share"},
      {"window 0", with([](IncentivePolicy& p) { p.window_ms = 0; }), "incentive.window"},
      {"cooldown < 0", with([](IncentivePolicy& p) { p.cooldown_ms = -1; }), "incentive.cooldown"},
      {"ltv < 0", with([](IncentivePolicy& p) { p.valuable_min_lifetime_value_minor = -1; }),
       "incentive.valuable_min_lifetime_value"},
      {"orders < 0", with([](IncentivePolicy& p) { p.valuable_min_orders = -1; }),
       "incentive.valuable_min_orders"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      std::string field;
      BOOST_TEST(CodeOf([&] { DecideIncentive(c.p, {10, 0}, Ordinary("e:x"), kNow); }, &field) ==
                 ErrorCode::kConfig);
      BOOST_TEST(field == c.field);
    }
  }
  for (IncentiveHistory h : {IncentiveHistory{-1, 0}, IncentiveHistory{5, -1},
                             IncentiveHistory{5, 1, 6, 0}, IncentiveHistory{5, 1, 1, 2},
                             IncentiveHistory{5, 1, -1, 0}, IncentiveHistory{5, 1, 1, -1},
                             IncentiveHistory{0, 0, 0, 0, true}}) {
    std::string field;
    BOOST_TEST(CodeOf([&] { DecideIncentive(Budget(), h, Ordinary("e:x"), kNow); }, &field) ==
               ErrorCode::kInvalidArgument);
    BOOST_TEST(field == "history");
  }
  BOOST_TEST((IncentivePolicy() == IncentivePolicy()));
  BOOST_TEST(IncentivePolicy().share == 0.20);
  BOOST_TEST(!(Budget() == IncentivePolicy()));
}

namespace {

struct Simulation {
  int64_t abandonments = 0;
  int64_t offered = 0;
  int64_t priority_seen = 0;     // abandonments by valuable customers
  int64_t priority_offered = 0;
  int64_t ordinary_seen = 0;
  int64_t ordinary_offered = 0;
  int64_t cap_violations = 0;    // any moment with incentives > share * abandoners
  int64_t double_incentives = 0; // a contact offered twice within 30 days
  int64_t priority_not_drawn = 0;
  int64_t priority_eligible = 0;  // valuable, with no incentive in the cooldown
  std::map<std::string, int64_t> rules;
};

// 10,000 abandonments by 4,000 contacts over 90 days (each contact comes back now and
// then, some weekly), a share of them valuable. The engine's bookkeeping is modelled exactly: a 30-day
// rolling window of decisions, and each contact's last incentive.
Simulation Simulate(const IncentivePolicy& policy, int valuable_every, bool regulars = true) {
  Simulation s;
  struct Decided {
    Millis at;
    bool offered;
    bool valuable;  // decided by the priority rule (offered or refused by the cap)
  };
  std::deque<Decided> window;
  int64_t window_incentives = 0;
  int64_t window_valuable = 0;             // decided by the priority rule, in the window
  int64_t window_valuable_incentives = 0;
  std::map<std::string, Millis> last_incentive;
  const int contacts = 4000;
  const int n = 10000;
  for (int i = 0; i < n; ++i) {
    const Millis now = kNow + i * (90 * kDay / n);
    while (!window.empty() && window.front().at <= now - policy.window_ms) {
      window_incentives -= window.front().offered;
      window_valuable -= window.front().valuable;
      window_valuable_incentives -= window.front().valuable && window.front().offered;
      window.pop_front();
    }
    // A fixed, scrambled visiting order: contact (i * 7919) mod 4000 comes back about every
    // 36 days; every fourth abandonment is one of 200 regulars instead, back about weekly,
    // so the 30-day cooldown has work to do.
    const int who = regulars && i % 4 == 0 ? (i / 4 * 31) % 200
                               : static_cast<int>((static_cast<int64_t>(i) * 7919) % contacts);
    ContactFacts c;
    c.contact_key = "e:shopper" + std::to_string(who) + "@example.com";
    c.draw_key = "cart-" + std::to_string(i);
    const bool valuable = valuable_every > 0 && who % valuable_every == 0;
    c.orders_count = valuable ? 4 : who % 2;
    const auto it = last_incentive.find(c.contact_key);
    c.last_incentive_ms = it == last_incentive.end() ? 0 : it->second;
    const IncentiveHistory h{static_cast<int64_t>(window.size()), window_incentives,
                             window_valuable, window_valuable_incentives};
    const IncentiveDecision d = DecideIncentive(policy, h, c, now);
    ++s.rules[d.rule];
    ++s.abandonments;
    (valuable ? s.priority_seen : s.ordinary_seen)++;
    if (valuable && d.rule == "not_drawn") ++s.priority_not_drawn;
    if (d.offer) {
      ++s.offered;
      (valuable ? s.priority_offered : s.ordinary_offered)++;
      if (c.last_incentive_ms != 0 && now - c.last_incentive_ms < 30 * kDay) ++s.double_incentives;
      last_incentive[c.contact_key] = now;
    }
    const bool by_priority = d.rule.rfind("priority_", 0) == 0;
    if (valuable && d.rule != "recent_incentive") ++s.priority_eligible;
    window.push_back({now, d.offer, by_priority});
    window_incentives += d.offer;
    window_valuable += by_priority;
    window_valuable_incentives += by_priority && d.offer;
    // The cap holds at every moment, over the window as the engine counts it.
    if (window_incentives * 1000000 > static_cast<int64_t>(window.size()) * 200000) {
      ++s.cap_violations;
    }
  }
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(incentive_budget_over_10k_abandoners) {
  // The cap makes "at most 20 %" exact at every moment; what needs a tolerance is how much
  // of the budget goes unused. Demand here (valuable ~10 % + 20 % of the rest ~ 28 %)
  // exceeds the budget, so the cap binds and the only slack is the warm-up (the first
  // abandoners cannot be offered until 1 in 5 is reached), cooldown refusals and the slot
  // kept free for the next valuable customer (S8's reserve): 2 percentage points below
  // 20 % is the stated tolerance, nothing may be above.
  const Simulation s = Simulate(Budget(), 10);
  const double share = static_cast<double>(s.offered) / s.abandonments;
  BOOST_TEST_MESSAGE("offered " << s.offered << " of " << s.abandonments << " = " << share
                                << "; priority " << s.priority_offered << "/" << s.priority_seen
                                << ", ordinary " << s.ordinary_offered << "/" << s.ordinary_seen);
  BOOST_TEST(share <= 0.20);
  BOOST_TEST(share >= 0.18);
  BOOST_TEST(s.cap_violations == 0);
  BOOST_TEST(s.double_incentives == 0);
  // Priority customers go first: never refused by the draw, and offered far more often.
  BOOST_TEST(s.priority_not_drawn == 0);
  const double priority_rate = double(s.priority_offered) / s.priority_seen;
  const double ordinary_rate = double(s.ordinary_offered) / s.ordinary_seen;
  BOOST_TEST(priority_rate > 2 * ordinary_rate);
  BOOST_TEST(s.rules.count("recent_incentive") == 1u);
  BOOST_TEST(s.rules.count("budget_exhausted") + s.rules.count("reserved_for_valuable") >= 1u);
  // S8, served first for real: every valuable customer without a recent incentive gets one
  // (their share is reserved), except in the warm-up before the cap allows any incentive.
  BOOST_TEST_MESSAGE("priority eligible " << s.priority_eligible << ", offered " << s.priority_offered);
  BOOST_TEST(s.priority_offered >= s.priority_eligible - 5);
}

BOOST_AUTO_TEST_CASE(incentive_draw_selects_about_the_share_of_ordinary_abandoners) {
  // No valuable customers and no weekly regulars (whose cooldown refusals would waste
  // budget): the draw alone, with the cap behind it, selects. Over 10,000 the draw's sd is
  // sqrt(0.2*0.8/10000) = 0.004; the cap only removes draws that would overshoot, so the
  // result sits a little under 20 %, never above. Tolerance: [0.18, 0.20].
  const Simulation s = Simulate(Budget(), 0, /*regulars=*/false);
  const double share = static_cast<double>(s.offered) / s.abandonments;
  BOOST_TEST_MESSAGE("offered share without priority customers: " << share);
  BOOST_TEST(share <= 0.20);
  BOOST_TEST(share >= 0.18);
  BOOST_TEST(s.double_incentives == 0);
  BOOST_TEST(s.cap_violations == 0);

  // The draw itself is uniform: over 10,000 fresh keys, P(draw < x) ~ x (sd <= 0.005;
  // tolerance 0.02).
  IncentivePolicy all = Budget();
  all.share = 1.0;
  all.valuable_min_orders = 0;
  all.valuable_min_lifetime_value_minor = 0;
  std::vector<int> below(10, 0);
  for (int i = 0; i < 10000; ++i) {
    const double draw = DecideIncentive(all, {100, 0}, Ordinary("e:u" + std::to_string(i)), kNow).draw;
    BOOST_REQUIRE(draw >= 0.0);
    BOOST_REQUIRE(draw < 1.0);
    for (int k = 0; k < 10; ++k) below[k] += draw < (k + 1) / 10.0;
  }
  for (int k = 0; k < 10; ++k) {
    BOOST_TEST_CONTEXT(k) { BOOST_TEST(std::abs(below[k] / 10000.0 - (k + 1) / 10.0) < 0.02); }
  }
}

// ---- exit intent -------------------------------------------------------------------------

namespace {

ExitIntentPolicy Popups() {
  ExitIntentPolicy p;
  p.min_cart_value = {5000, "EUR"};
  p.incentive = Budget();
  return p;
}

// A hot lead: a valuable known customer with a 120 EUR cart at the shipping step, plenty of
// budget.
ExitIntentFacts Hot() {
  ExitIntentFacts f;
  f.visitor_id = "v-1";
  f.contact_key = "e:ann@example.com";
  f.has_cart = true;
  f.cart_value_minor = 12000;
  f.currency = "EUR";
  f.stage = Stage::kShippingAddress;
  f.cart_id = "cart-1";
  f.incentive_history = {100, 0};
  f.orders_count = 5;
  f.now = kNow;
  return f;
}

ExitIntentFacts Visitor() {
  ExitIntentFacts f = Hot();
  f.contact_key = "";
  f.orders_count = 0;
  f.stage = Stage::kCart;
  return f;
}

}  // namespace

BOOST_AUTO_TEST_CASE(exit_intent_decisions) {
  struct Case {
    const char* name;
    ExitIntentPolicy policy;
    ExitIntentFacts facts;
    bool show;
    std::string kind;
    std::string reason;
    std::string incentive_rule;
  };
  auto policy = [](auto edit) {
    ExitIntentPolicy p = Popups();
    edit(p);
    return p;
  };
  auto hot = [](auto edit) {
    ExitIntentFacts f = Hot();
    edit(f);
    return f;
  };
  auto visitor = [](auto edit) {
    ExitIntentFacts f = Visitor();
    edit(f);
    return f;
  };
  auto none = [](ExitIntentFacts&) {};
  const std::vector<Case> cases = {
      {"hot lead gets a coupon", Popups(), Hot(), true, "coupon", "", "priority_customer"},
      {"ordinary hot lead, drawn", Popups(), hot([](auto& f) { f.orders_count = 0; }), true,
       "coupon", "", "within_share"},  // ann/cart-1 draws 0.035
      {"ordinary hot lead, not drawn",
       Popups(), hot([](auto& f) {
         f.orders_count = 0;
         f.contact_key = "e:bob@example.com";
       }),
       false, "coupon", "not_drawn", "not_drawn"},
      {"payment stage", Popups(), hot([](auto& f) { f.stage = Stage::kPayment; }), true, "coupon",
       "", "priority_customer"},
      {"contact stage is checkout", Popups(), hot([](auto& f) { f.stage = Stage::kContact; }),
       true, "coupon", "", "priority_customer"},
      {"disabled", policy([](auto& p) { p.enabled = false; }), Hot(), false, "none", "disabled", ""},
      {"shown in this session", Popups(), hot([](auto& f) { f.offered_in_session = true; }), false,
       "none", "already_offered_this_session", ""},
      {"shown 1 ms short of a day ago", Popups(),
       hot([](auto& f) { f.last_offer_ms = kNow - kDay + 1; }), false, "none",
       "offered_recently", ""},
      {"shown a day ago", Popups(), hot([](auto& f) { f.last_offer_ms = kNow - kDay; }), true,
       "coupon", "", "priority_customer"},
      {"no repeat limit", policy([](auto& p) { p.repeat_after_ms = 0; }),
       hot([](auto& f) { f.last_offer_ms = kNow - 1; }), true, "coupon", "", "priority_customer"},
      {"contact without cart", Popups(), hot([](auto& f) {
         f.has_cart = false;
         f.cart_value_minor = 0;
       }),
       false, "none", "no_cart", ""},
      {"contact still at the cart page", Popups(), hot([](auto& f) { f.stage = Stage::kCart; }),
       false, "none", "not_at_checkout", ""},
      {"any stage when configured", policy([](auto& p) { p.coupon_min_stage = Stage::kCart; }),
       hot([](auto& f) { f.stage = Stage::kCart; }), true, "coupon", "", "priority_customer"},
      {"below the threshold", Popups(), hot([](auto& f) { f.cart_value_minor = 4999; }), false,
       "coupon", "below_min_value", ""},
      {"at the threshold", Popups(), hot([](auto& f) { f.cart_value_minor = 5000; }), true,
       "coupon", "", "priority_customer"},
      {"threshold in another currency", Popups(), hot([](auto& f) { f.currency = "PLN"; }), false,
       "coupon", "currency_mismatch", ""},
      {"threshold without currency", policy([](auto& p) { p.min_cart_value.currency = ""; }),
       hot([](auto& f) { f.currency = "PLN"; }), true, "coupon", "", "priority_customer"},
      {"budget exhausted", Popups(), hot([](auto& f) { f.incentive_history = {9, 2}; }), false,
       "coupon", "priority_budget_exhausted", "priority_budget_exhausted"},
      {"incentive last week", Popups(),
       hot([](auto& f) { f.last_incentive_ms = kNow - 7 * kDay; }), false, "coupon",
       "recent_incentive", "recent_incentive"},
      {"visitor with a cart: e-mail capture", Popups(), Visitor(), true, "email_capture", "", ""},
      {"browsing visitor: e-mail capture", Popups(), visitor([](auto& f) {
         f.has_cart = false;
         f.cart_value_minor = 0;
       }),
       true, "email_capture", "", ""},
      {"capture needs no budget", Popups(), visitor([](auto& f) { f.incentive_history = {0, 0}; }),
       true, "email_capture", "", ""},
      {"capture needs no minimum", Popups(), visitor([](auto& f) { f.cart_value_minor = 1; }), true,
       "email_capture", "", ""},
      {"browsing capture off", policy([](auto& p) { p.capture_without_cart = false; }),
       visitor([](auto& f) { f.has_cart = false; }), false, "none", "no_cart", ""},
      {"capture off", policy([](auto& p) { p.email_capture = false; }), Visitor(), false, "none",
       "capture_disabled", ""},
      {"visitor shown in session", Popups(), visitor([](auto& f) { f.offered_in_session = true; }),
       false, "none", "already_offered_this_session", ""},
  };
  (void)none;
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      const ExitIntentDecision d = DecideExitIntent(c.policy, c.facts);
      BOOST_TEST(d.show == c.show);
      BOOST_TEST(d.kind == c.kind);
      BOOST_TEST(d.reason == c.reason);
      BOOST_TEST(d.incentive_rule == c.incentive_rule);
      BOOST_TEST(d.variant == "");
    }
  }
}

BOOST_AUTO_TEST_CASE(exit_intent_experiments_and_holdout) {
  ExitIntentPolicy p = Popups();
  p.experiments["coupon"] = Popup();
  Experiment capture;
  capture.name = "capture-copy";
  capture.variants = {{"newsletter", 1}, {"discount", 1}};
  capture.holdout_weight = 1;
  p.experiments["email_capture"] = capture;

  std::map<std::string, int> coupon_variants, capture_variants;
  for (int i = 0; i < 3000; ++i) {
    ExitIntentFacts f = Hot();
    f.contact_key = "e:c" + std::to_string(i);
    const ExitIntentDecision d = DecideExitIntent(p, f);
    BOOST_REQUIRE(d.kind == "coupon");
    BOOST_REQUIRE(d.variant == AssignVariant(Popup(), f.contact_key));  // the contact's variant
    BOOST_REQUIRE(d.show == (d.variant != kHoldout));
    BOOST_REQUIRE(d.reason == (d.show ? "" : "holdout"));
    BOOST_REQUIRE(d.incentive_rule == "priority_customer");  // holdout only after eligibility
    ++coupon_variants[d.variant];

    ExitIntentFacts v = Visitor();
    v.visitor_id = "v-" + std::to_string(i);  // no contact: the visitor id is the A/B key
    const ExitIntentDecision dv = DecideExitIntent(p, v);
    BOOST_REQUIRE(dv.kind == "email_capture");
    BOOST_REQUIRE(dv.variant == AssignVariant(capture, v.visitor_id));
    BOOST_REQUIRE(dv.show == (dv.variant != kHoldout));
    ++capture_variants[dv.variant];
  }
  BOOST_TEST(coupon_variants.size() == 4u);
  BOOST_TEST(capture_variants.size() == 3u);
  // Not eligible: no variant drawn, nobody counted in the holdout.
  ExitIntentFacts low = Hot();
  low.cart_value_minor = 100;
  const ExitIntentDecision d = DecideExitIntent(p, low);
  BOOST_TEST(d.variant == "");
  BOOST_TEST(d.reason == "below_min_value");
  // Same facts, same decision.
  const ExitIntentDecision a = DecideExitIntent(p, Hot()), b = DecideExitIntent(p, Hot());
  BOOST_TEST((a.show == b.show && a.kind == b.kind && a.variant == b.variant &&
              a.reason == b.reason && a.incentive_rule == b.incentive_rule));
}

BOOST_AUTO_TEST_CASE(exit_intent_errors) {
  struct Case {
    const char* name;
    ExitIntentPolicy p;
    ExitIntentFacts f;
    ErrorCode code;
    std::string field;
  };
  ExitIntentPolicy bad_kind = Popups();
  bad_kind.experiments["banner"] = Popup();
  ExitIntentPolicy bad_exp = Popups();
  bad_exp.experiments["coupon"] = Popup();
  bad_exp.experiments["coupon"].variants[1].weight = -2;
  ExitIntentPolicy bad_share = Popups();
  bad_share.incentive.share = 2;
  ExitIntentPolicy bad_min = Popups();
  bad_min.min_cart_value = {-1, "EUR"};
  ExitIntentPolicy bad_cur = Popups();
  bad_cur.min_cart_value = {100, "eur"};
  ExitIntentPolicy bad_repeat = Popups();
  bad_repeat.repeat_after_ms = -1;
  ExitIntentFacts nobody = Visitor();
  nobody.visitor_id = "";
  ExitIntentFacts negative = Hot();
  negative.cart_value_minor = -5;
  const std::vector<Case> cases = {
      {"unknown popup kind", bad_kind, Hot(), ErrorCode::kConfig, "exit_intent.experiments.banner"},
      {"bad experiment", bad_exp, Hot(), ErrorCode::kConfig,
       "exit_intent.experiments.coupon.variants[1].weight"},
      {"bad share", bad_share, Hot(), ErrorCode::kConfig, "exit_intent.incentive.share"},
      {"negative minimum", bad_min, Hot(), ErrorCode::kConfig, "exit_intent.min_cart_value"},
      {"bad currency", bad_cur, Hot(), ErrorCode::kConfig, "exit_intent.min_cart_value.currency"},
      {"negative repeat", bad_repeat, Hot(), ErrorCode::kConfig, "exit_intent.repeat_after"},
      {"nobody", Popups(), nobody, ErrorCode::kInvalidArgument, "visitor_id"},
      {"negative cart", Popups(), negative, ErrorCode::kInvalidArgument, "cart_value"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      std::string field;
      BOOST_TEST(CodeOf([&] { DecideExitIntent(c.p, c.f); }, &field) == c.code);
      BOOST_TEST(field == c.field);
    }
  }
}

// ---- statistics --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(wilson_intervals) {
  // Published: 50/100 [0.4038, 0.5962] (the brief), 81/263 [0.2553, 0.3662] (Newcombe 1998,
  // single-proportion paper, method 3); others from the closed form in Python (6 decimals).
  struct Case {
    int64_t s, n;
    double low, high, tol;
  };
  const std::vector<Case> cases = {
      {50, 100, 0.4038, 0.5962, 5e-5},   {81, 263, 0.2553, 0.3662, 5e-5},
      {0, 10, 0.0, 0.277533, 1e-6},      {10, 10, 0.722467, 1.0, 1e-6},
      {1, 1, 0.206549, 1.0, 1e-6},       {0, 1, 0.0, 0.793451, 1e-6},
      {1, 2, 0.094531, 0.905469, 1e-6},  {15, 148, 0.062386, 0.160487, 1e-6},
      {30, 1000, 0.021094, 0.042503, 1e-6}, {0, 0, 0.0, 1.0, 0.0},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.s << "/" << c.n) {
      const Interval i = WilsonInterval(c.s, c.n);
      BOOST_TEST(std::abs(i.low - c.low) <= c.tol);
      BOOST_TEST(std::abs(i.high - c.high) <= c.tol);
      BOOST_TEST(i.low >= 0.0);
      BOOST_TEST(i.high <= 1.0);
    }
  }
  // A wider z gives a wider interval.
  BOOST_TEST(WilsonInterval(50, 100, 2.5758).low < WilsonInterval(50, 100).low);
  for (auto [s, n] : {std::pair<int64_t, int64_t>{-1, 10}, {11, 10}, {0, -1}}) {
    BOOST_TEST(CodeOf([&] { WilsonInterval(s, n); }) == ErrorCode::kInvalidArgument);
  }
  BOOST_TEST(CodeOf([&] { WilsonInterval(1, 2, 0.0); }) == ErrorCode::kInvalidArgument);
}

BOOST_AUTO_TEST_CASE(newcombe_differences) {
  // Newcombe (1998), "Interval estimation for the difference between independent
  // proportions", Table II, method 10, examples (a)-(d); the rest from the formula in Python.
  struct Case {
    int64_t s1, n1, s2, n2;
    double diff, low, high, tol;
  };
  const std::vector<Case> cases = {
      {56, 70, 48, 80, 0.2, 0.0524, 0.3339, 5e-5},
      {9, 10, 3, 10, 0.6, 0.1705, 0.8090, 5e-5},
      {6, 7, 2, 7, 0.571429, 0.0582, 0.8062, 5e-5},
      {5, 56, 0, 29, 0.089286, -0.0381, 0.1926, 5e-5},
      {0, 10, 0, 20, 0.0, -0.161125, 0.277533, 1e-6},
      {0, 10, 10, 10, -1.0, -1.0, -0.607509, 1e-6},
      {10, 10, 0, 10, 1.0, 0.607509, 1.0, 1e-6},
      {300, 1000, 250, 1000, 0.05, 0.010859, 0.088939, 1e-6},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.s1 << "/" << c.n1 << " - " << c.s2 << "/" << c.n2) {
      const RateDifference r = NewcombeDifference(c.s1, c.n1, c.s2, c.n2);
      BOOST_TEST(std::abs(r.difference - c.diff) <= 1e-6);
      BOOST_TEST(std::abs(r.ci.low - c.low) <= c.tol);
      BOOST_TEST(std::abs(r.ci.high - c.high) <= c.tol);
    }
  }
  const RateDifference empty = NewcombeDifference(0, 0, 3, 10);
  BOOST_TEST(empty.ci.low == -1.0);
  BOOST_TEST(empty.ci.high == 1.0);
  BOOST_TEST(CodeOf([&] { NewcombeDifference(3, 2, 1, 2); }) == ErrorCode::kInvalidArgument);
}

BOOST_AUTO_TEST_CASE(experiment_results_against_holdout) {
  const std::vector<VariantCounts> counts = {
      {"a", 1000, 300}, {"holdout", 1000, 250}, {"b", 1000, 255}, {"c", 0, 0}};
  const std::vector<VariantResult> r = ExperimentResults(counts);
  BOOST_REQUIRE(r.size() == 4u);
  BOOST_TEST(r[0].variant == "a");
  BOOST_TEST(r[0].rate == 0.3);
  BOOST_TEST(std::abs(r[0].ci.low - 0.272407) < 1e-6);  // Wilson 300/1000 (Python)
  BOOST_REQUIRE(r[0].vs_holdout.has_value());
  // a beats doing nothing at 95 %: the interval is above 0.
  BOOST_TEST(std::abs(r[0].vs_holdout->ci.low - 0.010859) < 1e-6);
  BOOST_TEST(r[0].vs_holdout->ci.low > 0.0);
  BOOST_TEST(!r[1].vs_holdout.has_value());  // the holdout itself
  BOOST_TEST(r[1].rate == 0.25);
  // b does not: its interval straddles 0.
  BOOST_REQUIRE(r[2].vs_holdout.has_value());
  BOOST_TEST(r[2].vs_holdout->ci.low < 0.0);
  BOOST_TEST(r[2].vs_holdout->ci.high > 0.0);
  BOOST_TEST(r[3].rate == 0.0);
  BOOST_TEST(r[3].ci.high == 1.0);
  BOOST_TEST(r[3].vs_holdout->ci.low == -1.0);

  const std::vector<VariantResult> no_holdout = ExperimentResults({{"a", 10, 1}, {"b", 10, 2}});
  for (const VariantResult& v : no_holdout) BOOST_TEST(!v.vs_holdout.has_value());
  std::string field;
  BOOST_TEST(CodeOf([&] { ExperimentResults({{"a", 10, 1}, {"a", 10, 2}}); }, &field) ==
             ErrorCode::kInvalidArgument);
  BOOST_TEST(field == "counts");
  BOOST_TEST(CodeOf([&] { ExperimentResults({{"a", 10, 11}}); }) == ErrorCode::kInvalidArgument);
}

BOOST_AUTO_TEST_SUITE_END()
