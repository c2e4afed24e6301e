#include "veil/serve/kms_server.h"

#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "veil/core/digest.h"
#include "veil/net/tls_context.h"
#include "veil/serve/bootstrap_token.h"

namespace veil::serve {

namespace {

using json = nlohmann::json;

// A field of the request body, or a bad_request naming it.
struct BadRequest : std::runtime_error {
  using std::runtime_error::runtime_error;
};

json parse_body(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) throw BadRequest("the body is not valid JSON (malformed or truncated)");
  if (!j.is_object()) throw BadRequest("the body must be a JSON object");
  return j;
}

std::string string_field(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string() || it->get_ref<const std::string&>().empty())
    throw BadRequest(std::string("'") + name + "' must be a non-empty string");
  return it->get<std::string>();
}

int party_field(const json& j) {
  auto it = j.find("party");
  if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 2)
    throw BadRequest("'party' must be 0, 1 or 2");
  return it->get<int>();
}

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// `text` with control characters replaced, for one log line (certificate fields come from the client).
std::string printable(std::string text) {
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return text;
}

constexpr size_t kMaxBody = 64 * 1024;

std::string error_body(const std::string& reason, const std::string& message) {
  return json{{"error", reason}, {"message", message}}.dump();
}

}  // namespace

int64_t system_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

KmsService::KmsService(KmsStore& store, int64_t cert_ttl_seconds, Clock clock)
    : store_(store), cert_ttl_(cert_ttl_seconds), clock_(std::move(clock)) {
  if (cert_ttl_ < 60) throw std::invalid_argument("worker certificates must be valid at least 60 seconds");
  add_verifier(std::make_unique<BootstrapTokenVerifier>(store_));
}

void KmsService::add_verifier(std::unique_ptr<AttestationVerifier> v) {
  const std::string kind = v->kind();
  verifiers_[kind] = std::move(v);
}

void KmsService::count(const AuditRecord& r) {
  std::lock_guard lock(counts_mu_);
  ++counts_[{r.event, r.outcome, r.reason}];
}

KmsReply KmsService::refuse(AuditRecord r, int status, const std::string& reason, const std::string& message) {
  r.outcome = "refused";
  r.reason = reason;
  r.detail = message;
  store_.audit(r);
  count(r);
  if (log_)
    log_(r.event + " refused (" + reason + ") for " +
         (r.org.empty() ? "an unidentified worker" : printable(describe({r.org, r.party, r.worker}))) + " from " +
         r.peer + ": " + printable(message));
  return {status, error_body(reason, message)};
}

KmsReply KmsService::grant(AuditRecord r, std::string body) {
  r.outcome = "granted";
  store_.audit(r);
  count(r);
  if (log_)
    log_(r.event + " granted to " + printable(describe({r.org, r.party, r.worker})) + " from " + r.peer + ": " +
         r.detail);
  return {200, std::move(body)};
}

KmsReply KmsService::enrol(const std::string& body, const std::string& peer) {
  const int64_t now = clock_();
  AuditRecord r;
  r.time = now;
  r.event = "enrol";
  r.peer = peer;
  try {
    std::string csr;
    AttestationEvidence evidence;
    try {
      const json j = parse_body(body);
      csr = string_field(j, "csr");
      auto ev = j.find("evidence");
      if (ev == j.end() || !ev->is_object()) throw BadRequest("'evidence' must be an object");
      evidence.kind = string_field(*ev, "kind");
      if (ev->contains("token")) evidence.token = string_field(*ev, "token");
      if (ev->contains("quote")) evidence.quote = string_field(*ev, "quote");
    } catch (const BadRequest& e) {
      return refuse(r, 400, "bad_request", e.what());
    }
    auto verifier = verifiers_.find(evidence.kind);
    if (verifier == verifiers_.end())
      return refuse(r, 400, "unsupported_evidence",
                    "this KMS has no verifier for evidence of kind '" + evidence.kind + "'");
    PkeyPtr key;
    try {
      key = csr_public_key(csr);
    } catch (const PkiError& e) {
      return refuse(r, 400, "bad_csr", e.what());
    }
    evidence.public_key_der = public_key_der(key.get());
    const AttestationResult a = verifier->second->verify(evidence, now);
    r.org = a.identity.org;
    r.party = a.identity.party;
    r.worker = a.identity.worker;
    if (!a.ok) return refuse(r, 401, a.reason, a.detail);
    CertAndKey ca = store_.org_ca(a.identity.org);
    const std::string cert = issue_worker_cert(ca, key.get(), a.identity, now, cert_ttl_);
    OPENSSL_cleanse(ca.key_pem.data(), ca.key_pem.size());
    r.detail = "certificate valid until " + format_time(now + cert_ttl_) + " (" + evidence.kind;
    for (const auto& [k, v] : a.claims) r.detail += ", " + k + " " + v;
    r.detail += ")";
    return grant(r, json{{"certificate", cert},
                         {"ca", ca.cert_pem},
                         {"org", a.identity.org},
                         {"party", a.identity.party},
                         {"worker", a.identity.worker},
                         {"not_after", now + cert_ttl_}}
                        .dump());
  } catch (const std::exception& e) {
    return refuse(r, 500, "internal", std::string("the KMS failed: ") + e.what());
  }
}

KmsReply KmsService::unreadable(const std::string& event, int status, const std::string& peer) {
  AuditRecord r;
  r.time = clock_();
  r.event = event;
  r.peer = peer;
  return refuse(r, status, "bad_request",
                status == 413
                    ? "the body is larger than " + std::to_string(kMaxBody / 1024) + " KiB"
                    : "the request could not be read: its body is shorter than its Content-Length (truncated) "
                      "or its HTTP framing is malformed");
}

KmsReply KmsService::release(const std::string& body, X509* client_cert, const std::string& peer) {
  const int64_t now = clock_();
  AuditRecord r;
  r.time = now;
  r.event = "release";
  r.peer = peer;
  try {
    std::string bundle_sha256;
    try {
      const json j = parse_body(body);
      r.model = string_field(j, "model");
      r.party = party_field(j);
      r.worker_version = string_field(j, "worker_version");
      bundle_sha256 = string_field(j, "bundle_sha256");
      if (!is_sha256_hex(bundle_sha256)) throw BadRequest("'bundle_sha256' must be 64 lower-case hexadecimal digits");
    } catch (const BadRequest& e) {
      return refuse(r, 400, "bad_request", e.what());
    }
    const int requested = r.party;
    if (!client_cert)
      return refuse(r, 401, "no_client_cert",
                    "key release needs the worker certificate from /v1/enrol as the TLS client certificate");
    const WorkerIdentity id = worker_identity(client_cert);
    if (id.org.empty() || id.party < 0 || id.worker.empty())
      return refuse(r, 401, "cert_untrusted",
                    "the client certificate is not a KMS worker certificate (O, OU party-<i>, CN)");
    r.org = id.org;
    r.party = id.party;
    r.worker = id.worker;
    const std::optional<std::string> ca = store_.org_ca_cert(id.org);
    if (!ca)
      return refuse(r, 401, "cert_untrusted",
                    "the certificate names organisation '" + id.org + "', which this KMS does not know");
    std::string why;
    switch (verify_worker_cert(client_cert, *ca, now, why)) {
      case CertCheck::ok:
        break;
      case CertCheck::expired:
        return refuse(r, 401, "cert_expired",
                      "the worker certificate has expired (enrol again with a new bootstrap token)");
      case CertCheck::not_yet_valid:
        return refuse(r, 401, "cert_expired", "the worker certificate is not valid yet (check the clocks)");
      case CertCheck::untrusted:
        return refuse(r, 401, "cert_untrusted",
                      "the certificate was not issued by organisation " + id.org + "'s CA: " + why);
    }
    if (id.party != requested)
      return refuse(r, 403, "wrong_party",
                    "the certificate is for party " + std::to_string(id.party) + ", the request asks for party " +
                        std::to_string(requested) + "'s key");
    const std::optional<Policy> p = store_.policy(r.model, id.party);
    if (!p)
      return refuse(r, 403, "unknown_model",
                    "no policy releases model '" + r.model + "' party " + std::to_string(id.party));
    if (p->org != id.org)
      return refuse(r, 403, "org_not_allowed",
                    "party " + std::to_string(id.party) + " of '" + r.model + "' is run by organisation " + p->org +
                        ", not " + id.org);
    if (std::find(p->versions.begin(), p->versions.end(), r.worker_version) == p->versions.end())
      return refuse(r, 403, "version_not_allowed",
                    "worker version '" + r.worker_version + "' is not allowed for '" + r.model + "' party " +
                        std::to_string(id.party));
    bool retired = false;
    for (const ShareKeyInfo& k : store_.share_keys(r.model, id.party)) {
      if (k.bundle_sha256 != bundle_sha256) continue;
      if (k.retired) {
        retired = true;
        continue;
      }
      AeadKey key = store_.share_key(r.model, id.party, k.version);
      std::string key_hex = hex(key);
      OPENSSL_cleanse(key.data(), key.size());
      r.key_version = k.version;
      r.detail = "key version " + std::to_string(k.version);
      std::string out =
          json{{"model", r.model}, {"party", id.party}, {"key_version", k.version}, {"key", key_hex}}.dump();
      OPENSSL_cleanse(key_hex.data(), key_hex.size());
      return grant(r, std::move(out));
    }
    if (retired)
      return refuse(r, 403, "key_retired",
                    "the key that opens this bundle is retired: deploy the current bundle of '" + r.model + "'");
    return refuse(r, 403, "bundle_mismatch",
                  "no key of '" + r.model + "' party " + std::to_string(id.party) + " opens a bundle with SHA-256 " +
                      bundle_sha256 + " (tampered or unknown bundle)");
  } catch (const std::exception& e) {
    return refuse(r, 500, "internal", std::string("the KMS failed: ") + e.what());
  }
}

std::string KmsService::metrics() const {
  std::string out =
      "# HELP veil_kms_requests_total Enrolments and key releases by outcome and refusal reason.\n"
      "# TYPE veil_kms_requests_total counter\n";
  std::lock_guard lock(counts_mu_);
  for (const auto& [k, n] : counts_) {
    const auto& [event, outcome, reason] = k;
    out += "veil_kms_requests_total{event=\"" + event + "\",outcome=\"" + outcome + "\",reason=\"" + reason + "\"} " +
           std::to_string(n) + "\n";
  }
  return out;
}

bool KmsService::healthy() {
  try {
    CertAndKey tls = store_.server_cert();  // opens a sealed value: the master key works
    OPENSSL_cleanse(tls.key_pem.data(), tls.key_pem.size());
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

KmsServer::KmsServer(KmsStore& store, const KmsServerOptions& opt) : service_(store, opt.cert_ttl_seconds, opt.clock) {
  if (opt.log) service_.set_log(opt.log);
  if (opt.configure) opt.configure(service_);
  CertAndKey tls = store.server_cert();
  X509Ptr cert = parse_cert(tls.cert_pem);
  PkeyPtr key = parse_private_key(tls.key_pem);
  OPENSSL_cleanse(tls.key_pem.data(), tls.key_pem.size());
  http_ = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
    // Request a client certificate but let the handler judge it (see the header).
    SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
    return SSL_CTX_set_min_proto_version(&ctx, TLS1_3_VERSION) == 1 && SSL_CTX_use_certificate(&ctx, cert.get()) == 1 &&
           SSL_CTX_use_PrivateKey(&ctx, key.get()) == 1 && SSL_CTX_check_private_key(&ctx) == 1;
  });
  if (!http_->is_valid()) throw std::runtime_error("cannot set up the KMS's TLS context: " + net::tls_error_string());
  http_->set_payload_max_length(kMaxBody);
  http_->set_read_timeout(std::chrono::seconds(10));
  auto peer = [](const httplib::Request& req) { return req.remote_addr + ":" + std::to_string(req.remote_port); };
  auto reply = [](httplib::Response& res, const KmsReply& r) {
    res.status = r.status;
    res.set_content(r.body, "application/json");
  };
  http_->Post("/v1/enrol", [this, peer, reply](const httplib::Request& req, httplib::Response& res) {
    reply(res, service_.enrol(req.body, peer(req)));
  });
  http_->Post("/v1/release", [this, peer, reply](const httplib::Request& req, httplib::Response& res) {
    reply(res, service_.release(req.body, req.ssl ? SSL_get0_peer_certificate(req.ssl) : nullptr, peer(req)));
  });
  // Requests the HTTP layer could not read never reach the handlers above; answer and audit them here.
  http_->set_error_handler(
      httplib::Server::HandlerWithResponse([this, peer, reply](const httplib::Request& req, httplib::Response& res) {
        const bool kms_endpoint = req.path == "/v1/enrol" || req.path == "/v1/release";
        if (!res.body.empty() || !kms_endpoint || (res.status != 400 && res.status != 413))
          return httplib::Server::HandlerResponse::Unhandled;  // answered by a handler, or not an endpoint's request
        reply(res, service_.unreadable(req.path == "/v1/enrol" ? "enrol" : "release", res.status, peer(req)));
        return httplib::Server::HandlerResponse::Handled;
      }));
  http_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    const bool ok = service_.healthy();
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ok\n" : "database unavailable\n", "text/plain");
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(service_.metrics(), "text/plain; version=0.0.4");
  });
  port_ = opt.port == 0 ? http_->bind_to_any_port(opt.host) : (http_->bind_to_port(opt.host, opt.port) ? opt.port : -1);
  if (port_ <= 0) throw std::runtime_error("the KMS cannot listen on " + opt.host + ":" + std::to_string(opt.port));
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  while (!http_->is_running())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // so that stop() takes effect
}

KmsServer::~KmsServer() {
  stop();
  wait();
}

void KmsServer::stop() { http_->stop(); }

void KmsServer::wait() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace veil::serve
