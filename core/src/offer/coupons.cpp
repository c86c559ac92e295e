// coupons.cpp: coupon codes (generation, canonical form), pools and the checkout rules.
#include "cartrecovery/offer.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cmath>
#include <limits>
#include <memory>

#include "cartrecovery/status.h"
#include "offer/offer_internal.h"

namespace cartrecovery {

namespace internal {

uint64_t StableHash64(std::initializer_list<const std::string*> parts) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  bool ok = ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1;
  bool first = true;
  for (const std::string* p : parts) {
    if (!first) ok = ok && EVP_DigestUpdate(ctx.get(), "\0", 1) == 1;
    first = false;
    ok = ok && EVP_DigestUpdate(ctx.get(), p->data(), p->size()) == 1;
  }
  ok = ok && EVP_DigestFinal_ex(ctx.get(), digest, &len) == 1 && len >= 8;
  if (!ok) throw Error(ErrorCode::kInternal, "offer: SHA-256 failed");
  uint64_t h = 0;
  for (int i = 0; i < 8; ++i) h = (h << 8) | digest[i];
  return h;
}

}  // namespace internal

namespace {

class OpenSslRandom final : public RandomSource {
 public:
  void Fill(uint8_t* out, size_t n) override {
    // RAND_bytes takes an int; fill in chunks so a huge n cannot overflow it.
    while (n > 0) {
      const int chunk = static_cast<int>(n > (1u << 20) ? (1u << 20) : n);
      if (RAND_bytes(out, chunk) != 1) {
        throw Error(ErrorCode::kInternal, "random: RAND_bytes failed");
      }
      out += chunk;
      n -= static_cast<size_t>(chunk);
    }
  }
};

bool IsCodeChar(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

}  // namespace

double CouponCodeEntropyBits(int length) {
  return length <= 0 ? 0.0 : length * std::log2(static_cast<double>(kCouponAlphabetSize));
}

RandomSource& CryptoRandom() {
  static OpenSslRandom* random = new OpenSslRandom();  // never destroyed: usable at exit
  return *random;
}

std::string GenerateCouponCode(const std::string& prefix, int length, RandomSource& random) {
  if (length < kMinGeneratedCodeLength || length > kMaxGeneratedCodeLength) {
    throw InvalidArgument("length", "must be " + std::to_string(kMinGeneratedCodeLength) +
                                        ".." + std::to_string(kMaxGeneratedCodeLength) +
                                        " symbols, got " + std::to_string(length));
  }
  std::string code = NormalizeCouponCode(prefix);
  for (char c : code) {
    if (!IsCodeChar(c)) throw InvalidArgument("prefix", "only A-Z and 0-9 are allowed");
  }
  if (code.size() + static_cast<size_t>(length) > kMaxCouponCodeLength) {
    throw InvalidArgument("prefix", "prefix and code together exceed " +
                                        std::to_string(kMaxCouponCodeLength) + " characters");
  }
  // The largest multiple of 25 that fits a byte: bytes at or above it are thrown away, so
  // b % 25 is uniform.
  constexpr unsigned kLimit = 256 - 256 % kCouponAlphabetSize;  // 250
  uint8_t buf[kMaxGeneratedCodeLength];
  int missing = length;
  while (missing > 0) {
    // Exactly as many bytes as symbols still missing: no random byte is drawn and dropped
    // unexamined, so the output is a plain function of the byte stream (tests rely on it).
    const size_t n = static_cast<size_t>(missing);
    random.Fill(buf, n);
    for (size_t i = 0; i < n && missing > 0; ++i) {
      if (buf[i] >= kLimit) continue;
      code.push_back(kCouponAlphabet[buf[i] % kCouponAlphabetSize]);
      --missing;
    }
  }
  return code;
}

std::string NormalizeCouponCode(const std::string& typed) {
  std::string out;
  out.reserve(typed.size());
  for (char c : typed) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '-' || c == '_') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    out.push_back(c);
  }
  return out;
}

const char* CouponCodeProblem(const std::string& canonical, size_t max_length) {
  if (canonical.empty()) return "empty_code";
  if (canonical.size() > max_length) return "too_long";
  for (char c : canonical) {
    if (!IsCodeChar(c)) return "invalid_characters";
  }
  return nullptr;
}

const char* PoolKindName(PoolKind k) {
  switch (k) {
    case PoolKind::kStatic: return "static";
    case PoolKind::kImported: return "imported";
    case PoolKind::kGenerated: return "generated";
  }
  return "?";
}

std::optional<PoolKind> ParsePoolKind(const std::string& s) {
  for (PoolKind k : {PoolKind::kStatic, PoolKind::kImported, PoolKind::kGenerated}) {
    if (s == PoolKindName(k)) return k;
  }
  return std::nullopt;
}

const char* DiscountKindName(DiscountKind k) {
  return k == DiscountKind::kPercent ? "percent" : "fixed";
}

std::optional<DiscountKind> ParseDiscountKind(const std::string& s) {
  if (s == "percent") return DiscountKind::kPercent;
  if (s == "fixed") return DiscountKind::kFixed;
  return std::nullopt;
}

bool operator==(const Discount& a, const Discount& b) {
  return a.kind == b.kind && a.amount == b.amount && a.currency == b.currency;
}

namespace {

// Why a discount is invalid, or "" when it is fine.
std::string DiscountProblem(const Discount& d) {
  if (d.kind == DiscountKind::kPercent) {
    if (d.amount < 1 || d.amount > 10000) return "percent amount must be 1..10000 basis points";
    return "";
  }
  if (d.amount <= 0) return "fixed amount must be > 0 minor units";
  if (!IsCurrencyCode(d.currency)) return "fixed discount needs an ISO 4217 currency";
  return "";
}

}  // namespace

int64_t DiscountMinor(const Discount& discount, int64_t cart_value_minor,
                      const std::string& cart_currency) {
  const std::string problem = DiscountProblem(discount);
  if (!problem.empty()) throw InvalidArgument("discount", problem);
  if (cart_value_minor < 0) throw InvalidArgument("cart_value", "must be >= 0");
  if (discount.kind == DiscountKind::kPercent) {
    return static_cast<int64_t>(static_cast<__int128>(cart_value_minor) * discount.amount / 10000);
  }
  if (discount.currency != cart_currency) {
    throw InvalidArgument("currency", "discount in " + discount.currency + ", cart in " +
                                          cart_currency);
  }
  return discount.amount < cart_value_minor ? discount.amount : cart_value_minor;
}

void ValidateCouponPool(const CouponPool& pool, const std::string& path_prefix) {
  const std::string p = path_prefix + ".";
  if (pool.name.empty()) throw ConfigError(p + "name", "must not be empty");
  const std::string problem = DiscountProblem(pool.discount);
  if (!problem.empty()) throw ConfigError(p + "discount", problem);
  if (pool.valid_for_ms < 0) throw ConfigError(p + "valid_for", "must be >= 0");
  if (pool.expires_ms < 0) throw ConfigError(p + "expires", "must be >= 0");
  switch (pool.kind) {
    case PoolKind::kStatic:
      if (const char* why = CouponCodeProblem(pool.static_code)) {
        throw ConfigError(p + "static_code", why);
      }
      if (NormalizeCouponCode(pool.static_code) != pool.static_code) {
        throw ConfigError(p + "static_code", "must be in canonical form (NormalizeCouponCode)");
      }
      break;
    case PoolKind::kGenerated: {
      if (pool.code_length < kMinGeneratedCodeLength ||
          pool.code_length > kMaxGeneratedCodeLength) {
        throw ConfigError(p + "code_length", "must be " +
                                                 std::to_string(kMinGeneratedCodeLength) + ".." +
                                                 std::to_string(kMaxGeneratedCodeLength));
      }
      const std::string prefix = NormalizeCouponCode(pool.prefix);
      if (!prefix.empty() && CouponCodeProblem(prefix) != nullptr) {
        throw ConfigError(p + "prefix", "only A-Z and 0-9 are allowed");
      }
      if (prefix.size() + static_cast<size_t>(pool.code_length) > kMaxCouponCodeLength) {
        throw ConfigError(p + "prefix", "prefix and code together are too long");
      }
      break;
    }
    case PoolKind::kImported:
      break;
  }
}

Millis CouponExpiry(const CouponPool& pool, Millis issued_ms) {
  Millis expiry = 0;
  if (pool.valid_for_ms > 0 && pool.kind != PoolKind::kStatic) {
    expiry = issued_ms + pool.valid_for_ms;
  }
  if (pool.expires_ms > 0 && (expiry == 0 || pool.expires_ms < expiry)) expiry = pool.expires_ms;
  return expiry;
}

const char* CouponProblemName(CouponProblem p) {
  switch (p) {
    case CouponProblem::kNone: return "none";
    case CouponProblem::kUnknown: return "unknown";
    case CouponProblem::kAlreadyRedeemed: return "already_redeemed";
    case CouponProblem::kNotIssued: return "not_issued";
    case CouponProblem::kAssignedToAnotherContact: return "assigned_to_another_contact";
    case CouponProblem::kExpired: return "expired";
  }
  return "?";
}

namespace {

// The checks after "unknown" and "already redeemed", shared by both entry points.
CouponProblem CheckOwnerAndExpiry(const Coupon& c, const std::string& contact_key, Millis now) {
  if (!c.shared) {
    if (c.assigned_contact.empty()) return CouponProblem::kNotIssued;
    if (contact_key.empty() || c.assigned_contact != contact_key) {
      return CouponProblem::kAssignedToAnotherContact;
    }
  }
  if (c.expires_ms != 0 && now >= c.expires_ms) return CouponProblem::kExpired;
  return CouponProblem::kNone;
}

}  // namespace

CouponProblem ValidateCoupon(const std::optional<Coupon>& coupon, const std::string& contact_key,
                             Millis now) {
  if (!coupon) return CouponProblem::kUnknown;
  if (!coupon->shared && !coupon->redeemed_order.empty()) return CouponProblem::kAlreadyRedeemed;
  return CheckOwnerAndExpiry(*coupon, contact_key, now);
}

CouponProblem CanRedeem(const std::optional<Coupon>& coupon, const std::string& contact_key,
                        const std::string& order_id, Millis now) {
  if (order_id.empty()) throw InvalidArgument("order_id", "must not be empty");
  if (!coupon) return CouponProblem::kUnknown;
  if (!coupon->shared && !coupon->redeemed_order.empty()) {
    // A retried checkout: the same order asking again gets the same yes.
    if (coupon->redeemed_order == order_id && coupon->assigned_contact == contact_key) {
      return CouponProblem::kNone;
    }
    return CouponProblem::kAlreadyRedeemed;
  }
  return CheckOwnerAndExpiry(*coupon, contact_key, now);
}

bool IsPrunable(const Coupon& coupon, Millis now, Millis grace_ms) {
  if (coupon.shared || !coupon.redeemed_order.empty() || coupon.expires_ms == 0) return false;
  return now >= coupon.expires_ms + grace_ms;
}

}  // namespace cartrecovery
