// A worker's side of the KMS (`veil party --serve --kms ...`, `veil tee-worker serve --kms ...`):
// enrol with attestation evidence (a bootstrap token, or a DCAP quote whose report data binds the
// enrolling key: serve/dcap_verifier.h), then fetch the bundle key over mutual TLS. Without a
// given key the worker's private key is generated in memory and never written; the released key
// is returned in memory only.
#pragma once
#include <chrono>
#include <stdexcept>
#include <string>

#include <openssl/evp.h>

#include "veil/core/aead.h"

namespace veil::serve {

// The KMS refused (message has its reason code and explanation) or could not be reached.
struct KmsClientError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct KmsClientOptions {
  std::string url;      // https://host:port of `veil kms serve`
  std::string ca_file;  // the KMS's certificate (kms-ca.pem from `veil kms init`), pinned
  std::string evidence_kind = "bootstrap-token";  // or "sgx-dcap" / "tdx-dcap"
  std::string token;    // bootstrap-token: the one-time token
  std::string quote;    // *-dcap: the raw quote, whose report data must bind `key`
  EVP_PKEY* key = nullptr;  // the key to enrol (RA-TLS: the worker's TLS key); null: a fresh P-256 key
  std::string model;    // the model name the KMS's policy knows
  int party = -1;
  std::string worker_version;
  std::string bundle_sha256;  // hex SHA-256 of the share bundle this worker will open
  std::chrono::milliseconds timeout{10000};
};

struct WorkerCredentials {
  std::string cert_pem;  // the worker certificate the KMS issued
  std::string org, worker;
  int64_t not_after = 0;
  int key_version = 0;
  AeadKey share_key{};
};

// Throws KmsClientError naming the step (enrolment or key release) and the KMS's reason.
WorkerCredentials fetch_worker_credentials(const KmsClientOptions& o);

// SHA-256 of a file, hex (what the release request names).
std::string file_sha256(const std::string& path);

}  // namespace veil::serve
