#include "veil/serve/gateway.h"

#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "veil/nn/remote_generate.h"
#include "veil/nn/session_token.h"
#include "veil/serve/tee_wire.h"

namespace veil::serve {

namespace {

using json = nlohmann::json;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string hex(const unsigned char* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) s += d[p[i] >> 4], s += d[p[i] & 15];
  return s;
}

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> b(bytes);
  if (RAND_bytes(b.data(), int(bytes)) != 1) throw std::runtime_error("no randomness from OpenSSL");
  return hex(b.data(), bytes);
}

Gateway::Reply error(int status, const std::string& message, const std::string& type) {
  return {status, json{{"error", {{"message", message}, {"type", type}}}}};
}

// The body as a JSON object, or a 400 reply.
std::optional<Gateway::Reply> parse_body(const std::string& body, json& j) {
  try {
    j = json::parse(body);
  } catch (const json::parse_error& e) {
    return error(400, std::string("the request body is not JSON: ") + e.what(), "invalid_request_error");
  }
  if (!j.is_object()) return error(400, "the request body must be a JSON object", "invalid_request_error");
  return std::nullopt;
}

// An integer field in [lo, hi] (or `def` when absent), or a 400 naming it.
std::optional<Gateway::Reply> int_field(const json& j, const char* key, int64_t def, int64_t lo, int64_t hi, int64_t& out) {
  if (!j.contains(key)) {
    out = def;
    if (def >= lo) return std::nullopt;
    return error(400, std::string("'") + key + "' is required", "invalid_request_error");
  }
  if (!j[key].is_number_integer() || j[key].get<int64_t>() < lo || j[key].get<int64_t>() > hi)
    return error(400, std::string("'") + key + "' must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi),
                 "invalid_request_error");
  out = j[key].get<int64_t>();
  return std::nullopt;
}

std::string endpoints_str(const GroupSpec& g) {
  return g.parties[0].str() + "," + g.parties[1].str() + "," + g.parties[2].str();
}

}  // namespace

Gateway::Gateway(GatewayOptions o, Runner runner, TeeRunner tee_runner)
    : o_(std::move(o)),
      runner_(std::move(runner)),
      tokenizer_(model::BpeTokenizer::load_dir(o_.client_model)),
      config_text_(read_text(o_.client_model + "/config.json")),
      config_(model::parse_gpt2_config(json::parse(config_text_), o_.client_model + "/config.json")),
      balancer_(o_.balancer),
      autoscaler_(o_.autoscaler),
      tee_runner_(std::move(tee_runner)),
      enclave_(enclave_model_from_config(json::parse(config_text_), o_.client_model + "/config.json")),
      tee_([this] {
        TeePoolOptions t = o_.tee;
        t.max_queue = o_.balancer.max_queue;
        return t;
      }()),
      tee_autoscaler_(o_.tee_autoscaler) {
  if (o_.token_key.empty()) o_.token_key = random_hex(32);
  if (o_.tee_token_key.empty()) o_.tee_token_key = random_hex(32);
  if (!runner_) {
    runner_ = [this](const GroupSpec& g, const std::vector<int32_t>& prompt, const nn::GenerateOptions& opt) {
      nn::RemoteParties p;
      p.endpoints = g.parties;
      p.tls = o_.client_tls;
      p.timeout = o_.session_timeout;
      // The gateway is the client here: it issues itself a token for the group, as /v1/sessions
      // would, for parties that check them (--session-key).
      const std::string payload = random_hex(16) + "." + std::to_string(g.id) + "." +
                                  std::to_string(int64_t(std::time(nullptr)) + o_.token_ttl.count());
      p.session_token = payload + "." + sign(payload);
      return nn::generate_remote(p, config_text_, prompt, opt);
    };
  }
  const std::vector<double> secs{0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60};
  metrics_.counter("veil_gateway_requests_total",
                   "Final responses by endpoint and outcome (ok, failed, refused, bad_request)");
  metrics_.counter("veil_gateway_accepted_total", "Requests placed on a group (each ends in one ok or failed response)");
  metrics_.counter("veil_gateway_retries_total", "Requests retried on another group after their group failed");
  metrics_.counter("veil_gateway_group_failures_total", "Sessions that failed on a group, which was then marked unhealthy (if it still existed)");
  metrics_.histogram("veil_gateway_request_seconds", "Latency of successful requests, arrival to response (queue included)", secs);
  metrics_.histogram("veil_gateway_predicted_seconds", "Predicted latency at placement (queue included)", secs);
  metrics_.counter("veil_gateway_party_bytes_total", "Bytes sent between the parties for the gateway's requests: "
                                                      "predicted (all requests) and observed (completions)");
  metrics_.counter("veil_gateway_party_rounds_total", "Communication rounds, predicted and observed, as above");
  metrics_.gauge("veil_gateway_queue_depth", "Requests waiting for their group");
  metrics_.gauge("veil_gateway_running", "Requests running on a group");
  metrics_.gauge("veil_gateway_backlog_seconds", "Predicted remaining work of all groups");
  metrics_.gauge("veil_gateway_slo_seconds", "The latency objective");
  metrics_.gauge("veil_gateway_p99_seconds", "Observed p99 latency of the last 30 s");
  metrics_.gauge("veil_groups", "Party groups known to the gateway");
  metrics_.gauge("veil_groups_healthy", "Party groups taking requests");
  metrics_.gauge("veil_groups_needed", "Groups the autoscaler computes now (before its windows)");
  metrics_.gauge("veil_groups_desired", "Groups the autoscaler wants (after its scale-up/scale-down windows)");
  metrics_.set("veil_gateway_slo_seconds", {}, o_.balancer.slo_seconds);
  init_tee();
}

double Gateway::now() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

void Gateway::add_group(const GroupSpec& g) {
  std::lock_guard lock(mu_);
  groups_[g.id] = g;
  balancer_.add_group(g.id);
  const bool probed = !g.health[0].empty();
  balancer_.set_healthy(g.id, !probed);
}

void Gateway::drain_group(int id) {
  std::lock_guard lock(mu_);
  balancer_.drain_group(id);
}

std::vector<int> Gateway::idle_drained() {
  std::lock_guard lock(mu_);
  std::vector<int> out;
  for (const GroupSnapshot& s : balancer_.snapshot(now()))
    if (s.draining && s.waiting == 0 && s.running == 0) out.push_back(s.id);
  return out;
}

void Gateway::remove_group(int id) {
  std::lock_guard lock(mu_);
  balancer_.remove_group(id);  // waiting requests find their ticket gone and are re-placed
  groups_.erase(id);
  unhealthy_since_.erase(id);
  calibrated_.erase(id);
  cv_.notify_all();
}

std::vector<GroupSpec> Gateway::groups() const {
  std::lock_guard lock(mu_);
  std::vector<GroupSpec> out;
  for (const auto& [id, g] : groups_) out.push_back(g);
  return out;
}

void Gateway::record(const std::string& endpoint, const std::string& outcome, double seconds) {
  metrics_.add("veil_gateway_requests_total", {{"endpoint", endpoint}, {"outcome", outcome}});
  if (outcome == "ok") metrics_.observe("veil_gateway_request_seconds", {{"endpoint", endpoint}}, seconds);
  if (outcome == "refused") ++refused_since_tick_;
}

void Gateway::count_accepted(const std::string& endpoint, double predicted_seconds) {
  metrics_.add("veil_gateway_accepted_total", {{"endpoint", endpoint}});
  metrics_.observe("veil_gateway_predicted_seconds", {{"endpoint", endpoint}}, predicted_seconds);
}

void Gateway::fail_group(int id, const std::string& why) {
  // Counted even when the group is gone already: a local group whose party died may have been
  // replaced (remove_group) before the session's failure reached here.
  metrics_.add("veil_gateway_group_failures_total", {{"group", std::to_string(id)}});
  if (!balancer_.has_group(id)) return;
  balancer_.set_healthy(id, false);
  unhealthy_since_[id] = now();
  std::fprintf(stderr, "veil gateway: group %d marked unhealthy: %s\n", id, why.c_str());
  cv_.notify_all();
}

Gateway::Waited Gateway::admit(std::unique_lock<std::mutex>& lock, uint64_t& ticket, double base,
                               std::optional<int> exclude, bool retry, const std::string& endpoint) {
  Waited w;
  const double arrived_at = now();
  const double deadline = now() + std::chrono::duration<double>(o_.queue_timeout).count();
  for (int placements = 0;; ++placements) {
    const Placement p = balancer_.place(base, now(), exclude, retry || placements > 0);
    if (!p.placed) {
      const std::string no_group = "no healthy party group";
      const bool none = balancer_.healthy_groups() == 0 || p.reason == no_group;
      w.error = none ? error(503, p.reason == no_group ? no_group : no_group + ": " + p.reason, "unavailable")
                     : error(429, "refused: " + p.reason, "rate_limit");
      w.error.retry_after = std::ceil(p.retry_after_seconds);
      return w;
    }
    ticket = p.ticket;
    w.predicted_seconds = now() - arrived_at + p.predicted_seconds;
    if (placements == 0 && !retry) count_accepted(endpoint, p.predicted_seconds);
    for (;;) {
      if (balancer_.try_start(ticket, now())) {
        w.started = true;
        return w;
      }
      const int g = balancer_.group_of(ticket);
      if (g < 0 || !balancer_.group_healthy(g)) {  // its group went away: place it again
        balancer_.cancel(ticket);
        if (g >= 0) exclude = g;
        break;
      }
      if (now() > deadline) {
        balancer_.cancel(ticket);
        w.error = error(503, "timed out waiting for party group " + std::to_string(g), "timeout");
        return w;
      }
      cv_.wait_for(lock, std::chrono::milliseconds(200));
    }
  }
}

std::optional<Gateway::Reply> Gateway::profile_for(const json& j, const CostProfile*& out) const {
  for (const char* key : {"precision", "kv_policy"})
    if (j.contains(key) && !j[key].is_string())
      return error(400, std::string("'") + key + "' must be a string", "invalid_request_error");
  const std::string precision = j.contains("precision") ? j["precision"].get<std::string>() : o_.profile.precision;
  const std::string kv = j.contains("kv_policy") ? j["kv_policy"].get<std::string>() : o_.profile.kv_policy;
  auto matches = [&](const CostProfile& p) {
    return p.precision == precision && (p.kv_policy == kv || nn::kv_policy_name(p.kv.kind) == kv);
  };
  out = nullptr;
  if (matches(o_.profile)) out = &o_.profile;
  for (const CostProfile& p : o_.more_profiles)
    if (!out && matches(p)) out = &p;
  if (out) return std::nullopt;
  std::string have;
  auto name = [](const CostProfile& p) { return "(" + p.precision + ", " + p.kv_policy + ")"; };
  have += name(o_.profile);
  for (const CostProfile& p : o_.more_profiles) have += ", " + name(p);
  return error(400, "no cost profile for precision '" + precision + "' and kv_policy '" + kv + "'; this gateway has " + have,
               "invalid_request_error");
}

Gateway::Reply Gateway::completion(const std::string& body) {
  const double arrived = now();
  json j;
  if (auto bad = parse_body(body, j)) return record("completions", "bad_request", 0), *bad;
  auto bad_req = [&](const std::string& m) {
    record("completions", "bad_request", 0);
    return error(400, m, "invalid_request_error");
  };
  if (!j.contains("prompt") || !j["prompt"].is_string() || j["prompt"].get<std::string>().empty())
    return bad_req("'prompt' must be a non-empty string");
  if (j.contains("stream") && j["stream"] != false) return bad_req("'stream' is not supported");
  if (j.contains("n") && j["n"] != 1) return bad_req("'n' must be 1");
  nn::GenerateOptions opt;
  int64_t top_k = 0;
  if (auto b = int_field(j, "max_tokens", 16, 1, o_.max_new_tokens, opt.max_new_tokens)) return record("completions", "bad_request", 0), *b;
  if (auto b = int_field(j, "top_k", 0, 0, config_.vocab_size, top_k)) return record("completions", "bad_request", 0), *b;
  opt.sampling.top_k = top_k;
  const CostProfile* profile = nullptr;
  if (auto b = profile_for(j, profile)) return record("completions", "bad_request", 0), *b;
  bool tee = false;
  if (auto b = backend_for(j, tee)) return record("completions", "bad_request", 0), *b;
  opt.kv = profile->kv;
  if (j.contains("temperature")) {
    if (!j["temperature"].is_number() || j["temperature"].get<double>() < 0 || j["temperature"].get<double>() > 100)
      return bad_req("'temperature' must be a number from 0 to 100");
    opt.sampling.temperature = j["temperature"].get<double>();
  }
  if (j.contains("seed")) {
    if (!j["seed"].is_number_unsigned()) return bad_req("'seed' must be a non-negative integer");
    opt.sampling.seed = j["seed"].get<uint64_t>();
  }
  const std::vector<int32_t> prompt = tokenizer_.encode(j["prompt"].get<std::string>());
  if (prompt.empty()) return bad_req("the prompt encodes to no tokens");
  if (int64_t(prompt.size()) + opt.max_new_tokens > config_.n_positions)
    return bad_req("the prompt (" + std::to_string(prompt.size()) + " tokens) and max_tokens exceed the model's " +
                   std::to_string(config_.n_positions) + " positions");
  if (tee) return tee_completion(prompt, opt, arrived);
  const RequestShape shape{int64_t(prompt.size()), opt.max_new_tokens};
  const Cost cost = profile->predict(shape);
  const double base = profile->seconds(cost);

  std::unique_lock lock(mu_);
  uint64_t ticket = 0;
  std::optional<int> exclude;
  std::string first_error;
  for (int attempt = 0;; ++attempt) {
    Waited w = admit(lock, ticket, base, exclude, attempt > 0, "completions");
    if (!w.started) {
      if (attempt > 0) {  // accepted before: this is its one final response, a failure
        record("completions", "failed", 0);
        return error(502, "the request failed on party group " + std::to_string(*exclude) + " (" + first_error +
                              ") and could not be retried: " + w.error.body["error"]["message"].get<std::string>(),
                     "upstream_error");
      }
      record("completions", w.error.status == 429 ? "refused" : "failed", 0);
      return w.error;
    }
    const int g = balancer_.group_of(ticket);
    const GroupSpec spec = groups_.at(g);
    metrics_.add("veil_gateway_party_bytes_total", {{"kind", "predicted"}}, cost.bytes);
    metrics_.add("veil_gateway_party_rounds_total", {{"kind", "predicted"}}, cost.rounds);
    lock.unlock();
    const double started = now();
    std::vector<nn::PrivateToken> out;
    std::string why;
    try {
      out = runner_(spec, prompt, opt);
    } catch (const std::exception& e) {
      why = e.what();
    }
    const double took = now() - started;
    lock.lock();
    if (why.empty()) {
      balancer_.finish(ticket, took);
      cv_.notify_all();
      double bytes = 0, rounds = 0;
      for (const nn::PrivateToken& t : out) bytes += double(t.bytes_total), rounds += double(t.rounds);
      metrics_.add("veil_gateway_party_bytes_total", {{"kind", "observed"}}, bytes);
      metrics_.add("veil_gateway_party_rounds_total", {{"kind", "observed"}}, rounds);
      latencies_.emplace_back(now(), now() - arrived);
      return completion_reply(prompt, out,
                              {{"backend", "mpc"}, {"group", g}, {"attempts", attempt + 1}, {"service_ms", took * 1e3},
                               {"predicted_ms", w.predicted_seconds * 1e3}, {"predicted_bytes", cost.bytes},
                               {"predicted_rounds", cost.rounds}, {"bytes_all_parties", bytes}, {"rounds", rounds}},
                              arrived);
    }
    balancer_.finish(ticket, 0);
    fail_group(g, why);
    if (attempt > 0) {
      record("completions", "failed", 0);
      return error(502, "the request failed on party group " + std::to_string(*exclude) + " (" + first_error +
                            ") and on its retry on group " + std::to_string(g) + " (" + why + ")",
                   "upstream_error");
    }
    first_error = why;
    exclude = g;
    metrics_.add("veil_gateway_retries_total", {});
  }
}

Gateway::Reply Gateway::completion_reply(const std::vector<int32_t>& prompt, const std::vector<nn::PrivateToken>& out,
                                         json veil, double arrived) {
  std::vector<int32_t> ids;
  std::string finish = "length";
  for (const nn::PrivateToken& t : out) {
    if (tokenizer_.end_of_text_id() && t.id == *tokenizer_.end_of_text_id()) {
      finish = "stop";
      break;
    }
    ids.push_back(t.id);
  }
  const double latency = now() - arrived;
  record("completions", "ok", latency);
  veil["latency_ms"] = latency * 1e3;
  json r = {{"id", "cmpl-" + random_hex(12)},
            {"object", "text_completion"},
            {"created", int64_t(std::time(nullptr))},
            {"model", o_.profile.model},
            {"choices", json::array({{{"index", 0}, {"text", tokenizer_.decode(ids)},
                                      {"finish_reason", finish}, {"logprobs", nullptr}}})},
            {"usage", {{"prompt_tokens", prompt.size()}, {"completion_tokens", ids.size()},
                       {"total_tokens", prompt.size() + ids.size()}}},
            {"veil", veil}};
  return {200, r};
}

std::optional<Gateway::Reply> Gateway::backend_for(const json& j, bool& tee) const {
  tee = false;
  if (!j.contains("backend")) return std::nullopt;
  if (j["backend"] == "mpc") return std::nullopt;
  if (j["backend"] != "tee")
    return error(400, "'backend' must be \"mpc\" (three-party groups) or \"tee\" (TEE workers)", "invalid_request_error");
  tee = true;
  return std::nullopt;
}

std::string Gateway::sign(const std::string& payload) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), o_.token_key.data(), int(o_.token_key.size()), reinterpret_cast<const unsigned char*>(payload.data()),
       payload.size(), mac, &len);
  return hex(mac, len);
}

Gateway::Reply Gateway::open_session(const std::string& body) {
  const double arrived = now();
  json j;
  if (auto bad = parse_body(body, j)) return record("sessions", "bad_request", 0), *bad;
  int64_t n = 0, m = 0;
  if (auto b = int_field(j, "prompt_tokens", -1, 1, config_.n_positions, n)) return record("sessions", "bad_request", 0), *b;
  if (auto b = int_field(j, "max_new_tokens", -1, 1, o_.max_new_tokens, m)) return record("sessions", "bad_request", 0), *b;
  if (n + m > config_.n_positions) {
    record("sessions", "bad_request", 0);
    return error(400, "prompt_tokens + max_new_tokens exceed the model's " + std::to_string(config_.n_positions) + " positions",
                 "invalid_request_error");
  }
  const CostProfile* profile = nullptr;
  if (auto b = profile_for(j, profile)) return record("sessions", "bad_request", 0), *b;
  bool tee = false;
  if (auto b = backend_for(j, tee)) return record("sessions", "bad_request", 0), *b;
  if (tee) return tee_open_session(n, m, arrived);
  const Cost cost = profile->predict({n, m});
  const double base = profile->seconds(cost);
  std::unique_lock lock(mu_);
  uint64_t ticket = 0;
  Waited w = admit(lock, ticket, base, std::nullopt, false, "sessions");
  if (!w.started) {
    record("sessions", w.error.status == 429 ? "refused" : "failed", 0);
    return w.error;
  }
  const int g = balancer_.group_of(ticket);
  metrics_.add("veil_gateway_party_bytes_total", {{"kind", "predicted"}}, cost.bytes);
  metrics_.add("veil_gateway_party_rounds_total", {{"kind", "predicted"}}, cost.rounds);
  const std::string sid = random_hex(16);
  const double ttl = double(o_.token_ttl.count());
  const int64_t expires = int64_t(std::time(nullptr)) + o_.token_ttl.count();
  const std::string payload = sid + "." + std::to_string(g) + "." + std::to_string(expires);
  // The group is held until the client reports the end, or until the session must have ended: the
  // parties give up after their timeout without a message, so a lease of a few predicted service
  // times plus that timeout frees a group whose client vanished.
  double scale = 1;
  for (const GroupSnapshot& gs : balancer_.snapshot(now()))
    if (gs.id == g) scale = gs.scale;
  const double lease = std::min(ttl, 4 * base * scale + std::chrono::duration<double>(o_.session_timeout).count());
  leases_[sid] = Lease{ticket, g, arrived, now(), now() + lease, -1};
  const GroupSpec& spec = groups_.at(g);
  json parties = json::array();
  for (const net::Endpoint& e : spec.parties) parties.push_back(e.str());
  return {200, json{{"session", sid}, {"token", payload + "." + sign(payload)}, {"expires", expires}, {"group", g},
                    {"parties", parties}, {"predicted_ms", w.predicted_seconds * 1e3}}};
}

Gateway::Reply Gateway::finish_session(const std::string& body) {
  json j;
  if (auto bad = parse_body(body, j)) return *bad;
  if (!j.contains("token") || !j["token"].is_string()) return error(400, "'token' must be a string", "invalid_request_error");
  if (!j.contains("ok") || !j["ok"].is_boolean()) return error(400, "'ok' must be true or false", "invalid_request_error");
  const std::string token = j["token"];
  const size_t dot = token.rfind('.');
  const std::string payload = token.substr(0, dot == std::string::npos ? 0 : dot);
  const std::string mac = dot == std::string::npos ? "" : token.substr(dot + 1);
  auto signed_by = [&](const std::string& want) {
    return mac.size() == want.size() && CRYPTO_memcmp(mac.data(), want.data(), want.size()) == 0;
  };
  if (!signed_by(sign(payload)) && !signed_by(nn::session_token_mac(o_.tee_token_key, payload)))
    return error(403, "the session token is not one this gateway issued", "invalid_token");
  const std::string sid = payload.substr(0, payload.find('.'));
  std::lock_guard lock(mu_);
  auto it = leases_.find(sid);
  if (it == leases_.end()) return error(404, "session " + sid + " has already ended or expired", "not_found");
  const Lease l = it->second;
  leases_.erase(it);
  const double t = now();
  const bool ok = j["ok"].get<bool>();
  const std::string why = j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : "client reported a failure";
  if (l.tee_worker >= 0) {
    tee_.finish(l.ticket, ok ? t - l.started : 0);
    if (ok) tee_latencies_.emplace_back(t, t - l.arrived);
    else fail_tee_worker(l.tee_worker, "session " + sid + ": " + why);
  } else if (ok) {
    balancer_.finish(l.ticket, t - l.started);
    latencies_.emplace_back(t, t - l.arrived);
  } else {
    balancer_.finish(l.ticket, 0);
    fail_group(l.group, "session " + sid + ": " + why);
  }
  record("sessions", ok ? "ok" : "failed", ok ? t - l.arrived : 0);
  cv_.notify_all();
  return {200, json{{"session", sid}, {"ended", true}}};
}

int Gateway::tick() {
  probe_tee_workers();
  std::vector<GroupSpec> probe = groups();
  std::map<int, bool> ready;
  for (const GroupSpec& g : probe) {
    if (g.health[0].empty()) continue;
    bool all = true;
    for (const std::string& h : g.health) {
      httplib::Client c("http://" + h);
      c.set_connection_timeout(1, 0);
      c.set_read_timeout(1, 0);
      auto res = c.Get("/readyz");
      all = all && res && res->status == 200;
    }
    ready[g.id] = all;
  }
  // A group ready for the first time runs one short session before it takes requests: its
  // observed ÷ predicted seconds is its speed scale (its links and machines, measured).
  for (auto& [id, ok] : ready) {
    if (!ok || calibrated_.count(id)) continue;
    const RequestShape shape{4, 2};
    nn::GenerateOptions opt;
    opt.max_new_tokens = shape.new_tokens;
    const std::vector<int32_t> prompt(size_t(shape.prompt_tokens), 0);
    GroupSpec spec;
    {
      std::lock_guard lock(mu_);
      if (!groups_.count(id)) continue;
      spec = groups_.at(id);
    }
    const double start = now();
    try {
      runner_(spec, prompt, opt);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "veil gateway: group %d failed its calibration session: %s\n", id, e.what());
      ok = false;
      continue;
    }
    const double scale = (now() - start) / o_.profile.seconds(shape);
    std::lock_guard lock(mu_);
    balancer_.calibrate(id, scale);
    calibrated_.insert(id);
    std::fprintf(stderr, "veil gateway: group %d calibrated: %.2f x the profile's speed\n", id, scale);
  }
  std::lock_guard lock(mu_);
  const double t = now();
  for (const auto& [id, ok] : ready)
    if (balancer_.has_group(id) && ok != balancer_.group_healthy(id)) {
      balancer_.set_healthy(id, ok);
      if (ok) unhealthy_since_.erase(id);
      std::fprintf(stderr, "veil gateway: group %d %s\n", id, ok ? "ready" : "not ready");
    }
  for (auto it = unhealthy_since_.begin(); it != unhealthy_since_.end();) {  // groups without health endpoints
    auto g = groups_.find(it->first);
    if (g != groups_.end() && g->second.health[0].empty() && t - it->second > 10) {
      balancer_.set_healthy(it->first, true);
      it = unhealthy_since_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = leases_.begin(); it != leases_.end();) {  // clients that never reported
    if (t > it->second.expires) {
      if (it->second.tee_worker >= 0)
        tee_.finish(it->second.ticket, 0);
      else
        balancer_.finish(it->second.ticket, 0);
      record("sessions", "failed", 0);
      it = leases_.erase(it);
    } else {
      ++it;
    }
  }
  while (!latencies_.empty() && latencies_.front().first < t - 30) latencies_.pop_front();
  AutoscalerInput in;
  in.now = t;
  in.backlog_seconds = balancer_.backlog_seconds(t);
  in.waiting = balancer_.waiting();
  in.refused_since_last = refused_since_tick_;
  refused_since_tick_ = 0;
  if (!latencies_.empty()) {
    std::vector<double> l;
    for (const auto& [at, s] : latencies_) l.push_back(s);
    std::sort(l.begin(), l.end());
    in.p99 = l[std::min(l.size() - 1, size_t(std::ceil(0.99 * double(l.size()))) - 1)];
    metrics_.set("veil_gateway_p99_seconds", {}, *in.p99);
  }
  const int desired = autoscaler_.tick(in);
  metrics_.set("veil_groups_desired", {}, desired);
  metrics_.set("veil_groups_needed", {}, autoscaler_.needed());
  metrics_.set("veil_groups", {}, double(groups_.size()));
  metrics_.set("veil_groups_healthy", {}, balancer_.healthy_groups());
  metrics_.set("veil_gateway_queue_depth", {}, balancer_.waiting());
  metrics_.set("veil_gateway_running", {}, balancer_.running());
  metrics_.set("veil_gateway_backlog_seconds", {}, in.backlog_seconds);
  tee_tick(t);
  cv_.notify_all();
  return desired;
}

json Gateway::status() {
  std::lock_guard lock(mu_);
  const double t = now();
  json groups = json::array();
  for (const GroupSnapshot& s : balancer_.snapshot(t)) {
    json g = {{"id", s.id}, {"healthy", s.healthy}, {"draining", s.draining}, {"waiting", s.waiting},
              {"running", s.running}, {"backlog_ms", s.backlog_seconds * 1e3}, {"speed_scale", s.scale},
              {"served", s.served}};
    if (auto it = groups_.find(s.id); it != groups_.end()) {
      g["parties"] = endpoints_str(it->second);
      g["pids"] = it->second.pids;
    }
    groups.push_back(g);
  }
  json decisions = json::array();
  for (const ScaleDecision& d : autoscaler_.decisions())
    decisions.push_back({{"at_s", d.at}, {"from", d.from}, {"to", d.to}, {"needed", d.needed}, {"reason", d.reason}});
  return {{"now_s", t},
          {"policy", policy_name(o_.balancer.policy)},
          {"slo_ms", o_.balancer.slo_seconds * 1e3},
          {"groups", groups},
          {"queue_depth", balancer_.waiting()},
          {"tee", tee_status(t)},
          {"autoscaler", {{"desired", autoscaler_.desired()}, {"needed", autoscaler_.needed()}, {"decisions", decisions}}}};
}

void Gateway::mount(httplib::Server& http) {
  auto send = [](httplib::Response& res, const Reply& r) {
    res.status = r.status;
    if (r.retry_after > 0) res.set_header("Retry-After", std::to_string(int64_t(r.retry_after)));
    res.set_content(r.body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n", "application/json");
  };
  http.Post("/v1/completions", [this, send](const httplib::Request& req, httplib::Response& res) { send(res, completion(req.body)); });
  http.Post("/v1/sessions", [this, send](const httplib::Request& req, httplib::Response& res) { send(res, open_session(req.body)); });
  http.Post("/v1/sessions/finish",
            [this, send](const httplib::Request& req, httplib::Response& res) { send(res, finish_session(req.body)); });
  http.Get("/v1/status", [this, send](const httplib::Request&, httplib::Response& res) { send(res, {200, status()}); });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.render(), "text/plain; version=0.0.4");
  });
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  http.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    int healthy;
    {
      std::lock_guard lock(mu_);
      healthy = balancer_.healthy_groups() + tee_.healthy_workers();
    }
    res.status = healthy > 0 ? 200 : 503;
    res.set_content(std::to_string(healthy) + " healthy groups and TEE workers\n", "text/plain");
  });
}

}  // namespace veil::serve
