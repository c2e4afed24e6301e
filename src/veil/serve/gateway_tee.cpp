// The gateway's TEE workers (gateway.h "backend": "tee"): placement by enclave page cache
// (tee_pool.h), sessions and completions, health, metrics and the TEE autoscaler.
#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <ctime>

#include "veil/core/aead.h"
#include "veil/core/digest.h"
#include "veil/nn/session_token.h"
#include "veil/serve/gateway.h"
#include "veil/serve/tee_wire.h"

namespace veil::serve {

namespace {

using json = nlohmann::json;

Gateway::Reply refusal(int status, const std::string& message, const char* type, double retry_after = 0) {
  return {status, json{{"error", {{"message", message}, {"type", type}}}}, retry_after};
}

double p99_of(const std::deque<std::pair<double, double>>& window) {
  std::vector<double> l;
  for (const auto& [at, s] : window) l.push_back(s);
  std::sort(l.begin(), l.end());
  return l[std::min(l.size() - 1, size_t(std::ceil(0.99 * double(l.size()))) - 1)];
}

}  // namespace

void Gateway::init_tee() {
  if (!tee_runner_)
    tee_runner_ = [this](const TeeWorkerSpec& w, const std::vector<int32_t>& prompt, const nn::GenerateOptions& opt,
                         const std::string& token, double epc_overcommit) {
      TeeClientOptions c;
      c.epc_overcommit = epc_overcommit;
      c.worker = w.endpoint;
      c.tls = o_.client_tls;
      c.timeout = o_.session_timeout;
      c.session_token = token;
      return generate_tee(c, config_text_, prompt, opt);
    };
  metrics_.gauge("veil_tee_epc_bytes", "Usable EPC of each TEE host");
  metrics_.gauge("veil_tee_epc_committed_bytes", "Enclave bytes of the requests running on each TEE host");
  metrics_.gauge("veil_tee_epc_peak_overcommit_ratio", "Largest committed / usable EPC seen on each TEE host "
                                                       "(above 1 only under an EPC-blind placer)");
  metrics_.gauge("veil_tee_epc_demand_bytes", "Enclave bytes of the TEE requests running and waiting");
  metrics_.gauge("veil_tee_queue_depth", "TEE requests waiting for a host");
  metrics_.gauge("veil_tee_running", "TEE requests running");
  metrics_.gauge("veil_tee_workers_healthy", "TEE workers taking requests");
  metrics_.gauge("veil_tee_hosts_desired", "TEE hosts the autoscaler computes: by=latency, by=epc, and the larger (by=both)");
  metrics_.counter("veil_tee_worker_failures_total", "TEE sessions that failed on a worker, which was then marked unhealthy");
}

void Gateway::add_tee_host(const TeeHostDecl& h) {
  std::lock_guard lock(mu_);
  tee_.add_host(h);
}

void Gateway::add_tee_worker(const TeeWorkerSpec& w) {
  std::lock_guard lock(mu_);
  tee_.add_worker(w);
}

std::vector<TeeHostSnapshot> Gateway::tee_hosts() const {
  std::lock_guard lock(mu_);
  return tee_.snapshot();
}

std::string Gateway::tee_token(int worker, std::string& session) const {
  const AeadNonce r = random_aead_nonce();
  session = hex(r);
  return nn::make_session_token(o_.tee_token_key, session, worker,
                                int64_t(std::time(nullptr)) + o_.token_ttl.count());
}

void Gateway::fail_tee_worker(int id, const std::string& why) {
  tee_.set_healthy(id, false);
  tee_unhealthy_since_[id] = now();
  metrics_.add("veil_tee_worker_failures_total", {{"worker", std::to_string(id)}});
  std::fprintf(stderr, "veil gateway: TEE worker %d marked unhealthy: %s\n", id, why.c_str());
  cv_.notify_all();
}

Gateway::TeeWaited Gateway::admit_tee(std::unique_lock<std::mutex>& lock, uint64_t& ticket, int64_t enclave_bytes,
                                      int64_t tokens, bool retry, const std::string& endpoint) {
  TeeWaited w;
  if (tee_.empty()) {
    w.error = refusal(400, "this gateway has no TEE workers: use \"backend\": \"mpc\"", "invalid_request_error");
    return w;
  }
  const double arrived = now();
  const double deadline = arrived + std::chrono::duration<double>(o_.queue_timeout).count();
  for (int placements = 0;; ++placements) {
    const TeePlaced p = tee_.place(enclave_bytes, tokens, now(), retry || placements > 0);
    if (!p.placed) {
      if (p.never) w.error = refusal(400, "no TEE host can hold this request: " + p.reason, "invalid_request_error");
      else if (tee_.healthy_workers() == 0) w.error = refusal(503, "no healthy TEE worker", "unavailable", 10);
      else w.error = refusal(429, "refused: " + p.reason, "rate_limit", std::ceil(p.retry_after_seconds));
      return w;
    }
    ticket = p.ticket;
    w.predicted_seconds = now() - arrived + p.predicted_seconds;
    if (placements == 0 && !retry) count_accepted(endpoint, p.predicted_seconds);
    for (;;) {
      const int worker = tee_.try_start(ticket, now());
      if (worker >= 0) {
        w.worker = worker;
        return w;
      }
      if (worker == -2) break;  // its host has no healthy worker left: place it again
      if (now() > deadline) {
        tee_.cancel(ticket);
        w.error = refusal(503, "timed out waiting for TEE host " + p.host, "timeout", 1);
        return w;
      }
      cv_.wait_for(lock, std::chrono::milliseconds(200));
    }
  }
}

Gateway::Reply Gateway::tee_completion(const std::vector<int32_t>& prompt, const nn::GenerateOptions& opt,
                                       double arrived) {
  const int64_t tokens = int64_t(prompt.size()) + opt.max_new_tokens;
  const int64_t bytes = enclave_bytes(enclave_, tokens);
  std::unique_lock lock(mu_);
  std::string first_error;
  int first_worker = -1;
  for (int attempt = 0;; ++attempt) {
    uint64_t ticket = 0;
    TeeWaited w = admit_tee(lock, ticket, bytes, tokens, attempt > 0, "completions");
    if (w.worker < 0) {
      if (attempt > 0) {
        record("completions", "failed", 0);
        return refusal(502, "the request failed on TEE worker " + std::to_string(first_worker) + " (" + first_error +
                                ") and could not be retried: " + w.error.body["error"]["message"].get<std::string>(),
                       "upstream_error");
      }
      record("completions", w.error.status == 429 ? "refused" : w.error.status == 400 ? "bad_request" : "failed", 0);
      return w.error;
    }
    const TeeWorkerSpec spec = tee_.worker(w.worker);
    std::string session;
    const std::string token = tee_token(w.worker, session);
    const double overcommit = tee_.host_overcommit(spec.host);
    lock.unlock();
    const double started = now();
    std::vector<nn::PrivateToken> out;
    std::string why;
    try {
      out = tee_runner_(spec, prompt, opt, token, overcommit);
    } catch (const std::exception& e) {
      why = e.what();
    }
    const double took = now() - started;
    lock.lock();
    if (why.empty()) {
      tee_.finish(ticket, took);
      cv_.notify_all();
      tee_latencies_.emplace_back(now(), now() - arrived);
      return completion_reply(prompt, out,
                              {{"backend", "tee"}, {"worker", w.worker}, {"host", spec.host}, {"attempts", attempt + 1},
                               {"service_ms", took * 1e3}, {"predicted_ms", w.predicted_seconds * 1e3},
                               {"enclave_bytes", bytes}, {"epc_overcommit_at_start", overcommit}},
                              arrived);
    }
    tee_.finish(ticket, 0);
    fail_tee_worker(w.worker, why);
    if (attempt > 0) {
      record("completions", "failed", 0);
      return refusal(502, "the request failed on TEE worker " + std::to_string(first_worker) + " (" + first_error +
                              ") and on its retry on TEE worker " + std::to_string(w.worker) + " (" + why + ")",
                     "upstream_error");
    }
    first_error = why;
    first_worker = w.worker;
    metrics_.add("veil_gateway_retries_total", {});
  }
}

Gateway::Reply Gateway::tee_open_session(int64_t prompt_tokens, int64_t new_tokens, double arrived) {
  const int64_t tokens = prompt_tokens + new_tokens;
  const int64_t bytes = enclave_bytes(enclave_, tokens);
  std::unique_lock lock(mu_);
  uint64_t ticket = 0;
  TeeWaited w = admit_tee(lock, ticket, bytes, tokens, false, "sessions");
  if (w.worker < 0) {
    record("sessions", w.error.status == 429 ? "refused" : w.error.status == 400 ? "bad_request" : "failed", 0);
    return w.error;
  }
  std::string sid;
  const std::string token = tee_token(w.worker, sid);
  const double lease = std::min(double(o_.token_ttl.count()),
                                4 * double(tokens) * tee_.seconds_per_token() +
                                    std::chrono::duration<double>(o_.session_timeout).count());
  leases_[sid] = Lease{ticket, -1, arrived, now(), now() + lease, w.worker};
  const TeeWorkerSpec& spec = tee_.worker(w.worker);
  return {200, json{{"session", sid}, {"token", token}, {"expires", int64_t(std::time(nullptr)) + o_.token_ttl.count()},
                    {"backend", "tee"}, {"worker", w.worker}, {"host", spec.host}, {"endpoint", spec.endpoint.str()},
                    {"enclave_bytes", bytes}, {"predicted_ms", w.predicted_seconds * 1e3}}};
}

void Gateway::probe_tee_workers() {
  std::vector<TeeWorkerSpec> probe;
  {
    std::lock_guard lock(mu_);
    probe = tee_.workers();
  }
  for (const TeeWorkerSpec& w : probe) {
    if (w.health.empty()) continue;
    httplib::Client c("http://" + w.health);
    c.set_connection_timeout(1, 0);
    c.set_read_timeout(1, 0);
    auto res = c.Get("/readyz");
    const bool ok = res && res->status == 200;
    std::lock_guard lock(mu_);
    if (ok == tee_.healthy(w.id)) continue;
    tee_.set_healthy(w.id, ok);
    if (ok) tee_unhealthy_since_.erase(w.id);
    std::fprintf(stderr, "veil gateway: TEE worker %d %s\n", w.id, ok ? "ready" : "not ready");
  }
}

void Gateway::tee_tick(double t) {
  for (auto it = tee_unhealthy_since_.begin(); it != tee_unhealthy_since_.end();) {  // workers without health endpoints
    if (tee_.worker(it->first).health.empty() && t - it->second > 10) {
      tee_.set_healthy(it->first, true);
      it = tee_unhealthy_since_.erase(it);
    } else {
      ++it;
    }
  }
  if (tee_.empty()) return;
  while (!tee_latencies_.empty() && tee_latencies_.front().first < t - 30) tee_latencies_.pop_front();
  AutoscalerInput in;
  in.now = t;
  in.backlog_seconds = tee_.backlog_seconds(t);
  in.waiting = tee_.waiting();
  if (!tee_latencies_.empty()) in.p99 = p99_of(tee_latencies_);
  const TeeScale s = tee_autoscaler_.tick(in, tee_.epc_demand_bytes(), tee_.largest_host_epc());
  metrics_.set("veil_tee_hosts_desired", {{"by", "latency"}}, s.by_latency);
  metrics_.set("veil_tee_hosts_desired", {{"by", "epc"}}, s.by_epc);
  metrics_.set("veil_tee_hosts_desired", {{"by", "both"}}, s.hosts);
  metrics_.set("veil_tee_epc_demand_bytes", {}, double(tee_.epc_demand_bytes()));
  metrics_.set("veil_tee_queue_depth", {}, tee_.waiting());
  metrics_.set("veil_tee_running", {}, tee_.running());
  metrics_.set("veil_tee_workers_healthy", {}, tee_.healthy_workers());
  for (const TeeHostSnapshot& h : tee_.snapshot()) {
    metrics_.set("veil_tee_epc_bytes", {{"host", h.name}}, double(h.epc_bytes));
    metrics_.set("veil_tee_epc_committed_bytes", {{"host", h.name}}, double(h.committed_bytes));
    metrics_.set("veil_tee_epc_peak_overcommit_ratio", {{"host", h.name}}, h.peak_overcommit);
  }
}

json Gateway::tee_status(double) const {
  json hosts = json::array();
  for (const TeeHostSnapshot& h : tee_.snapshot())
    hosts.push_back({{"name", h.name}, {"epc_bytes", h.epc_bytes}, {"committed_bytes", h.committed_bytes},
                     {"slots", h.slots}, {"healthy_workers", h.healthy_workers}, {"running", h.running},
                     {"waiting", h.waiting}, {"peak_overcommit", h.peak_overcommit}});
  json workers = json::array();
  for (const TeeWorkerSpec& w : tee_.workers())
    workers.push_back({{"id", w.id}, {"host", w.host}, {"endpoint", w.endpoint.str()}, {"healthy", tee_.healthy(w.id)},
                       {"pid", w.pid}});
  return {{"placer", tee_placer_name(tee_.placer())}, {"hosts", hosts}, {"workers", workers},
          {"queue_depth", tee_.waiting()}, {"seconds_per_token", tee_.seconds_per_token()}};
}

}  // namespace veil::serve
