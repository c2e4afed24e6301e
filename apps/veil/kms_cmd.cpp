// `veil kms`: the key management service (docs/KMS.md) — its database, organisations and their
// CAs, share keys, policies, bootstrap tokens, the audit log, and the HTTPS server.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "veil/commands.h"
#include "veil/net/endpoint.h"
#include "veil/nn/share_bundle.h"
#include "veil/serve/bootstrap_token.h"
#include "veil/serve/dcap_verifier.h"
#include "veil/serve/kms_client.h"
#include "veil/serve/kms_server.h"
#include "veil/serve/kms_store.h"

namespace veil::app {

namespace {

using nlohmann::ordered_json;

struct DbArgs {
  std::string db = "kms.db";
  std::string master_key_file;
  serve::MasterKeySource source() const { return {master_key_file}; }
};

void add_db_options(CLI::App* cmd, DbArgs& a) {
  cmd->add_option("--db", a.db, "The KMS's SQLite database")->capture_default_str();
  cmd->add_option(
      "--master-key-file", a.master_key_file,
      std::string("File holding the master key (64 hex digits, mode 0600) that seals the database's secrets; "
                  "without it the key is read from $") +
          serve::kMasterKeyEnv);
}

// The key in `path`, creating the file with a fresh random key if it does not exist.
AeadKey key_file_or_new(const std::string& path, bool& created) {
  created = !std::filesystem::exists(path);
  if (created) nn::write_bundle_key(path, random_aead_key());
  return nn::read_bundle_key(path);
}

void add_model_party(CLI::App* cmd, std::string& model, int& party) {
  cmd->add_option("--model", model, "Model name, as the parties' --kms-model names it")->required();
  cmd->add_option("--party", party, "Party index: 0, 1 or 2")->required()->check(CLI::Range(0, 2));
}

void register_init(CLI::App* kms) {
  struct Args {
    DbArgs db;
    std::string ca_out = "kms-ca.pem";
    int days = 825;
    std::vector<std::string> names;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = kms->add_subcommand(
      "init", "Create the database and the KMS's TLS certificate; create the master key file if it does not exist");
  add_db_options(cmd, a->db);
  cmd->add_option("--kms-ca-out", a->ca_out, "Where to write the KMS's certificate, which workers pin with --kms-ca")
      ->capture_default_str();
  cmd->add_option("--server-name", a->names,
                  "A host name or IP address workers use to reach the KMS (in --kms), added to its certificate besides "
                  "127.0.0.1 and localhost; repeat for several (e.g. veil-kms for a Kubernetes Service)");
  cmd->add_option("--server-cert-days", a->days, "Validity of the KMS's TLS certificate")
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();
  cmd->callback([a] {
    for (const std::string& f : {a->db.db, a->ca_out})
      if (std::filesystem::exists(f)) throw std::runtime_error("'" + f + "' already exists; refusing to replace it");
    bool created = false;
    const AeadKey master =
        a->db.master_key_file.empty() ? a->db.source().load() : key_file_or_new(a->db.master_key_file, created);
    serve::KmsStore::create(a->db.db, master, serve::system_now(), a->days, a->names);
    serve::KmsStore store(a->db.db, a->db.source());
    std::ofstream(a->ca_out) << store.server_cert().cert_pem;
    std::printf("created %s (sealed under %s%s) and %s\n", a->db.db.c_str(), a->db.source().describe().c_str(),
                created ? ", a new random key" : "", a->ca_out.c_str());
  });
}

void register_add_org(CLI::App* kms) {
  struct Args {
    DbArgs db;
    std::string org, ca_out;
    int days = 3650;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd =
      kms->add_subcommand("add-org", "Add an organisation and create its CA, which signs its workers' certificates");
  add_db_options(cmd, a->db);
  cmd->add_option("org", a->org, "Organisation name (the O of its workers' certificates)")->required();
  cmd->add_option("--ca-days", a->days, "Validity of the organisation's CA")
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();
  cmd->add_option("--ca-out", a->ca_out, "Also write the CA certificate to this file");
  cmd->callback([a] {
    const std::filesystem::path ca_dir = std::filesystem::path(a->ca_out).parent_path();
    if (!ca_dir.empty() && !std::filesystem::is_directory(ca_dir))  // checked before the organisation is added
      throw std::invalid_argument("--ca-out " + a->ca_out + ": no directory " + ca_dir.string());
    serve::KmsStore store(a->db.db, a->db.source());
    store.add_org(a->org, serve::system_now(), a->days);
    if (!a->ca_out.empty() && !(std::ofstream(a->ca_out) << *store.org_ca_cert(a->org)))
      throw std::runtime_error("added organisation " + a->org + " but cannot write --ca-out " + a->ca_out);
    std::printf("added organisation %s\n", a->org.c_str());
  });
}

void register_put_key(CLI::App* kms) {
  struct Args {
    DbArgs db;
    std::string model, key_file, bundle, bundle_sha256;
    int party = -1;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = kms->add_subcommand(
      "put-key",
      "Import a party's share-bundle key (keys/party-<i>.key from `veil share-model`) as the next version of "
      "(model, party). Rotation: put the key of a new bundle, roll the workers, then retire-key the old version");
  add_db_options(cmd, a->db);
  add_model_party(cmd, a->model, a->party);
  cmd->add_option("--key-file", a->key_file, "The key file (64 hex digits)")->required()->check(CLI::ExistingFile);
  auto* b =
      cmd->add_option("--bundle", a->bundle, "The bundle this key opens (party-<i>.bundle); its SHA-256 is recorded")
          ->check(CLI::ExistingFile);
  auto* s = cmd->add_option("--bundle-sha256", a->bundle_sha256, "The bundle's SHA-256 (hex) instead of --bundle");
  b->excludes(s);
  cmd->callback([a] {
    if (a->bundle.empty() && a->bundle_sha256.empty())
      throw std::invalid_argument("put-key needs --bundle or --bundle-sha256");
    const std::string sha = a->bundle.empty() ? a->bundle_sha256 : serve::file_sha256(a->bundle);
    if (sha.size() != 64 || sha.find_first_not_of("0123456789abcdef") != std::string::npos)
      throw std::invalid_argument("--bundle-sha256 must be 64 lower-case hexadecimal digits");
    AeadKey key = nn::read_bundle_key(a->key_file);
    serve::KmsStore store(a->db.db, a->db.source());
    const int v = store.put_share_key(a->model, a->party, key, sha, serve::system_now());
    std::fill(key.begin(), key.end(), 0);
    std::printf("stored %s party %d key version %d (bundle SHA-256 %s)\n", a->model.c_str(), a->party, v, sha.c_str());
  });
}

void register_retire_key(CLI::App* kms) {
  struct Args {
    DbArgs db;
    std::string model;
    int party = -1, version = 0;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = kms->add_subcommand(
      "retire-key", "Stop releasing one version of a share key (workers on its bundle are refused: key_retired)");
  add_db_options(cmd, a->db);
  add_model_party(cmd, a->model, a->party);
  cmd->add_option("--version", a->version, "The key version to retire")->required()->check(positive);
  cmd->callback([a] {
    serve::KmsStore store(a->db.db, a->db.source());
    store.retire_share_key(a->model, a->party, a->version);
    std::printf("retired %s party %d key version %d\n", a->model.c_str(), a->party, a->version);
  });
}

void register_policy(CLI::App* kms) {
  struct Args {
    DbArgs db;
    serve::Policy p;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = kms->add_subcommand("policy",
                                      "Set who may receive (model, party)'s key: the organisation that runs that party "
                                      "and the allowed worker versions");
  add_db_options(cmd, a->db);
  add_model_party(cmd, a->p.model, a->p.party);
  cmd->add_option("--org", a->p.org, "The organisation whose workers run this party")->required();
  cmd->add_option("--allow-version", a->p.versions,
                  "A worker version (--worker-version of `veil party`) allowed; repeat for several")
      ->required();
  cmd->callback([a] {
    serve::KmsStore store(a->db.db, a->db.source());
    store.set_policy(a->p);
    std::printf("policy %s party %d: organisation %s, versions %s\n", a->p.model.c_str(), a->p.party, a->p.org.c_str(),
                nlohmann::json(a->p.versions).dump().c_str());
  });
}

void register_issue_token(CLI::App* kms) {
  struct Args {
    DbArgs db;
    serve::WorkerIdentity id;
    int64_t ttl = 3600;
    std::string out;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = kms->add_subcommand(
      "issue-token",
      "Issue a one-time bootstrap token bound to one worker identity (organisation, party, worker name); "
      "only its hash is stored");
  add_db_options(cmd, a->db);
  cmd->add_option("--org", a->id.org, "The worker's organisation")->required();
  cmd->add_option("--party", a->id.party, "The party index the worker runs")->required()->check(CLI::Range(0, 2));
  cmd->add_option("--worker", a->id.worker, "The worker's name (the CN of its certificate)")->required();
  cmd->add_option("--ttl", a->ttl, "Seconds until the token expires")
      ->check(CLI::Range(int64_t(1), int64_t(86400) * 365))
      ->capture_default_str();
  cmd->add_option("--out", a->out, "Write the token to this new file (mode 0600) instead of stdout");
  cmd->callback([a] {
    if (!a->out.empty()) {  // checked before the token is stored: a token that cannot be written is lost
      const std::filesystem::path out(a->out), dir = out.parent_path().empty() ? "." : out.parent_path();
      if (std::filesystem::exists(out))
        throw std::invalid_argument("--out " + a->out + " already exists: remove it or choose another file");
      if (!std::filesystem::is_directory(dir))
        throw std::invalid_argument("--out " + a->out + ": no directory " + dir.string());
    }
    serve::KmsStore store(a->db.db, a->db.source());
    const std::string token = serve::issue_bootstrap_token(store, a->id, serve::system_now(), a->ttl);
    if (a->out.empty()) {
      std::printf("%s\n", token.c_str());
    } else {
      serve::write_token_file(a->out, token);
      std::printf("wrote a bootstrap token for %s to %s\n", serve::describe(a->id).c_str(), a->out.c_str());
    }
  });
}

void register_rotate_master_key(CLI::App* kms) {
  struct Args {
    DbArgs db;
    std::string next;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = kms->add_subcommand(
      "rotate-master-key",
      "Re-seal every secret under a new master key in one transaction. Then move the new key file over "
      "--master-key-file: a running `kms serve` reloads it when it sees the change");
  add_db_options(cmd, a->db);
  cmd->add_option("--new-master-key-file", a->next, "The new master key (created with a fresh random key if missing)")
      ->required();
  cmd->callback([a] {
    serve::KmsStore store(a->db.db, a->db.source());
    bool created = false;
    const AeadKey next = key_file_or_new(a->next, created);
    store.rotate_master_key(next);
    std::printf("re-sealed %s under %s (%s); the old key no longer opens it\n", a->db.db.c_str(), a->next.c_str(),
                created ? "a new random key" : "the key in that file");
  });
}

void register_audit(CLI::App* kms) {
  struct Args {
    DbArgs db;
    int64_t after = 0;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = kms->add_subcommand(
      "audit", "Print the audit log, one JSON object per line (every enrolment and key release, granted or refused)");
  add_db_options(cmd, a->db);
  cmd->add_option("--after", a->after, "Only records with an id above this")->capture_default_str();
  cmd->callback([a] {
    serve::KmsStore store(a->db.db, a->db.source());
    for (const serve::AuditRecord& r : store.audit_log(a->after))
      std::printf("%s\n", ordered_json{{"id", r.id},
                                       {"time", format_time(r.time)},
                                       {"event", r.event},
                                       {"outcome", r.outcome},
                                       {"reason", r.reason},
                                       {"detail", r.detail},
                                       {"org", r.org},
                                       {"party", r.party},
                                       {"worker", r.worker},
                                       {"model", r.model},
                                       {"worker_version", r.worker_version},
                                       {"key_version", r.key_version},
                                       {"peer", r.peer}}
                              .dump()
                              .c_str());
  });
}

void register_status(CLI::App* kms) {
  auto a = std::make_shared<DbArgs>();
  CLI::App* cmd = kms->add_subcommand(
      "status", "Print organisations, policies, share-key versions and tokens as JSON (no secrets)");
  add_db_options(cmd, *a);
  cmd->callback([a] {
    serve::KmsStore store(a->db, a->source());
    ordered_json out{{"orgs", store.orgs()}, {"policies", ordered_json::array()}, {"tokens", ordered_json::array()}};
    for (const serve::Policy& p : store.policies()) {
      ordered_json keys = ordered_json::array();
      for (const serve::ShareKeyInfo& k : store.share_keys(p.model, p.party))
        keys.push_back({{"version", k.version},
                        {"bundle_sha256", k.bundle_sha256},
                        {"retired", k.retired},
                        {"created", format_time(k.created)}});
      out["policies"].push_back(
          {{"model", p.model}, {"party", p.party}, {"org", p.org}, {"versions", p.versions}, {"keys", keys}});
    }
    for (const serve::TokenInfo& t : store.tokens())
      out["tokens"].push_back({{"id", t.id},
                               {"identity", serve::describe(t.identity)},
                               {"expires", format_time(t.expires)},
                               {"used", t.used ? format_time(*t.used) : std::string()}});
    std::printf("%s\n", out.dump(2).c_str());
  });
}

void register_serve(CLI::App* kms) {
  struct Args {
    DbArgs db;
    std::string listen = "127.0.0.1:8443";
    int64_t cert_ttl = 86400;
    std::string attestation_policy;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd =
      kms->add_subcommand("serve",
                          "Serve enrolment (/v1/enrol), key release (/v1/release, mutual TLS), /healthz and "
                          "/metrics over HTTPS until SIGINT or SIGTERM");
  add_db_options(cmd, a->db);
  cmd->add_option("--listen", a->listen, "host:port to listen on")
      ->capture_default_str()
      ->check(parsed_by(net::parse_endpoint));
  cmd->add_option("--cert-ttl", a->cert_ttl, "Validity of the worker certificates it issues, in seconds")
      ->check(CLI::Range(int64_t(60), int64_t(86400) * 365))
      ->capture_default_str();
  cmd->add_option("--attestation-policy", a->attestation_policy,
                  "JSON file that enables sgx-dcap and tdx-dcap enrolment: DCAP collateral, allowed measurements, "
                  "TCB statuses, and the identity each measurement gets (docs/KMS.md, Attestation)")
      ->check(CLI::ExistingFile);
  cmd->callback([a] {
    const net::Endpoint at = net::parse_endpoint(a->listen);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before any thread starts: only sigwait sees them
    std::signal(SIGPIPE, SIG_IGN);
    serve::KmsStore store(a->db.db, a->db.source());
    serve::KmsServerOptions opt;
    opt.host = at.host;
    opt.port = at.port;
    opt.cert_ttl_seconds = a->cert_ttl;
    opt.log = [](const std::string& line) {
      std::fprintf(stderr, "veil kms: %s\n", line.c_str());
      std::fflush(stderr);
    };
    if (!a->attestation_policy.empty())
      opt.configure = [&](serve::KmsService& s) { serve::add_dcap_verifiers(s, a->attestation_policy); };
    serve::KmsServer server(store, opt);
    std::fprintf(stderr, "veil kms: serving on https://%s:%d\n", at.host.c_str(), server.port());
    std::fflush(stderr);
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::fprintf(stderr, "veil kms: %s, stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    server.stop();
  });
}

}  // namespace

void register_kms(CLI::App& app) {
  CLI::App* kms = app.add_subcommand(
      "kms",
      "Key management service: organisations' CAs, share keys sealed under a master key, release policies, "
      "one-time bootstrap tokens, an audit log, and the HTTPS server party workers enrol with (docs/KMS.md)");
  kms->require_subcommand(1);
  register_init(kms);
  register_add_org(kms);
  register_put_key(kms);
  register_retire_key(kms);
  register_policy(kms);
  register_issue_token(kms);
  register_rotate_master_key(kms);
  register_audit(kms);
  register_status(kms);
  register_serve(kms);
}

}  // namespace veil::app
