#include "veil/attest/pki.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include "veil/attest/check.h"
#include "veil/attest/intel_root.h"

namespace veil::attest {
namespace {

std::string pem_of(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string s(data, size_t(n));
  BIO_free(bio);
  return s;
}

bool same_der(X509* a, X509* b) { return X509_cmp(a, b) == 0; }

struct StoreCtx {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  STACK_OF(X509_CRL)* crls = sk_X509_CRL_new_null();
  ~StoreCtx() {
    sk_X509_CRL_free(crls);
    sk_X509_free(untrusted);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
  }
};

}  // namespace

std::string common_name(X509_NAME* name) {
  const int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (i < 0) return "";
  ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), size_t(ASN1_STRING_length(s)));
}

std::vector<Cert> parse_pem_chain(std::string_view pem, const std::string& check) {
  BIO* bio = BIO_new_mem_buf(pem.data(), int(pem.size()));
  std::vector<Cert> chain;
  std::string canonical;
  while (X509* c = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    chain.emplace_back(c);
    canonical += pem_of(c);
  }
  BIO_free(bio);
  ERR_clear_error();  // the loop ends on "no start line"
  if (chain.empty()) throw CheckFailed(check, "no PEM certificate in the chain");
  if (canonical != pem)
    throw CheckFailed(check, "the chain is not exactly " + std::to_string(chain.size()) +
                                 " PEM certificates (stray or altered bytes between or inside them)");
  return chain;
}

Crl parse_der_crl(std::span<const uint8_t> der, const std::string& check) {
  const unsigned char* p = der.data();
  Crl crl(d2i_X509_CRL(nullptr, &p, long(der.size())));
  if (!crl) throw CheckFailed(check, "the CRL is not valid DER");
  if (p != der.data() + der.size()) throw CheckFailed(check, "bytes after the CRL's DER");
  return crl;
}

void check_crl(X509_CRL* crl, X509* issuer, int64_t at, const std::string& check) {
  const std::string cn = common_name(X509_get_subject_name(issuer));
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0)
    throw CheckFailed(check, "the CRL's issuer is " + common_name(X509_CRL_get_issuer(crl)) + ", not " + cn);
  EVP_PKEY* key = X509_get0_pubkey(issuer);
  if (!key || X509_CRL_verify(crl, key) != 1) {
    ERR_clear_error();
    throw CheckFailed(check, "the CRL's signature does not verify with the key of " + cn);
  }
  time_t t = time_t(at);
  if (X509_cmp_time(X509_CRL_get0_lastUpdate(crl), &t) > 0) throw CheckFailed(check, "the CRL is not yet valid");
  const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl);
  if (!next) throw CheckFailed(check, "the CRL has no nextUpdate");
  if (X509_cmp_time(next, &t) < 0) throw CheckFailed(check, "the CRL has expired (nextUpdate passed)");
}

void check_chain(const std::vector<Cert>& chain, const std::vector<X509_CRL*>& crls, int64_t at,
                 const std::string& check) {
  X509* root = intel_sgx_root_ca();
  if (chain.size() < 2 || !same_der(chain.back().get(), root))
    throw CheckFailed(check, "the chain does not end in the pinned Intel SGX Root CA");
  StoreCtx s;
  X509_STORE_add_cert(s.store, root);
  for (size_t i = 1; i + 1 < chain.size(); ++i) sk_X509_push(s.untrusted, chain[i].get());
  for (X509_CRL* c : crls) sk_X509_CRL_push(s.crls, c);
  X509_STORE_CTX_init(s.ctx, s.store, chain.front().get(), s.untrusted);
  X509_STORE_CTX_set0_crls(s.ctx, s.crls);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(s.ctx);
  X509_VERIFY_PARAM_set_time(param, time_t(at));
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL | X509_V_FLAG_X509_STRICT);
  if (X509_verify_cert(s.ctx) == 1) {
    // OpenSSL builds its own path; it must be the chain as given, so that every certificate is used.
    STACK_OF(X509)* built = X509_STORE_CTX_get0_chain(s.ctx);
    bool same = sk_X509_num(built) == int(chain.size());
    for (size_t i = 0; same && i < chain.size(); ++i) same = same_der(sk_X509_value(built, int(i)), chain[i].get());
    if (!same) throw CheckFailed(check, "the chain holds certificates that are not on the path to the root");
    return;
  }
  const int err = X509_STORE_CTX_get_error(s.ctx);
  X509* bad = X509_STORE_CTX_get_current_cert(s.ctx);
  ERR_clear_error();
  throw CheckFailed(check, std::string(X509_verify_cert_error_string(err)) + " (" +
                               (bad ? common_name(X509_get_subject_name(bad)) : std::string("chain")) + ")");
}

}  // namespace veil::attest
