#include "veil/serve/tee_fleet_sim.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>

namespace veil::serve {

namespace {

// Uniform in [0, 1) from the top 53 bits (std::*_distribution differ between standard libraries).
double unit(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1p-53; }

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = size_t(std::ceil(q * double(v.size())));  // nearest rank
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

}  // namespace

std::vector<TeeRequest> tee_request_stream(const TeeSimOptions& o) {
  if (o.rate <= 0 || o.duration <= 0) throw std::invalid_argument("rate and duration must be positive");
  if (o.min_context < 1 || o.max_context < o.min_context)
    throw std::invalid_argument("contexts must satisfy 1 <= min_context <= max_context");
  std::mt19937_64 rng(o.seed);
  std::vector<TeeRequest> out;
  double t = 0;
  while (true) {
    t += -std::log(1 - unit(rng)) / o.rate;
    if (t >= o.duration) break;
    const int64_t span = o.max_context - o.min_context + 1;
    const int64_t context = o.min_context + int64_t(rng() % uint64_t(span));
    out.push_back({t, context, o.service_base + o.service_per_token * double(context), enclave_bytes(o.model, context)});
  }
  return out;
}

TeeSimReport run_tee_sim(const TeeSimOptions& o, TeePlacer placer, const std::vector<TeeRequest>& requests) {
  if (o.hosts < 1 || o.slots < 1 || o.epc_bytes <= 0)
    throw std::invalid_argument("the fleet needs at least one host with a slot and positive EPC");
  std::vector<TeeHostState> hosts(size_t(o.hosts));
  for (TeeHostState& h : hosts) h.spec = {o.epc_bytes, o.slots};
  std::vector<bool> used(hosts.size(), false);
  std::map<uint64_t, double> arrival;  // running or waiting job -> its arrival
  AutoscalerOptions ao;
  ao.min_groups = 1;
  ao.max_groups = 1024;  // report what the load needs, not what the fleet has
  ao.slo_seconds = o.slo_seconds;
  TeeAutoscaler scaler(ao);

  TeeSimReport rep;
  rep.placer = tee_placer_name(placer);
  rep.requests = requests.size();
  std::vector<double> latencies;
  double overcommitted_time = 0, now = 0, next_tick = 1, last_finish = 0;
  size_t next = 0, rr = 0;
  auto pending = [&] {
    for (const TeeHostState& h : hosts)
      if (!h.running.empty() || !h.waiting.empty()) return true;
    return false;
  };
  while (next < requests.size() || pending()) {
    // The next event: a finish (at the current paging rates), an arrival, or an autoscaler tick.
    double t_finish = std::numeric_limits<double>::infinity();
    size_t fh = 0, fj = 0;
    for (size_t h = 0; h < hosts.size(); ++h) {
      const double pen = paging_penalty(hosts[h].overcommit_ratio(), o.paging_slowdown);
      for (size_t j = 0; j < hosts[h].running.size(); ++j) {
        const double f = now + hosts[h].running[j].work_seconds * pen;
        if (f < t_finish) t_finish = f, fh = h, fj = j;
      }
    }
    const double t_arrival = next < requests.size() ? requests[next].arrival : std::numeric_limits<double>::infinity();
    const double t = std::min({t_finish, t_arrival, next_tick});
    const double dt = t - now;
    for (TeeHostState& h : hosts) {
      const double pen = paging_penalty(h.overcommit_ratio(), o.paging_slowdown);
      for (TeeJob& j : h.running) j.work_seconds -= dt / pen;
      if (h.committed() > h.spec.epc_bytes) overcommitted_time += dt;
    }
    now = t;
    if (t == t_finish) {
      TeeHostState& h = hosts[fh];
      const uint64_t id = h.running[fj].id;
      h.running.erase(h.running.begin() + ptrdiff_t(fj));
      latencies.push_back(now - arrival.at(id));
      arrival.erase(id);
      last_finish = now;
      ++rep.completed;
    } else if (t == t_arrival) {
      const TeeRequest& r = requests[next];
      const TeeJob job{next, r.enclave_bytes, r.service_seconds};
      ++next;
      size_t waiting = 0;
      for (const TeeHostState& h : hosts) waiting += h.waiting.size();
      const TeePlacement p =
          waiting >= size_t(o.max_queue) ? TeePlacement{} : place_tee_job(placer, hosts, job, rr);
      if (p.host) {
        hosts[size_t(*p.host)].waiting.push_back(job);
        arrival[job.id] = r.arrival;
      } else {
        ++rep.refused;
      }
    } else {
      AutoscalerInput in;
      in.now = now;
      int64_t demand = 0;
      for (const TeeHostState& h : hosts) {
        double work = 0;
        for (const TeeJob& j : h.running) work += j.work_seconds, demand += j.enclave_bytes;
        for (const TeeJob& j : h.waiting) work += j.work_seconds, demand += j.enclave_bytes;
        in.backlog_seconds += work / double(h.spec.slots);
      }
      const TeeScale s = scaler.tick(in, demand, o.epc_bytes);
      rep.peak_hosts_by_epc = std::max(rep.peak_hosts_by_epc, s.by_epc);
      rep.peak_hosts_by_latency = std::max(rep.peak_hosts_by_latency, s.by_latency);
      next_tick += 1;
    }
    for (size_t h = 0; h < hosts.size(); ++h) {
      TeeHostState& host = hosts[h];
      while (!host.waiting.empty() && can_start(host, host.waiting.front(), placer)) {
        host.running.push_back(host.waiting.front());
        host.waiting.pop_front();
        used[h] = true;
      }
      rep.max_overcommit = std::max(rep.max_overcommit, host.overcommit_ratio());
    }
  }
  rep.throughput = last_finish > 0 ? double(rep.completed) / last_finish : 0;
  rep.p50 = percentile(latencies, 0.5);
  rep.p99 = percentile(latencies, 0.99);
  rep.hosts_used = int(std::count(used.begin(), used.end(), true));
  rep.overcommitted_fraction = now > 0 ? overcommitted_time / (now * double(hosts.size())) : 0;
  return rep;
}

}  // namespace veil::serve
