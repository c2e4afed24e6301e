// `veil party`: one of the three parties as its own OS process, linked to the other two over
// TCP with TLS 1.3 (or plaintext on loopback with --insecure), running one job — or, with
// --serve, serving private generation sessions to clients (apps/veil/party_serve.cpp).
#include <cstdio>
#include <functional>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "veil/commands.h"
#include "veil/mpc/context.h"
#include "veil/net/link.h"
#include "veil/net/tcp_transport.h"
#include "veil/party_selftest.h"
#include "veil/nn/session_token.h"
#include "veil/party_serve.h"
#include "veil/serve/kms_client.h"

namespace veil::app {

namespace {

struct PartyArgs {
  int id = -1;
  std::string peers;
  net::TlsFiles tls;
  bool insecure = false;
  int timeout_ms = 60000;
  uint64_t max_frame_mib = 1024;
  std::string job = "selftest";
  uint64_t seed = 1;
  int repeat = 1;
  bool serve = false;
  std::string client_listen, bundle, bundle_key;
  int64_t max_sessions = 0;
  std::string health_listen;
  std::string session_key;  // the gateway's session-token key file
  int group = -1;
  std::string kms, kms_ca, bootstrap_token, kms_model, worker_version = "0.1.0";
};

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

net::TcpOptions tcp_options(const PartyArgs& a, const std::array<net::Endpoint, 3>& peers) {
  net::TcpOptions o;
  o.tls = !a.insecure;
  o.tls_files = a.tls;
  o.setup_timeout = std::chrono::milliseconds(a.timeout_ms);
  o.max_frame_bytes = a.max_frame_mib << 20;
  if (a.insecure) {
    for (const net::Endpoint& e : peers)
      if (!is_loopback(e.host))
        throw std::invalid_argument("--insecure is for loopback experiments only, but peer " + e.str() +
                                    " is not a loopback address: use TLS (--cert/--key/--ca)");
  } else if (a.tls.cert.empty() || a.tls.key.empty() || a.tls.ca.empty()) {
    throw std::invalid_argument("TLS needs --cert, --key and --ca (create them with `veil certs --out DIR`); "
                                "--insecure runs plaintext TCP on loopback instead");
  }
  return o;
}

// Enrols with the KMS and fetches this party's bundle key over mutual TLS (serve/kms_client.h);
// the key and the worker's private key stay in memory.
AeadKey released_key(const PartyArgs& a) {
  if (a.kms_ca.empty() || a.bootstrap_token.empty() || a.kms_model.empty())
    throw std::invalid_argument("--kms needs --kms-ca (the KMS's certificate), --bootstrap-token (this worker's token file) "
                                "and --kms-model (the model's name in the KMS)");
  serve::KmsClientOptions k;
  k.url = a.kms;
  k.ca_file = a.kms_ca;
  std::ifstream(a.bootstrap_token) >> k.token;
  k.model = a.kms_model;
  k.party = a.id;
  k.worker_version = a.worker_version;
  k.bundle_sha256 = serve::file_sha256(a.bundle);
  k.timeout = std::chrono::milliseconds(a.timeout_ms);
  const serve::WorkerCredentials c = serve::fetch_worker_credentials(k);
  std::fprintf(stderr, "veil party %d: enrolled with the KMS as %s/party-%d/%s; key version %d of %s released\n", a.id,
               c.org.c_str(), a.id, c.worker.c_str(), c.key_version, a.kms_model.c_str());
  return c.share_key;
}

void run_serve(const PartyArgs& a) {
  if (a.insecure)
    throw std::invalid_argument("--serve needs TLS: clients and parties authenticate each other with certificates "
                                "(drop --insecure, pass --cert/--key/--ca from `veil certs`)");
  if (a.client_listen.empty() || a.bundle.empty() || a.bundle_key.empty() == a.kms.empty())
    throw std::invalid_argument("--serve needs --client-listen (where clients connect), --bundle (this party's "
                                "party-<id>.bundle from `veil share-model`) and either --bundle-key (its key file) "
                                "or --kms (fetch the key from the key management service)");
  ServeOptions o;
  o.id = a.id;
  o.peers = net::parse_peers(a.peers);
  o.client_listen = net::parse_endpoint(a.client_listen);
  tcp_options(a, o.peers);  // checks the TLS flags
  o.tls = a.tls;
  o.bundle = a.bundle;
  o.bundle_key = a.bundle_key;
  if (!a.kms.empty()) o.released_key = released_key(a);
  o.timeout = std::chrono::milliseconds(a.timeout_ms);
  o.max_frame_bytes = a.max_frame_mib << 20;
  o.max_sessions = a.max_sessions;
  o.health_listen = a.health_listen;
  if (a.session_key.empty() != (a.group < 0))
    throw std::invalid_argument("--session-key and --group go together: the gateway's key and the group this party serves");
  if (!a.session_key.empty()) o.session_key = nn::read_session_key(a.session_key), o.group = a.group;
  serve_party(o);
}

void run_party(const PartyArgs& a) {
  if (a.serve) return run_serve(a);
  if (!a.client_listen.empty() || !a.bundle.empty() || !a.bundle_key.empty() || a.max_sessions != 0 ||
      !a.health_listen.empty() || !a.kms.empty() || !a.session_key.empty() || a.group >= 0)
    throw std::invalid_argument("--client-listen, --bundle, --bundle-key, --kms, --max-sessions, --health-listen, "
                                "--session-key and --group belong to --serve");
  std::array<net::Endpoint, 3> peers = net::parse_peers(a.peers);
  net::TcpOptions opt = tcp_options(a, peers);
  net::Link link(a.id, net::connect_tcp(a.id, peers, opt), net::LinkOptions{opt.setup_timeout});
  std::fprintf(stderr, "veil party %d: connected to parties %d and %d (%s)\n", a.id, a.id == 0 ? 1 : 0, a.id == 2 ? 1 : 2,
               a.insecure ? "plaintext TCP" : "TLS 1.3");
  mpc::Context ctx(link);
  std::string failure;
  for (int r = 0; r < a.repeat && failure.empty(); ++r) failure = run_selftest(ctx, a.seed + uint64_t(r));
  nlohmann::ordered_json summary{{"party", a.id}, {"ok", failure.empty()}, {"bytes_sent", link.total().bytes},
                         {"rounds", link.total().rounds}};
  std::printf("%s\n", summary.dump().c_str());
  std::fflush(stdout);
  if (!failure.empty())
    throw std::runtime_error("party " + std::to_string(a.id) + ": selftest mismatch in " + failure);
}

}  // namespace

void register_party(CLI::App& app) {
  auto a = std::make_shared<PartyArgs>();
  CLI::App* cmd = app.add_subcommand(
      "party", "Run one of the three parties as this process, linked to the others over TCP with TLS 1.3, "
               "and run a job (--job; start all three, in any order, with the same --peers and --seed), or serve "
               "private generation to clients (--serve with --client-listen, --bundle and --bundle-key).");
  cmd->add_option("--id", a->id, "This party's id: 0, 1 or 2")->required()->check(CLI::Range(0, 2));
  cmd->add_option("--peers", a->peers,
                  "host:port of parties 0, 1 and 2, comma-separated; this party listens on its own entry")
      ->required()
      ->check(parsed_by(net::parse_peers));
  cmd->add_option("--cert", a->tls.cert, "This party's certificate (PEM, CN veil-party-<id>), from `veil certs`")
      ->check(CLI::ExistingFile);
  cmd->add_option("--key", a->tls.key, "This party's private key (PEM)")->check(CLI::ExistingFile);
  cmd->add_option("--ca", a->tls.ca, "The CA certificate that signed all three parties' certificates (and, with --serve, the client's)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--insecure", a->insecure,
                "Plaintext TCP without authentication, for loopback experiments only (refused for other hosts)");
  cmd->add_option("--timeout-ms", a->timeout_ms,
                  "Longest wait for the connection setup and for any one message (from a party or, with --serve, "
                  "the client) before giving up")
      ->check(CLI::Range(1, 86400000))
      ->capture_default_str();
  cmd->add_option("--max-frame-mib", a->max_frame_mib, "Largest message accepted from a peer (with --serve, also from the client), in MiB")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--job", a->job,
                  "What to run. selftest: secret-share inputs derived from --seed, run mul/matmul/trunc/ltz/eq "
                  "on both rings, reveal and compare with plaintext; prints {party, ok, bytes_sent, rounds}")
      ->check(CLI::IsMember({"selftest"}))
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Public seed of the selftest inputs (the same on all parties)")
      ->capture_default_str();
  cmd->add_option("--repeat", a->repeat, "Run the selftest this many times (with seeds seed, seed+1, ...)")
      ->check(CLI::Range(1, 1 << 30))
      ->capture_default_str();
  cmd->add_flag("--serve", a->serve,
                "Serve generation sessions instead of running --job: load this party's share bundle once, link to "
                "the other parties, then accept clients (`veil generate --parties`) one session at a time. A session "
                "that fails (client gone, bad request) is logged and the party keeps serving");
  cmd->add_option("--client-listen", a->client_listen,
                  "With --serve: host:port where clients connect (TLS; the client certificate must be signed by --ca "
                  "and name veil-client)")
      ->check(parsed_by(net::parse_endpoint));
  cmd->add_option("--bundle", a->bundle, "With --serve: this party's share bundle, party-<id>.bundle from `veil share-model`")
      ->check(CLI::ExistingFile);
  cmd->add_option("--bundle-key", a->bundle_key,
                  "With --serve: the bundle's key file (64 hex digits, keys/party-<id>.key from `veil share-model`)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--kms", a->kms,
                  "With --serve, instead of --bundle-key: https://host:port of `veil kms serve`; the party enrols with "
                  "--bootstrap-token and receives the bundle key in memory only (docs/KMS.md)");
  cmd->add_option("--kms-ca", a->kms_ca, "With --kms: the KMS's certificate (kms-ca.pem from `veil kms init`)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--bootstrap-token", a->bootstrap_token,
                  "With --kms: file holding this worker's one-time token (`veil kms issue-token`)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--kms-model", a->kms_model, "With --kms: the model's name in the KMS's policy");
  cmd->add_option("--worker-version", a->worker_version, "With --kms: the version this worker reports to the KMS's policy")
      ->capture_default_str();
  cmd->add_option("--max-sessions", a->max_sessions,
                  "With --serve: exit after this many sessions (served, refused or failed); 0 serves until killed")
      ->check(non_negative)
      ->capture_default_str();
  cmd->add_option("--health-listen", a->health_listen,
                  "With --serve: host:port of a plain-HTTP listener for /healthz, /readyz (ready when linked to the "
                  "other parties and not draining) and /metrics (Prometheus). SIGTERM drains: the running session "
                  "finishes, no new one starts, the party exits 0")
      ->check(parsed_by(net::parse_endpoint));
  cmd->add_option("--session-key", a->session_key,
                  "With --serve: the gateway's session-token key file (`veil gateway --session-key`); every session "
                  "then needs a valid token of the gateway for --group (not forged, not expired, used once)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--group", a->group, "With --session-key: the id of the party group this party belongs to")
      ->check(non_negative);
  cmd->callback([a] { run_party(*a); });
}

}  // namespace veil::app
