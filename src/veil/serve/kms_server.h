// The key management service (S3ML's KMS for veil's party workers): HTTPS on one port, TLS 1.3.
// A client certificate is requested but not required by the handshake, so that a worker
// without one can enrol; the key release endpoint then verifies the certificate itself (chain to
// the organisation's CA, validity at the service's clock), which lets it refuse with a reason
// and an audit record instead of a failed handshake.
//
// Endpoints (JSON bodies; errors are {"error": <reason>, "message": <text>}):
//   POST /v1/enrol    {"csr": PEM, "evidence": {"kind": "bootstrap-token", "token": hex}}
//                     -> {"certificate": PEM, "ca": PEM, "org", "party", "worker", "not_after"}
//   POST /v1/release  (client certificate from /v1/enrol)
//                     {"model", "party", "worker_version", "bundle_sha256": hex}
//                     -> {"model", "party", "key_version", "key": hex}
//   GET  /healthz     "ok" once the database opens
//   GET  /metrics     Prometheus text: veil_kms_requests_total{event,outcome,reason}
//
// Refusal reasons and HTTP status:
//   400 bad_request (malformed or truncated JSON, missing or mistyped field, body cut short of
//       its Content-Length; 413 when larger than 64 KiB), bad_csr,
//       unsupported_evidence
//   401 bad_token, token_replayed, token_expired, no_client_cert, cert_untrusted (not a worker
//       certificate, unknown organisation, or not signed by its organisation's CA), cert_expired
//   403 wrong_party (certificate's party is not the requested one), unknown_model (no policy for
//       this model and party), org_not_allowed, version_not_allowed, bundle_mismatch (no key
//       opens a bundle with that SHA-256: tampered or unknown bundle), key_retired
//   500 internal
// Every enrolment and release, granted or refused, writes one audit record (kms_store.h).
#pragma once
#include <openssl/x509.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>

#include "veil/serve/attestation.h"
#include "veil/serve/kms_store.h"

namespace httplib {
class SSLServer;
}

namespace veil::serve {

using Clock = std::function<int64_t()>;  // unix seconds
int64_t system_now();

struct KmsReply {
  int status = 200;
  std::string body;  // JSON
};

// The endpoints' logic, independent of HTTP (tests call it with their own clock).
class KmsService {
 public:
  KmsService(KmsStore& store, int64_t cert_ttl_seconds, Clock clock = system_now);

  // Adds a verifier for its kind() (the bootstrap-token verifier is always present). Not safe while
  // requests are served: a server's verifiers are added by KmsServerOptions::configure.
  void add_verifier(std::unique_ptr<AttestationVerifier> v);

  KmsReply enrol(const std::string& body, const std::string& peer);
  // `client_cert`: the certificate the TLS client presented (null when none).
  KmsReply release(const std::string& body, X509* client_cert, const std::string& peer);
  // A request to `event`'s endpoint that the HTTP layer could not read: its body is cut short of
  // its Content-Length (status 400) or too large (413). Refused as bad_request and audited.
  KmsReply unreadable(const std::string& event, int status, const std::string& peer);
  std::string metrics() const;
  bool healthy();
  void set_log(std::function<void(const std::string&)> log) { log_ = std::move(log); }

 private:
  KmsReply refuse(AuditRecord r, int status, const std::string& reason, const std::string& message);
  KmsReply grant(AuditRecord r, std::string body);
  void count(const AuditRecord& r);

  KmsStore& store_;
  int64_t cert_ttl_;
  Clock clock_;
  std::function<void(const std::string&)> log_;
  std::map<std::string, std::unique_ptr<AttestationVerifier>> verifiers_;
  mutable std::mutex counts_mu_;
  std::map<std::tuple<std::string, std::string, std::string>, uint64_t> counts_;  // (event, outcome, reason)
};

struct KmsServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;                      // 0: an ephemeral port (port() tells which)
  int64_t cert_ttl_seconds = 86400;  // worker certificates' validity
  Clock clock = system_now;
  std::function<void(const std::string&)> log;  // one line per request outcome; no secrets
  std::function<void(KmsService&)> configure;    // runs before the server listens: add verifiers here
};

// Serves KmsService over HTTPS in a background thread until stop() or destruction.
class KmsServer {
 public:
  KmsServer(KmsStore& store, const KmsServerOptions& opt);
  ~KmsServer();
  KmsServer(const KmsServer&) = delete;
  KmsServer& operator=(const KmsServer&) = delete;

  int port() const { return port_; }
  KmsService& service() { return service_; }
  void stop();
  void wait();  // until the server stops

 private:
  KmsService service_;
  std::unique_ptr<httplib::SSLServer> http_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace veil::serve
