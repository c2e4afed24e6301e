// The gateway (`veil gateway`): the clients' entry point to a set of party groups.
//
//   POST /v1/sessions            {"prompt_tokens": n, "max_new_tokens": m, "precision", "kv_policy"}
//        → 200 {"session", "token", "expires", "group", "parties": [3 × "host:port"],
//               "predicted_ms"} once the chosen group is free for it; the client then opens the
//          session with the three parties itself (`veil generate --parties`), so the gateway
//          never sees its prompt shares, and reports the end:
//   POST /v1/sessions/finish     {"token", "ok": bool, "error": "..."} → 200 (a failure marks the group
//                                unhealthy until its parties are ready again)
//   POST /v1/completions         OpenAI-style {"prompt", "max_tokens", "temperature", "top_k"}: the
//                                gateway is the client (it sees the prompt and the text)
// "precision" and "kv_policy" (optional, both endpoints) pick the cost profile the request is
// predicted with (GatewayOptions::profile and more_profiles; default the first); an unknown pair
// is a 400 naming the profiles. The gateway does not match groups to profiles: a group serves
// what its bundle holds (a plan fixes its precision), so every group must serve every profile's
// pair. A completion runs with its profile's KV policy; a session's client sets its own.
//   GET  /v1/status              groups, queues, the autoscaler's decisions (JSON)
//   GET  /metrics, /healthz, /readyz (200 when a group or a TEE worker is healthy)
// "backend" (optional, both endpoints): "mpc" (default: the party groups) or "tee" (the TEE
// workers, serve/tee_pool.h; anything else is a 400 naming the two). A TEE request is placed by
// enclave page cache on the TEE hosts; /v1/sessions then answers {"session", "token", "expires",
// "backend": "tee", "worker", "host", "endpoint": "host:port", "predicted_ms"} (the token is
// signed with the TEE key, which the workers check, so that an MPC token opens no TEE worker and
// the other way round), and /v1/completions runs the session itself (serve/tee_wire.h). A TEE
// worker sees the prompt and the weights in the clear (docs/SECURITY.md).
// Refusals: 400 for a bad body (naming the field), 429 with Retry-After when the balancer refuses
// (balancer.h) or the TEE queue is full, 502 when the request failed on two groups (or TEE
// workers), 503 when no group (TEE worker) is healthy.
// Every accepted request ends in exactly one final response; veil_gateway_requests_total counts
// them by outcome.
#pragma once
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "veil/model/bpe_tokenizer.h"
#include "veil/model/hf_config.h"
#include "veil/nn/generate.h"
#include "veil/nn/generate_client.h"
#include "veil/serve/autoscaler.h"
#include "veil/serve/balancer.h"
#include "veil/serve/cost_model.h"
#include "veil/serve/epc_placement.h"
#include "veil/serve/local_groups.h"
#include "veil/serve/metrics.h"
#include "veil/serve/tee_pool.h"

namespace httplib {
class Server;
}

namespace veil::serve {

// Runs one generation on a group as its client; throws (naming the party at fault) on failure.
using Runner = std::function<std::vector<nn::PrivateToken>(const GroupSpec&, const std::vector<int32_t>& prompt,
                                                          const nn::GenerateOptions&)>;

// Runs one generation on a TEE worker with a session token for it; throws on failure.
using TeeRunner = std::function<std::vector<nn::PrivateToken>(const TeeWorkerSpec&, const std::vector<int32_t>& prompt,
                                                             const nn::GenerateOptions&, const std::string& token,
                                                             double epc_overcommit)>;

struct GatewayOptions {
  BalancerOptions balancer;
  AutoscalerOptions autoscaler;
  CostProfile profile;                  // the default: a request without "precision" / "kv_policy"
  std::vector<CostProfile> more_profiles;  // others, by (precision, kv_policy); the first of a pair counts
  std::string client_model;             // config.json, vocab.json, merges.txt (share-model's client/)
  net::TlsFiles client_tls;             // the gateway's client certificate (CN veil-client), for /v1/completions
  std::chrono::milliseconds session_timeout{30000};  // the parties' answers, as `veil generate --timeout-ms`
  std::chrono::milliseconds queue_timeout{60000};    // longest wait in a group's queue
  std::string token_key;                // HMAC-SHA256 key of session tokens (random when empty)
  std::chrono::seconds token_ttl{300};  // a session's lease: the group is free again after it
  int64_t max_new_tokens = 64;
  TeePoolOptions tee;          // placement on the TEE workers (max_queue: the balancer's)
  std::string tee_token_key;   // HMAC key of TEE session tokens (random when empty)
  AutoscalerOptions tee_autoscaler;  // TEE hosts by latency (next to the count by EPC)
};

class Gateway {
 public:
  // `runner` defaults to generate_remote with client_tls. Throws for an unreadable client model.
  explicit Gateway(GatewayOptions o, Runner runner = {}, TeeRunner tee_runner = {});

  // A group starts unhealthy until its parties' /readyz answer 200 (or at once when it has no
  // health endpoints).
  void add_group(const GroupSpec& g);
  void drain_group(int id);            // no new requests
  std::vector<int> idle_drained();     // drained groups with nothing queued or running
  void remove_group(int id);
  std::vector<GroupSpec> groups() const;

  // TEE hosts and workers (throw std::invalid_argument as TeePool does). A worker with a health
  // endpoint starts unhealthy until its /readyz answers 200.
  void add_tee_host(const TeeHostDecl& h);
  void add_tee_worker(const TeeWorkerSpec& w);
  std::vector<TeeHostSnapshot> tee_hosts() const;

  void mount(httplib::Server& http);  // the routes above

  // One control step (the caller runs it about every second): probes the groups' health (a group
  // ready for the first time runs a short calibration session that measures its speed before it
  // takes requests), expires session leases, runs the autoscaler and updates the gauges. Returns
  // the desired group count.
  int tick();

  Metrics& metrics() { return metrics_; }
  nlohmann::json status();
  double now() const;  // seconds since the gateway started

  struct Reply {
    int status;
    nlohmann::json body;
    double retry_after = 0;  // seconds, with 429 and 503
  };
  // The routes' logic, also called directly by the tests.
  Reply completion(const std::string& body);
  Reply open_session(const std::string& body);
  Reply finish_session(const std::string& body);

 private:
  struct Waited {
    bool started = false;
    double predicted_seconds = 0;  // at its (last) placement, queue included
    Reply error;
  };
  // Places (or re-places, for a retry) and waits for the request's turn; returns with the lock held.
  Waited admit(std::unique_lock<std::mutex>& lock, uint64_t& ticket, double base, std::optional<int> exclude,
               bool retry, const std::string& endpoint);
  void record(const std::string& endpoint, const std::string& outcome, double seconds);
  void count_accepted(const std::string& endpoint, double predicted_seconds);  // a request placed for the first time
  void fail_group(int id, const std::string& why);
  std::string sign(const std::string& payload) const;
  // The profile of the request's "precision" and "kv_policy" (each defaulting to the default
  // profile's; kv_policy is a policy's describe string or just its name), or a 400 naming the
  // profiles there are.
  std::optional<Reply> profile_for(const nlohmann::json& j, const CostProfile*& out) const;
  // The request's "backend" ("mpc" when absent): sets `tee`, or a 400 naming the choices.
  std::optional<Reply> backend_for(const nlohmann::json& j, bool& tee) const;
  // The 200 body of a completion that produced `out` for `prompt`; `veil` gets the usage fields.
  Reply completion_reply(const std::vector<int32_t>& prompt, const std::vector<nn::PrivateToken>& out, nlohmann::json veil,
                         double arrived);

  // The TEE side (gateway_tee.cpp).
  void init_tee();  // the default TEE runner, the TEE metrics
  nlohmann::json tee_status(double t) const;
  struct TeeWaited {
    int worker = -1;
    double predicted_seconds = 0;
    Reply error;
  };
  TeeWaited admit_tee(std::unique_lock<std::mutex>& lock, uint64_t& ticket, int64_t enclave_bytes, int64_t tokens,
                      bool retry, const std::string& endpoint);
  Reply tee_completion(const std::vector<int32_t>& prompt, const nn::GenerateOptions& opt, double arrived);
  Reply tee_open_session(int64_t prompt_tokens, int64_t new_tokens, double arrived);
  void fail_tee_worker(int id, const std::string& why);
  void tee_tick(double t);  // health of workers without endpoints, metrics, the TEE autoscaler
  void probe_tee_workers();
  std::string tee_token(int worker, std::string& session) const;

  struct Lease {
    uint64_t ticket;
    int group;  // -1 for a TEE session
    double arrived, started, expires;
    int tee_worker = -1;
  };

  GatewayOptions o_;
  Runner runner_;
  model::BpeTokenizer tokenizer_;
  std::string config_text_;
  model::Gpt2Config config_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  Balancer balancer_;
  Autoscaler autoscaler_;
  std::map<int, GroupSpec> groups_;
  std::map<int, double> unhealthy_since_;
  std::set<int> calibrated_;  // groups that ran their calibration session
  std::map<std::string, Lease> leases_;  // by session id
  std::deque<std::pair<double, double>> latencies_;  // (finished at, seconds), the last 30 s
  uint64_t refused_since_tick_ = 0;
  TeeRunner tee_runner_;
  EnclaveModel enclave_;  // of the client model: a TEE request's enclave bytes
  TeePool tee_;
  TeeAutoscaler tee_autoscaler_;
  std::map<int, double> tee_unhealthy_since_;
  std::deque<std::pair<double, double>> tee_latencies_;
  uint64_t tee_refused_since_tick_ = 0;
  Metrics metrics_;
};

}  // namespace veil::serve
