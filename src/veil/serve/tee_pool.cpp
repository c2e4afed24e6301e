#include "veil/serve/tee_pool.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace veil::serve {

TeeFleetConfig parse_tee_config(const std::string& json_text, const std::string& source) {
  using json = nlohmann::json;
  const json j = json::parse(json_text, nullptr, false);
  auto fail = [&](const std::string& where, const std::string& what) {
    throw std::invalid_argument(source + ": " + where + ": " + what);
  };
  if (!j.is_object() || !j.contains("hosts") || !j["hosts"].is_array() || !j.contains("workers") || !j["workers"].is_array())
    fail("the top level", "expected {\"hosts\": [...], \"workers\": [...]}");
  TeeFleetConfig c;
  TeePool check({});  // the pool's own checks: names, EPC, slots, hosts of workers
  for (size_t i = 0; i < j["hosts"].size(); ++i) {
    const json& h = j["hosts"][i];
    const std::string where = "hosts[" + std::to_string(i) + "]";
    TeeHostDecl d;
    if (!h.is_object() || !h.contains("name") || !h["name"].is_string()) fail(where, "needs \"name\"");
    d.name = h["name"];
    if (h.contains("epc_bytes") == h.contains("epc_mb")) fail(where, "needs one of \"epc_bytes\" and \"epc_mb\"");
    const json& epc = h.contains("epc_bytes") ? h["epc_bytes"] : h["epc_mb"];
    if (!epc.is_number() || epc.get<double>() <= 0) fail(where, "its usable EPC must be a positive number");
    d.epc_bytes = h.contains("epc_bytes") ? epc.get<int64_t>() : int64_t(epc.get<double>() * 1024 * 1024);
    if (h.contains("slots") && (!h["slots"].is_number_integer() || h["slots"].get<int>() < 1))
      fail(where, "\"slots\" must be a positive integer");
    d.slots = h.value("slots", 1);
    try {
      check.add_host(d);
    } catch (const std::invalid_argument& e) {
      fail(where, e.what());
    }
    c.hosts.push_back(d);
  }
  for (size_t i = 0; i < j["workers"].size(); ++i) {
    const json& w = j["workers"][i];
    const std::string where = "workers[" + std::to_string(i) + "]";
    if (!w.is_object() || !w.contains("host") || !w["host"].is_string() || !w.contains("endpoint") || !w["endpoint"].is_string())
      fail(where, "needs \"host\" and \"endpoint\" (host:port)");
    TeeWorkerSpec s;
    s.id = int(i);
    s.host = w["host"];
    try {
      s.endpoint = net::parse_endpoint(w["endpoint"].get<std::string>());
      if (w.contains("health")) s.health = net::parse_endpoint(w["health"].get<std::string>()).str();
      check.add_worker(s);
    } catch (const std::exception& e) {
      fail(where, e.what());
    }
    c.workers.push_back(s);
  }
  if (c.workers.empty()) fail("workers", "no TEE worker");
  return c;
}

void TeePool::add_host(const TeeHostDecl& h) {
  if (h.name.empty()) throw std::invalid_argument("a TEE host needs a name");
  if (hosts_.count(h.name)) throw std::invalid_argument("TEE host '" + h.name + "' is declared twice");
  if (h.epc_bytes < 1) throw std::invalid_argument("TEE host '" + h.name + "' needs a positive usable EPC");
  if (h.slots < 1) throw std::invalid_argument("TEE host '" + h.name + "' needs at least one slot");
  hosts_[h.name].decl = h;
}

void TeePool::add_worker(const TeeWorkerSpec& w) {
  if (workers_.count(w.id)) throw std::invalid_argument("TEE worker " + std::to_string(w.id) + " is declared twice");
  if (!hosts_.count(w.host))
    throw std::invalid_argument("TEE worker " + std::to_string(w.id) + " names host '" + w.host + "', which is not declared");
  workers_[w.id] = Worker{w, w.health.empty(), 0};
}

void TeePool::set_healthy(int worker, bool healthy) { workers_.at(worker).healthy = healthy; }
bool TeePool::healthy(int worker) const { return workers_.at(worker).healthy; }

std::vector<TeeWorkerSpec> TeePool::workers() const {
  std::vector<TeeWorkerSpec> out;
  for (const auto& [id, w] : workers_) out.push_back(w.spec);
  return out;
}

int TeePool::healthy_on(const std::string& host) const {
  int n = 0;
  for (const auto& [id, w] : workers_) n += w.healthy && w.spec.host == host;
  return n;
}

TeeHostState TeePool::view(const Host& h, double now) const {
  TeeHostState s;
  s.spec = {h.decl.epc_bytes, std::min(h.decl.slots, healthy_on(h.decl.name))};
  for (const Job& j : h.running) {
    TeeJob r = j.job;
    r.work_seconds = std::max(0.0, r.work_seconds - (now - j.started));
    s.running.push_back(r);
  }
  for (const Job& j : h.waiting) s.waiting.push_back(j.job);
  return s;
}

TeePlaced TeePool::place(int64_t enclave_bytes, int64_t tokens, double now, bool retry) {
  TeePlaced out;
  std::vector<TeeHostState> views;
  std::vector<Host*> usable;
  for (auto& [name, h] : hosts_)
    if (healthy_on(name) > 0) views.push_back(view(h, now)), usable.push_back(&h);
  if (views.empty()) {
    out.reason = "no healthy TEE worker";
    return out;
  }
  const TeeJob job{next_ticket_, enclave_bytes, double(tokens) * spt_};
  // What a request would wait under the EPC limit (epc-aware) or under the slots alone (blind).
  auto predicted = [&](TeeHostState v) {
    if (o_.placer != TeePlacer::epc_aware) v.spec.epc_bytes = std::numeric_limits<int64_t>::max() / 4;
    return predicted_completion(v, job);
  };
  if (!retry && waiting() >= o_.max_queue) {
    double soonest = std::numeric_limits<double>::infinity();
    for (const TeeHostState& v : views) soonest = std::min(soonest, predicted(v) - job.work_seconds);
    out.reason = std::to_string(waiting()) + " requests are waiting for TEE workers (--max-queue)";
    out.retry_after_seconds = std::isfinite(soonest) ? std::max(1.0, soonest) : 1.0;
    return out;
  }
  const TeePlacement p = place_tee_job(o_.placer, views, job, rr_);
  if (!p.host) {
    out.never = true;
    out.reason = p.reason;
    return out;
  }
  Host& h = *usable[size_t(*p.host)];
  out.placed = true;
  out.ticket = next_ticket_++;
  out.host = h.decl.name;
  out.predicted_seconds = predicted(views[size_t(*p.host)]);
  h.waiting.push_back(Job{job, tokens});
  where_[out.ticket] = h.decl.name;
  return out;
}

int TeePool::try_start(uint64_t ticket, double now) {
  auto at = where_.find(ticket);
  if (at == where_.end()) return -2;
  Host& h = hosts_.at(at->second);
  for (const Job& j : h.running)
    if (j.job.id == ticket) return j.worker;
  if (healthy_on(h.decl.name) == 0) {
    cancel(ticket);
    return -2;
  }
  if (h.waiting.empty() || h.waiting.front().job.id != ticket) return -1;
  if (!can_start(view(h, now), h.waiting.front().job, o_.placer)) return -1;
  for (auto& [id, w] : workers_)
    if (w.healthy && w.busy == 0 && w.spec.host == h.decl.name) {
      Job j = h.waiting.front();
      h.waiting.pop_front();
      j.started = now;
      j.worker = id;
      w.busy = ticket;
      h.running.push_back(j);
      int64_t committed = 0;
      for (const Job& r : h.running) committed += r.job.enclave_bytes;
      h.peak_overcommit = std::max(h.peak_overcommit, double(committed) / double(h.decl.epc_bytes));
      return id;
    }
  return -1;
}

void TeePool::finish(uint64_t ticket, double observed_seconds) {
  auto at = where_.find(ticket);
  if (at == where_.end()) return;
  Host& h = hosts_.at(at->second);
  where_.erase(at);
  for (auto it = h.running.begin(); it != h.running.end(); ++it)
    if (it->job.id == ticket) {
      if (auto w = workers_.find(it->worker); w != workers_.end() && w->second.busy == ticket) w->second.busy = 0;
      if (observed_seconds > 0 && it->tokens > 0)
        spt_ = (1 - o_.scale_weight) * spt_ + o_.scale_weight * observed_seconds / double(it->tokens);
      h.running.erase(it);
      return;
    }
  h.waiting.erase(std::remove_if(h.waiting.begin(), h.waiting.end(), [&](const Job& j) { return j.job.id == ticket; }),
                  h.waiting.end());
}

void TeePool::cancel(uint64_t ticket) { finish(ticket, 0); }

std::vector<TeeHostSnapshot> TeePool::snapshot() const {
  std::vector<TeeHostSnapshot> out;
  for (const auto& [name, h] : hosts_) {
    TeeHostSnapshot s{name, h.decl.epc_bytes, 0, h.decl.slots, healthy_on(name), int(h.running.size()),
                      int(h.waiting.size()), h.peak_overcommit};
    for (const Job& j : h.running) s.committed_bytes += j.job.enclave_bytes;
    out.push_back(s);
  }
  return out;
}

double TeePool::backlog_seconds(double now) const {
  double s = 0;
  for (const auto& [name, h] : hosts_) {
    for (const Job& j : h.running) s += std::max(0.0, j.job.work_seconds - (now - j.started));
    for (const Job& j : h.waiting) s += j.job.work_seconds;
  }
  return s;
}

int64_t TeePool::epc_demand_bytes() const {
  int64_t b = 0;
  for (const auto& [name, h] : hosts_) {
    for (const Job& j : h.running) b += j.job.enclave_bytes;
    for (const Job& j : h.waiting) b += j.job.enclave_bytes;
  }
  return b;
}

double TeePool::host_overcommit(const std::string& host) const {
  const Host& h = hosts_.at(host);
  int64_t committed = 0;
  for (const Job& j : h.running) committed += j.job.enclave_bytes;
  return double(committed) / double(h.decl.epc_bytes);
}

int64_t TeePool::largest_host_epc() const {
  int64_t m = 0;
  for (const auto& [name, h] : hosts_) m = std::max(m, h.decl.epc_bytes);
  return m;
}

int TeePool::waiting() const {
  int n = 0;
  for (const auto& [name, h] : hosts_) n += int(h.waiting.size());
  return n;
}

int TeePool::running() const {
  int n = 0;
  for (const auto& [name, h] : hosts_) n += int(h.running.size());
  return n;
}

int TeePool::healthy_workers() const {
  int n = 0;
  for (const auto& [id, w] : workers_) n += w.healthy;
  return n;
}

}  // namespace veil::serve
