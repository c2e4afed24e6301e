// X.509 for DCAP: PEM certificate chains that must end in the pinned Intel SGX Root CA, checked with
// OpenSSL at a given time against Intel's CRLs; DER CRLs checked for issuer, signature and validity.
// Every function throws CheckFailed with the `check` name it is given.
#pragma once
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace veil::attest {

struct X509Free {
  void operator()(X509* c) const { X509_free(c); }
};
struct X509CrlFree {
  void operator()(X509_CRL* c) const { X509_CRL_free(c); }
};
using Cert = std::unique_ptr<X509, X509Free>;
using Crl = std::unique_ptr<X509_CRL, X509CrlFree>;

// Certificates of a PEM chain, leaf first. The text must be exactly the certificates in OpenSSL's
// canonical PEM (64-column base64), so no byte of it goes unchecked.
std::vector<Cert> parse_pem_chain(std::string_view pem, const std::string& check);

// A CRL in DER; the bytes must be exactly one CRL.
Crl parse_der_crl(std::span<const uint8_t> der, const std::string& check);

// The CRL names `issuer` as its issuer, is signed by it and is valid at `at` (unix seconds).
void check_crl(X509_CRL* crl, X509* issuer, int64_t at, const std::string& check);

// `chain` (leaf first) ends in a byte-exact copy of the pinned root, verifies up to it at time `at`,
// it is the whole path OpenSSL builds, and no certificate in it is revoked by `crls` (each non-root
// certificate needs its issuer's CRL).
void check_chain(const std::vector<Cert>& chain, const std::vector<X509_CRL*>& crls, int64_t at,
                 const std::string& check);

std::string common_name(X509_NAME* name);

}  // namespace veil::attest
