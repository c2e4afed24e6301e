// Test and deployment certificates without extra tools: a CA, one certificate per party and one
// for the client, EC P-256 keys, signed with SHA-256. Party certificates carry subject CN
// "veil-party-<id>" (what the TCP transport checks), the client's "veil-client" (what a serving
// party checks, net/message_conn.h); all carry SAN IP:127.0.0.1, DNS:localhost. The CA's private key is not
// written: no further certificate can be signed with it, which is the point for a fixed set of
// three parties.
//
// Files in `dir`: ca.pem, party<i>.pem (certificate), party<i>.key (private key, mode 0600),
// client.pem and client.key.
#pragma once
#include <filesystem>

#include "veil/net/tls_context.h"

namespace veil::net {

struct CertOptions {
  int days = 365;      // validity from now
  bool overwrite = false;  // replace existing files instead of refusing
};

// Writes the CA, the three party certificates and the client certificate into `dir` (created if missing). Throws
// std::runtime_error naming the file and the reason.
void write_party_certs(const std::filesystem::path& dir, const CertOptions& opt = {});

// The file names write_party_certs uses for party `party`.
TlsFiles party_cert_files(const std::filesystem::path& dir, int party);
// The file names write_party_certs uses for the client.
TlsFiles client_cert_files(const std::filesystem::path& dir);

}  // namespace veil::net
