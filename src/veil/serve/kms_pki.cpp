#include "veil/serve/kms_pki.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "veil/net/tls_context.h"

namespace veil::serve {

namespace {

[[noreturn]] void fail(const std::string& what) { throw PkiError(what + ": " + net::tls_error_string()); }

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr mem_bio() {
  BioPtr b(BIO_new(BIO_s_mem()));
  if (!b) fail("cannot allocate a memory BIO");
  return b;
}

BioPtr read_bio(const std::string& text) {
  BioPtr b(BIO_new_mem_buf(text.data(), int(text.size())));
  if (!b) fail("cannot allocate a memory BIO");
  return b;
}

std::string bio_string(BIO* b) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  return std::string(data, size_t(n));
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext || X509_add_ext(cert, ext, -1) != 1) {
    X509_EXTENSION_free(ext);
    fail(std::string("cannot add certificate extension ") + OBJ_nid2sn(nid));
  }
  X509_EXTENSION_free(ext);
}

void add_name(X509_NAME* name, const char* field, const std::string& value) {
  if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.c_str()),
                                 int(value.size()), -1, 0) != 1)
    fail(std::string("cannot set certificate field ") + field);
}

// An unsigned certificate for `key` with a random serial, valid [now - 60 s, now + seconds].
X509Ptr new_cert(EVP_PKEY* key, int64_t now, int64_t seconds) {
  X509Ptr c(X509_new());
  if (!c) fail("cannot allocate a certificate");
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) fail("cannot draw a serial number");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  time_t t = time_t(now);
  const bool ok = X509_set_version(c.get(), X509_VERSION_3) == 1 && bn &&
                  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c.get())) &&
                  X509_time_adj_ex(X509_getm_notBefore(c.get()), 0, -60, &t) &&
                  X509_time_adj_ex(X509_getm_notAfter(c.get()), int(seconds / 86400), long(seconds % 86400), &t) &&
                  X509_set_pubkey(c.get(), key) == 1;
  BN_free(bn);
  if (!ok) fail("cannot fill a certificate");
  return c;
}

void sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) == 0) fail("cannot sign a certificate");
}

}  // namespace

std::string describe(const WorkerIdentity& id) {
  return id.org + "/party-" + std::to_string(id.party) + "/" + id.worker;
}

PkeyPtr new_p256_key() {
  PkeyPtr k(EVP_EC_gen("P-256"));
  if (!k) fail("cannot generate an EC P-256 key");
  return k;
}

std::string private_key_pem(EVP_PKEY* key) {
  BioPtr b = mem_bio();
  if (PEM_write_bio_PrivateKey(b.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    fail("cannot encode a private key");
  return bio_string(b.get());
}

PkeyPtr parse_private_key(const std::string& pem) {
  BioPtr b = read_bio(pem);
  PkeyPtr k(PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr));
  if (!k) fail("cannot read a private key");
  return k;
}

std::string cert_pem(X509* cert) {
  BioPtr b = mem_bio();
  if (PEM_write_bio_X509(b.get(), cert) != 1) fail("cannot encode a certificate");
  return bio_string(b.get());
}

X509Ptr parse_cert(const std::string& pem) {
  BioPtr b = read_bio(pem);
  X509Ptr c(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
  if (!c) fail("not a PEM certificate");
  return c;
}

CertAndKey make_org_ca(const std::string& org, int64_t now, int days) {
  PkeyPtr key = new_p256_key();
  X509Ptr c = new_cert(key.get(), now, int64_t(days) * 86400);
  X509_NAME* name = X509_get_subject_name(c.get());
  add_name(name, "O", org);
  add_name(name, "CN", "veil-kms-ca " + org);
  if (X509_set_issuer_name(c.get(), name) != 1) fail("cannot set the CA's issuer");
  add_ext(c.get(), c.get(), NID_subject_key_identifier, "hash");
  add_ext(c.get(), c.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  add_ext(c.get(), c.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  sign(c.get(), key.get());
  return {cert_pem(c.get()), private_key_pem(key.get())};
}

CertAndKey make_server_cert(int64_t now, int days, const std::vector<std::string>& names) {
  std::string san = "IP:127.0.0.1,DNS:localhost";
  for (const std::string& n : names) {
    if (n.empty() || n.find_first_of(", \t") != std::string::npos) throw PkiError("bad server name '" + n + "'");
    unsigned char buf[16];
    const bool ip = inet_pton(AF_INET, n.c_str(), buf) == 1 || inet_pton(AF_INET6, n.c_str(), buf) == 1;
    san += (ip ? ",IP:" : ",DNS:") + n;
  }
  PkeyPtr key = new_p256_key();
  X509Ptr c = new_cert(key.get(), now, int64_t(days) * 86400);
  X509_NAME* name = X509_get_subject_name(c.get());
  add_name(name, "O", "veil");
  add_name(name, "CN", "veil-kms");
  if (X509_set_issuer_name(c.get(), name) != 1) fail("cannot set the server certificate's issuer");
  add_ext(c.get(), c.get(), NID_subject_key_identifier, "hash");
  add_ext(c.get(), c.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(c.get(), c.get(), NID_key_usage, "critical,digitalSignature");
  add_ext(c.get(), c.get(), NID_ext_key_usage, "serverAuth");
  add_ext(c.get(), c.get(), NID_subject_alt_name, san.c_str());
  sign(c.get(), key.get());
  return {cert_pem(c.get()), private_key_pem(key.get())};
}

std::string make_csr(EVP_PKEY* key) {
  std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)> req(X509_REQ_new(), &X509_REQ_free);
  if (!req || X509_REQ_set_version(req.get(), 0) != 1 || X509_REQ_set_pubkey(req.get(), key) != 1)
    fail("cannot build a certificate signing request");
  add_name(X509_REQ_get_subject_name(req.get()), "CN", "veil-worker");
  if (X509_REQ_sign(req.get(), key, EVP_sha256()) == 0) fail("cannot sign a certificate signing request");
  BioPtr b = mem_bio();
  if (PEM_write_bio_X509_REQ(b.get(), req.get()) != 1) fail("cannot encode a certificate signing request");
  return bio_string(b.get());
}

PkeyPtr csr_public_key(const std::string& csr_pem) {
  BioPtr b = read_bio(csr_pem);
  std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)> req(PEM_read_bio_X509_REQ(b.get(), nullptr, nullptr, nullptr),
                                                          &X509_REQ_free);
  ERR_clear_error();
  if (!req) throw PkiError("'csr' is not a PEM certificate signing request");
  PkeyPtr key(X509_REQ_get_pubkey(req.get()));
  if (!key) throw PkiError("the certificate signing request has no usable public key");
  if (X509_REQ_verify(req.get(), key.get()) != 1) {
    ERR_clear_error();
    throw PkiError("the certificate signing request's signature does not verify with its public key");
  }
  return key;
}

std::string issue_worker_cert(const CertAndKey& ca, EVP_PKEY* subject_key, const WorkerIdentity& id, int64_t now,
                              int64_t ttl_seconds) {
  X509Ptr ca_cert = parse_cert(ca.cert_pem);
  PkeyPtr ca_key = parse_private_key(ca.key_pem);
  X509Ptr c = new_cert(subject_key, now, ttl_seconds);
  X509_NAME* name = X509_get_subject_name(c.get());
  add_name(name, "O", id.org);
  add_name(name, "OU", "party-" + std::to_string(id.party));
  add_name(name, "CN", id.worker);
  if (X509_set_issuer_name(c.get(), X509_get_subject_name(ca_cert.get())) != 1) fail("cannot set the issuer");
  add_ext(c.get(), ca_cert.get(), NID_subject_key_identifier, "hash");
  add_ext(c.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always");
  add_ext(c.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(c.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature");
  add_ext(c.get(), ca_cert.get(), NID_ext_key_usage, "clientAuth");
  sign(c.get(), ca_key.get());
  return cert_pem(c.get());
}

WorkerIdentity worker_identity(X509* cert) {
  auto field = [&](int nid) {
    X509_NAME* name = X509_get_subject_name(cert);
    const int i = X509_NAME_get_index_by_NID(name, nid, -1);
    if (i < 0 || X509_NAME_get_index_by_NID(name, nid, i) >= 0) return std::string();  // absent or repeated
    unsigned char* utf8 = nullptr;
    const int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
    if (n < 0) return std::string();
    std::string s(reinterpret_cast<char*>(utf8), size_t(n));
    OPENSSL_free(utf8);
    return s;
  };
  WorkerIdentity id{field(NID_organizationName), -1, field(NID_commonName)};
  const std::string ou = field(NID_organizationalUnitName);
  if (ou.size() == 7 && ou.rfind("party-", 0) == 0 && ou[6] >= '0' && ou[6] <= '2') id.party = ou[6] - '0';
  return id;
}

CertCheck verify_worker_cert(X509* cert, const std::string& ca_pem, int64_t now, std::string& detail) {
  X509Ptr ca = parse_cert(ca_pem);
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), &X509_STORE_free);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), &X509_STORE_CTX_free);
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca.get()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) != 1)
    fail("cannot set up certificate verification");
  X509_STORE_CTX_set_time(ctx.get(), 0, time_t(now));
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
  if (X509_verify_cert(ctx.get()) == 1) return CertCheck::ok;
  const int err = X509_STORE_CTX_get_error(ctx.get());
  detail = X509_verify_cert_error_string(err);
  ERR_clear_error();
  if (err == X509_V_ERR_CERT_HAS_EXPIRED) return CertCheck::expired;
  if (err == X509_V_ERR_CERT_NOT_YET_VALID) return CertCheck::not_yet_valid;
  return CertCheck::untrusted;
}

std::string public_key_der(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key, &der);
  if (n <= 0) fail("cannot encode a public key");
  std::string out(reinterpret_cast<char*>(der), size_t(n));
  OPENSSL_free(der);
  return out;
}

}  // namespace veil::serve
