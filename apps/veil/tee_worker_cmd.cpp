// `veil tee-worker`: the plaintext-backend worker meant to run inside an SGX enclave or a TDX
// confidential VM (serve/tee_worker.h). `seal` encrypts a model folder for it; `serve` obtains the
// model key (from a key file, or from the KMS with a bootstrap token or an RA-TLS style DCAP
// quote), opens the sealed model in memory and serves generation sessions over TLS 1.3 one at a
// time, with the parties' health endpoints and SIGTERM drain (party_health.h). This build runs it
// as an ordinary process: nothing runs in an enclave, and the quote it presents comes from a file.
#include <cstdio>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include "veil/commands.h"
#include "veil/core/file_read.h"
#include "veil/net/socket.h"
#include "veil/nn/share_bundle.h"
#include "veil/party_health.h"
#include "veil/serve/kms_client.h"
#include "veil/serve/kms_pki.h"
#include "veil/serve/sealed_model.h"
#include "veil/serve/tee_worker.h"

namespace veil::app {

namespace {

using namespace std::chrono_literals;

struct SealArgs {
  std::string model, out, key_out;
};

struct TeeServeArgs {
  int id = 0;
  std::string sealed, model_key;
  std::string listen, health_listen;
  net::TlsFiles tls;
  int timeout_ms = 60000;
  int64_t max_sessions = 0;
  std::string session_key;
  std::string kms, kms_ca, kms_model, bootstrap_token, quote, quote_kind = "sgx-dcap", worker_version = "0.1.0";
  int kms_party = 0;
  double modelled_paging_slowdown = 0;
};

std::string read_all(const std::string& path, const char* flag) {
  std::optional<std::string> bytes = read_file(path);
  if (!bytes) throw std::invalid_argument(std::string(flag) + ": cannot read " + path);
  return std::move(*bytes);
}

void run_seal(const SealArgs& a) {
  if (std::filesystem::exists(a.out)) throw std::invalid_argument("--out " + a.out + " already exists");
  const AeadKey key = random_aead_key();
  nn::write_bundle_key(a.key_out, key);  // refuses an existing file
  serve::seal_model(a.model, a.out, key);
  std::printf("sealed %s into %s; its key is in %s (give it to the KMS: veil kms put-key --model NAME --party 0 "
              "--key-file %s --bundle %s)\n",
              a.model.c_str(), a.out.c_str(), a.key_out.c_str(), a.key_out.c_str(), a.out.c_str());
}

// The model key: from --model-key, or released by the KMS on this worker's evidence.
AeadKey model_key(const TeeServeArgs& a) {
  if (a.kms.empty()) return nn::read_bundle_key(a.model_key);
  if (a.kms_ca.empty() || a.kms_model.empty() || a.bootstrap_token.empty() == a.quote.empty())
    throw std::invalid_argument("--kms needs --kms-ca, --kms-model and one piece of evidence: --bootstrap-token FILE "
                                "or --quote FILE (an SGX/TDX quote whose report data binds the --key's public key)");
  serve::KmsClientOptions k;
  k.url = a.kms;
  k.ca_file = a.kms_ca;
  k.model = a.kms_model;
  k.party = a.kms_party;
  k.worker_version = a.worker_version;
  k.bundle_sha256 = serve::file_sha256(a.sealed);
  k.timeout = std::chrono::milliseconds(a.timeout_ms);
  serve::PkeyPtr tls_key;
  if (!a.bootstrap_token.empty()) {
    std::ifstream(a.bootstrap_token) >> k.token;
  } else {
    k.evidence_kind = a.quote_kind;
    k.quote = read_all(a.quote, "--quote");
    tls_key = serve::parse_private_key(read_all(a.tls.key, "--key"));  // RA-TLS: the quote must bind this key
    k.key = tls_key.get();
  }
  const serve::WorkerCredentials c = serve::fetch_worker_credentials(k);
  std::fprintf(stderr, "veil tee-worker %d: enrolled with the KMS as %s/party-%d/%s (%s); key version %d of %s released\n",
               a.id, c.org.c_str(), a.kms_party, c.worker.c_str(), k.evidence_kind.c_str(), c.key_version,
               a.kms_model.c_str());
  return c.share_key;
}

void run_serve(const TeeServeArgs& a) {
  if (!a.kms.empty() && !a.model_key.empty()) throw std::invalid_argument("--model-key and --kms exclude each other");
  if (a.sealed.empty() || a.listen.empty() || a.model_key.empty() == a.kms.empty())
    throw std::invalid_argument("serve needs --sealed (from `veil tee-worker seal`), --listen, and either --model-key "
                                "(the key file) or --kms (the key released by the key management service)");
  if (a.tls.cert.empty() || a.tls.key.empty() || a.tls.ca.empty())
    throw std::invalid_argument("serve needs --cert, --key and --ca (tee-worker.pem, tee-worker.key and ca.pem from "
                                "`veil certs`)");
  if (a.kms.empty() && (!a.quote.empty() || !a.bootstrap_token.empty()))
    throw std::invalid_argument("--quote and --bootstrap-token are evidence for --kms");
  if (a.quote_kind != "sgx-dcap" && a.quote_kind != "tdx-dcap")
    throw std::invalid_argument("--quote-kind must be sgx-dcap or tdx-dcap, not '" + a.quote_kind + "'");
  const net::Endpoint at = net::parse_endpoint(a.listen);
  std::signal(SIGPIPE, SIG_IGN);
  PartyStatus status(a.id, a.health_listen, "tee_worker");
  auto log = [&](const std::string& line) {
    std::fprintf(stderr, "veil tee-worker %d: %s\n", a.id, line.c_str());
    std::fflush(stderr);
  };
  const AeadKey key = model_key(a);
  serve::TeeWorker worker(serve::open_sealed_model(a.sealed, key), a.tls, std::chrono::milliseconds(a.timeout_ms),
                          a.session_key.empty() ? std::string() : nn::read_session_key(a.session_key), a.id,
                          a.modelled_paging_slowdown);
  const net::Fd listener = net::listen_on(at, "tee-worker " + std::to_string(a.id) + ": ");
  if (a.modelled_paging_slowdown > 0)
    log("MODELLED EPC paging is on (--modelled-paging-slowdown " + std::to_string(a.modelled_paging_slowdown) +
        "): sessions on an overcommitted host are slowed by a model, nothing pages for real");
  log("serving a GPT-2 of " + std::to_string(worker.config().n_layer) + " layers (" +
      std::to_string(worker.parameters()) + " weights, in the clear: an ordinary process, not an enclave) on " + at.str() +
      (a.session_key.empty() ? "" : "; sessions need a gateway token for worker " + std::to_string(a.id)));
  status.phase(PartyPhase::ready);
  for (int64_t n = 1; a.max_sessions == 0 || n <= a.max_sessions;) {
    if (PartyStatus::draining()) return log("drained after SIGTERM, exiting");
    std::string from;
    net::Fd fd = net::accept_until(listener.get(), net::Clock::now() + 250ms, from);
    if (!fd) continue;
    status.phase(PartyPhase::serving);
    const serve::TeeSessionOutcome out = worker.serve(std::move(fd), from);
    status.session_done(out.outcome, out.seconds, 0, 0);
    status.phase(PartyPhase::ready);
    char line[160];
    std::snprintf(line, sizeof line, "%lld prompt tokens, %lld steps: done in %.3f s%s",
                  static_cast<long long>(out.prompt_tokens), static_cast<long long>(out.new_tokens), out.seconds,
                  out.modelled_penalty > 1 ? (" (modelled paging x" + std::to_string(out.modelled_penalty) + ")").c_str() : "");
    log("session " + std::to_string(n++) + " (the client at " + from + "): " +
        (out.outcome == "served" ? std::string(line) : out.outcome + ": " + out.detail));
  }
  log("served " + std::to_string(a.max_sessions) + " sessions (--max-sessions), exiting");
}

}  // namespace

void register_tee_worker(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "tee-worker",
      "A plaintext-backend worker meant for an SGX enclave or a TDX confidential VM (here: an ordinary process, "
      "nothing runs in an enclave): `seal` a model for it, `serve` generation to the gateway over TLS 1.3");
  cmd->require_subcommand(1);

  auto s = std::make_shared<SealArgs>();
  CLI::App* seal = cmd->add_subcommand("seal", "Encrypt a model folder (AES-256-GCM, a fresh key) into a sealed model file");
  seal->add_option("model", s->model, "The model folder (config.json, model.safetensors)")->required()->check(CLI::ExistingDirectory);
  seal->add_option("--out", s->out, "The sealed model file to create")->required();
  seal->add_option("--key-out", s->key_out, "The key file to create (64 hex digits, mode 0600)")->required();
  seal->callback([s] { run_seal(*s); });

  auto a = std::make_shared<TeeServeArgs>();
  CLI::App* serve = cmd->add_subcommand(
      "serve", "Open a sealed model with its key (--model-key, or released by --kms) and serve generation sessions "
               "(serve/tee_wire.h) one at a time until stopped; SIGTERM drains");
  serve->add_option("--id", a->id, "This worker's id (its session tokens name it; log and metrics label)")
      ->check(non_negative)
      ->capture_default_str();
  serve->add_option("--sealed", a->sealed, "The sealed model (`veil tee-worker seal`)")->check(CLI::ExistingFile);
  serve->add_option("--model-key", a->model_key, "Its key file (development: no attestation)")->check(CLI::ExistingFile);
  serve->add_option("--listen", a->listen, "host:port where the gateway connects (TLS 1.3)");
  serve->add_option("--cert", a->tls.cert, "The worker's certificate (tee-worker.pem from `veil certs`, CN veil-tee-worker)")
      ->check(CLI::ExistingFile);
  serve->add_option("--key", a->tls.key, "Its private key (with --quote: the key the quote's report data binds)")
      ->check(CLI::ExistingFile);
  serve->add_option("--ca", a->tls.ca, "The CA of the clients' certificates (CN veil-client)")->check(CLI::ExistingFile);
  serve->add_option("--timeout-ms", a->timeout_ms, "Longest wait for a client's message, and for the KMS")
      ->check(CLI::Range(1, 86400000))
      ->capture_default_str();
  serve->add_option("--max-sessions", a->max_sessions, "Exit after this many sessions; 0 serves until stopped")
      ->check(non_negative)
      ->capture_default_str();
  serve->add_option("--health-listen", a->health_listen,
                    "host:port of plain-HTTP /healthz, /readyz (ready when the model is open and not draining) and "
                    "/metrics; SIGTERM drains (the running session finishes, then exit 0)");
  serve->add_option("--session-key", a->session_key,
                    "The gateway's TEE session-token key file (`veil gateway --tee-session-key`): every session then "
                    "needs a valid token for --id")
      ->check(CLI::ExistingFile);
  serve->add_option("--modelled-paging-slowdown", a->modelled_paging_slowdown,
                    "MODELLED EPC paging for load tests on machines without SGX (0: off): a session whose request "
                    "reports its host's EPC overcommitment r > 1 (the gateway sends it) takes 1 + S·(1 - 1/r) times "
                    "its generation time (serve/epc_placement.h paging_penalty); nothing pages for real")
      ->check(CLI::Range(0.0, 1000.0))
      ->capture_default_str();
  serve->add_option("--kms", a->kms, "https://host:port of `veil kms serve`: enrol with the evidence below and receive "
                                     "the sealed model's key in memory only (docs/KMS.md)");
  serve->add_option("--kms-ca", a->kms_ca, "With --kms: the KMS's certificate (kms-ca.pem)")->check(CLI::ExistingFile);
  serve->add_option("--kms-model", a->kms_model, "With --kms: the sealed model's name in the KMS");
  serve->add_option("--kms-party", a->kms_party, "With --kms: the party slot the KMS keeps the key under (a sealed model "
                                                 "is a one-party model: 0)")
      ->check(CLI::Range(0, 2))
      ->capture_default_str();
  serve->add_option("--worker-version", a->worker_version, "With --kms: the version reported to the KMS's policy")
      ->capture_default_str();
  serve->add_option("--bootstrap-token", a->bootstrap_token, "With --kms: a one-time token file (development, no TEE)")
      ->check(CLI::ExistingFile);
  serve->add_option("--quote", a->quote,
                    "With --kms: a raw DCAP quote file presented as RA-TLS evidence; its report data must hold "
                    "SHA-256 of --key's public key (the KMS refuses it otherwise)")
      ->check(CLI::ExistingFile);
  serve->add_option("--quote-kind", a->quote_kind, "With --quote: sgx-dcap or tdx-dcap")->capture_default_str();
  serve->callback([a] { run_serve(*a); });
}

}  // namespace veil::app
