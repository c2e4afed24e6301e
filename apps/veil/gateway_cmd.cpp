// `veil gateway`: the serving system's entry point (serve/gateway.h) in front of party groups
// given in a file (--groups) or started here as local processes (--local N, serve/local_groups.h),
// with the SLO-aware balancer (serve/balancer.h) and, locally, the autoscaler starting and
// stopping groups (serve/autoscaler.h). TEE workers (serve/tee_pool.h) come from --tee-config
// FILE or are started here (--local-tee N on --tee-hosts simulated hosts of --tee-epc-mb each).
// `veil gateway profile` measures the cost profile the balancer predicts from (serve/cost_model.h).
#include <httplib.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "veil/commands.h"
#include "veil/core/file_read.h"
#include "veil/kv_flags.h"
#include "veil/net/endpoint.h"
#include "veil/nn/session_token.h"
#include "veil/serve/gateway.h"
#include "veil/serve/local_groups.h"

namespace veil::app {

namespace {

using json = nlohmann::json;

struct GatewayArgs {
  std::string listen = "127.0.0.1:8080";
  std::string tls_cert, tls_key;  // HTTPS for the clients (plain HTTP without)
  int local = 0;
  std::string model, state_dir = "veil-local";
  std::string groups_file, client_model;
  net::TlsFiles client_tls;
  std::vector<std::string> profiles;
  std::string policy = "slo";
  double slo_ms = 2000, headroom = 0.8;
  int max_queue = 32, late_queue = 2;
  bool autoscale = false, kms = false;
  int min_groups = 1, max_groups = 4;
  double up_window_s = 3, down_window_s = 30, utilization = 0.7;
  int timeout_ms = 20000, queue_timeout_ms = 60000;
  int64_t max_new_tokens = 64;
  int threads = 64;
  std::string session_key;  // the session tokens' HMAC key file (the parties' --session-key)
  // TEE workers
  std::string tee_config, tee_session_key, tee_placer = "epc-aware";
  int local_tee = 0, tee_hosts = 2, tee_slots = 0;
  double tee_epc_mb = 0, tee_seconds_per_token = 0.01, tee_paging = 0;
  // profile
  std::string profile_model, profile_out, profile_precision = "fm64";
  KvFlags profile_kv;
};

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop = true; }

serve::CostProfile load_profile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the cost profile " + path);
  json j;
  try {
    in >> j;
  } catch (const json::parse_error& e) {
    throw std::runtime_error(path + " is not JSON: " + e.what());
  }
  return serve::CostProfile::from_json(j, path);
}

// allow_empty: a gateway whose only workers are TEE workers (--tee-config) may list no party group.
std::vector<serve::GroupSpec> load_groups(const std::string& path, bool allow_empty) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the groups file " + path);
  json j;
  try {
    in >> j;
  } catch (const json::parse_error& e) {
    throw std::runtime_error(path + " is not JSON: " + e.what());
  }
  if (!j.contains("groups") || !j["groups"].is_array() || (j["groups"].empty() && !allow_empty))
    throw std::runtime_error(path + ": expected {\"groups\": [{\"parties\": [3 × \"host:port\"], \"health\": [3 × \"host:port\"]}, ...]}");
  std::vector<serve::GroupSpec> out;
  for (const json& g : j["groups"]) {
    serve::GroupSpec s;
    s.id = int(out.size());
    if (!g.contains("parties") || !g["parties"].is_array() || g["parties"].size() != 3)
      throw std::runtime_error(path + ": group " + std::to_string(s.id) + " needs \"parties\": three host:port");
    for (size_t i = 0; i < 3; ++i) s.parties[i] = net::parse_endpoint(g["parties"][i].get<std::string>());
    if (g.contains("health")) {
      if (!g["health"].is_array() || g["health"].size() != 3)
        throw std::runtime_error(path + ": group " + std::to_string(s.id) + "'s \"health\" needs three host:port");
      for (size_t i = 0; i < 3; ++i) s.health[i] = net::parse_endpoint(g["health"][i].get<std::string>()).str();
    }
    out.push_back(s);
  }
  return out;
}

void run_profile(const GatewayArgs& a) {
  const nn::KvPolicyConfig kv = a.profile_kv.resolve();
  std::fprintf(stderr, "veil gateway profile: running %s in process at 4 prompt lengths (precision %s, KV cache %s)\n",
               a.profile_model.c_str(), a.profile_precision.c_str(), nn::describe(kv).c_str());
  const serve::CostProfile p = serve::measure_profile(a.profile_model, a.profile_precision, kv);
  std::ofstream out(a.profile_out);
  if (!out) throw std::runtime_error("cannot write " + a.profile_out);
  out << p.to_json().dump(2) << "\n";
  std::fprintf(stderr, "veil gateway profile: wrote %s\n", a.profile_out.c_str());
}

void run_gateway(const GatewayArgs& a) {
  if ((a.local > 0) == !a.groups_file.empty())
    throw std::invalid_argument("give either --local N (start N groups of parties here) or --groups FILE");
  if (a.local > 0 && a.model.empty()) throw std::invalid_argument("--local needs --model (the full model folder to share)");
  if (a.kms && a.local == 0) throw std::invalid_argument("--kms starts a local KMS for --local groups");
  if (a.tls_cert.empty() != a.tls_key.empty()) throw std::invalid_argument("--tls-cert and --tls-key go together");
  if (a.local_tee > 0 && a.local == 0) throw std::invalid_argument("--local-tee starts TEE workers next to --local groups");
  if (a.local_tee > 0 && a.tee_epc_mb <= 0)
    throw std::invalid_argument("--local-tee needs --tee-epc-mb (the usable EPC of each simulated TEE host, in MiB)");
  if (a.local_tee > 0 && !a.tee_config.empty()) throw std::invalid_argument("give either --local-tee N or --tee-config FILE");
  if (a.autoscale && a.min_groups > a.max_groups)
    throw std::invalid_argument("--min-groups " + std::to_string(a.min_groups) + " is above --max-groups " +
                                std::to_string(a.max_groups) + ": the autoscaler's floor must not exceed its ceiling");
  serve::GatewayOptions o;
  o.balancer.policy = serve::parse_policy(a.policy);
  o.balancer.slo_seconds = a.slo_ms / 1e3;
  o.balancer.headroom = a.headroom;
  o.balancer.max_queue = a.max_queue;
  o.balancer.late_queue = a.late_queue;
  o.autoscaler.slo_seconds = a.slo_ms / 1e3;
  o.autoscaler.min_groups = a.autoscale ? a.min_groups : std::max(a.local, 1);
  o.autoscaler.max_groups = a.autoscale ? a.max_groups : std::max(a.local, 1);
  o.autoscaler.scale_up_window = a.up_window_s;
  o.autoscaler.scale_down_window = a.down_window_s;
  o.autoscaler.target_utilization = a.utilization;
  o.session_timeout = std::chrono::milliseconds(a.timeout_ms);
  o.queue_timeout = std::chrono::milliseconds(a.queue_timeout_ms);
  o.max_new_tokens = a.max_new_tokens;
  o.tee.placer = serve::parse_tee_placer(a.tee_placer);
  o.tee.seconds_per_token = a.tee_seconds_per_token;
  o.tee_autoscaler = o.autoscaler;
  o.tee_autoscaler.min_groups = 1;
  o.tee_autoscaler.max_groups = 64;

  std::unique_ptr<serve::LocalGroups> local;
  if (a.local > 0) {
    serve::LocalGroupsOptions lo;
    lo.veil_binary = std::filesystem::read_symlink("/proc/self/exe").string();
    lo.model = a.model;
    lo.state_dir = std::filesystem::absolute(a.state_dir).string();
    lo.timeout_ms = a.timeout_ms;
    lo.kms = a.kms;
    lo.tee = a.local_tee > 0;
    lo.tee_modelled_paging_slowdown = a.tee_paging;
    lo.session_key = a.session_key;  // empty: state_dir/session.key, made once
    std::fprintf(stderr, "veil gateway: certificates and share bundles in %s\n", lo.state_dir.c_str());
    local = std::make_unique<serve::LocalGroups>(lo);
    o.client_model = local->client_model();
    o.client_tls = local->client_tls();
    o.token_key = nn::read_session_key(local->session_key_file());  // the key the local parties check
    if (a.local_tee > 0) o.tee_token_key = nn::read_session_key(local->tee_session_key_file());
  } else {
    if (a.client_model.empty() || a.client_tls.ca.empty() || a.client_tls.cert.empty() || a.client_tls.key.empty())
      throw std::invalid_argument("--groups needs --client-model (share-model's client/ folder) and --ca, --cert, --key "
                                  "(the gateway's client certificate, CN veil-client, for /v1/completions)");
    o.client_model = a.client_model;
    o.client_tls = a.client_tls;
    if (!a.session_key.empty()) o.token_key = nn::read_session_key(a.session_key);  // else random: parties cannot check tokens
  }
  if (!a.tee_session_key.empty()) o.tee_token_key = nn::read_session_key(a.tee_session_key);
  if (!a.profiles.empty()) {
    o.profile = load_profile(a.profiles[0]);
    for (size_t i = 1; i < a.profiles.size(); ++i) o.more_profiles.push_back(load_profile(a.profiles[i]));
    for (const std::string& f : a.profiles) {
      const serve::CostProfile p = load_profile(f);
      std::fprintf(stderr, "veil gateway: cost profile %s: precision %s, KV cache %s\n", f.c_str(), p.precision.c_str(),
                   p.kv_policy.c_str());
    }
  } else if (!a.model.empty()) {
    std::fprintf(stderr, "veil gateway: measuring the cost profile of %s (--profile skips this)\n", a.model.c_str());
    o.profile = serve::measure_profile(a.model);
  } else {
    throw std::invalid_argument("--groups needs --profile (from `veil gateway profile --model DIR --out FILE`)");
  }
  serve::Gateway gw(o);
  if (!a.tee_config.empty()) {
    const std::optional<std::string> text = read_file(a.tee_config);
    if (!text) throw std::runtime_error("cannot read the TEE config " + a.tee_config);
    const serve::TeeFleetConfig fleet = serve::parse_tee_config(*text, a.tee_config);
    for (const serve::TeeHostDecl& h : fleet.hosts) gw.add_tee_host(h);
    for (const serve::TeeWorkerSpec& w : fleet.workers) gw.add_tee_worker(w);
  }
  if (a.local_tee > 0) {  // simulated hosts: EPC and slots are declared, not measured (no SGX here)
    const int hosts = std::min(a.tee_hosts, a.local_tee);
    for (int h = 0; h < hosts; ++h) {
      const int on_host = a.local_tee / hosts + (h < a.local_tee % hosts ? 1 : 0);
      gw.add_tee_host({"tee-host-" + std::to_string(h), int64_t(a.tee_epc_mb * 1024 * 1024), a.tee_slots > 0 ? a.tee_slots : on_host});
    }
    for (int id = 0; id < a.local_tee; ++id) {
      const serve::TeeWorkerSpec w = local->start_tee_worker(id, "tee-host-" + std::to_string(id % hosts));
      std::fprintf(stderr, "veil gateway: started local TEE worker %d on %s (%s; an ordinary process, not an enclave)\n",
                   id, w.host.c_str(), w.endpoint.str().c_str());
      gw.add_tee_worker(w);
    }
  }

  // Read before the server thread starts: a bad groups file is refused with its error, not an abort.
  const std::vector<serve::GroupSpec> fixed_groups =
      local ? std::vector<serve::GroupSpec>{} : load_groups(a.groups_file, !a.tee_config.empty());

  std::unique_ptr<httplib::Server> http;
  if (!a.tls_cert.empty())
    http = std::make_unique<httplib::SSLServer>(a.tls_cert.c_str(), a.tls_key.c_str());
  else
    http = std::make_unique<httplib::Server>();
  if (!http->is_valid()) throw std::runtime_error("cannot load --tls-cert / --tls-key");
  const int threads = a.threads;
  http->new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  gw.mount(*http);
  const net::Endpoint at = net::parse_endpoint(a.listen);
  int port = at.port;
  if (port == 0)
    port = http->bind_to_any_port(at.host.c_str());
  else if (!http->bind_to_port(at.host.c_str(), port))
    port = -1;
  if (port <= 0) throw std::runtime_error("cannot listen on " + a.listen);

  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGINT, on_stop_signal);
  std::thread server([&] { http->listen_after_bind(); });
  std::fprintf(stderr, "veil gateway: listening on %s://%s:%d (policy %s, SLO %.0f ms, %s)\n",
               a.tls_cert.empty() ? "http" : "https", at.host.c_str(), port, a.policy.c_str(), a.slo_ms,
               a.autoscale ? "autoscaling" : "fixed groups");
  std::fflush(stderr);

  // The control loop: health, autoscaler, and locally the groups' processes.
  int next_id = 0;
  std::set<int> draining;
  for (const serve::GroupSpec& g : fixed_groups) gw.add_group(g), next_id = g.id + 1;
  while (!g_stop) {
    const int desired = gw.tick();
    if (local) {
      for (int id : local->groups())
        if (local->dead(id)) {
          std::fprintf(stderr, "veil gateway: a party of local group %d exited; stopping the group\n", id);
          gw.remove_group(id);
          local->stop(id, std::chrono::seconds(2));
          draining.erase(id);
        }
      for (int id : local->tee_workers())
        if (local->tee_worker_dead(id)) {  // its /readyz no longer answers: the gateway marks it unhealthy
          std::fprintf(stderr, "veil gateway: local TEE worker %d exited\n", id);
          local->stop_tee_worker(id, std::chrono::seconds(1));
        }
      for (int id : gw.idle_drained()) {
        std::fprintf(stderr, "veil gateway: local group %d drained; stopping it\n", id);
        gw.remove_group(id);
        local->stop(id, std::chrono::seconds(10));
        draining.erase(id);
      }
      const int target = a.autoscale ? desired : a.local;
      int live = int(local->groups().size()) - int(draining.size());
      for (; live < target; ++live) {
        const serve::GroupSpec g = local->start(next_id++);
        std::fprintf(stderr, "veil gateway: started local group %d (parties %s, %s, %s)\n", g.id, g.parties[0].str().c_str(),
                     g.parties[1].str().c_str(), g.parties[2].str().c_str());
        gw.add_group(g);
      }
      if (live > target) {
        const std::vector<int> ids = local->groups();
        for (auto it = ids.rbegin(); it != ids.rend(); ++it)
          if (!draining.count(*it)) {
            std::fprintf(stderr, "veil gateway: draining local group %d (autoscaler wants %d)\n", *it, target);
            gw.drain_group(*it);
            draining.insert(*it);
            break;
          }
      }
    }
    for (int i = 0; i < 10 && !g_stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::fprintf(stderr, "veil gateway: stopping\n");
  http->stop();
  server.join();
  local.reset();  // SIGTERM to every party: they drain and exit
}

}  // namespace

void register_gateway(CLI::App& app) {
  auto a = std::make_shared<GatewayArgs>();
  CLI::App* cmd = app.add_subcommand(
      "gateway",
      "Serve clients in front of party groups: POST /v1/sessions places a session on a group and returns its three "
      "parties and a session token (the client then talks to the parties: the gateway never sees its prompt), "
      "POST /v1/completions runs an OpenAI-style completion with the gateway as the client (it sees the prompt), "
      "GET /v1/status, /metrics, /healthz, /readyz. Groups come from --groups FILE or are started here (--local N).");
  cmd->add_option("--listen", a->listen, "host:port of the HTTP(S) listener (port 0: any free port, printed)")
      ->capture_default_str()
      ->check(parsed_by(net::parse_endpoint));
  cmd->add_option("--tls-cert", a->tls_cert, "Serve HTTPS with this certificate (PEM)")->check(CLI::ExistingFile);
  cmd->add_option("--tls-key", a->tls_key, "The HTTPS certificate's key (PEM)")->check(CLI::ExistingFile);
  cmd->add_option("--local", a->local, "Start this many groups of three `veil party --serve` on loopback here")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--model", a->model, "With --local: the full model folder, shared by `veil share-model` into --state-dir")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--state-dir", a->state_dir, "With --local: certificates, share bundles (key files) and party logs")
      ->capture_default_str();
  cmd->add_flag("--kms", a->kms,
                "With --local: start a key management service (`veil kms serve`, state in --state-dir/kms) and have "
                "the parties fetch their bundle keys from it with one-time bootstrap tokens, instead of key files");
  cmd->add_option("--groups", a->groups_file,
                  "JSON file {\"groups\": [{\"parties\": [3 × host:port], \"health\": [3 × host:port]}]}: the "
                  "parties' --client-listen and --health-listen; the list may be empty when --tee-config gives TEE workers")
      ->check(CLI::ExistingFile);
  cmd->add_option("--client-model", a->client_model, "With --groups: share-model's client/ folder (tokenizer, config)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--ca", a->client_tls.ca, "With --groups: the parties' CA")->check(CLI::ExistingFile);
  cmd->add_option("--cert", a->client_tls.cert, "With --groups: the gateway's client certificate (CN veil-client)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--key", a->client_tls.key, "With --groups: its key")->check(CLI::ExistingFile);
  cmd->add_option("--profile", a->profiles,
                  "Cost profile (`veil gateway profile`), repeatable: one per (precision, KV policy) served; a request's "
                  "\"precision\" and \"kv_policy\" pick one (default: the first). Measured at start from --model "
                  "(fm64, full cache) when absent")
      ->check(CLI::ExistingFile);
  cmd->add_option("--policy", a->policy, "Balancer: slo, round-robin or least-connections")
      ->check(CLI::IsMember({"slo", "round-robin", "least-connections"}))
      ->capture_default_str();
  cmd->add_option("--slo-ms", a->slo_ms, "Latency objective for the p99 of requests")->check(CLI::Range(1.0, 3.6e6))->capture_default_str();
  cmd->add_option("--slo-headroom", a->headroom,
                  "slo policy: a request is on time when its predicted completion is within this fraction of the SLO")
      ->check(CLI::Range(0.05, 1.0))
      ->capture_default_str();
  cmd->add_option("--max-queue", a->max_queue, "Most requests waiting for a group (all policies); more get 429")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  cmd->add_option("--late-queue", a->late_queue, "slo policy: most waiting requests predicted to miss the SLO; more get 429")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  cmd->add_flag("--autoscale", a->autoscale, "With --local: start and stop groups as the autoscaler decides (between "
                                             "--min-groups and --max-groups); without it --local N groups are kept");
  cmd->add_option("--min-groups", a->min_groups, "Autoscaler floor")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("--max-groups", a->max_groups, "Autoscaler ceiling")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("--scale-up-window-s", a->up_window_s, "Seconds more groups must be needed before scaling up")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  cmd->add_option("--scale-down-window-s", a->down_window_s, "Seconds fewer groups must suffice before scaling down")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  cmd->add_option("--target-utilization", a->utilization, "Autoscaler: fraction of the SLO the predicted backlog may fill per group")
      ->check(CLI::Range(0.05, 1.0))
      ->capture_default_str();
  cmd->add_option("--timeout-ms", a->timeout_ms, "Longest wait for a party's answer in a session (and the local parties' --timeout-ms)")
      ->check(CLI::Range(100, 3600000))
      ->capture_default_str();
  cmd->add_option("--queue-timeout-ms", a->queue_timeout_ms, "Longest wait of a request in its group's queue (then 503)")
      ->check(CLI::Range(100, 3600000))
      ->capture_default_str();
  cmd->add_option("--max-new-tokens", a->max_new_tokens, "Largest max_tokens / max_new_tokens accepted")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->capture_default_str();
  cmd->add_option("--session-key", a->session_key,
                  "File holding the HMAC key of session tokens (text, at least 16 characters; give the same file to "
                  "the parties' --session-key so that they refuse clients without a token). --local: default "
                  "--state-dir/session.key, made once and given to the local parties; --groups: random when absent")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tee-config", a->tee_config,
                  "TEE workers (`veil tee-worker serve`) next to the groups: JSON {\"hosts\": [{\"name\", \"epc_mb\" or "
                  "\"epc_bytes\" (usable EPC), \"slots\"}], \"workers\": [{\"host\", \"endpoint\", \"health\"}]}; requests "
                  "choose them with \"backend\": \"tee\"")
      ->check(CLI::ExistingFile);
  cmd->add_option("--local-tee", a->local_tee,
                  "With --local: also start this many TEE workers here (ordinary processes: this machine runs no enclave), "
                  "on --tee-hosts simulated hosts")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--tee-hosts", a->tee_hosts, "With --local-tee: the simulated TEE hosts the workers are spread over")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--tee-epc-mb", a->tee_epc_mb, "With --local-tee: each simulated host's usable EPC in MiB (declared: "
                                                 "placement never commits more; nothing pages here)")
      ->check(CLI::Range(0.001, 1e7));
  cmd->add_option("--tee-slots", a->tee_slots, "With --local-tee: enclaves each host may run at once (default: its workers)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--tee-modelled-paging-slowdown", a->tee_paging,
                  "With --local-tee: the workers' --modelled-paging-slowdown (MODELLED EPC paging for load tests: a "
                  "session on a host the placer overcommitted takes longer by serve/epc_placement.h's penalty; 0: off)")
      ->check(CLI::Range(0.0, 1000.0))
      ->capture_default_str();
  cmd->add_option("--tee-placer", a->tee_placer,
                  "TEE placement: epc-aware (never beyond a host's EPC, headroom preferred), or the EPC-blind "
                  "least-loaded and round-robin (for comparison)")
      ->check(CLI::IsMember({"epc-aware", "least-loaded", "round-robin"}))
      ->capture_default_str();
  cmd->add_option("--tee-session-key", a->tee_session_key,
                  "File holding the HMAC key of TEE session tokens (give the workers the same file as --session-key); "
                  "--local-tee: --state-dir/tee-session.key; otherwise random when absent")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tee-seconds-per-token", a->tee_seconds_per_token,
                  "Start value of the TEE service-time estimate (then the average of observed sessions)")
      ->check(CLI::Range(1e-6, 60.0))
      ->capture_default_str();
  cmd->add_option("--threads", a->threads, "HTTP worker threads (waiting requests hold one)")->check(CLI::Range(2, 4096))->capture_default_str();

  CLI::App* prof = cmd->add_subcommand("profile", "Measure a model's cost profile (bytes, rounds and speed of the engine "
                                                  "in process at a few prompt lengths, fitted) for --profile");
  prof->add_option("--model", a->profile_model, "The full model folder")->required()->check(CLI::ExistingDirectory);
  prof->add_option("--out", a->profile_out, "Where to write the profile (JSON)")->required();
  prof->add_option("--precision", a->profile_precision,
                   "fm64 (the FM64 backend, no plan: `veil generate` without --precision), or a precision plan as "
                   "`veil generate --precision`: fp64, ditto (the folder's plan.json when it has the same formats) or "
                   "PLAN.json; a plan runs with the full KV cache")
      ->capture_default_str();
  add_kv_flags(prof, a->profile_kv);
  prof->callback([a] { run_profile(*a); });
  cmd->callback([a, prof] {
    if (!prof->parsed()) run_gateway(*a);
  });
}

}  // namespace veil::app
