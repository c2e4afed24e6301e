// Test and deployment certificates without extra tools: a CA and one certificate per party,
// EC P-256 keys, signed with SHA-256. Party certificates carry subject CN "veil-party-<id>" (what
// the TCP transport checks) and SAN IP:127.0.0.1, DNS:localhost. The CA's private key is not
// written: no further certificate can be signed with it, which is the point for a fixed set of
// three parties.
//
// Files in `dir`: ca.pem, party<i>.pem (certificate), party<i>.key (private key, mode 0600).
#pragma once
#include <filesystem>

#include "veil/net/tls_context.h"

namespace veil::net {

struct CertOptions {
  int days = 365;      // validity from now
  bool overwrite = false;  // replace existing files instead of refusing
};

// Writes the CA and the three party certificates into `dir` (created if missing). Throws
// std::runtime_error naming the file and the reason.
void write_party_certs(const std::filesystem::path& dir, const CertOptions& opt = {});

// The file names write_party_certs uses for party `party`.
TlsFiles party_cert_files(const std::filesystem::path& dir, int party);

}  // namespace veil::net
