// Attestation: how the KMS decides which worker identity a newly enrolling worker has. A
// verifier takes the evidence a worker sent with its certificate signing request and either
// vouches for an identity (organisation, party index, worker name) plus claims, or refuses with a
// reason. The KMS then certifies the CSR's public key under that identity (kms_server.h).
//
// Kinds:
//   "bootstrap-token"  one-time secret bound to an identity, with an expiry, stored hashed
//                      (bootstrap_token.h; as Vault's AppRole secret-id). Evidence: `token`.
//   "sgx-dcap", "tdx-dcap" (dcap_verifier.h) a DCAP quote over the enclave or TD whose report
//                      data holds SHA-256 of `public_key_der`, so the key the KMS certifies lives
//                      inside the measured environment; verified with attest/ (quote signature
//                      chain, TCB status); the identity comes from a policy mapping measurements
//                      (MRENCLAVE/MRTD, MRSIGNER) to an organisation and party index. Claims then
//                      carry the measurements, and key release can require them.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "veil/serve/kms_pki.h"

namespace veil::serve {

struct AttestationEvidence {
  std::string kind;            // which verifier must judge it
  std::string token;           // bootstrap-token
  std::string quote;           // *-dcap: the raw quote bytes
  std::string public_key_der;  // the key to certify (from the CSR; filled by the KMS, not the worker)
};

struct AttestationResult {
  bool ok = false;
  std::string reason;  // refusal code (kms_server.h lists them) when !ok
  std::string detail;  // human-readable explanation when !ok
  WorkerIdentity identity;
  std::map<std::string, std::string> claims;  // e.g. "token_id", or measurements for DCAP
};

class AttestationVerifier {
 public:
  virtual ~AttestationVerifier() = default;
  virtual std::string kind() const = 0;
  // Judges `evidence` at unix time `now`. May consume one-time evidence (a token is used up even
  // if a later step of the enrolment fails). Never throws for bad evidence; throws only when the
  // verifier itself cannot work (database error).
  virtual AttestationResult verify(const AttestationEvidence& evidence, int64_t now) = 0;
};

}  // namespace veil::serve
