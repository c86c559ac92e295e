// offer.h: the pure decisions behind on-site offers and coupons (PLAYBOOKS R4.1-R4.4, R5.1,
// R5.2, R6.3): coupon codes (generated, imported from CSV, checked at checkout), A/B
// assignment with a holdout group, the incentive budget, the exit-intent popup decision,
// and the statistics reports need to compare variants.
//
// Nothing here touches a store, a clock or the network: the engine reads the facts (what
// the store knows and the time), calls these functions, and records what they returned
// (decision + the rule that made it), so "why did this shopper get / not get a coupon?" is
// answered by the data (S7). The same inputs always give the same answer; the only source
// of randomness is GenerateCouponCode's RandomSource, and draws that must be reproducible
// (A/B variants, the incentive share) are hashes of their inputs instead.
//
// Thread safety: every function is safe to call from any thread. CryptoRandom() is a
// process-wide object whose Fill is thread-safe (OpenSSL's RAND_bytes is).
#ifndef CARTRECOVERY_OFFER_H_
#define CARTRECOVERY_OFFER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "cartrecovery/clock.h"
#include "cartrecovery/model.h"

namespace cartrecovery {

// ---- coupon codes ------------------------------------------------------------------------

// The symbols of generated codes: 20 letters and 5 digits, none of which is easily read as
// another one. Left out: 0 O (round), 1 I L (strokes), 2 Z, 5 S, 8 B. Every code is stored
// and compared in its canonical form (NormalizeCouponCode), so what the shopper types and
// what the shop imports meet on the same key.
constexpr char kCouponAlphabet[] = "ACDEFGHJKMNPQRTUVWXY34679";
constexpr size_t kCouponAlphabetSize = sizeof(kCouponAlphabet) - 1;  // 25

// Entropy of a generated code: log2(25) = 4.644 bits per random symbol (the prefix adds
// none). The default 12 symbols give 55.7 bits: with a million live codes in a pool an
// attacker's single guess hits one with probability 1e6 / 25^12 = 1.7e-11. Below
// kMinGeneratedCodeLength (10 symbols, 46.4 bits) codes would be guessable by a patient
// script, so GenerateCouponCode refuses shorter ones.
constexpr double kCouponBitsPerSymbol = 4.643856189774724;
constexpr int kMinGeneratedCodeLength = 10;
constexpr int kDefaultGeneratedCodeLength = 12;
constexpr int kMaxGeneratedCodeLength = 32;
// The longest canonical code accepted anywhere (prefix + random part, imported, static).
constexpr size_t kMaxCouponCodeLength = 64;
// Entropy in bits of a generated code of `length` random symbols.
double CouponCodeEntropyBits(int length);

// Where GenerateCouponCode gets its bytes. Fill writes exactly n bytes to out or throws
// Error (kInternal) when the source cannot deliver; it never returns fewer.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual void Fill(uint8_t* out, size_t n) = 0;
};

// The process-wide cryptographic source (OpenSSL RAND_bytes). Fill throws Error(kInternal,
// "random: RAND_bytes failed") when OpenSSL's generator is not seeded or fails.
RandomSource& CryptoRandom();

// `prefix` followed by `length` symbols of kCouponAlphabet, each uniform and independent:
// a byte b is used only when b < 250 (= 10 * 25) and maps to b % 25, so no symbol is more
// likely than another (rejection sampling; on average 1.02 bytes per symbol).
// The prefix is normalized (NormalizeCouponCode) and may use any of A-Z and 0-9 (it is
// chosen by the shop, not guessed), e.g. "CART" gives "CARTK7QXW4NMRTAH".
// Uniqueness across a pool is the store's job (a unique index; draw again on a clash, which
// at 55 bits is astronomically rare).
// Throws InvalidArgument("length", ...) outside [kMinGeneratedCodeLength,
// kMaxGeneratedCodeLength]; InvalidArgument("prefix", ...) when the prefix has other
// characters or prefix + length exceeds kMaxCouponCodeLength; whatever random.Fill throws.
std::string GenerateCouponCode(const std::string& prefix, int length = kDefaultGeneratedCodeLength,
                               RandomSource& random = CryptoRandom());

// The canonical form of a code as a shopper typed it or a CSV holds it: ASCII letters
// upper-cased; spaces, tabs, CR/LF, '-' and '_' removed (" ab-cd 12 " -> "ABCD12").
// Nothing else is changed, so characters that no code may hold survive and fail
// CouponCodeProblem. Look-alikes are not mapped (an imported code may legitimately hold
// both O and 0). Never throws.
std::string NormalizeCouponCode(const std::string& typed);

// Why a canonical code cannot be stored, or nullptr when it can: "empty_code",
// "too_long" (more than max_length bytes), "invalid_characters" (anything but A-Z, 0-9).
const char* CouponCodeProblem(const std::string& canonical,
                              size_t max_length = kMaxCouponCodeLength);

// ---- coupons and their rules -------------------------------------------------------------

// Where a pool's codes come from (R4.1, R4.2).
//   static     one code for everyone, any number of redemptions
//   imported   unique codes imported from a CSV column (per flow step or popup)
//   generated  unique codes made by GenerateCouponCode when one is handed out
enum class PoolKind { kStatic, kImported, kGenerated };
const char* PoolKindName(PoolKind k);  // "static", "imported", "generated"
std::optional<PoolKind> ParsePoolKind(const std::string& s);

enum class DiscountKind { kPercent, kFixed };
const char* DiscountKindName(DiscountKind k);  // "percent", "fixed"
std::optional<DiscountKind> ParseDiscountKind(const std::string& s);

struct Discount {
  DiscountKind kind = DiscountKind::kPercent;
  // kPercent: basis points, 1..10000 (1000 = 10 %). kFixed: minor units of `currency`, > 0.
  int64_t amount = 0;
  std::string currency;  // kFixed only: ISO 4217
};
bool operator==(const Discount& a, const Discount& b);

// The discount on a cart of `cart_value_minor` in `cart_currency`: percent rounds down to
// the minor unit (a shop never gives more than it promised); fixed is capped at the cart
// value (never a negative total). Throws InvalidArgument("discount", ...) for an invalid
// discount (amount out of range, fixed without a currency) and
// InvalidArgument("currency", ...) when a fixed discount's currency is not the cart's.
int64_t DiscountMinor(const Discount& discount, int64_t cart_value_minor,
                      const std::string& cart_currency);

struct CouponPool {
  std::string name;  // stable id, e.g. "welcome10" or "flow:default/step:3"
  PoolKind kind = PoolKind::kGenerated;
  Discount discount;
  std::string static_code;   // kStatic: the code (canonical form)
  std::string static_code_shown;  // kStatic: as the shop wrote it (empty: static_code)
  std::string prefix;        // kGenerated: prepended to every code
  int code_length = kDefaultGeneratedCodeLength;  // kGenerated: random symbols
  Millis valid_for_ms = 7 * kDay;  // kGenerated/kImported: expiry = handed out + this; 0 none
  Millis expires_ms = 0;           // all kinds: a fixed end (UTC ms), 0 none; the earlier wins
};

// Checks a pool definition. Throws ConfigError(path_prefix + ".<field>", ...) naming the
// first bad field: empty name; a static pool without a valid static_code; a generated pool
// whose prefix or code_length GenerateCouponCode would refuse; a discount out of range;
// negative valid_for_ms or expires_ms.
void ValidateCouponPool(const CouponPool& pool, const std::string& path_prefix = "pool");

// The expiry of a code handed out at `issued_ms` from `pool`: the earlier of issued +
// valid_for_ms and expires_ms, ignoring those that are 0; 0 when neither applies.
Millis CouponExpiry(const CouponPool& pool, Millis issued_ms);

// One code as the store keeps it.
struct Coupon {
  std::string code;  // canonical: the key, for matching what a shopper types back
  // The code as the shop wrote it (S10): what reminders, popups and reports show, because
  // it is what the shop's platform accepts. Empty: the same as `code`.
  std::string shown;
  const std::string& Shown() const { return shown.empty() ? code : shown; }
  std::string pool;
  bool shared = false;  // a static pool's code: not tied to a contact, never used up
  Discount discount;
  Millis expires_ms = 0;         // 0: never; the code is valid while now < expires_ms
  std::string assigned_contact;  // unique codes: the contact it was handed to; "" = still free
  std::string redeemed_order;    // unique codes: the order that used it; "" = unused
  Millis redeemed_ms = 0;
};

// Why a code may not be used, in the order they are checked. Stored and shown as names.
enum class CouponProblem {
  kNone,
  kUnknown,                   // the store has no such code
  kAlreadyRedeemed,           // a unique code used by another order
  kNotIssued,                 // a unique code never handed out (imported codes can be
                              // guessable; only a code given to someone may be used)
  kAssignedToAnotherContact,  // handed to someone else (an empty contact_key never matches)
  kExpired,                   // now >= expires_ms
};
const char* CouponProblemName(CouponProblem p);  // "none", "unknown", "already_redeemed", ...

// May `contact_key` use this code now (at checkout, before an order exists)? `coupon` is
// what the store found for the canonical code (nullopt: none). Returns kNone when it may.
// A shared (static) code is checked for expiry only. Never throws.
CouponProblem ValidateCoupon(const std::optional<Coupon>& coupon, const std::string& contact_key,
                             Millis now);

// May `order_id` redeem this code now? As ValidateCoupon, except that a code already
// redeemed by this same order_id for this same contact answers kNone (a checkout that
// retries after a timeout must not be refused its own coupon), even if it has expired since. The store then sets
// redeemed_order/redeemed_ms in the same transaction that read the coupon.
// Throws InvalidArgument("order_id", ...) when order_id is empty.
CouponProblem CanRedeem(const std::optional<Coupon>& coupon, const std::string& contact_key,
                        const std::string& order_id, Millis now);

// Expired, unused unique codes are deleted once the grace period has passed, so a shopper
// typing an expired code is told "expired" rather than "unknown" for a while. True when
// !shared, redeemed_order is empty, expires_ms != 0 and now >= expires_ms + grace_ms.
// Shared codes are never pruned (the pool owns them); redeemed ones stay for reports.
bool IsPrunable(const Coupon& coupon, Millis now, Millis grace_ms = 30 * kDay);

// ---- CSV import (R4.2) -------------------------------------------------------------------

struct CsvImportOptions {
  // Which column holds the codes: by header name (ASCII case-insensitive, surrounding
  // spaces ignored) when column_name is set, else by 0-based column_index.
  std::string column_name;
  int column_index = 0;
  bool has_header = true;  // column_name needs a header
  char delimiter = ',';
  size_t max_code_length = kMaxCouponCodeLength;
  // Bad rows kept with their line numbers; the rest are only counted (bad_row_count()).
  size_t max_bad_rows_kept = 1000;
  // Called with the total bytes consumed so far, about every progress_every_bytes and once
  // at the end of the input. May be empty. An exception it throws propagates out of Next
  // (use that to cancel an import).
  std::function<void(uint64_t bytes_read)> on_progress;
  uint64_t progress_every_bytes = 1 << 20;
};

struct CsvCode {
  std::string code;   // canonical (NormalizeCouponCode)
  std::string shown;  // as the file holds it, without surrounding white space
  int64_t line = 0;  // 1-based physical line where the record starts
};

struct CsvBadRow {
  int64_t line = 0;    // 1-based physical line where the record starts
  std::string reason;  // "empty_code", "invalid_characters", "too_long", "not_utf8",
                       // "wrong_column_count", "unterminated_quote", "bad_quote"
  std::string detail;  // human-readable, e.g. "3 columns, expected 2"; never the whole row
};

// Reads coupon codes from a CSV stream one record at a time (RFC 4180: fields in double
// quotes may hold the delimiter, "" and line breaks; records end in CRLF, LF or a lone CR; a
// UTF-8 byte-order mark at the start is skipped; empty lines are skipped). Codes are
// normalized, checked with CouponCodeProblem and de-duplicated within the file.
//
// Memory: a 64 KiB read buffer, one record's code field (cut off past 2 * max_code_length +
// 64 bytes, so a runaway quoted field cannot grow it), the set of distinct codes seen (about code length + 40 bytes
// each: ~5 MB for 100,000 codes), and at most max_bad_rows_kept bad rows. The rest of a
// record and the file itself are never held. Codes already in the store are the store's
// to skip (its unique index), not this reader's.
//
// Errors: the constructor reads the header and throws InvalidArgument("column", ...) when
// column_name is not in it or column_index < 0, InvalidArgument("csv", ...) when a header is
// expected and the input is empty or the header is not UTF-8 (Windows-1252), or column_name is set with has_header false. The
// constructor and Next throw Error(kStorage, "csv: read failed") when the stream fails
// (badbit, e.g. its buffer threw); Next also passes on whatever on_progress throws. Bad rows are never thrown: they are collected and reading goes on.
// Not thread-safe; the stream must outlive the reader.
class CsvCodeReader {
 public:
  CsvCodeReader(std::istream& in, CsvImportOptions options);

  // Stores the next good, first-seen code in *out and returns true; false at end of input.
  bool Next(CsvCode* out);

  // The header's fields as read (empty without a header).
  const std::vector<std::string>& header() const { return header_; }
  const std::vector<CsvBadRow>& bad_rows() const { return bad_rows_; }
  int64_t bad_row_count() const { return bad_row_count_; }
  int64_t duplicates() const { return duplicates_; }
  int64_t codes() const { return codes_; }  // good, first-seen codes returned so far
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  struct Record;
  bool ReadRecord(Record* r);
  int Get();   // next byte as unsigned char, or -1 at end of input
  int Peek();  // the byte Get would return, without consuming it
  void AddBad(int64_t line, const char* reason, std::string detail);
  void Progress(bool final);

  std::istream& in_;
  std::string buf_;  // one chunk of the input (64 KiB), consumed from pos_
  size_t pos_ = 0;
  CsvImportOptions options_;
  size_t column_ = 0;
  size_t expected_columns_ = 0;  // 0 until the first record when there is no header
  std::vector<std::string> header_;
  std::unordered_set<std::string> seen_;
  std::vector<CsvBadRow> bad_rows_;
  int64_t bad_row_count_ = 0;
  int64_t duplicates_ = 0;
  int64_t codes_ = 0;
  int64_t line_ = 1;
  uint64_t bytes_read_ = 0;
  uint64_t next_progress_ = 0;
  bool at_end_ = false;
  bool final_progress_sent_ = false;
};

// ---- A/B experiments (R6.3) --------------------------------------------------------------

// The name AssignVariant returns for the holdout group, who get nothing, so uplift is
// measured against doing nothing. No variant may use it.
constexpr char kHoldout[] = "holdout";

struct Variant {
  std::string name;
  int64_t weight = 1;  // >= 0; 0 switches the variant off without renaming the others
};

struct Experiment {
  std::string name;  // part of the hash: renaming an experiment reshuffles it
  std::vector<Variant> variants;
  int64_t holdout_weight = 0;  // >= 0
};

// Checks an experiment. Throws ConfigError(path_prefix + ".<field>", ...): empty name, no
// variants, an empty, duplicate or "holdout" variant name, a negative weight, all weights 0,
// or a total weight above 2^32 (the draw's resolution).
void ValidateExperiment(const Experiment& experiment,
                        const std::string& path_prefix = "experiment");

// The variant of `experiment` for `contact_key`, or kHoldout. Deterministic and sticky: the
// first 8 bytes of SHA-256("cartrecovery.ab.v1" NUL name NUL contact_key) as a big-endian
// uint64 h, mapped to [0, total) by (h * total) >> 64 (bias below total / 2^64, i.e. none
// that matters), then cut in weight order: variants as listed, holdout last. The same
// contact always gets the same variant while the experiment's name, variants and weights
// stay the same; other experiments never affect it (their names are hashed, not counted).
// Changing weights moves some contacts, so the engine records the first assignment and
// keeps it. Throws as ValidateExperiment, and InvalidArgument("contact_key", ...) when it is
// empty.
std::string AssignVariant(const Experiment& experiment, const std::string& contact_key);

// ---- incentive budget (R4.4) -------------------------------------------------------------

struct IncentivePolicy {
  // At most this share of the abandoners in the rolling window are offered an incentive.
  double share = 0.20;
  Millis window_ms = 30 * kDay;
  // Nobody gets a second incentive within this time of the last one.
  Millis cooldown_ms = 30 * kDay;
  // A valuable customer (lifetime value >= the first, in the minor units of the shop's
  // currency as contacts' lifetime values are; or orders >= the second; 0 turns a test
  // off) with no incentive within the cooldown qualifies whenever the budget allows,
  // without the draw.
  int64_t valuable_min_lifetime_value_minor = 0;
  int64_t valuable_min_orders = 2;
  // Part of the draw's hash: change it to give a new, independent draw.
  std::string salt = "incentive.v1";
};
bool operator==(const IncentivePolicy& a, const IncentivePolicy& b);

// Checks a policy. Throws ConfigError(path_prefix + ".<field>", ...): share not in [0, 1]
// (or NaN), window_ms <= 0, cooldown_ms < 0, negative thresholds.
void ValidateIncentivePolicy(const IncentivePolicy& policy,
                             const std::string& path_prefix = "incentive");

// Shop-wide counts in the rolling window (policy.window_ms back from now), read by the
// engine from its decision records. An abandonment is a cart: a popup and a reminder step
// deciding for the same cart are one abandoner (Store::IncentiveCounts says why carts).
struct IncentiveHistory {
  int64_t abandoners = 0;  // distinct abandonments decided in the window
  int64_t incentives = 0;  // incentives offered in the window (popups and reminder steps),
                           // every one: a cart given a popup code and a reminder code
                           // (a cooldown shorter than the gap allows it) counts twice
  // Of those abandonments, the valuable customers the priority rule decided (offered or
  // refused by the cap), and the incentives they got: their reserved share (S8).
  int64_t valuable = 0;
  int64_t valuable_incentives = 0;
  // The abandonment being decided is already among `abandoners` (its popup or an earlier
  // step decided in the window): deciding it again adds no abandoner to the cap's base.
  bool counted = false;
};

struct ContactFacts {
  std::string contact_key;  // who: the draw hashes it
  std::string draw_key;     // which abandonment (cart id): a fresh draw per cart, the same
                            // draw when the same cart is asked about twice
  int64_t orders_count = 0;
  int64_t lifetime_value_minor = 0;
  Millis last_incentive_ms = 0;  // 0: never
};

struct IncentiveDecision {
  bool offer = false;
  // The rule that decided, a short stable name to store with the decision:
  //   "disabled"          share is 0
  //   "recent_incentive"  an incentive within cooldown_ms (checked first: nobody gets two)
  //   "priority_customer" a valuable customer, budget left: offered
  //   "priority_budget_exhausted"  a valuable customer, but incentives + 1 > share *
  //                       (abandoners + 1), or share * abandoners when history.counted
  //   "budget_exhausted"  an ordinary abandoner and incentives + 1 > share * (abandoners + 1)
  //                       (share * abandoners when counted)
  //   "reserved_for_valuable"  an ordinary abandoner; the cap has room, but not beyond the
  //                       share reserved for valuable customers
  //   "within_share"      an ordinary abandoner whose draw < the ordinary share: offered
  //   "not_drawn"         an ordinary abandoner whose draw >= the ordinary share
  std::string rule;
  double draw = 0;  // the per-contact draw in [0, 1) (0 when not reached): for audits
};

// Decides whether this abandoner gets an incentive now. The budget is a hard cap: counting
// this abandoner (once: not again when history.counted), offering keeps incentives <= share
// * abandoners in the window, so the share can never be exceeded, only under-used. Within
// it, valuable customers go first for real (S8): they need no draw, and ordinary abandoners
// may only use the cap minus a share reserved for valuable customers (one incentive per
// valuable customer seen in the window, plus one for the next, once any has been seen):
// ordinary incentives + 1 + valuable + 1 <= share * (abandoners + 1). Ordinary abandoners
// are picked by a deterministic draw, the first 8 bytes of SHA-256("cartrecovery.incentive"
// NUL salt NUL contact_key NUL draw_key) scaled to [0, 1), against the ordinary share
// (share - v) / (1 - v), v = valuable / abandoners, so that they spread over the window
// instead of filling the cap first; no random source, and the same answer when asked twice.
// Throws as ValidateIncentivePolicy, and InvalidArgument("history", ...) for negative
// counts, valuable > abandoners, valuable_incentives > incentives, or counted with no
// abandoner. (incentives may exceed abandoners: a cart given two, popup and reminder, whose
// fellow abandoners have left the window.)
IncentiveDecision DecideIncentive(const IncentivePolicy& policy, const IncentiveHistory& history,
                                  const ContactFacts& contact, Millis now);

// ---- exit-intent popup (R5.1, R5.2) ------------------------------------------------------

struct ExitIntentPolicy {
  bool enabled = true;
  // false: coupon popups skip the incentive budget (the shop opted out of R4.4).
  bool rationed = true;
  // The coupon popup needs a cart worth at least this; a threshold with a currency applies
  // to carts in that currency only (others: "currency_mismatch").
  Money min_cart_value;
  // Hot lead (R1.4): the coupon popup needs a cart at this stage or later.
  Stage coupon_min_stage = Stage::kContact;
  // E-mail capture (R5.2) for visitors with no contact: with a cart, and also while only
  // browsing when capture_without_cart is set.
  bool email_capture = true;
  bool capture_without_cart = true;
  // Not shown again to the same visitor within this time of the last popup (0: no limit).
  Millis repeat_after_ms = 1 * kDay;
  IncentivePolicy incentive;
  // Optional A/B test per popup kind ("coupon", "email_capture").
  std::map<std::string, Experiment> experiments;
};

// Checks the policy: its incentive and each experiment (paths "<prefix>.incentive.share",
// "<prefix>.experiments.coupon.variants[1].weight", ...), keys of experiments ("coupon" or
// "email_capture"), min_cart_value >= 0 with a valid currency when set, repeat_after_ms >= 0.
// Throws ConfigError.
void ValidateExitIntentPolicy(const ExitIntentPolicy& policy,
                              const std::string& path_prefix = "exit_intent");

struct ExitIntentFacts {
  std::string visitor_id;
  std::string contact_key;  // "" when no contact is known yet
  bool has_cart = false;    // a cart with items
  int64_t cart_value_minor = 0;
  std::string currency;
  Stage stage = Stage::kCart;
  std::string cart_id;
  bool offered_in_session = false;  // a popup was already shown in this browser session
  Millis last_offer_ms = 0;         // the last popup shown to this visitor/contact; 0 never
  // For the incentive budget (coupon popups only).
  IncentiveHistory incentive_history;
  int64_t orders_count = 0;
  int64_t lifetime_value_minor = 0;
  Millis last_incentive_ms = 0;
  Millis now = 0;
};

struct ExitIntentDecision {
  bool show = false;
  // "coupon", "email_capture" or "none". When show is false, "none" if the visitor
  // qualified for no popup, else the kind that was withheld (after the value threshold,
  // the incentive budget or the holdout refused it), so reports can count those too.
  std::string kind = "none";
  std::string variant;        // the A/B variant, "holdout", or "" without an experiment
  // Why nothing is shown ("" when shown): "disabled", "already_offered_this_session",
  // "offered_recently", "no_cart", "not_at_checkout", "currency_mismatch",
  // "below_min_value", "capture_disabled", "holdout", or the incentive rule that refused
  // ("budget_exhausted", "recent_incentive", "not_drawn").
  std::string reason;
  // The incentive rule for coupon popups (see IncentiveDecision), "" for others; stored so
  // the budget can be audited.
  std::string incentive_rule;
};

// The popup to show a visitor who is about to leave, checked in this order:
//   1. disabled; shown already in this session; shown within repeat_after_ms.
//   2. kind: a known contact with a cart at coupon_min_stage or later -> "coupon"; a visitor
//      with no contact, with a cart or browsing -> "email_capture"; else none ("no_cart",
//      "not_at_checkout", "capture_disabled").
//   3. coupon only: the value threshold, then DecideIncentive (unless !policy.rationed).
//   4. the kind's experiment, if any: "holdout" shows nothing (reason "holdout", kind kept),
//      so the holdout is exactly the people who would have been shown this kind.
// The A/B key is contact_key, or visitor_id when there is no contact.
// This decides a fresh popup only: when the script asks again for a popup already decided,
// the engine returns the recorded decision instead of calling this (the offer is not
// re-drawn). Throws as ValidateExitIntentPolicy, and InvalidArgument("visitor_id", ...) when
// both visitor_id and contact_key are empty, InvalidArgument("cart_value", ...) when
// negative.
ExitIntentDecision DecideExitIntent(const ExitIntentPolicy& policy, const ExitIntentFacts& facts);

// ---- statistics for experiment reports ---------------------------------------------------

constexpr double kZ95 = 1.959963984540054;  // two-sided 95 % normal quantile

struct Interval {
  double low = 0;
  double high = 0;
};

// Wilson score interval for `successes` of `trials` (Wilson 1927), e.g. 50/100 ->
// [0.4038, 0.5962], 0/10 -> [0, 0.2775]. Unlike the normal approximation it stays inside
// [0, 1] and is sound for small counts and rates near 0 or 1. trials == 0 gives [0, 1] (no
// information). Throws InvalidArgument("trials", ...) when a count is negative or
// successes > trials, or z <= 0.
Interval WilsonInterval(int64_t successes, int64_t trials, double z = kZ95);

// p1 - p2 with Newcombe's hybrid score interval (Newcombe 1998, method 10), built from the
// two Wilson intervals [l1, u1], [l2, u2]:
//   low  = d - sqrt((p1 - l1)^2 + (u2 - p2)^2),  high = d + sqrt((u1 - p1)^2 + (p2 - l2)^2).
// E.g. 56/70 vs 48/80 -> 0.2 [0.0524, 0.3339] (Newcombe's Table II). If either trials is
// 0 the interval is [-1, 1]. Throws as WilsonInterval.
struct RateDifference {
  double difference = 0;
  Interval ci;
};
RateDifference NewcombeDifference(int64_t successes1, int64_t trials1, int64_t successes2,
                                  int64_t trials2, double z = kZ95);

// Per-variant counts as reports read them from the store.
struct VariantCounts {
  std::string variant;  // a variant name or kHoldout
  int64_t trials = 0;   // contacts assigned (exposed, or held out)
  int64_t conversions = 0;
};

struct VariantResult {
  std::string variant;
  int64_t trials = 0;
  int64_t conversions = 0;
  double rate = 0;  // conversions / trials, 0 when trials is 0
  Interval ci;      // Wilson 95 %
  // Difference to the holdout (rate - holdout rate) with Newcombe's 95 % interval; absent
  // for the holdout itself and when there is no holdout row. An interval above 0 means the
  // variant beats doing nothing at 95 % confidence.
  std::optional<RateDifference> vs_holdout;
};

// Results in the order given. Throws InvalidArgument("counts", ...) on a duplicate variant
// name and as WilsonInterval on bad counts.
std::vector<VariantResult> ExperimentResults(const std::vector<VariantCounts>& counts,
                                             double z = kZ95);

}  // namespace cartrecovery

#endif  // CARTRECOVERY_OFFER_H_
