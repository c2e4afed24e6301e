// Bootstrap tokens, the first attestation verifier (as Vault's AppRole secret-id): an operator
// issues a token for one worker identity (`veil kms issue-token`) and hands it to that worker's
// deployment; the worker presents it once, with its certificate signing request, to enrol.
//   token    = 32 random bytes as 64 hexadecimal digits; shown once, never stored
//   stored   = SHA-256 of the token (hex), the identity, the expiry, the time it was used
// A token is refused when unknown ("bad_token"), already used ("token_replayed") or expired
// ("token_expired"); a successful check marks it used in the same statement that tests it.
#pragma once
#include <string>

#include "veil/serve/attestation.h"
#include "veil/serve/kms_store.h"

namespace veil::serve {

inline constexpr const char* kBootstrapTokenKind = "bootstrap-token";

std::string new_bootstrap_token();
std::string bootstrap_token_hash(const std::string& token);

// Writes `token` and a newline to a new file of mode 0600 (refusing to replace one), for the
// worker's --bootstrap-token. Throws std::runtime_error naming the file.
void write_token_file(const std::string& path, const std::string& token);

// Issues a token for `id` valid until now + ttl_seconds; returns the token (the only copy).
std::string issue_bootstrap_token(KmsStore& store, const WorkerIdentity& id, int64_t now, int64_t ttl_seconds);

class BootstrapTokenVerifier final : public AttestationVerifier {
 public:
  explicit BootstrapTokenVerifier(KmsStore& store) : store_(store) {}
  std::string kind() const override { return kBootstrapTokenKind; }
  AttestationResult verify(const AttestationEvidence& evidence, int64_t now) override;

 private:
  KmsStore& store_;
};

}  // namespace veil::serve
