// push_tests: Web Push encryption (RFC 8291) against the RFC's Appendix A vector and an
// independent decryptor, VAPID tokens (RFC 8292) verified with OpenSSL, and the push
// channel against a Poco HTTP(S) server on 127.0.0.1 playing the push service.
//
// The test plays the browser: it makes the subscription's key pair and auth secret and
// decrypts what the channel posted. Decrypt() below follows the RFC's decryption steps
// (RFC 8188 section 2, RFC 8291 section 3.4) with HMAC-based HKDF written out here, not the
// library's EVP_KDF path, so a shared mistake is unlikely.
//
// The servers only record what they receive; every assertion runs on the test thread.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "Poco/Dynamic/Var.h"
#include "Poco/JSON/Object.h"
#include "Poco/JSON/Parser.h"
#include "Poco/Net/Context.h"
#include "Poco/Net/HTTPRequestHandler.h"
#include "Poco/Net/HTTPRequestHandlerFactory.h"
#include "Poco/Net/HTTPServer.h"
#include "Poco/Net/HTTPServerParams.h"
#include "Poco/Net/HTTPServerRequest.h"
#include "Poco/Net/HTTPServerResponse.h"
#include "Poco/Net/SecureServerSocket.h"
#include "Poco/Net/ServerSocket.h"
#include "Poco/Net/SocketAddress.h"
#include "Poco/String.h"
#include "cartrecovery/delivery.h"
#include "cartrecovery/push.h"
#include "cartrecovery/status.h"
#include "deliver/webpush_crypto.h"
#include "test_util.h"

namespace cartrecovery {
namespace {

using internal::Base64UrlDecode;
using internal::Base64UrlEncode;

std::string B64(const std::string& text) {
  std::string out;
  if (!Base64UrlDecode(text, &out)) throw std::runtime_error("bad base64url in test: " + text);
  return out;
}

// RFC 8291 Appendix A (as published; also used verbatim by e.g. Mozilla's push tests).
const char kRfcPlaintext[] = "When I grow up, I want to be a watermelon";
const char kRfcAsPrivate[] = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
const char kRfcAsPublic[] =
    "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
const char kRfcUaPrivate[] = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
const char kRfcUaPublic[] =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const char kRfcSalt[] = "DGv6ra1nlYgDCS1FRnbzlw";
const char kRfcAuth[] = "BTBZMqHH6r4Tts7J_aSIgg";
const char kRfcBody[] =
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS"
    "6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Q"
    "ulcy4a-fN";

// ---------------------------------------------------------------------------------------
// The browser's side, written from the RFCs' decryption steps.

struct PKeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, PKeyFree>;

std::string HmacSha256(const std::string& key, const std::string& data) {
  unsigned char out[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

// HKDF with L <= 32: one expand block, T(1) = HMAC(PRK, info || 0x01).
std::string HkdfOneBlock(const std::string& salt, const std::string& ikm, const std::string& info,
                         size_t length) {
  std::string prk = HmacSha256(salt, ikm);
  return HmacSha256(prk, info + '\x01').substr(0, length);
}

// A P-256 key pair from the raw scalar and its public point (both given, as in the RFC).
PKey KeyPairFromRaw(const std::string& scalar, const std::string& point) {
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  BIGNUM* priv = BN_bin2bn(reinterpret_cast<const unsigned char*>(scalar.data()), int(scalar.size()), nullptr);
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* key = nullptr;
  EVP_PKEY_fromdata_init(ctx);
  EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  BN_free(priv);
  OSSL_PARAM_BLD_free(bld);
  if (!key) throw std::runtime_error("test key pair");
  return PKey(key);
}

PKey PublicKeyFromRaw(const std::string& point) {
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* key = nullptr;
  EVP_PKEY_fromdata_init(ctx);
  EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  if (!key) throw std::runtime_error("test public key");
  return PKey(key);
}

std::string RawPublic(EVP_PKEY* key) {
  unsigned char buf[65];
  size_t len = 0;
  EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof buf, &len);
  return std::string(reinterpret_cast<char*>(buf), len);
}

// What a browser holds for one subscription.
struct Browser {
  Browser() : key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")), auth(16, '\0') {
    RAND_bytes(reinterpret_cast<unsigned char*>(&auth[0]), 16);
    public_point = RawPublic(key.get());
  }
  std::string SubscriptionJson(const std::string& endpoint) const {
    return "{\"endpoint\":\"" + endpoint + "\",\"expirationTime\":null,\"keys\":{\"p256dh\":\"" +
           Base64UrlEncode(public_point) + "\",\"auth\":\"" + Base64UrlEncode(auth) + "\"}}";
  }
  PKey key;
  std::string auth;
  std::string public_point;
};

struct Decrypted {
  bool ok = false;
  std::string why;             // when !ok
  std::string plaintext;       // padding removed
  std::string last_record;     // as decrypted, padding included
};

// RFC 8188 section 2 + RFC 8291 section 3.4, receiver side.
Decrypted Decrypt(const std::string& body, EVP_PKEY* ua_key, const std::string& auth) {
  Decrypted result;
  if (body.size() < 21) return result.why = "short header", result;
  const std::string salt = body.substr(0, 16);
  uint32_t rs = (uint32_t(uint8_t(body[16])) << 24) | (uint32_t(uint8_t(body[17])) << 16) |
                (uint32_t(uint8_t(body[18])) << 8) | uint8_t(body[19]);
  size_t idlen = uint8_t(body[20]);
  if (rs < 18 || body.size() < 21 + idlen) return result.why = "bad header", result;
  const std::string as_public = body.substr(21, idlen);
  const std::string ua_public = RawPublic(ua_key);

  PKey as_key = PublicKeyFromRaw(as_public);
  EVP_PKEY_CTX* dctx = EVP_PKEY_CTX_new(ua_key, nullptr);
  EVP_PKEY_derive_init(dctx);
  EVP_PKEY_derive_set_peer(dctx, as_key.get());
  unsigned char secret[32];
  size_t secret_len = sizeof secret;
  EVP_PKEY_derive(dctx, secret, &secret_len);
  EVP_PKEY_CTX_free(dctx);
  const std::string ecdh(reinterpret_cast<char*>(secret), secret_len);

  std::string key_info = std::string("WebPush: info") + '\0' + ua_public + as_public;
  std::string ikm = HkdfOneBlock(auth, ecdh, key_info, 32);
  std::string cek = HkdfOneBlock(salt, ikm, std::string("Content-Encoding: aes128gcm") + '\0', 16);
  std::string nonce = HkdfOneBlock(salt, ikm, std::string("Content-Encoding: nonce") + '\0', 12);

  const std::string ciphertext = body.substr(21 + idlen);
  for (size_t at = 0, seq = 0; at < ciphertext.size(); at += rs, ++seq) {
    std::string record = ciphertext.substr(at, rs);
    if (record.size() < 17) return result.why = "short record", result;
    std::string iv = nonce;
    for (int i = 0; i < 8; ++i) iv[11 - i] = char(uint8_t(iv[11 - i]) ^ uint8_t(seq >> (8 * i)));
    EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
    EVP_DecryptInit_ex(c, EVP_aes_128_gcm(), nullptr,
                       reinterpret_cast<const unsigned char*>(cek.data()),
                       reinterpret_cast<const unsigned char*>(iv.data()));
    std::string out(record.size() - 16, '\0');
    int len = 0;
    EVP_DecryptUpdate(c, reinterpret_cast<unsigned char*>(&out[0]), &len,
                      reinterpret_cast<const unsigned char*>(record.data()), int(out.size()));
    std::string tag = record.substr(record.size() - 16);
    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, &tag[0]);
    unsigned char final_block[16];
    int ok = EVP_DecryptFinal_ex(c, final_block, &len);
    EVP_CIPHER_CTX_free(c);
    ERR_clear_error();
    if (ok <= 0) return result.why = "authentication tag mismatch", result;
    bool last = at + rs >= ciphertext.size();
    size_t end = out.find_last_not_of('\0');
    if (end == std::string::npos) return result.why = "no delimiter", result;
    if (uint8_t(out[end]) != (last ? 2 : 1)) return result.why = "wrong delimiter", result;
    result.plaintext += out.substr(0, end);
    if (last) result.last_record = out;
  }
  result.ok = true;
  return result;
}

// ---------------------------------------------------------------------------------------
// VAPID checks

struct Vapid {
  std::string jwt;
  std::string k;
  std::string header_json, claims_json, signature;
  std::string signing_input;
};

Vapid SplitVapid(const std::string& authorization) {
  Vapid v;
  const std::string t_prefix = "vapid t=";
  BOOST_REQUIRE_EQUAL(authorization.compare(0, t_prefix.size(), t_prefix), 0);
  size_t comma = authorization.find(", k=");
  BOOST_REQUIRE(comma != std::string::npos);
  v.jwt = authorization.substr(t_prefix.size(), comma - t_prefix.size());
  v.k = authorization.substr(comma + 4);
  size_t dot1 = v.jwt.find('.');
  size_t dot2 = v.jwt.find('.', dot1 + 1);
  BOOST_REQUIRE(dot1 != std::string::npos && dot2 != std::string::npos);
  BOOST_REQUIRE(v.jwt.find('=') == std::string::npos);  // unpadded base64url
  v.signing_input = v.jwt.substr(0, dot2);
  v.header_json = B64(v.jwt.substr(0, dot1));
  v.claims_json = B64(v.jwt.substr(dot1 + 1, dot2 - dot1 - 1));
  v.signature = B64(v.jwt.substr(dot2 + 1));
  return v;
}

// Raw R||S -> DER, then EVP_DigestVerify with the 65-byte public key.
bool VerifyEs256(const std::string& public_point, const std::string& input,
                 const std::string& raw_signature) {
  if (raw_signature.size() != 64) return false;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw_signature.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw_signature.data()) + 32, 32, nullptr);
  ECDSA_SIG_set0(sig, r, s);
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  PKey key = PublicKeyFromRaw(public_point);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestVerifyInit_ex(ctx, nullptr, "SHA256", nullptr, nullptr, key.get(), nullptr);
  int ok = EVP_DigestVerify(ctx, der, size_t(der_len),
                            reinterpret_cast<const unsigned char*>(input.data()), input.size());
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  ERR_clear_error();
  return ok == 1;
}

Poco::JSON::Object::Ptr ParseObject(const std::string& json) {
  return Poco::JSON::Parser().parse(json).extract<Poco::JSON::Object::Ptr>();
}

// ---------------------------------------------------------------------------------------
// The push service: a Poco HTTPServer on 127.0.0.1:0 that records and answers as scripted.

struct Recorded {
  std::string method, uri, body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string Header(const std::string& name) const {
    for (const auto& h : headers) {
      if (Poco::icompare(h.first, name) == 0) return h.second;
    }
    return "<absent>";
  }
};

struct ServiceState {
  std::mutex mutex;
  int status = 201;
  std::vector<std::pair<std::string, std::string>> reply_headers;
  std::string reply_body;
  std::vector<Recorded> received;  // guarded by mutex
};

class RecordingHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit RecordingHandler(ServiceState* state) : state_(state) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    Recorded r;
    r.method = request.getMethod();
    r.uri = request.getURI();
    for (const auto& h : request) r.headers.emplace_back(h.first, h.second);
    r.body.assign(std::istreambuf_iterator<char>(request.stream()), {});
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->received.push_back(std::move(r));
    response.setStatusAndReason(Poco::Net::HTTPResponse::HTTPStatus(state_->status));
    for (const auto& h : state_->reply_headers) response.set(h.first, h.second);
    response.setContentLength(std::streamsize(state_->reply_body.size()));
    response.send() << state_->reply_body;
  }

 private:
  ServiceState* state_;
};

class RecordingFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit RecordingFactory(ServiceState* state) : state_(state) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new RecordingHandler(state_);
  }

 private:
  ServiceState* state_;
};

class FakePushService {
 public:
  // Plain HTTP, or HTTPS with the given certificate when cert_file is set.
  explicit FakePushService(const std::string& cert_file = "", const std::string& key_file = "") {
    Poco::Net::SocketAddress address("127.0.0.1", 0);
    Poco::Net::ServerSocket socket;
    if (cert_file.empty()) {
      socket = Poco::Net::ServerSocket(address);
    } else {
      Poco::Net::Context::Ptr context = new Poco::Net::Context(
          Poco::Net::Context::TLS_SERVER_USE, key_file, cert_file, "", Poco::Net::Context::VERIFY_NONE);
      socket = Poco::Net::SecureServerSocket(address, 64, context);
    }
    port_ = socket.address().port();
    scheme_ = cert_file.empty() ? "http" : "https";
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(2);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new RecordingFactory(&state_), socket, params);
    server_->start();
  }
  ~FakePushService() { server_->stopAll(true); }

  std::string Endpoint() const {
    return scheme_ + "://127.0.0.1:" + std::to_string(port_) + "/wpush/v2/gAAAAABsubscription?x=1";
  }
  std::string Origin() const { return scheme_ + "://127.0.0.1:" + std::to_string(port_); }
  void Reply(int status, std::vector<std::pair<std::string, std::string>> headers = {},
             std::string body = "") {
    std::lock_guard<std::mutex> lock(state_.mutex);
    state_.status = status;
    state_.reply_headers = std::move(headers);
    state_.reply_body = std::move(body);
  }
  std::vector<Recorded> Received() {
    std::lock_guard<std::mutex> lock(state_.mutex);
    return state_.received;
  }

 private:
  ServiceState state_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  Poco::UInt16 port_ = 0;
  std::string scheme_;
};

// A self-signed certificate for 127.0.0.1 (SAN DNS and IP), made in-process.
struct TestCertificate {
  testing::TempDir dir;
  std::string cert_file, key_file;
  TestCertificate() {
    cert_file = dir.File("cert.pem");
    key_file = dir.File("key.pem");
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 2 * 86400);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* san =
        X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "DNS:127.0.0.1,IP:127.0.0.1");
    X509_add_ext(cert, san, -1);
    X509_EXTENSION_free(san);
    X509_sign(cert, key, EVP_sha256());
    FILE* f = std::fopen(cert_file.c_str(), "w");
    PEM_write_X509(f, cert);
    std::fclose(f);
    f = std::fopen(key_file.c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

PushSettings TestSettings(const VapidKeys& keys) {
  PushSettings settings;
  settings.vapid_private_key = keys.private_b64url;
  settings.vapid_subject = "mailto:shop@example.com";
  settings.timeout_ms = 5000;
  return settings;
}

OutgoingMessage PushMessage(const std::string& to) {
  OutgoingMessage m;
  m.message_id = "j42-s1-push";
  m.channel = "push";
  m.to = to;
  m.subject = "Your cart is waiting";
  m.text = "2 items: Kite \"Zephyr\", line";
  m.data_json = R"({"cart_id":"c-1","url":"https://shop.example/cart/c-1?t=x","total":"89.90"})";
  return m;
}

Error SendExpectingError(Channel& channel, const OutgoingMessage& message) {
  try {
    channel.Send(message);
  } catch (const Error& e) {
    BOOST_TEST_MESSAGE(e.what());
    return e;
  }
  BOOST_FAIL("Send succeeded where an error was expected");
  throw std::logic_error("unreachable");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(push_tests)

// ---------------------------------------------------------------------------------------
// RFC 8291

BOOST_AUTO_TEST_CASE(encrypt_reproduces_rfc8291_appendix_a_byte_for_byte) {
  std::string body = EncryptWebPush(kRfcPlaintext, kRfcUaPublic, kRfcAuth, B64(kRfcSalt),
                                    B64(kRfcAsPrivate));
  BOOST_TEST(Base64UrlEncode(body) == std::string(kRfcBody));
  BOOST_TEST(body.substr(21, 65) == B64(kRfcAsPublic));
}

BOOST_AUTO_TEST_CASE(independent_decryptor_reads_rfc8291_appendix_a) {
  // Checks the test's own decryptor against the RFC before it judges the channel.
  PKey ua = KeyPairFromRaw(B64(kRfcUaPrivate), B64(kRfcUaPublic));
  Decrypted d = Decrypt(B64(kRfcBody), ua.get(), B64(kRfcAuth));
  BOOST_TEST(d.ok, d.why);
  BOOST_TEST(d.plaintext == kRfcPlaintext);
}

BOOST_AUTO_TEST_CASE(header_layout_is_salt_rs_idlen_keyid) {
  Browser browser;
  const std::string plaintext = "{\"title\":\"hi\"}";
  std::string body = EncryptWebPush(plaintext, Base64UrlEncode(browser.public_point),
                                    Base64UrlEncode(browser.auth));
  BOOST_REQUIRE_EQUAL(body.size(), 16 + 4 + 1 + 65 + plaintext.size() + 1 + 16);
  BOOST_TEST(body.substr(16, 4) == std::string("\x00\x00\x10\x00", 4));  // rs = 4096
  BOOST_TEST(int(uint8_t(body[20])) == 65);
  BOOST_TEST(int(uint8_t(body[21])) == 4);  // uncompressed point
  PKey keyid = PublicKeyFromRaw(body.substr(21, 65));  // throws unless on the curve
  BOOST_TEST(keyid.get() != nullptr);
  // Fresh salt and ephemeral key each time.
  std::string again = EncryptWebPush(plaintext, Base64UrlEncode(browser.public_point),
                                     Base64UrlEncode(browser.auth));
  BOOST_TEST(again.substr(0, 16) != body.substr(0, 16));
  BOOST_TEST(again.substr(21, 65) != body.substr(21, 65));
  Decrypted d = Decrypt(again, browser.key.get(), browser.auth);
  BOOST_TEST(d.ok, d.why);
  BOOST_TEST(d.plaintext == plaintext);
}

BOOST_AUTO_TEST_CASE(single_record_ends_with_delimiter_2_and_no_padding) {
  Browser browser;
  for (const std::string& plaintext : {std::string(), std::string("x"), std::string(3993, 'p')}) {
    std::string body = EncryptWebPush(plaintext, Base64UrlEncode(browser.public_point),
                                      Base64UrlEncode(browser.auth));
    Decrypted d = Decrypt(body, browser.key.get(), browser.auth);
    BOOST_TEST_REQUIRE(d.ok, d.why);
    BOOST_TEST(d.last_record == plaintext + '\x02');
    BOOST_TEST(d.plaintext == plaintext);
    BOOST_TEST(body.size() - 86 <= 4096u);  // one record fits rs
  }
}

BOOST_AUTO_TEST_CASE(decryption_fails_with_wrong_auth_secret_or_key) {
  Browser browser;
  std::string body = EncryptWebPush("secret cart", Base64UrlEncode(browser.public_point),
                                    Base64UrlEncode(browser.auth));
  std::string wrong_auth = browser.auth;
  wrong_auth[0] = char(wrong_auth[0] ^ 1);
  Decrypted d = Decrypt(body, browser.key.get(), wrong_auth);
  BOOST_TEST(!d.ok);
  BOOST_TEST(d.why == "authentication tag mismatch");
  Browser other;
  BOOST_TEST(!Decrypt(body, other.key.get(), browser.auth).ok);
  std::string tampered = body;
  tampered[100] = char(tampered[100] ^ 0x40);
  BOOST_TEST(!Decrypt(tampered, browser.key.get(), browser.auth).ok);
  BOOST_TEST(Decrypt(body, browser.key.get(), browser.auth).ok);
}

BOOST_AUTO_TEST_CASE(encrypt_refuses_unusable_inputs_by_field) {
  Browser b;
  const std::string p256dh = Base64UrlEncode(b.public_point);
  const std::string auth = Base64UrlEncode(b.auth);
  auto field_of = [](auto&& call) -> std::string {
    try {
      call();
    } catch (const Error& e) {
      BOOST_TEST(int(e.code()) == int(ErrorCode::kInvalidArgument));
      return e.field();
    }
    return "<no error>";
  };
  std::string off_curve = b.public_point;
  off_curve[64] = char(off_curve[64] ^ 1);
  BOOST_TEST(field_of([&] { EncryptWebPush("x", Base64UrlEncode(off_curve), auth); }) == "keys.p256dh");
  BOOST_TEST(field_of([&] { EncryptWebPush("x", "not*base64", auth); }) == "keys.p256dh");
  BOOST_TEST(field_of([&] { EncryptWebPush("x", Base64UrlEncode(b.public_point.substr(0, 33)), auth); }) ==
             "keys.p256dh");
  BOOST_TEST(field_of([&] { EncryptWebPush("x", p256dh, Base64UrlEncode("short")); }) == "keys.auth");
  BOOST_TEST(field_of([&] { EncryptWebPush("x", p256dh, auth, "salt", B64(kRfcAsPrivate)); }) == "salt");
  BOOST_TEST(field_of([&] { EncryptWebPush("x", p256dh, auth, B64(kRfcSalt), std::string(32, '\0')); }) ==
             "as_private_key");
  BOOST_TEST(field_of([&] { EncryptWebPush(std::string(3994, 'p'), p256dh, auth); }) == "plaintext");
}

BOOST_AUTO_TEST_CASE(base64url_and_origin_helpers) {
  BOOST_TEST(Base64UrlEncode("\xfb\xff") == "-_8");
  std::string out;
  BOOST_TEST(Base64UrlDecode("-_8", &out));
  BOOST_TEST(out == "\xfb\xff");
  BOOST_TEST(Base64UrlDecode("+/8=", &out));  // standard alphabet, padded
  BOOST_TEST(out == "\xfb\xff");
  BOOST_TEST(!Base64UrlDecode("abcde", &out));
  BOOST_TEST(!Base64UrlDecode("ab c", &out));
  BOOST_TEST(internal::UrlOrigin("https://FCM.googleapis.com/fcm/send/abc", "e") ==
             "https://fcm.googleapis.com");
  BOOST_TEST(internal::UrlOrigin("https://push.example:443/x", "e") == "https://push.example");
  BOOST_TEST(internal::UrlOrigin("https://push.example:8443/x?y", "e") == "https://push.example:8443");
  BOOST_TEST(internal::UrlOrigin("http://[::1]:8080/x", "e") == "http://[::1]:8080");
  BOOST_CHECK_THROW(internal::UrlOrigin("ftp://push.example/x", "e"), Error);
  BOOST_CHECK_THROW(internal::UrlOrigin("/relative", "e"), Error);
}

// ---------------------------------------------------------------------------------------
// RFC 8292

BOOST_AUTO_TEST_CASE(generated_vapid_keys_are_a_p256_pair) {
  VapidKeys keys = GenerateVapidKeys();
  BOOST_TEST(B64(keys.private_b64url).size() == 32u);
  BOOST_TEST(B64(keys.public_b64url).size() == 65u);
  BOOST_TEST(keys.private_b64url.find('=') == std::string::npos);
  BOOST_TEST(VapidPublicKey(keys.private_b64url) == keys.public_b64url);
  // The pair works: a signature made with the private key verifies with the public one.
  Vapid v = SplitVapid(VapidAuthorization("https://push.example/x", "mailto:a@b.example",
                                          keys.private_b64url, 0, 60));
  BOOST_TEST(VerifyEs256(B64(keys.public_b64url), v.signing_input, v.signature));
  BOOST_TEST(GenerateVapidKeys().private_b64url != keys.private_b64url);
}

BOOST_AUTO_TEST_CASE(vapid_key_accepted_as_pem_pkcs8_and_sec1) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  const std::string expected = Base64UrlEncode(RawPublic(key));
  auto pem = [&](bool pkcs8) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (pkcs8) {
      PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    } else {
      // SEC1 "EC PRIVATE KEY", the form `openssl ecparam -genkey` writes.
      PEM_write_bio_PrivateKey_traditional(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    }
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    std::string text(data, size_t(len));
    BIO_free(bio);
    return text;
  };
  const std::string pkcs8 = pem(true);
  const std::string sec1 = pem(false);
  BOOST_TEST(pkcs8.find("BEGIN PRIVATE KEY") != std::string::npos);
  BOOST_TEST(sec1.find("BEGIN EC PRIVATE KEY") != std::string::npos);
  BOOST_TEST(VapidPublicKey(pkcs8) == expected);
  BOOST_TEST(VapidPublicKey("\n  " + sec1) == expected);
  EVP_PKEY_free(key);

  // An RSA key, garbage and a wrong-length scalar are refused without echoing the input.
  EVP_PKEY* rsa = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t(1024));
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, rsa, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  const std::string rsa_pem(data, size_t(len));
  BIO_free(bio);
  EVP_PKEY_free(rsa);
  for (const std::string& bad : {rsa_pem, std::string("c2VjcmV0LWtleS1tYXRlcmlhbA"),
                                 std::string("-----BEGIN PRIVATE KEY-----\nsecretjunk\n")}) {
    try {
      VapidPublicKey(bad);
      BOOST_FAIL("accepted a bad VAPID key");
    } catch (const Error& e) {
      BOOST_TEST(e.field() == "vapid_private_key");
      BOOST_TEST(std::string(e.what()).find("secret") == std::string::npos, e.what());
      BOOST_TEST(std::string(e.what()).find("c2Vj") == std::string::npos, e.what());
    }
  }
}

BOOST_AUTO_TEST_CASE(vapid_jwt_is_es256_with_aud_exp_sub_and_verifies) {
  VapidKeys keys = GenerateVapidKeys();
  const Millis now = 1700000000123;
  std::string header = VapidAuthorization("https://Push.Example.net:8443/wpush/v2/abc?x=1",
                                          "mailto:shop@example.com", keys.private_b64url, now, 3600);
  Vapid v = SplitVapid(header);
  BOOST_TEST(v.k == keys.public_b64url);
  auto h = ParseObject(v.header_json);
  BOOST_TEST(h->getValue<std::string>("typ") == "JWT");
  BOOST_TEST(h->getValue<std::string>("alg") == "ES256");
  auto claims = ParseObject(v.claims_json);
  BOOST_TEST(claims->getValue<std::string>("aud") == "https://push.example.net:8443");
  BOOST_TEST(claims->getValue<int64_t>("exp") == 1700000000 + 3600);
  BOOST_TEST(claims->getValue<std::string>("sub") == "mailto:shop@example.com");
  BOOST_TEST(v.signature.size() == 64u);  // raw R||S, not DER
  BOOST_TEST(VerifyEs256(B64(keys.public_b64url), v.signing_input, v.signature));

  // The check can fail: another key, or altered claims, do not verify.
  BOOST_TEST(!VerifyEs256(B64(GenerateVapidKeys().public_b64url), v.signing_input, v.signature));
  std::string altered = v.signing_input;
  altered[altered.size() - 2] = altered[altered.size() - 2] == 'A' ? 'B' : 'A';
  BOOST_TEST(!VerifyEs256(B64(keys.public_b64url), altered, v.signature));
}

BOOST_AUTO_TEST_CASE(vapid_refuses_bad_subject_lifetime_and_endpoint) {
  VapidKeys keys = GenerateVapidKeys();
  auto field_of = [&](const std::string& endpoint, const std::string& subject, int64_t ttl) {
    try {
      VapidAuthorization(endpoint, subject, keys.private_b64url, 0, ttl);
    } catch (const Error& e) {
      return e.field();
    }
    return std::string("<no error>");
  };
  BOOST_TEST(field_of("https://p.example/x", "shop@example.com", 60) == "vapid_subject");
  BOOST_TEST(field_of("https://p.example/x", "https://shop.example", 60) == "<no error>");
  BOOST_TEST(field_of("https://p.example/x", "mailto:a@b.example", 86400) == "<no error>");
  BOOST_TEST(field_of("https://p.example/x", "mailto:a@b.example", 86401) == "expires_in_seconds");
  BOOST_TEST(field_of("https://p.example/x", "mailto:a@b.example", 0) == "expires_in_seconds");
  BOOST_TEST(field_of("p.example/x", "mailto:a@b.example", 60) == "endpoint");
}

// ---------------------------------------------------------------------------------------
// The channel

BOOST_AUTO_TEST_CASE(channel_posts_an_encrypted_notification_the_browser_can_read) {
  FakePushService service;
  Browser browser;
  VapidKeys keys = GenerateVapidKeys();
  auto channel = MakePushChannel(TestSettings(keys));
  channel->Send(PushMessage(browser.SubscriptionJson(service.Endpoint())));

  std::vector<Recorded> got = service.Received();
  BOOST_REQUIRE_EQUAL(got.size(), 1u);
  const Recorded& r = got[0];
  BOOST_TEST(r.method == "POST");
  BOOST_TEST(r.uri == "/wpush/v2/gAAAAABsubscription?x=1");
  BOOST_TEST(r.Header("Content-Encoding") == "aes128gcm");
  BOOST_TEST(r.Header("Content-Type") == "application/octet-stream");
  BOOST_TEST(r.Header("TTL") == "86400");
  BOOST_TEST(r.Header("Urgency") == "normal");
  BOOST_TEST(r.Header("Topic") == "<absent>");
  BOOST_TEST(r.Header("Content-Length") == std::to_string(r.body.size()));

  Vapid v = SplitVapid(r.Header("Authorization"));
  BOOST_TEST(v.k == keys.public_b64url);
  BOOST_TEST(VerifyEs256(B64(keys.public_b64url), v.signing_input, v.signature));
  auto claims = ParseObject(v.claims_json);
  BOOST_TEST(claims->getValue<std::string>("aud") == service.Origin());
  BOOST_TEST(claims->getValue<std::string>("sub") == "mailto:shop@example.com");

  Decrypted d = Decrypt(r.body, browser.key.get(), browser.auth);
  BOOST_TEST_REQUIRE(d.ok, d.why);
  auto payload = ParseObject(d.plaintext);
  BOOST_TEST(payload->getValue<std::string>("title") == "Your cart is waiting");
  BOOST_TEST(payload->getValue<std::string>("body") == "2 items: Kite \"Zephyr\", line");
  BOOST_TEST(payload->getValue<std::string>("tag") == "j42-s1-push");
  auto data = payload->getObject("data");
  BOOST_REQUIRE(data);
  BOOST_TEST(data->getValue<std::string>("cart_id") == "c-1");
  BOOST_TEST(data->getValue<std::string>("url") == "https://shop.example/cart/c-1?t=x");
}

BOOST_AUTO_TEST_CASE(channel_sends_topic_ttl_urgency_and_reuses_the_connection) {
  FakePushService service;
  Browser browser;
  PushSettings settings = TestSettings(GenerateVapidKeys());
  settings.ttl_seconds = 3600;
  settings.urgency = "high";
  settings.topic = "cart-reminder";
  auto channel = MakePushChannel(settings);
  OutgoingMessage m = PushMessage(browser.SubscriptionJson(service.Endpoint()));
  m.data_json.clear();
  channel->Send(m);
  m.headers.emplace_back("topic", "cart-c-1");
  channel->Send(m);
  std::vector<Recorded> got = service.Received();
  BOOST_REQUIRE_EQUAL(got.size(), 2u);
  BOOST_TEST(got[0].Header("TTL") == "3600");
  BOOST_TEST(got[0].Header("Urgency") == "high");
  BOOST_TEST(got[0].Header("Topic") == "cart-reminder");
  BOOST_TEST(got[1].Header("Topic") == "cart-c-1");
  Decrypted d = Decrypt(got[1].body, browser.key.get(), browser.auth);
  BOOST_TEST_REQUIRE(d.ok, d.why);
  BOOST_TEST(ParseObject(d.plaintext)->getObject("data")->size() == 0u);  // {} when empty
}

BOOST_AUTO_TEST_CASE(gone_subscription_is_permanent_subscription_expired) {
  FakePushService service;
  Browser browser;
  auto channel = MakePushChannel(TestSettings(GenerateVapidKeys()));
  for (int status : {410, 404}) {
    service.Reply(status, {}, "push subscription has unsubscribed or expired.\n");
    Error e = SendExpectingError(*channel, PushMessage(browser.SubscriptionJson(service.Endpoint())));
    BOOST_TEST(int(e.code()) == int(ErrorCode::kPermanentDelivery));
    BOOST_TEST(std::string(e.what()).rfind("subscription expired", 0) == 0u, e.what());
    BOOST_TEST(std::string(e.what()).find(std::to_string(status)) != std::string::npos);
    // The endpoint path is a per-browser capability: it stays out of the error.
    BOOST_TEST(std::string(e.what()).find("gAAAAAB") == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(overloaded_service_is_transient_with_retry_after) {
  FakePushService service;
  Browser browser;
  auto channel = MakePushChannel(TestSettings(GenerateVapidKeys()));
  service.Reply(503, {{"Retry-After", "120"}}, "busy");
  Error e = SendExpectingError(*channel, PushMessage(browser.SubscriptionJson(service.Endpoint())));
  BOOST_TEST(int(e.code()) == int(ErrorCode::kTransientDelivery));
  BOOST_TEST(e.retry_after_ms() == 120000);
  service.Reply(429);
  e = SendExpectingError(*channel, PushMessage(browser.SubscriptionJson(service.Endpoint())));
  BOOST_TEST(int(e.code()) == int(ErrorCode::kTransientDelivery));
  BOOST_TEST(e.retry_after_ms() == 0);
  service.Reply(403, {}, "invalid JWT");
  e = SendExpectingError(*channel, PushMessage(browser.SubscriptionJson(service.Endpoint())));
  BOOST_TEST(int(e.code()) == int(ErrorCode::kAccountDelivery));  // the shop's VAPID key
  BOOST_TEST(std::string(e.what()).find("invalid JWT") != std::string::npos);
  service.Reply(201);
  channel->Send(PushMessage(browser.SubscriptionJson(service.Endpoint())));
  BOOST_TEST(service.Received().size() == 4u);
}

BOOST_AUTO_TEST_CASE(retry_after_as_http_date_is_clamped) {
  FakePushService service;
  Browser browser;
  auto channel = MakePushChannel(TestSettings(GenerateVapidKeys()));
  service.Reply(503, {{"Retry-After", "Sun, 06 Nov 1994 08:49:37 GMT"}});  // past: retry now
  Error e = SendExpectingError(*channel, PushMessage(browser.SubscriptionJson(service.Endpoint())));
  BOOST_TEST(int(e.code()) == int(ErrorCode::kTransientDelivery));
  BOOST_TEST(e.retry_after_ms() == 0);
  service.Reply(503, {{"Retry-After", "Fri, 31 Dec 2100 23:59:59 GMT"}});  // capped at 30 days
  e = SendExpectingError(*channel, PushMessage(browser.SubscriptionJson(service.Endpoint())));
  BOOST_TEST(e.retry_after_ms() == 30 * kDay);
  service.Reply(503, {{"Retry-After", "99999999999"}});
  e = SendExpectingError(*channel, PushMessage(browser.SubscriptionJson(service.Endpoint())));
  BOOST_TEST(e.retry_after_ms() == 30 * kDay);
}

BOOST_AUTO_TEST_CASE(data_too_large_for_one_push_is_replaced_by_empty_object) {
  FakePushService service;
  Browser browser;
  auto channel = MakePushChannel(TestSettings(GenerateVapidKeys()));
  OutgoingMessage m = PushMessage(browser.SubscriptionJson(service.Endpoint()));
  m.data_json = "{\"items\":\"" + std::string(4000, 'i') + "\"}";
  channel->Send(m);
  std::vector<Recorded> got = service.Received();
  BOOST_REQUIRE_EQUAL(got.size(), 1u);
  BOOST_TEST(got[0].body.size() <= 4096u);
  Decrypted d = Decrypt(got[0].body, browser.key.get(), browser.auth);
  BOOST_TEST_REQUIRE(d.ok, d.why);
  auto payload = ParseObject(d.plaintext);
  BOOST_TEST(payload->getObject("data")->size() == 0u);
  BOOST_TEST(payload->getValue<std::string>("tag") == "j42-s1-push");
  // Text alone too large: permanent, nothing posted.
  m.text = std::string(5000, 't');
  Error e = SendExpectingError(*channel, m);
  BOOST_TEST(int(e.code()) == int(ErrorCode::kPermanentDelivery));
  BOOST_TEST(service.Received().size() == 1u);
}

BOOST_AUTO_TEST_CASE(malformed_subscription_is_invalid_argument_to) {
  FakePushService service;
  Browser browser;
  auto channel = MakePushChannel(TestSettings(GenerateVapidKeys()));
  const std::string good = browser.SubscriptionJson(service.Endpoint());
  std::string off_curve = browser.public_point;
  off_curve[64] = char(off_curve[64] ^ 1);
  const std::vector<std::string> bad = {
      "",
      "not json",
      "[1,2]",
      "{\"endpoint\":\"" + service.Endpoint() + "\"}",
      "{\"endpoint\":42,\"keys\":{\"p256dh\":\"x\",\"auth\":\"y\"}}",
      browser.SubscriptionJson("http://push.example/x"),  // plain http off loopback
      browser.SubscriptionJson("push.example/x"),
      "{\"endpoint\":\"" + service.Endpoint() + "\",\"keys\":{\"p256dh\":\"" +
          Base64UrlEncode(off_curve) + "\",\"auth\":\"" + Base64UrlEncode(browser.auth) + "\"}}",
  };
  for (const std::string& to : bad) {
    Error e = SendExpectingError(*channel, PushMessage(to));
    BOOST_TEST(int(e.code()) == int(ErrorCode::kInvalidArgument), to);
    BOOST_TEST(e.field() == "to", to);
  }
  BOOST_TEST(service.Received().empty());
  channel->Send(PushMessage(good));
  BOOST_TEST(service.Received().size() == 1u);
}

BOOST_AUTO_TEST_CASE(unreachable_service_is_transient) {
  Poco::UInt16 port;
  {
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
    port = probe.address().port();
  }  // closed: nothing listens there now
  Browser browser;
  auto channel = MakePushChannel(TestSettings(GenerateVapidKeys()));
  Error e = SendExpectingError(
      *channel, PushMessage(browser.SubscriptionJson("http://127.0.0.1:" + std::to_string(port) + "/x")));
  BOOST_TEST(int(e.code()) == int(ErrorCode::kTransientDelivery));
}

BOOST_AUTO_TEST_CASE(https_push_service_verified_with_ca_file) {
  TestCertificate cert;
  FakePushService service(cert.cert_file, cert.key_file);
  Browser browser;
  PushSettings settings = TestSettings(GenerateVapidKeys());
  settings.ca_file = cert.cert_file;
  auto channel = MakePushChannel(settings);
  channel->Send(PushMessage(browser.SubscriptionJson(service.Endpoint())));
  std::vector<Recorded> got = service.Received();
  BOOST_REQUIRE_EQUAL(got.size(), 1u);
  BOOST_TEST(Decrypt(got[0].body, browser.key.get(), browser.auth).ok);
  BOOST_TEST(ParseObject(SplitVapid(got[0].Header("Authorization")).claims_json)
                 ->getValue<std::string>("aud") == service.Origin());
}

BOOST_AUTO_TEST_CASE(untrusted_certificate_is_permanent_and_nothing_is_posted) {
  TestCertificate cert;
  FakePushService service(cert.cert_file, cert.key_file);
  Browser browser;
  auto channel = MakePushChannel(TestSettings(GenerateVapidKeys()));  // no ca_file
  Error e = SendExpectingError(*channel, PushMessage(browser.SubscriptionJson(service.Endpoint())));
  BOOST_TEST(int(e.code()) == int(ErrorCode::kPermanentDelivery));
  BOOST_TEST(std::string(e.what()).find("certificate") != std::string::npos, e.what());
  BOOST_TEST(service.Received().empty());
}

BOOST_AUTO_TEST_CASE(make_push_channel_checks_settings_without_echoing_the_key) {
  VapidKeys keys = GenerateVapidKeys();
  auto path_of = [](const PushSettings& s) {
    try {
      MakePushChannel(s);
    } catch (const Error& e) {
      BOOST_TEST(int(e.code()) == int(ErrorCode::kConfig));
      return e.field();
    }
    return std::string("<no error>");
  };
  PushSettings s = TestSettings(keys);
  BOOST_TEST(path_of(s) == "<no error>");
  s.vapid_private_key = keys.private_b64url.substr(0, 20);
  try {
    MakePushChannel(s);
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find(s.vapid_private_key) == std::string::npos);
  }
  BOOST_TEST(path_of(s) == "vapid_private_key");
  s = TestSettings(keys);
  s.vapid_subject = "shop@example.com";
  BOOST_TEST(path_of(s) == "vapid_subject");
  s = TestSettings(keys);
  s.urgency = "urgent";
  BOOST_TEST(path_of(s) == "urgency");
  s = TestSettings(keys);
  s.topic = "has space";
  BOOST_TEST(path_of(s) == "topic");
  s = TestSettings(keys);
  s.ttl_seconds = -1;
  BOOST_TEST(path_of(s) == "ttl_seconds");
  s = TestSettings(keys);
  s.ca_file = "/nonexistent/ca.pem";
  BOOST_TEST(path_of(s) == "ca_file");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cartrecovery
