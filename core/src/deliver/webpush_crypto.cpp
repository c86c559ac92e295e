// webpush_crypto.cpp: RFC 8291 message encryption and RFC 8292 VAPID tokens (push.h).
//
// Written against OpenSSL 3's EVP interfaces only (EVP_PKEY_fromdata, EVP_KDF "HKDF",
// EVP_CIPHER "AES-128-GCM", EVP_DigestSign); the EC_KEY family is deprecated in 3.0. The
// one EC_POINT use derives the public point for a raw private scalar, which fromdata does
// not do by itself.
//
// Everything here is pure: randomness enters only through the overload and functions that
// say so. Errors never carry key material: a bad key is reported by field name only.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <cctype>
#include <cstring>
#include <memory>
#include <string>

#include "Poco/Exception.h"
#include "Poco/URI.h"
#include "cartrecovery/push.h"
#include "cartrecovery/status.h"
#include "deliver/webpush_crypto.h"

namespace cartrecovery {
namespace internal {

std::string UrlOrigin(const std::string& url, const std::string& field) {
  Poco::URI uri;
  try {
    uri = Poco::URI(url);
  } catch (const Poco::Exception&) {
    throw InvalidArgument(field, "is not a URL");
  }
  std::string scheme = uri.getScheme();
  std::string host = uri.getHost();
  for (char& c : scheme) c = char(std::tolower(uint8_t(c)));
  for (char& c : host) c = char(std::tolower(uint8_t(c)));
  if ((scheme != "https" && scheme != "http") || host.empty()) {
    throw InvalidArgument(field, "must be an absolute https URL");
  }
  std::string origin = scheme + "://";
  origin += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  unsigned short port = uri.getSpecifiedPort();
  unsigned short default_port = scheme == "https" ? 443 : 80;
  if (port != 0 && port != default_port) origin += ":" + std::to_string(port);
  return origin;
}


}  // namespace internal

namespace {

using internal::Base64UrlDecode;
using internal::Base64UrlEncode;

constexpr size_t kPointSize = 65;  // 0x04 || X(32) || Y(32)
constexpr size_t kScalarSize = 32;
constexpr size_t kSaltSize = 16;
constexpr size_t kAuthSize = 16;
constexpr size_t kTagSize = 16;
constexpr uint32_t kRecordSize = 4096;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PKeyCtx = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;
using Cipher = std::unique_ptr<EVP_CIPHER, Deleter<EVP_CIPHER, EVP_CIPHER_free>>;
using Kdf = std::unique_ptr<EVP_KDF, Deleter<EVP_KDF, EVP_KDF_free>>;
using KdfCtx = std::unique_ptr<EVP_KDF_CTX, Deleter<EVP_KDF_CTX, EVP_KDF_CTX_free>>;
using Bignum = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_clear_free>>;
using Group = std::unique_ptr<EC_GROUP, Deleter<EC_GROUP, EC_GROUP_free>>;
using Point = std::unique_ptr<EC_POINT, Deleter<EC_POINT, EC_POINT_free>>;
using ParamBld = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using Params = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using EcdsaSig = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

// Secrets on the stack or heap are wiped when they go out of scope.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::string bytes) : bytes_(std::move(bytes)) {}
  ~SecretBytes() {
    if (!bytes_.empty()) OPENSSL_cleanse(&bytes_[0], bytes_.size());
  }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  const std::string& str() const { return bytes_; }
  std::string& str() { return bytes_; }

 private:
  std::string bytes_;
};

const unsigned char* U(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// An OpenSSL failure that input checks should have prevented: a bug or a broken library.
[[noreturn]] void ThrowOpenSsl(const char* what) {
  unsigned long code = ERR_get_error();
  char text[256] = "no detail";
  if (code != 0) ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  throw Error(ErrorCode::kInternal, std::string("webpush: ") + what + " failed: " + text);
}

// Refuses to prompt for a PEM pass phrase (OpenSSL's default would read the terminal).
int NoPassphrase(char*, int, int, void*) { return -1; }

PKey KeyFromParams(OSSL_PARAM* params, int selection) {
  PKeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0) ThrowOpenSsl("EVP_PKEY_fromdata_init");
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, selection, params) <= 0) {
    ERR_clear_error();
    return nullptr;
  }
  return PKey(raw);
}

// Nullptr when `point` is not a valid uncompressed P-256 point.
PKey KeyFromPublicPoint(const std::string& point) {
  if (point.size() != kPointSize || point[0] != 0x04) return nullptr;
  ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size())) {
    ThrowOpenSsl("OSSL_PARAM_BLD");
  }
  Params params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) ThrowOpenSsl("OSSL_PARAM_BLD_to_param");
  PKey key = KeyFromParams(params.get(), EVP_PKEY_PUBLIC_KEY);
  if (!key) return nullptr;
  // fromdata already refuses points off the curve; the explicit check keeps that true
  // whatever the provider does, since ECDH with a bad point leaks the private key.
  PKeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check) ThrowOpenSsl("EVP_PKEY_CTX_new_from_pkey");
  if (EVP_PKEY_public_check(check.get()) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return key;
}

// Nullptr unless `scalar` is 32 bytes in 1..n-1.
PKey KeyFromPrivateScalar(const std::string& scalar) {
  if (scalar.size() != kScalarSize) return nullptr;
  Group group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  Bignum priv(BN_secure_new());
  if (!group || !priv) ThrowOpenSsl("EC_GROUP_new_by_curve_name");
  if (!BN_bin2bn(U(scalar), int(scalar.size()), priv.get())) ThrowOpenSsl("BN_bin2bn");
  if (BN_is_zero(priv.get()) || BN_cmp(priv.get(), EC_GROUP_get0_order(group.get())) >= 0) {
    return nullptr;
  }
  Point pub(EC_POINT_new(group.get()));
  unsigned char pub_oct[kPointSize];
  if (!pub || !EC_POINT_mul(group.get(), pub.get(), priv.get(), nullptr, nullptr, nullptr) ||
      EC_POINT_point2oct(group.get(), pub.get(), POINT_CONVERSION_UNCOMPRESSED, pub_oct,
                         sizeof pub_oct, nullptr) != kPointSize) {
    ThrowOpenSsl("EC_POINT_mul");
  }
  ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv.get()) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub_oct,
                                        sizeof pub_oct)) {
    ThrowOpenSsl("OSSL_PARAM_BLD");
  }
  Params params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) ThrowOpenSsl("OSSL_PARAM_BLD_to_param");
  PKey key = KeyFromParams(params.get(), EVP_PKEY_KEYPAIR);
  if (!key) ThrowOpenSsl("EVP_PKEY_fromdata");
  return key;
}

bool IsP256(EVP_PKEY* key) {
  if (!EVP_PKEY_is_a(key, "EC")) return false;
  char name[64] = {0};
  size_t len = 0;
  if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len)) {
    ERR_clear_error();
    return false;
  }
  return std::strcmp(name, "prime256v1") == 0 || std::strcmp(name, "P-256") == 0;
}

// The 65-byte uncompressed public point of an EC key.
std::string PublicPoint(EVP_PKEY* key) {
  // A PEM key may have been written with compressed points; the RFCs want uncompressed.
  EVP_PKEY_set_utf8_string_param(key, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                 OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED);
  unsigned char buf[kPointSize + 1];
  size_t len = 0;
  if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof buf, &len) ||
      len != kPointSize || buf[0] != 0x04) {
    ThrowOpenSsl("EVP_PKEY_get_octet_string_param(pub)");
  }
  return std::string(reinterpret_cast<char*>(buf), len);
}

std::string PrivateScalar(EVP_PKEY* key) {
  BIGNUM* raw = nullptr;
  if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &raw)) {
    ThrowOpenSsl("EVP_PKEY_get_bn_param(priv)");
  }
  Bignum priv(raw);
  std::string out(kScalarSize, '\0');
  if (BN_bn2binpad(priv.get(), reinterpret_cast<unsigned char*>(&out[0]), int(out.size())) !=
      int(kScalarSize)) {
    ThrowOpenSsl("BN_bn2binpad");
  }
  return out;
}

PKey GenerateP256() {
  PKey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) ThrowOpenSsl("EVP_PKEY_Q_keygen");
  return key;
}

// The VAPID private key from settings: PEM (PKCS#8 or SEC1) or a b64url raw scalar.
PKey LoadVapidKey(const std::string& text) {
  const char* const kField = "vapid_private_key";
  size_t begin = text.find_first_not_of(" \t\r\n");
  size_t end = text.find_last_not_of(" \t\r\n");
  if (begin == std::string::npos) throw InvalidArgument(kField, "is empty");
  std::string trimmed = text.substr(begin, end - begin + 1);
  PKey key;
  if (trimmed.compare(0, 10, "-----BEGIN") == 0) {
    Bio bio(BIO_new_mem_buf(trimmed.data(), int(trimmed.size())));
    if (!bio) ThrowOpenSsl("BIO_new_mem_buf");
    key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
    ERR_clear_error();
    if (!key) {
      throw InvalidArgument(kField, "is not a readable PEM private key (encrypted keys are "
                                    "not supported)");
    }
    if (!IsP256(key.get())) throw InvalidArgument(kField, "is not a P-256 (prime256v1) EC key");
    return key;
  }
  SecretBytes scalar;
  if (!Base64UrlDecode(trimmed, &scalar.str()) || scalar.str().size() != kScalarSize) {
    throw InvalidArgument(kField, "must be PEM or the base64url 32-byte private key");
  }
  key = KeyFromPrivateScalar(scalar.str());
  if (!key) throw InvalidArgument(kField, "is not a valid P-256 private key");
  return key;
}

std::string Ecdh(EVP_PKEY* own, EVP_PKEY* peer) {
  PKeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own, nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer) <= 0) {
    ThrowOpenSsl("EVP_PKEY_derive_init");
  }
  size_t len = 0;
  if (EVP_PKEY_derive(ctx.get(), nullptr, &len) <= 0) ThrowOpenSsl("EVP_PKEY_derive");
  std::string secret(len, '\0');
  if (EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(&secret[0]), &len) <= 0) {
    ThrowOpenSsl("EVP_PKEY_derive");
  }
  secret.resize(len);
  return secret;
}

// HKDF-SHA256 (RFC 5869), extract then expand to `length` bytes.
std::string Hkdf(const std::string& salt, const std::string& ikm, const std::string& info,
                 size_t length) {
  Kdf kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) ThrowOpenSsl("EVP_KDF_fetch(HKDF)");
  KdfCtx ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) ThrowOpenSsl("EVP_KDF_CTX_new");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(ikm.data()),
                                        ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()),
                                        salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()),
                                        info.size()),
      OSSL_PARAM_construct_end()};
  std::string out(length, '\0');
  if (EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(&out[0]), out.size(),
                     params) <= 0) {
    ThrowOpenSsl("EVP_KDF_derive(HKDF)");
  }
  return out;
}

// AES-128-GCM without associated data; returns ciphertext || tag.
std::string SealAes128Gcm(const std::string& key, const std::string& nonce,
                          const std::string& plaintext) {
  Cipher cipher(EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr));
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!cipher || !ctx) ThrowOpenSsl("EVP_CIPHER_fetch(AES-128-GCM)");
  // The default GCM IV length is 12, the RFC 8188 nonce length; no parameter needed.
  if (EVP_EncryptInit_ex2(ctx.get(), cipher.get(), U(key), U(nonce), nullptr) <= 0) {
    ThrowOpenSsl("EVP_EncryptInit_ex2");
  }
  std::string out(plaintext.size() + kTagSize, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(&out[0]);
  int len = 0;
  int total = 0;
  if (EVP_EncryptUpdate(ctx.get(), dst, &len, U(plaintext), int(plaintext.size())) <= 0) {
    ThrowOpenSsl("EVP_EncryptUpdate");
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), dst + total, &len) <= 0) ThrowOpenSsl("EVP_EncryptFinal");
  total += len;
  if (size_t(total) != plaintext.size()) ThrowOpenSsl("AES-128-GCM length");
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
                                                           dst + total, kTagSize),
                         OSSL_PARAM_construct_end()};
  if (EVP_CIPHER_CTX_get_params(ctx.get(), params) <= 0) ThrowOpenSsl("GCM tag");
  return out;
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&out[0]), int(n)) != 1) {
    ThrowOpenSsl("RAND_bytes");
  }
  return out;
}

// ES256 signature of `input` as JWS wants it: R || S, each 32 bytes big-endian.
std::string SignEs256(EVP_PKEY* key, const std::string& input) {
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, key,
                                    nullptr) <= 0) {
    ThrowOpenSsl("EVP_DigestSignInit_ex");
  }
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, U(input), input.size()) <= 0) {
    ThrowOpenSsl("EVP_DigestSign");
  }
  std::string der(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(&der[0]), &len, U(input),
                     input.size()) <= 0) {
    ThrowOpenSsl("EVP_DigestSign");
  }
  const unsigned char* p = U(der);
  EcdsaSig sig(d2i_ECDSA_SIG(nullptr, &p, long(len)));
  if (!sig) ThrowOpenSsl("d2i_ECDSA_SIG");
  std::string raw(2 * kScalarSize, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(&raw[0]);
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), dst, kScalarSize) != int(kScalarSize) ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), dst + kScalarSize, kScalarSize) !=
          int(kScalarSize)) {
    ThrowOpenSsl("BN_bn2binpad(signature)");
  }
  return raw;
}

void CheckSubject(const std::string& subject) {
  bool mailto = subject.compare(0, 7, "mailto:") == 0 && subject.size() > 7;
  bool https = subject.compare(0, 8, "https://") == 0 && subject.size() > 8;
  if (!mailto && !https) throw InvalidArgument("vapid_subject", "must be a mailto: or https: URI");
  for (unsigned char c : subject) {
    if (c < 0x21 || c == 0x7f) {
      throw InvalidArgument("vapid_subject", "must not contain spaces or control characters");
    }
  }
}

}  // namespace

std::string EncryptWebPush(const std::string& plaintext, const std::string& ua_public_b64url,
                           const std::string& auth_secret_b64url, const std::string& salt,
                           const std::string& as_private_key) {
  std::string ua_public;
  if (!Base64UrlDecode(ua_public_b64url, &ua_public) || ua_public.size() != kPointSize ||
      ua_public[0] != 0x04) {
    throw InvalidArgument("keys.p256dh", "must be a base64url 65-byte uncompressed P-256 key");
  }
  SecretBytes auth;
  if (!Base64UrlDecode(auth_secret_b64url, &auth.str()) || auth.str().size() != kAuthSize) {
    throw InvalidArgument("keys.auth", "must be a base64url 16-byte secret");
  }
  if (salt.size() != kSaltSize) throw InvalidArgument("salt", "must be 16 bytes");
  if (plaintext.size() > kMaxWebPushPlaintext) {
    throw InvalidArgument("plaintext", "is longer than " +
                                           std::to_string(kMaxWebPushPlaintext) + " bytes");
  }
  PKey ua_key = KeyFromPublicPoint(ua_public);
  if (!ua_key) throw InvalidArgument("keys.p256dh", "is not a point on the P-256 curve");
  PKey as_key = KeyFromPrivateScalar(as_private_key);
  if (!as_key) throw InvalidArgument("as_private_key", "must be a 32-byte P-256 private key");
  const std::string as_public = PublicPoint(as_key.get());

  // RFC 8291 section 3.4: the auth secret and both public keys bind the shared secret to
  // this subscription, then RFC 8188 section 2.2 derives the record key and nonce.
  SecretBytes ecdh(Ecdh(as_key.get(), ua_key.get()));
  std::string key_info = std::string("WebPush: info", 14) + ua_public + as_public;
  SecretBytes ikm(Hkdf(auth.str(), ecdh.str(), key_info, 32));
  SecretBytes cek(Hkdf(salt, ikm.str(), std::string("Content-Encoding: aes128gcm", 28), 16));
  std::string nonce = Hkdf(salt, ikm.str(), std::string("Content-Encoding: nonce", 24), 12);

  // One record, so it is the last: the delimiter is 0x02 and no padding follows (padding
  // would only hide the length, at the price of the push service's size limit).
  std::string record = plaintext;
  record += '\x02';
  std::string body = salt;
  body += char(kRecordSize >> 24);
  body += char((kRecordSize >> 16) & 0xff);
  body += char((kRecordSize >> 8) & 0xff);
  body += char(kRecordSize & 0xff);
  body += char(kPointSize);
  body += as_public;
  body += SealAes128Gcm(cek.str(), nonce, record);
  return body;
}

std::string EncryptWebPush(const std::string& plaintext, const std::string& ua_public_b64url,
                           const std::string& auth_secret_b64url) {
  PKey ephemeral = GenerateP256();
  SecretBytes scalar(PrivateScalar(ephemeral.get()));
  return EncryptWebPush(plaintext, ua_public_b64url, auth_secret_b64url, RandomBytes(kSaltSize),
                        scalar.str());
}

VapidKeys GenerateVapidKeys() {
  PKey key = GenerateP256();
  SecretBytes scalar(PrivateScalar(key.get()));
  VapidKeys keys;
  keys.private_b64url = Base64UrlEncode(scalar.str());
  keys.public_b64url = Base64UrlEncode(PublicPoint(key.get()));
  return keys;
}

std::string VapidPublicKey(const std::string& private_key) {
  PKey key = LoadVapidKey(private_key);
  return Base64UrlEncode(PublicPoint(key.get()));
}

std::string VapidAuthorization(const std::string& endpoint, const std::string& subject,
                               const std::string& private_key, Millis now_ms,
                               int64_t expires_in_seconds) {
  if (expires_in_seconds < 1 || expires_in_seconds > 24 * 3600) {
    throw InvalidArgument("expires_in_seconds", "must be 1..86400 (at most 24 hours)");
  }
  CheckSubject(subject);
  const std::string audience = internal::UrlOrigin(endpoint, "endpoint");
  PKey key = LoadVapidKey(private_key);
  const int64_t exp = now_ms / 1000 + expires_in_seconds;
  const std::string header = R"({"typ":"JWT","alg":"ES256"})";
  const std::string claims = "{\"aud\":" + internal::JsonQuote(audience) +
                             ",\"exp\":" + std::to_string(exp) +
                             ",\"sub\":" + internal::JsonQuote(subject) + "}";
  const std::string signing_input = Base64UrlEncode(header) + "." + Base64UrlEncode(claims);
  const std::string jwt = signing_input + "." + Base64UrlEncode(SignEs256(key.get(), signing_input));
  return "vapid t=" + jwt + ", k=" + Base64UrlEncode(PublicPoint(key.get()));
}

}  // namespace cartrecovery
