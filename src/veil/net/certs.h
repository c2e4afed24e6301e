// Test and deployment certificates without extra tools: a CA, one certificate per party, one
// for the client and one for TEE workers (serve/tee_worker.h), EC P-256 keys, signed with SHA-256. Party certificates carry subject CN
// "veil-party-<id>" (what the TCP transport checks), the client's "veil-client" (what a serving
// party checks, net/message_conn.h), the TEE workers' "veil-tee-worker" (what the gateway checks
// when it connects to one); all carry SAN IP:127.0.0.1, DNS:localhost. The CA's private key is not
// written: no further certificate can be signed with it, which is the point for a fixed set of
// three parties.
//
// Files in `dir`: ca.pem, party<i>.pem (certificate), party<i>.key (private key, mode 0600),
// client.pem and client.key, tee-worker.pem and tee-worker.key.
#pragma once
#include <filesystem>

#include "veil/net/tls_context.h"

namespace veil::net {

struct CertOptions {
  int days = 365;      // validity from now
  bool overwrite = false;  // replace existing files instead of refusing
};

// Writes the CA, the three party certificates, the client's and the TEE workers' into `dir` (created if missing). Throws
// std::runtime_error naming the file and the reason.
void write_party_certs(const std::filesystem::path& dir, const CertOptions& opt = {});

// The file names write_party_certs uses for party `party`.
TlsFiles party_cert_files(const std::filesystem::path& dir, int party);
// The file names write_party_certs uses for the client.
TlsFiles client_cert_files(const std::filesystem::path& dir);
// The file names write_party_certs uses for TEE workers (one certificate that they all present).
TlsFiles tee_worker_cert_files(const std::filesystem::path& dir);
std::string tee_worker_common_name();

}  // namespace veil::net
