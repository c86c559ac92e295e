// track_tests: signed tracking links (round trips, tampering, expiry, rotation, open-redirect
// attempts), link paths, the open pixel, RFC 8058 headers and the HTML rewrites.
#include <boost/test/unit_test.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <optional>
#include <random>
#include <ostream>
#include <string>
#include <vector>

#include "cartrecovery/status.h"
#include "cartrecovery/track.h"
#include "reference_wrap_links.h"

namespace cartrecovery {
// Readable failures; static so they cannot clash with another suite's printers.
static std::ostream& boost_test_print_type(std::ostream& os, LinkProblem p) {
  return os << LinkProblemName(p);
}
static std::ostream& boost_test_print_type(std::ostream& os, ErrorCode c) {
  return os << ErrorCodeName(c);
}
}  // namespace cartrecovery

using namespace cartrecovery;

namespace {

const std::string kSecret = "0123456789abcdef-current";
const std::string kOldSecret = "fedcba9876543210-previous";
const std::string kOtherSecret = "another-shop-secret-0000";
constexpr Millis kNow = 1'700'000'000'000;
constexpr Millis kExpires = kNow + 30 * kDay;

const LinkKind kAllKinds[] = {LinkKind::kOpen, LinkKind::kClick, LinkKind::kRestore,
                              LinkKind::kUnsubscribe};

LinkClaims Claims(LinkKind kind) {
  LinkClaims c;
  c.kind = kind;
  c.expires_ms = kExpires;
  switch (kind) {
    case LinkKind::kOpen:
      c.message_id = "msg-7f3a9c2e-0d1b-4e5f-8a6b-1c2d3e4f5a6b";
      break;
    case LinkKind::kClick:
      c.message_id = "msg-7f3a9c2e-0d1b-4e5f-8a6b-1c2d3e4f5a6b";
      c.cart_id = "cart-42";
      c.url = "https://shop.example/products/kite?color=red&size=m#reviews";
      break;
    case LinkKind::kRestore:
      c.message_id = "msg-1";
      c.cart_id = "cart-42";
      break;
    case LinkKind::kUnsubscribe:
      c.message_id = "msg-1";
      break;
  }
  return c;
}

void CheckSameClaims(const LinkClaims& a, const LinkClaims& b) {
  BOOST_TEST(int(a.kind) == int(b.kind));
  BOOST_TEST(a.message_id == b.message_id);
  BOOST_TEST(a.cart_id == b.cart_id);
  BOOST_TEST(a.contact_key == b.contact_key);
  BOOST_TEST(a.url == b.url);
  BOOST_TEST(a.expires_ms == b.expires_ms);
}

LinkProblem Problem(const std::string& token, LinkKind expected, Millis now = kNow,
                    const std::vector<std::string>& secrets = {kSecret}) {
  return CheckLink(secrets, token, expected, now).problem;
}

// Expects `fn` to throw Error with `code`, `field`, and a message containing `part`.
template <typename Fn>
void ExpectError(Fn fn, ErrorCode code, const std::string& field, const std::string& part) {
  try {
    fn();
    BOOST_ERROR("no error; expected " << ErrorCodeName(code) << " " << field << " " << part);
  } catch (const Error& e) {
    BOOST_TEST(std::string(ErrorCodeName(e.code())) == ErrorCodeName(code));
    BOOST_TEST(e.field() == field);
    BOOST_TEST(std::string(e.what()).find(part) != std::string::npos, e.what() << " lacks " << part);
  }
}

// The token layout, written out independently of the implementation, so the tests can make
// tokens a buggy or hostile signer would make.
const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string B64Encode(const std::string& bytes) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kB64[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kB64[(acc << (6 - bits)) & 63];
  return out;
}

std::string B64Decode(const std::string& text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    acc = (acc << 6) | uint32_t(std::string(kB64).find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xFF);
    }
  }
  return out;
}

void Varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += char((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += char(v);
}

std::string Payload(int version, int kind, uint64_t expires, const std::string& message_id,
                    const std::string& cart_id, const std::string& contact_key,
                    const std::string& url) {
  std::string p;
  p += char(version);
  p += char(kind);
  Varint(p, expires);
  for (const std::string* s : {&message_id, &cart_id, &contact_key, &url}) {
    Varint(p, s->size());
    p += *s;
  }
  return p;
}

std::string TagOf(const std::string& secret, const std::string& payload) {
  std::string msg = std::string("cartrecovery.link") + '\0' + payload;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), int(secret.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), 16);
}

std::string HandMadeToken(const std::string& secret, const std::string& payload) {
  return B64Encode(payload + TagOf(secret, payload));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(track_tests)

// The tag is HMAC-SHA256 as OpenSSL's one-shot HMAC() computes it (TagOf), for secrets
// shorter than, as long as and longer than SHA-256's 64-byte block (a longer key is hashed
// first), and for several secrets in turn (each keeps its own precomputed key).
BOOST_AUTO_TEST_CASE(tag_is_hmac_sha256_for_every_secret_length) {
  for (size_t length : {16, 63, 64, 65, 200}) {
    for (char fill : {'k', 'q'}) {
      const std::string secret(length, fill);
      BOOST_TEST_CONTEXT("secret of " << length << " x " << fill) {
        std::string raw = B64Decode(SignLink(secret, Claims(LinkKind::kClick)));
        std::string payload = raw.substr(0, raw.size() - 16);
        BOOST_TEST(raw.substr(payload.size()) == TagOf(secret, payload));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(round_trip_per_kind) {
  for (LinkKind kind : kAllKinds) {
    BOOST_TEST_CONTEXT("kind " << LinkKindName(kind)) {
      LinkClaims in = Claims(kind);
      std::string token = SignLink(kSecret, in);
      BOOST_TEST(!token.empty());
      BOOST_TEST(token.find_first_not_of(kB64) == std::string::npos, token);
      CheckSameClaims(VerifyLink(kSecret, token, kind, kNow), in);
      LinkCheck check = CheckLink({kSecret}, token, kind, kNow);
      BOOST_TEST(check.ok());
      CheckSameClaims(check.claims, in);
      // Deterministic: the engine can sign the same link twice and get the same URL.
      BOOST_TEST(SignLink(kSecret, in) == token);
    }
  }
}

BOOST_AUTO_TEST_CASE(all_fields_round_trip_including_binary_and_limits) {
  LinkClaims c = Claims(LinkKind::kUnsubscribe);
  c.message_id = std::string("m\0\xff\n", 4);
  c.cart_id = std::string(kMaxLinkIdBytes, 'c');
  c.contact_key = "ck-9";
  c.expires_ms = INT64_MAX;
  CheckSameClaims(VerifyLink(kSecret, SignLink(kSecret, c), LinkKind::kUnsubscribe, kNow), c);

  LinkClaims click = Claims(LinkKind::kClick);
  click.url = "https://shop.example/" + std::string(kMaxLinkUrlBytes - 21, 'p');
  BOOST_TEST(click.url.size() == kMaxLinkUrlBytes);
  CheckSameClaims(VerifyLink(kSecret, SignLink(kSecret, click), LinkKind::kClick, kNow), click);
}

BOOST_AUTO_TEST_CASE(tokens_are_short) {
  // An open token for a 40-character message id, and a click for a 60-character URL.
  LinkClaims open = Claims(LinkKind::kOpen);
  BOOST_TEST(SignLink(kSecret, open).size() <= 100u);
  LinkClaims click = Claims(LinkKind::kClick);
  BOOST_TEST(SignLink(kSecret, click).size() <= 190u);
}

BOOST_AUTO_TEST_CASE(every_single_character_tamper_is_rejected) {
  for (LinkKind kind : kAllKinds) {
    std::string token = SignLink(kSecret, Claims(kind));
    int tried = 0;
    for (size_t i = 0; i < token.size(); ++i) {
      for (char c : std::string(kB64) + "=.+/ %") {
        if (c == token[i]) continue;
        std::string bad = token;
        bad[i] = c;
        LinkProblem p = Problem(bad, kind);
        ++tried;
        if (p != LinkProblem::kMalformed && p != LinkProblem::kBadSignature) {
          BOOST_ERROR(LinkKindName(kind) << ": position " << i << " -> '" << c
                                          << "' gave " << LinkProblemName(p));
        }
      }
    }
    BOOST_TEST(tried > 60 * int(token.size()));
  }
}

BOOST_AUTO_TEST_CASE(every_single_bit_flip_of_payload_and_tag_is_rejected) {
  // Bit flips in the decoded bytes reach the payload fields and the tag directly (a character
  // change above may only touch the low bits of two bytes).
  std::string raw = B64Decode(SignLink(kSecret, Claims(LinkKind::kClick)));
  for (size_t i = 0; i < raw.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = raw;
      bad[i] = char(bad[i] ^ (1 << bit));
      LinkProblem p = Problem(B64Encode(bad), LinkKind::kClick);
      if (p != LinkProblem::kMalformed && p != LinkProblem::kBadSignature)
        BOOST_ERROR("byte " << i << " bit " << bit << " gave " << LinkProblemName(p));
    }
  }
}

BOOST_AUTO_TEST_CASE(truncated_and_extended_tokens_are_rejected) {
  std::string token = SignLink(kSecret, Claims(LinkKind::kRestore));
  for (size_t len = 0; len < token.size(); ++len) {
    LinkProblem p = Problem(token.substr(0, len), LinkKind::kRestore);
    BOOST_TEST((p == LinkProblem::kMalformed || p == LinkProblem::kBadSignature), "length " << len);
  }
  for (const char* tail : {"A", "AA", "AAA", "AAAA", "=", "==", "-", "_", ".gif", "\n"}) {
    LinkProblem p = Problem(token + tail, LinkKind::kRestore);
    BOOST_TEST((p == LinkProblem::kMalformed || p == LinkProblem::kBadSignature), "tail " << tail);
  }
  // Also with the tag kept whole but bytes dropped from or added to the payload.
  std::string raw = B64Decode(token);
  std::string payload = raw.substr(0, raw.size() - 16), tag = raw.substr(raw.size() - 16);
  BOOST_TEST(Problem(B64Encode(payload.substr(0, payload.size() - 1) + tag), LinkKind::kRestore) ==
             LinkProblem::kBadSignature);
  BOOST_TEST(Problem(B64Encode(payload + "x" + tag), LinkKind::kRestore) ==
             LinkProblem::kBadSignature);
  BOOST_TEST(Problem(B64Encode(payload + tag.substr(0, 8)), LinkKind::kRestore) ==
             LinkProblem::kBadSignature);
}

BOOST_AUTO_TEST_CASE(malformed_inputs) {
  struct Case {
    const char* what;
    std::string token;
  };
  const std::vector<Case> cases = {
      {"empty", ""},
      {"not base64url", "abc$def"},
      {"standard base64", "ab+/cdefghijklmnopqrstuvwxyz0123456789"},
      {"padding", "AQAAAAAAAAAAAAAAAAAAAAAAAA=="},
      {"length 1 mod 4", "AQAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
      {"version 0", B64Encode(std::string(1, '\0') + std::string(30, 'x'))},
      {"version 2", B64Encode(std::string(1, '\2') + std::string(30, 'x'))},
      {"too long", std::string(10000, 'A')},
      {"spaces", " " + SignLink(kSecret, Claims(LinkKind::kOpen))},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.what) {
      BOOST_TEST(Problem(c.token, LinkKind::kOpen) == LinkProblem::kMalformed);
      ExpectError([&] { VerifyLink(kSecret, c.token, LinkKind::kOpen, kNow); },
                  ErrorCode::kInvalidArgument, "token", "malformed");
    }
  }
}

BOOST_AUTO_TEST_CASE(signed_but_undecodable_payloads_are_malformed) {
  // Only a signer with the secret can make these; they must still not crash or pass.
  struct Case {
    const char* what;
    std::string payload;
  };
  std::string good = Payload(1, 0, kExpires, "m", "", "", "");
  const std::vector<Case> cases = {
      {"unknown kind", Payload(1, 9, kExpires, "m", "", "", "")},
      {"trailing byte", good + "z"},
      {"missing field", good.substr(0, good.size() - 1)},
      {"length past end", Payload(1, 0, kExpires, "m", "", "", "").substr(0, 8) + "\x7f"},
      {"id too long", Payload(1, 0, kExpires, std::string(kMaxLinkIdBytes + 1, 'm'), "", "", "")},
      {"expires beyond int64", Payload(1, 0, UINT64_MAX, "m", "", "", "")},
      {"header only", std::string("\1\0", 2)},
  };
  BOOST_TEST(Problem(HandMadeToken(kSecret, good), LinkKind::kOpen) == LinkProblem::kNone);
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.what) {
      BOOST_TEST(Problem(HandMadeToken(kSecret, c.payload), LinkKind::kOpen) ==
                 LinkProblem::kMalformed);
    }
  }
}

BOOST_AUTO_TEST_CASE(wrong_kind_is_refused_for_every_pair) {
  for (LinkKind signed_as : kAllKinds) {
    std::string token = SignLink(kSecret, Claims(signed_as));
    for (LinkKind expected : kAllKinds) {
      if (expected == signed_as) continue;
      BOOST_TEST_CONTEXT(LinkKindName(signed_as) << " token used as " << LinkKindName(expected)) {
        BOOST_TEST(Problem(token, expected) == LinkProblem::kWrongKind);
        ExpectError([&] { VerifyLink(kSecret, token, expected, kNow); },
                    ErrorCode::kInvalidArgument, "token",
                    std::string("wrong link kind (expected ") + LinkKindName(expected) + ", got " +
                        LinkKindName(signed_as) + ")");
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(expiry) {
  struct Case {
    Millis now;
    LinkProblem expected;
  };
  const Case cases[] = {
      {0, LinkProblem::kNone},
      {kExpires - 1, LinkProblem::kNone},
      {kExpires, LinkProblem::kExpired},
      {kExpires + 1, LinkProblem::kExpired},
      {kExpires + 365 * kDay, LinkProblem::kExpired},
  };
  for (LinkKind kind : kAllKinds) {
    std::string token = SignLink(kSecret, Claims(kind));
    for (const Case& c : cases) {
      BOOST_TEST_CONTEXT(LinkKindName(kind) << " at expires" << (c.now - kExpires)) {
        BOOST_TEST(Problem(token, kind, c.now) == c.expected);
        if (c.expected == LinkProblem::kExpired) {
          ExpectError([&] { VerifyLink(kSecret, token, kind, c.now); },
                      ErrorCode::kInvalidArgument, "token", "expired");
        }
      }
    }
  }
  // Expiry is reported only for authentic tokens: a forged expired token is a bad signature.
  std::string forged = HandMadeToken(kOtherSecret, Payload(1, 0, kNow - 1, "m", "", "", ""));
  BOOST_TEST(Problem(forged, LinkKind::kOpen) == LinkProblem::kBadSignature);
}

BOOST_AUTO_TEST_CASE(another_secret_is_a_bad_signature) {
  for (LinkKind kind : kAllKinds) {
    std::string token = SignLink(kOtherSecret, Claims(kind));
    BOOST_TEST(Problem(token, kind) == LinkProblem::kBadSignature);
    ExpectError([&] { VerifyLink(kSecret, token, kind, kNow); }, ErrorCode::kInvalidArgument,
                "token", "bad signature");
  }
  // A secret that differs only in its last byte, or is a prefix of the real one.
  std::string token = SignLink(kSecret, Claims(LinkKind::kOpen));
  std::string near = kSecret;
  near.back() ^= 1;
  BOOST_TEST(Problem(token, LinkKind::kOpen, kNow, {near}) == LinkProblem::kBadSignature);
  BOOST_TEST(Problem(token, LinkKind::kOpen, kNow, {kSecret.substr(0, 16)}) ==
             LinkProblem::kBadSignature);
}

BOOST_AUTO_TEST_CASE(secret_rotation) {
  const std::vector<std::string> rotated = {kSecret, kOldSecret};
  std::string old_token = SignLink(kOldSecret, Claims(LinkKind::kClick));
  // Links already sent keep working while the old secret is in the list.
  BOOST_TEST(Problem(old_token, LinkKind::kClick, kNow, rotated) == LinkProblem::kNone);
  BOOST_TEST(VerifyLink(rotated, old_token, LinkKind::kClick, kNow).url == Claims(LinkKind::kClick).url);
  BOOST_TEST(Problem(old_token, LinkKind::kClick, kNow, {kOtherSecret, kOldSecret, kSecret}) ==
             LinkProblem::kNone);
  // ... and stop once it is dropped.
  BOOST_TEST(Problem(old_token, LinkKind::kClick, kNow, {kSecret}) == LinkProblem::kBadSignature);
  // New links use the first secret only.
  std::string new_token = SignLink(rotated, Claims(LinkKind::kClick));
  BOOST_TEST(new_token == SignLink(kSecret, Claims(LinkKind::kClick)));
  BOOST_TEST(new_token != old_token);
  BOOST_TEST(Problem(new_token, LinkKind::kClick, kNow, {kSecret}) == LinkProblem::kNone);
  BOOST_TEST(Problem(new_token, LinkKind::kClick, kNow, {kOldSecret}) == LinkProblem::kBadSignature);
  BOOST_TEST(Problem(new_token, LinkKind::kClick, kNow, {kOtherSecret, kOldSecret, kSecret}) ==
             LinkProblem::kNone);
}

BOOST_AUTO_TEST_CASE(short_or_missing_secrets_are_config_errors) {
  const std::string short_secret = "tiny-secret-15b";  // 15 bytes
  BOOST_TEST(short_secret.size() == 15u);
  LinkClaims c = Claims(LinkKind::kOpen);
  std::string token = SignLink(kSecret, c);
  auto check = [&](auto fn) {
    try {
      fn();
      BOOST_ERROR("no error");
    } catch (const Error& e) {
      BOOST_TEST(e.code() == ErrorCode::kConfig);
      BOOST_TEST(e.field() == "secret");
      BOOST_TEST(std::string(e.what()).find(short_secret) == std::string::npos, e.what());
    }
  };
  check([&] { SignLink(short_secret, c); });
  check([&] { SignLink(std::string(), c); });
  check([&] { SignLink(std::vector<std::string>{}, c); });
  check([&] { SignLink(std::vector<std::string>{kSecret, short_secret}, c); });
  check([&] { VerifyLink(short_secret, token, LinkKind::kOpen, kNow); });
  check([&] { VerifyLink(std::vector<std::string>{}, token, LinkKind::kOpen, kNow); });
  check([&] { CheckLink({kSecret, short_secret}, token, LinkKind::kOpen, kNow); });
  // Exactly the minimum is fine.
  BOOST_TEST(Problem(SignLink(std::string(kMinLinkSecretBytes, 's'), c), LinkKind::kOpen, kNow,
                     {std::string(kMinLinkSecretBytes, 's')}) == LinkProblem::kNone);
}

BOOST_AUTO_TEST_CASE(sign_refuses_claims_that_break_the_rules) {
  struct Case {
    const char* what;
    LinkKind kind;
    void (*edit)(LinkClaims&);
    const char* field;
  };
  const Case cases[] = {
      {"open without message id", LinkKind::kOpen, [](LinkClaims& c) { c.message_id.clear(); }, "message_id"},
      {"open with url", LinkKind::kOpen, [](LinkClaims& c) { c.url = "https://shop.example/"; }, "url"},
      {"click without message id", LinkKind::kClick, [](LinkClaims& c) { c.message_id.clear(); }, "message_id"},
      {"click without url", LinkKind::kClick, [](LinkClaims& c) { c.url.clear(); }, "url"},
      {"restore without cart", LinkKind::kRestore, [](LinkClaims& c) { c.cart_id.clear(); }, "cart_id"},
      {"restore with url", LinkKind::kRestore, [](LinkClaims& c) { c.url = "https://shop.example/"; }, "url"},
      {"unsubscribe without message or contact", LinkKind::kUnsubscribe,
       [](LinkClaims& c) { c.message_id.clear(); c.contact_key.clear(); }, "message_id"},
      {"no expiry", LinkKind::kOpen, [](LinkClaims& c) { c.expires_ms = 0; }, "expires_ms"},
      {"negative expiry", LinkKind::kOpen, [](LinkClaims& c) { c.expires_ms = -5; }, "expires_ms"},
      {"long message id", LinkKind::kOpen, [](LinkClaims& c) { c.message_id.assign(kMaxLinkIdBytes + 1, 'm'); }, "message_id"},
      {"long cart id", LinkKind::kRestore, [](LinkClaims& c) { c.cart_id.assign(kMaxLinkIdBytes + 1, 'c'); }, "cart_id"},
      {"long contact key", LinkKind::kUnsubscribe, [](LinkClaims& c) { c.contact_key.assign(kMaxLinkIdBytes + 1, 'k'); }, "contact_key"},
      {"long url", LinkKind::kClick, [](LinkClaims& c) { c.url = "https://shop.example/" + std::string(kMaxLinkUrlBytes, 'p'); }, "url"},
      {"unknown kind", LinkKind::kOpen, [](LinkClaims& c) { c.kind = LinkKind(7); }, "kind"},
      {"kind beyond a byte", LinkKind::kOpen, [](LinkClaims& c) { c.kind = LinkKind(256); }, "kind"},
  };
  for (const Case& k : cases) {
    BOOST_TEST_CONTEXT(k.what) {
      LinkClaims c = Claims(k.kind);
      k.edit(c);
      ExpectError([&] { SignLink(kSecret, c); }, ErrorCode::kInvalidArgument, k.field, k.field);
    }
  }
  // An unsubscribe link by contact key alone is fine.
  LinkClaims by_contact = Claims(LinkKind::kUnsubscribe);
  by_contact.message_id.clear();
  by_contact.contact_key = "c-77";
  BOOST_TEST(Problem(SignLink(kSecret, by_contact), LinkKind::kUnsubscribe) == LinkProblem::kNone);
}

BOOST_AUTO_TEST_CASE(safe_redirect_urls) {
  struct Case {
    const char* url;
    bool safe;
  };
  const Case cases[] = {
      {"https://shop.example/", true},
      {"https://shop.example", true},
      {"http://shop.example/p?a=1&b=2#f", true},
      {"HTTPS://Shop.Example/P", true},
      {"https://shop.example:8443/p", true},
      {"https://[::1]:8443/p", true},
      {"https://shop.example/caf\xc3\xa9", true},
      {"https://shop.example/p?next=a@b", true},  // '@' after the host is data, not user info
      {"", false},
      {"javascript:alert(1)", false},
      {"JavaScript://shop.example/%0aalert(1)", false},
      {"data:text/html,<script>alert(1)</script>", false},
      {"vbscript:msgbox", false},
      {"//evil.example/", false},
      {"/relative/path", false},
      {"shop.example/p", false},
      {"ftp://shop.example/f", false},
      {"mailto:a@shop.example", false},
      {"https:evil.example", false},
      {"https:/evil.example", false},
      {"https:///evil.example", false},
      {"https://", false},
      {"https://?q=1", false},
      {"https://#f", false},
      {"https://:443/", false},
      {"https://shop.example@evil.example/", false},
      {"https://user:pw@shop.example/", false},
      {"https://shop.example\\@evil.example/", false},
      {"https:\\\\evil.example", false},
      {"https://shop.example/p\r\nSet-Cookie: a=b", false},
      {"https://shop.example/p\nLocation: https://evil.example", false},
      {"https://shop.example/p\r", false},
      {"https://shop.example/\tp", false},
      {"https://shop.example/a b", false},
      {" https://shop.example/", false},
      {"https://shop.example/\x7f", false},
  };
  for (const Case& c : cases) BOOST_TEST(IsSafeRedirectUrl(c.url) == c.safe, c.url);
  BOOST_TEST(!IsSafeRedirectUrl(std::string("https://shop.example/\0x", 22)));
}

BOOST_AUTO_TEST_CASE(open_redirect_attempts) {
  // 1. The engine refuses to sign a target that is not an absolute http(s) URL.
  const std::vector<std::string> refused = {
      "javascript:alert(document.cookie)",
      "//evil.example/phish",
      "/\\evil.example",
      "data:text/html;base64,PHNjcmlwdD4=",
      "https://shop.example/p\r\nLocation: https://evil.example/",
      "https://shop.example/p\nSet-Cookie: s=1",
      "https://shop.example@evil.example/",
      std::string("https://shop.example/\0evil", 26),
  };
  for (const std::string& url : refused) {
    LinkClaims c = Claims(LinkKind::kClick);
    c.url = url;
    ExpectError([&] { SignLink(kSecret, c); }, ErrorCode::kInvalidArgument, "url", "url");
  }

  // 2. The redirect target is the URL inside the token, nothing else: a token made for the
  // shop's URL only ever yields that URL (an attacker's ?url=http://evil.example next to it
  // is not read at all).
  LinkClaims shop = Claims(LinkKind::kClick);
  std::string token = SignLink(kSecret, shop);
  BOOST_TEST(VerifyLink(kSecret, token, LinkKind::kClick, kNow).url == shop.url);

  // 3. A token whose payload was edited to another URL (same length, tag kept).
  std::string raw = B64Decode(token);
  size_t at = raw.find("shop.example");
  BOOST_REQUIRE(at != std::string::npos);
  std::string edited = raw;
  edited.replace(at, 12, "evil.example");
  BOOST_TEST(Problem(B64Encode(edited), LinkKind::kClick) == LinkProblem::kBadSignature);

  // 4. A token for the attacker's URL made with a guessed secret.
  LinkClaims evil = shop;
  evil.url = "http://evil.example/";
  BOOST_TEST(Problem(SignLink(kOtherSecret, evil), LinkKind::kClick) == LinkProblem::kBadSignature);

  // 5. A token signed with the right secret by a signer that skipped the URL checks (an old
  // version, a bug) is still refused at verification, for every unsafe target.
  for (const std::string& url : refused) {
    std::string t = HandMadeToken(kSecret, Payload(1, int(LinkKind::kClick), kExpires, "m", "", "", url));
    BOOST_TEST(Problem(t, LinkKind::kClick) == LinkProblem::kUnsafeUrl, url);
    ExpectError([&] { VerifyLink(kSecret, t, LinkKind::kClick, kNow); },
                ErrorCode::kInvalidArgument, "token", "unsafe");
  }
  // ... as is a url smuggled into a non-click token.
  std::string smuggled = HandMadeToken(
      kSecret, Payload(1, int(LinkKind::kRestore), kExpires, "", "cart-1", "", "https://evil.example/"));
  BOOST_TEST(Problem(smuggled, LinkKind::kRestore) == LinkProblem::kUnsafeUrl);

  // 6. A hand-made token following the documented layout is accepted (the layout is what
  // track.h and tokens.cpp say it is).
  std::string hand = HandMadeToken(
      kSecret, Payload(1, int(LinkKind::kClick), kExpires, shop.message_id, shop.cart_id, "", shop.url));
  BOOST_TEST(hand == token);
}

BOOST_AUTO_TEST_CASE(link_urls_and_paths_round_trip) {
  struct Case {
    LinkKind kind;
    const char* prefix;
    const char* suffix;
  };
  const Case cases[] = {
      {LinkKind::kOpen, "o/", ".gif"},
      {LinkKind::kClick, "c/", ""},
      {LinkKind::kRestore, "r/", ""},
      {LinkKind::kUnsubscribe, "u/", ""},
  };
  for (const Case& c : cases) {
    std::string token = SignLink(kSecret, Claims(c.kind));
    for (const std::string base : {"https://kite.example/cr/", "https://kite.example/cr"}) {
      std::string url = LinkUrl(base, c.kind, token);
      BOOST_TEST(url == std::string("https://kite.example/cr/") + c.prefix + token + c.suffix);
      BOOST_TEST(IsSafeRedirectUrl(url));
    }
    std::string path = std::string(c.prefix) + token + c.suffix;
    for (const std::string& p : {path, "/" + path}) {
      std::optional<LinkPath> parsed = ParseLinkPath(p);
      BOOST_REQUIRE(parsed.has_value());
      BOOST_TEST(int(parsed->kind) == int(c.kind));
      BOOST_TEST(parsed->token == token);
      BOOST_TEST(Problem(parsed->token, parsed->kind) == LinkProblem::kNone);
    }
  }
  BOOST_TEST(LinkUrl("http://localhost:8000", LinkKind::kClick, "abc") == "http://localhost:8000/c/abc");
}

BOOST_AUTO_TEST_CASE(other_paths_are_refused) {
  const std::vector<std::string> refused = {
      "",
      "/",
      "c",
      "c/",
      "/c/",
      "//c/abc",
      "x/abc",
      "C/abc",
      "click/abc",
      "o/abc",          // open needs .gif
      "o/.gif",
      "o/abc.GIF",
      "o/abc.gif/",
      "c/abc.gif",      // only open has .gif
      "c/abc/def",
      "c/abc/",
      "c/abc?url=https://evil.example",
      "c/abc#f",
      "c/ab=",
      "c/ab+c",
      "c/ab%2Fc",
      "c/../u/abc",
      "u/ab c",
      "r/abc\n",
      "https://kite.example/cr/c/abc",
  };
  for (const std::string& p : refused) BOOST_TEST(!ParseLinkPath(p).has_value(), "'" << p << "'");
}

BOOST_AUTO_TEST_CASE(link_url_refuses_bad_bases_and_tokens) {
  ExpectError([] { LinkUrl("", LinkKind::kClick, "abc"); }, ErrorCode::kConfig, "base_url", "http");
  ExpectError([] { LinkUrl("/cr/", LinkKind::kClick, "abc"); }, ErrorCode::kConfig, "base_url", "http");
  ExpectError([] { LinkUrl("javascript:x", LinkKind::kClick, "abc"); }, ErrorCode::kConfig, "base_url", "http");
  ExpectError([] { LinkUrl("https://kite.example/cr/?a=1", LinkKind::kClick, "abc"); },
              ErrorCode::kConfig, "base_url", "query");
  ExpectError([] { LinkUrl("https://kite.example/cr/#x", LinkKind::kClick, "abc"); },
              ErrorCode::kConfig, "base_url", "query");
  ExpectError([] { LinkUrl("https://kite.example/", LinkKind::kClick, ""); },
              ErrorCode::kInvalidArgument, "token", "base64url");
  ExpectError([] { LinkUrl("https://kite.example/", LinkKind::kClick, "a/b"); },
              ErrorCode::kInvalidArgument, "token", "base64url");
  ExpectError([] { LinkUrl("https://kite.example/", LinkKind::kOpen, "ab\r\n"); },
              ErrorCode::kInvalidArgument, "token", "base64url");
}

BOOST_AUTO_TEST_CASE(transparent_gif_is_a_valid_1x1_gif89a) {
  const std::string& gif = TransparentGif();
  BOOST_TEST(gif.size() == 43u);
  BOOST_TEST(std::string(kTransparentGifContentType) == "image/gif");
  auto u8 = [&](size_t i) { return uint8_t(gif.at(i)); };
  auto u16 = [&](size_t i) { return u8(i) | (u8(i + 1) << 8); };
  BOOST_TEST(gif.substr(0, 6) == "GIF89a");
  BOOST_TEST(u16(6) == 1);  // logical screen width
  BOOST_TEST(u16(8) == 1);  // height
  // Walk the blocks as a decoder would, to the trailer.
  size_t pos = 13;
  if (u8(10) & 0x80) pos += 3u * (1u << ((u8(10) & 7) + 1));  // global colour table
  int images = 0;
  bool transparent = false;
  for (;;) {
    BOOST_REQUIRE(pos < gif.size());
    uint8_t b = u8(pos);
    if (b == 0x3B) break;  // trailer
    if (b == 0x21) {       // extension: label, then sub-blocks
      uint8_t label = u8(pos + 1);
      if (label == 0xF9) {
        BOOST_TEST(u8(pos + 2) == 4);
        transparent = (u8(pos + 3) & 1) != 0;
      }
      pos += 2;
    } else {
      BOOST_REQUIRE(b == 0x2C);  // image descriptor
      ++images;
      BOOST_TEST(u16(pos + 1) == 0);
      BOOST_TEST(u16(pos + 3) == 0);
      BOOST_TEST(u16(pos + 5) == 1);
      BOOST_TEST(u16(pos + 7) == 1);
      BOOST_TEST((u8(pos + 9) & 0x80) == 0);  // no local colour table
      pos += 10;
      BOOST_TEST(u8(pos) >= 2);  // LZW minimum code size
      ++pos;
    }
    while (u8(pos) != 0) pos += 1 + u8(pos);  // data sub-blocks up to the terminator
    ++pos;
  }
  BOOST_TEST(pos == gif.size() - 1);  // the trailer is the last byte
  BOOST_TEST(u8(gif.size() - 1) == 0x3B);
  BOOST_TEST(images == 1);
  BOOST_TEST(transparent);
  BOOST_TEST(&TransparentGif() == &gif);  // one static copy
}

BOOST_AUTO_TEST_CASE(unsubscribe_headers) {
  using Headers = std::vector<std::pair<std::string, std::string>>;
  struct Case {
    const char* url;
    const char* mailto;
    Headers expected;
  };
  const std::string post = "List-Unsubscribe=One-Click";
  const std::vector<Case> cases = {
      {"https://kite.example/cr/u/AbC_-9", "",
       {{"List-Unsubscribe", "<https://kite.example/cr/u/AbC_-9>"}, {"List-Unsubscribe-Post", post}}},
      {"https://kite.example/cr/u/AbC", "unsubscribe@kite.example",
       {{"List-Unsubscribe", "<https://kite.example/cr/u/AbC>, <mailto:unsubscribe@kite.example>"},
        {"List-Unsubscribe-Post", post}}},
      {"https://kite.example/cr/u/AbC", "mailto:unsub@kite.example?subject=unsubscribe",
       {{"List-Unsubscribe",
         "<https://kite.example/cr/u/AbC>, <mailto:unsub@kite.example?subject=unsubscribe>"},
        {"List-Unsubscribe-Post", post}}},
      {"HTTPS://kite.example/u/x", "",
       {{"List-Unsubscribe", "<HTTPS://kite.example/u/x>"}, {"List-Unsubscribe-Post", post}}},
      // RFC 8058 wants HTTPS for one-click; a shop in development gets the plain header.
      {"http://localhost:8000/cr/u/AbC", "",
       {{"List-Unsubscribe", "<http://localhost:8000/cr/u/AbC>"}}},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.url << " " << c.mailto) {
      Headers got = UnsubscribeHeaders(c.url, c.mailto);
      BOOST_TEST_REQUIRE(got.size() == c.expected.size());
      for (size_t i = 0; i < got.size(); ++i) {
        BOOST_TEST(got[i].first == c.expected[i].first);
        BOOST_TEST(got[i].second == c.expected[i].second);
      }
    }
  }
  for (const char* url : {"", "javascript:x", "//kite.example/u", "https://kite.example/u\r\nBcc: a@b",
                          "https://kite.example/u>, <https://evil.example", "https://kite.example/u,x",
                          "https://kite.example/u\"x", "mailto:u@kite.example"}) {
    ExpectError([&] { UnsubscribeHeaders(url, ""); }, ErrorCode::kInvalidArgument,
                "unsubscribe_url", "http");
  }
  for (const char* mailto : {"u@kite.example\r\nBcc: a@b", "u@kite.example>, <https://evil.example",
                             "a b@kite.example", "u@kite.example,v@kite.example", "\"u\"@kite.example"}) {
    ExpectError([&] { UnsubscribeHeaders("https://kite.example/u/x", mailto); },
                ErrorCode::kInvalidArgument, "mailto", "mailto");
  }
}

BOOST_AUTO_TEST_CASE(wrap_links) {
  struct Case {
    const char* what;
    std::string html;
    std::string expected;
    std::vector<std::string> seen;  // URLs the callback received, in order
  };
  // The callback tracks every URL except unsubscribe links (returned unchanged = skipped).
  const std::string T = "https://t.example/c?to=";
  const std::vector<Case> cases = {
      {"double quotes", R"(<a href="https://shop.example/p">Kite</a>)",
       R"(<a href="https://t.example/c?to=https://shop.example/p">Kite</a>)", {"https://shop.example/p"}},
      {"single quotes", "<a href='https://shop.example/p'>Kite</a>",
       "<a href='https://t.example/c?to=https://shop.example/p'>Kite</a>", {"https://shop.example/p"}},
      {"unquoted, quoted on rewrite", "<a href=https://shop.example/p class=btn>Kite</a>",
       R"(<a href="https://t.example/c?to=https://shop.example/p" class=btn>Kite</a>)",
       {"https://shop.example/p"}},
      {"upper case tag, attribute and scheme", R"(<A HREF="HTTP://Shop.Example/P">K</A>)",
       R"(<A HREF="https://t.example/c?to=HTTP://Shop.Example/P">K</A>)", {"HTTP://Shop.Example/P"}},
      {"spaces around =", "<a  href = \"https://shop.example/\" >x</a>",
       "<a  href = \"https://t.example/c?to=https://shop.example/\" >x</a>", {"https://shop.example/"}},
      {"newlines inside the tag", "<a\n  class=\"b\"\n  href=\"https://shop.example/\"\n>x</a>",
       "<a\n  class=\"b\"\n  href=\"https://t.example/c?to=https://shop.example/\"\n>x</a>",
       {"https://shop.example/"}},
      {"query and fragment kept", R"(<a href="https://shop.example/p?id=5#reviews">r</a>)",
       R"(<a href="https://t.example/c?to=https://shop.example/p?id=5#reviews">r</a>)",
       {"https://shop.example/p?id=5#reviews"}},
      {"&amp; decoded for the callback, encoded again",
       R"(<a href="https://shop.example/p?a=1&amp;b=2">x</a>)",
       R"(<a href="https://t.example/c?to=https://shop.example/p?a=1&amp;b=2">x</a>)",
       {"https://shop.example/p?a=1&b=2"}},
      {"numeric references decoded",
       R"(<a href="https://shop.example/p?a=1&#38;b=2&#x26;c=3">x</a>)",
       R"(<a href="https://t.example/c?to=https://shop.example/p?a=1&amp;b=2&amp;c=3">x</a>)",
       {"https://shop.example/p?a=1&b=2&c=3"}},
      {"bare & and unknown names kept as written",
       R"(<a href="https://shop.example/p?a=1&b=2&copy=3">x</a>)",
       R"(<a href="https://t.example/c?to=https://shop.example/p?a=1&amp;b=2&amp;copy=3">x</a>)",
       {"https://shop.example/p?a=1&b=2&copy=3"}},
      {"quote of the attribute encoded", "<a href='https://shop.example/it&#39;s'>x</a>",
       "<a href='https://t.example/c?to=https://shop.example/it&#39;s'>x</a>",
       {"https://shop.example/it's"}},
      {"surrounding whitespace trimmed", "<a href=\" https://shop.example/p\n\">x</a>",
       "<a href=\"https://t.example/c?to=https://shop.example/p\">x</a>", {"https://shop.example/p"}},
      {"skipped link (unsubscribe) byte for byte",
       R"(<a href="https://shop.example/cr/u/Tok?x=1&amp;y=2&#38;z">Unsubscribe</a>)",
       R"(<a href="https://shop.example/cr/u/Tok?x=1&amp;y=2&#38;z">Unsubscribe</a>)",
       {"https://shop.example/cr/u/Tok?x=1&y=2&z"}},
      {"mailto, tel, relative, anchor, javascript untouched",
       R"h(<a href="mailto:help@shop.example">m</a><a href="tel:+4930123">t</a><a href="/cart">c</a><a href="#top">a</a><a href="javascript:void(0)">j</a><a href="//shop.example/x">p</a>)h",
       R"h(<a href="mailto:help@shop.example">m</a><a href="tel:+4930123">t</a><a href="/cart">c</a><a href="#top">a</a><a href="javascript:void(0)">j</a><a href="//shop.example/x">p</a>)h",
       {}},
      {"newline inside the URL: untouched",
       "<a href=\"https://shop.example/a&#10;b\">x</a><a href=\"https://shop.example/a\nb\">y</a>",
       "<a href=\"https://shop.example/a&#10;b\">x</a><a href=\"https://shop.example/a\nb\">y</a>", {}},
      {"other attributes and '>' in quotes kept",
       R"(<a title="1 > 0" class="btn" href="https://shop.example/" style="color:#fff">Go</a>)",
       R"(<a title="1 > 0" class="btn" href="https://t.example/c?to=https://shop.example/" style="color:#fff">Go</a>)",
       {"https://shop.example/"}},
      {"only <a>: area, link, img, abbr, base untouched",
       R"(<link href="https://shop.example/s.css"><img src="https://shop.example/i.png"><area href="https://shop.example/m"><abbr href="https://shop.example/x">x</abbr><base href="https://shop.example/">)",
       R"(<link href="https://shop.example/s.css"><img src="https://shop.example/i.png"><area href="https://shop.example/m"><abbr href="https://shop.example/x">x</abbr><base href="https://shop.example/">)",
       {}},
      {"data-href is not href", R"(<a data-href="https://shop.example/x" href="/rel">x</a>)",
       R"(<a data-href="https://shop.example/x" href="/rel">x</a>)", {}},
      {"first href wins", R"(<a href="https://shop.example/1" href="https://shop.example/2">x</a>)",
       R"(<a href="https://t.example/c?to=https://shop.example/1" href="https://shop.example/2">x</a>)",
       {"https://shop.example/1"}},
      {"comments, conditional comments, script and style untouched",
       "<!-- <a href=\"https://shop.example/c\"> --><!--[if mso]><a href=\"https://shop.example/o\">o</a><![endif]-->"
       "<style>a[href=\"https://x\"]{}</style><script>var s='<a href=\"https://shop.example/s\">';</script>"
       "<a href=\"https://shop.example/real\">r</a>",
       "<!-- <a href=\"https://shop.example/c\"> --><!--[if mso]><a href=\"https://shop.example/o\">o</a><![endif]-->"
       "<style>a[href=\"https://x\"]{}</style><script>var s='<a href=\"https://shop.example/s\">';</script>"
       "<a href=\"https://t.example/c?to=https://shop.example/real\">r</a>",
       {"https://shop.example/real"}},
      {"text with < and entities kept",
       "<p>1 < 2 &amp; 3 <3 &nbsp;</p><a href=\"https://shop.example/\">x</a><p>caf\xc3\xa9</p>",
       "<p>1 < 2 &amp; 3 <3 &nbsp;</p><a href=\"https://t.example/c?to=https://shop.example/\">x</a><p>caf\xc3\xa9</p>",
       {"https://shop.example/"}},
      {"unterminated tag at the end kept", "<a href=\"https://shop.example/\">x</a><a href=\"https://shop.example/y",
       "<a href=\"https://t.example/c?to=https://shop.example/\">x</a><a href=\"https://shop.example/y",
       {"https://shop.example/"}},
      {"self-closing slash and attribute without value",
       "<a download href=\"https://shop.example/f.pdf\"/>",
       "<a download href=\"https://t.example/c?to=https://shop.example/f.pdf\"/>",
       {"https://shop.example/f.pdf"}},
      {"empty document", "", "", {}},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.what) {
      std::vector<std::string> seen;
      std::string out = WrapLinks(c.html, [&](const std::string& url) {
        seen.push_back(url);
        return url.find("/cr/u/") != std::string::npos ? url : T + url;
      });
      BOOST_TEST(out == c.expected);
      BOOST_TEST(seen == c.seen, boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(wrap_links_with_signed_click_urls) {
  // How the engine uses it: each link becomes a click link whose token carries the
  // decoded URL, and following it leads exactly there.
  std::string html =
      "<html><body><a href=\"https://shop.example/cart?c=42&amp;utm_source=email\">Back to "
      "your cart</a> <a href=\"mailto:help@shop.example\">Help</a></body></html>";
  std::string out = WrapLinks(html, [](const std::string& url) {
    LinkClaims c;
    c.kind = LinkKind::kClick;
    c.message_id = "m-1";
    c.url = url;
    c.expires_ms = kExpires;
    return LinkUrl("https://kite.example/cr/", LinkKind::kClick, SignLink(kSecret, c));
  });
  const std::string prefix = "<a href=\"https://kite.example/cr/";
  size_t at = out.find(prefix);
  BOOST_REQUIRE(at != std::string::npos);
  size_t begin = at + prefix.size(), end = out.find('"', begin);
  std::optional<LinkPath> path = ParseLinkPath(out.substr(begin, end - begin));
  BOOST_REQUIRE(path.has_value());
  BOOST_TEST(VerifyLink(kSecret, path->token, LinkKind::kClick, kNow).url ==
             "https://shop.example/cart?c=42&utm_source=email");
  BOOST_TEST(out.find("<a href=\"mailto:help@shop.example\">Help</a></body></html>") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(wrap_links_callback_errors_propagate) {
  BOOST_CHECK_THROW(WrapLinks("<a href=\"https://shop.example/\">x</a>",
                              [](const std::string&) -> std::string {
                                throw InvalidArgument("url", "refused");
                              }),
                    Error);
}

BOOST_AUTO_TEST_CASE(random_inputs_never_crash_or_change_untracked_html) {
  // Fixed seed: the same inputs every run. Pieces of HTML and URLs glued at random, so the
  // scanner meets unterminated quotes, comments, tags and references.
  const std::vector<std::string> pieces = {
      "<a", "<A ", " href=", "HREF", "=", "\"", "'", ">", "</a>", "<!--", "-->", "<!", "<script>",
      "</script>", "<style>", "</STYLE>", "https://shop.example/", "http://x.example/p?a=1",
      "&amp;", "&#38;", "&#x26", "&#1114112;", "&", "#", " ", "\n", "\t", "/", "mailto:a@b",
      "<abbr", "<3", "\xc3\xa9", std::string(1, '\0'), "</body>", "x",
      "<a href=\"https://shop.example/p?a=1&amp;b=2\">", "<a href=https://shop.example/u>",
      "<A class=b HREF=' http://x.example/&#39;s '>", "<a title=\"a>b\" href=\"https://s.example\">"};
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<size_t> pick(0, pieces.size() - 1), count(0, 40);
  int tracked = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string html;
    for (size_t n = count(rng); n > 0; --n) html += pieces[pick(rng)];
    // Returning the URL unchanged must leave every byte as it was.
    std::string same = WrapLinks(html, [&](const std::string& url) {
      BOOST_TEST(IsSafeRedirectUrl(url), url);
      ++tracked;
      return url;
    });
    BOOST_TEST(same == html, html);
    // Rewriting is idempotent: a second pass finds only the rewritten URLs, returned as is.
    auto rewrite = [](const std::string&) { return std::string("https://t.example/c/T"); };
    std::string wrapped = WrapLinks(html, rewrite);
    BOOST_TEST(WrapLinks(wrapped, rewrite) == wrapped, html);
    BOOST_TEST(AppendOpenPixel(html, "https://t.example/o/T.gif").size() > html.size());
    if (html.find_first_of("<>\" ") != std::string::npos) BOOST_TEST(!ParseLinkPath(html).has_value());
    BOOST_TEST(Problem(html, LinkKind::kClick) != LinkProblem::kNone);
  }
  BOOST_TEST(tracked > 100);  // the generator does reach real links
}

BOOST_AUTO_TEST_CASE(fast_scanners_match_the_reference) {
  // WrapLinks, AppendOpenPixel and IsSafeRedirectUrl against their earlier byte-loop
  // versions (reference_wrap_links.h): the same output, the same URLs handed to the callback
  // in the same order, over HTML glued at random from pieces that reach every branch of the
  // tag scanner (odd attribute syntax, quotes inside names and unquoted values, every
  // whitespace byte, unterminated tags, comments, script and style).
  const std::vector<std::string> pieces = {
      "<a", "<A", "<a ", "<td", "<TABLE ", "<p>", "<img", "<br/>", "</td>", "</a>", "</A >",
      " href", " HREF", " hReF", "href", "=", " = ", "\"", "'", ">", "/", "/>", " / ",
      " style=\"color:#fff;\"", " x=y", " x=a\"b", " a\"b", " =x", " title='a>b'", " href",
      "<!--", "-->", "<!doctype html>", "<?x?>", "<![CDATA[", "<script>", "</script>",
      "</SCRIPT>", "<style type=text/css>", "</style>", "<scripts>", "</body>", "</BODY >",
      "https://shop.example/", "http://x.example/p?a=1", "https://kite.example/cr/r/Tok",
      "HTTPS://S.EXAMPLE", "https://u@h.example/", "https://:1/", "https:///x", "mailto:a@b",
      "tel:+49", "/relative", "&amp;", "&#38;", "&#x26", "&#X3c;", "&#1114112;", "&quot;",
      "&lt;", "&apos;", "&copy=2", "&", "#", " ", "\n", "\t", "\r", "\f", "\v", "x", "é",
      std::string(1, '\0'), std::string(1, '\x7f'), "\\", "<3", "a < b", "<abbr",
      "<a href=\"https://shop.example/p?a=1&amp;b=2\">", "<a href=https://shop.example/u>",
      "<A class=b HREF=' http://x.example/&#39;s '>", "<a title=\"a>b\" href=\"https://s.example\">",
      "<a href=\"https://s.example\" href=\"https://t.example\">", "<a href = 'https://s.example/x y'>"};
  std::mt19937 rng(20261208);
  std::uniform_int_distribution<size_t> pick(0, pieces.size() - 1), count(0, 60);
  std::uniform_int_distribution<int> byte(0, 255);
  int links = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string html;
    for (size_t n = count(rng); n > 0; --n) html += pieces[pick(rng)];
    if (round % 4 == 0)  // now and then a few raw bytes anywhere
      for (int k = 0; k < 3 && !html.empty(); ++k) html[size_t(byte(rng)) % html.size()] = char(byte(rng));
    std::vector<std::string> seen, seen_reference;
    auto same = [](std::vector<std::string>* urls) {
      return [urls](const std::string& url) {
        urls->push_back(url);
        return url;
      };
    };
    BOOST_TEST(WrapLinks(html, same(&seen)) == reference::WrapLinks(html, same(&seen_reference)),
               html);
    BOOST_TEST(seen == seen_reference, html);
    links += int(seen.size());
    // A result that needs encoding in either quote, and differs per URL.
    auto rewrite = [](const std::string& url) {
      return "https://t.example/c/?u=" + url + "&q='\"" + std::to_string(url.size());
    };
    BOOST_TEST(WrapLinks(html, rewrite) == reference::WrapLinks(html, rewrite), html);
    BOOST_TEST(AppendOpenPixel(html, "https://t.example/o/T.gif?a=1&b=2") ==
                   reference::AppendOpenPixel(html, "https://t.example/o/T.gif?a=1&b=2"),
               html);
    BOOST_TEST(IsSafeRedirectUrl(html) == reference::IsSafeRedirectUrl(html), html);
    const std::string url = "https://" + html;
    BOOST_TEST(IsSafeRedirectUrl(url) == reference::IsSafeRedirectUrl(url), url);
  }
  BOOST_TEST(links > 5000);  // the generator does reach real links
  for (int c = 0; c < 256; ++c) {  // every byte inside an otherwise safe URL
    const std::string url = std::string("https://s.example/a") + char(c) + "b";
    BOOST_TEST(IsSafeRedirectUrl(url) == reference::IsSafeRedirectUrl(url), c);
  }
}

BOOST_AUTO_TEST_CASE(append_open_pixel) {
  const std::string img =
      "<img src=\"https://kite.example/cr/o/Tok.gif\" width=\"1\" height=\"1\" alt=\"\" "
      "style=\"display:block;width:1px;height:1px;border:0\">";
  struct Case {
    const char* what;
    std::string html;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"before </body>", "<html><body><p>Hi</p></body></html>",
       "<html><body><p>Hi</p>" + img + "</body></html>"},
      {"upper case", "<HTML><BODY>x</BODY></HTML>", "<HTML><BODY>x" + img + "</BODY></HTML>"},
      {"the last </body>", "<body><!-- </body> -->x</body>\n", "<body><!-- </body> -->x" + img + "</body>\n"},
      {"no body: appended", "<p>fragment</p>", "<p>fragment</p>" + img},
      {"empty", "", img},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.what) {
      BOOST_TEST(AppendOpenPixel(c.html, "https://kite.example/cr/o/Tok.gif") == c.expected);
    }
  }
  BOOST_TEST(AppendOpenPixel("", "https://kite.example/o/x.gif?a=1&b=2").find(
                 "<img src=\"https://kite.example/o/x.gif?a=1&amp;b=2\" ") == 0u);
  for (const char* bad : {"", "/o/x.gif", "javascript:x", "https://kite.example/o/x.gif\"><script>"})
    ExpectError([&] { AppendOpenPixel("<body></body>", bad); }, ErrorCode::kInvalidArgument,
                "pixel_url", "pixel_url");
}

BOOST_AUTO_TEST_SUITE_END()
