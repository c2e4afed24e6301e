// The KMS's certificates (OpenSSL, EC P-256, SHA-256): one CA per organisation that signs its
// workers' certificates, the KMS's own self-signed TLS certificate, and the worker side's key
// pair and certificate signing request. Worker certificates name the identity the KMS
// enrolled, never what the request asked for:
//   subject O = <organisation>, OU = party-<index>, CN = <worker name>
//   extendedKeyUsage clientAuth, validity [now - 60 s, now + ttl]
// Private keys leave this file only as PEM strings that the caller seals (kms_store.h) or keeps
// in memory (kms_client.h).
#pragma once
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace veil::serve {

struct PkiError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* c) const { X509_free(c); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

// The identity a worker certificate carries.
struct WorkerIdentity {
  std::string org;
  int party = -1;
  std::string worker;
  bool operator==(const WorkerIdentity&) const = default;
};
std::string describe(const WorkerIdentity& id);  // "org/party-1/worker"

struct CertAndKey {
  std::string cert_pem;
  std::string key_pem;  // PKCS#8, unencrypted: seal it before it is stored
};

PkeyPtr new_p256_key();
std::string private_key_pem(EVP_PKEY* key);
PkeyPtr parse_private_key(const std::string& pem);
std::string cert_pem(X509* cert);
X509Ptr parse_cert(const std::string& pem);  // throws PkiError

// A CA for organisation `org` (CN "veil-kms-ca <org>", O <org>), valid `days` from `now`.
CertAndKey make_org_ca(const std::string& org, int64_t now, int days);
// The KMS's TLS certificate: self-signed (workers pin it), SAN IP:127.0.0.1, DNS:localhost and
// each of `names` (an IPv4/IPv6 literal becomes an IP entry, anything else a DNS entry: the names
// workers use in --kms, e.g. a Kubernetes Service's).
CertAndKey make_server_cert(int64_t now, int days, const std::vector<std::string>& names = {});

// A PEM certificate signing request for `key` (the subject is ignored by the KMS).
std::string make_csr(EVP_PKEY* key);
// Checks the CSR's self-signature (proof that the sender holds the private key) and returns its
// public key. Throws PkiError saying what is wrong.
PkeyPtr csr_public_key(const std::string& csr_pem);

// Signs `subject_key` as worker `id`'s certificate with the organisation's CA.
std::string issue_worker_cert(const CertAndKey& ca, EVP_PKEY* subject_key, const WorkerIdentity& id, int64_t now,
                              int64_t ttl_seconds);

// The identity in a worker certificate's subject; party -1 when the subject does not have the
// form above.
WorkerIdentity worker_identity(X509* cert);

enum class CertCheck { ok, expired, not_yet_valid, untrusted };
// Verifies `cert` against the single CA `ca_pem` at time `now` for client authentication;
// `detail` gets OpenSSL's reason when not ok.
CertCheck verify_worker_cert(X509* cert, const std::string& ca_pem, int64_t now, std::string& detail);

// The DER SubjectPublicKeyInfo of `key` (what an attestation quote must bind).
std::string public_key_der(EVP_PKEY* key);

}  // namespace veil::serve
