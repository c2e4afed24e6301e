#include "veil/serve/balancer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace veil::serve {

Policy parse_policy(const std::string& s) {
  if (s == "slo") return Policy::slo;
  if (s == "round-robin") return Policy::round_robin;
  if (s == "least-connections") return Policy::least_connections;
  throw std::invalid_argument("unknown balancer policy '" + s + "' (slo, round-robin, least-connections)");
}

std::string policy_name(Policy p) {
  switch (p) {
    case Policy::slo: return "slo";
    case Policy::round_robin: return "round-robin";
    case Policy::least_connections: return "least-connections";
  }
  return "?";
}

void Balancer::add_group(int id) { groups_.try_emplace(id); }

void Balancer::drain_group(int id) {
  if (auto it = groups_.find(id); it != groups_.end()) it->second.draining = true;
}

void Balancer::remove_group(int id) {
  auto it = groups_.find(id);
  if (it == groups_.end()) return;
  for (const Item& i : it->second.fifo) where_.erase(i.ticket);
  groups_.erase(it);
}

void Balancer::set_healthy(int id, bool healthy) {
  if (auto it = groups_.find(id); it != groups_.end()) it->second.healthy = healthy;
}

void Balancer::calibrate(int id, double scale) {
  if (auto it = groups_.find(id); it != groups_.end() && scale > 0) it->second.scale = scale, it->second.measured = true;
}

bool Balancer::group_healthy(int id) const {
  auto it = groups_.find(id);
  return it != groups_.end() && it->second.healthy;
}

double Balancer::backlog(const Group& g, double now) const {
  double s = 0;
  // a running request that overran its prediction still has some left: a tenth of it, say
  for (const Item& i : g.fifo) s += i.started < 0 ? i.service : std::max(0.1 * i.service, i.started + i.service - now);
  return s;
}

int Balancer::waiting() const {
  int n = 0;
  for (const auto& [id, g] : groups_)
    for (const Item& i : g.fifo) n += i.started < 0;
  return n;
}

int Balancer::waiting_late() const {
  int n = 0;
  for (const auto& [id, g] : groups_)
    for (const Item& i : g.fifo) n += i.started < 0 && i.late;
  return n;
}

int Balancer::running() const {
  int n = 0;
  for (const auto& [id, g] : groups_) n += !g.fifo.empty() && g.fifo.front().started >= 0;
  return n;
}

int Balancer::healthy_groups() const {
  int n = 0;
  for (const auto& [id, g] : groups_) n += usable(g);
  return n;
}

double Balancer::backlog_seconds(double now) const {
  double s = 0;
  for (const auto& [id, g] : groups_) s += backlog(g, now);
  return s;
}

Placement Balancer::place(double base_seconds, double now, std::optional<int> exclude, bool retry) {
  Placement p;
  std::vector<int> candidates;
  for (const auto& [id, g] : groups_)
    if (usable(g) && id != exclude) candidates.push_back(id);
  if (candidates.empty()) {
    p.reason = "no healthy party group";
    p.retry_after_seconds = 1;
    return p;
  }
  if (!retry && waiting() >= o_.max_queue) {
    p.reason = "the queue is full (" + std::to_string(o_.max_queue) + " requests waiting)";
    p.retry_after_seconds = std::max(1.0, backlog_seconds(now) / double(candidates.size()));
    return p;
  }
  int chosen = -1;
  double best = std::numeric_limits<double>::infinity();
  for (int id : candidates) {  // earliest predicted completion (also reported for the other policies)
    const Group& g = groups_.at(id);
    const double done = backlog(g, now) + base_seconds * g.scale;
    if (done < best) best = done, chosen = id;
  }
  const double on_time = o_.slo_seconds * o_.headroom;
  const bool late = best > on_time;
  if (o_.policy == Policy::slo) {
    if (late && !retry && waiting_late() >= o_.late_queue) {
      p.reason = "no party group can finish it within the SLO (" + std::to_string(int(o_.slo_seconds * 1000)) +
                 " ms, " + std::to_string(int(on_time * 1000)) + " ms with headroom; predicted " +
                 std::to_string(int(best * 1000)) + " ms) and " + std::to_string(o_.late_queue) +
                 " late requests are already queued";
      p.retry_after_seconds = std::max(1.0, best - on_time);
      return p;
    }
  } else if (o_.policy == Policy::round_robin) {
    chosen = candidates[rr_++ % candidates.size()];
  } else {
    size_t fewest = std::numeric_limits<size_t>::max();
    for (int id : candidates)
      if (groups_.at(id).fifo.size() < fewest) fewest = groups_.at(id).fifo.size(), chosen = id;
  }
  Group& g = groups_.at(chosen);
  p.placed = true;
  p.ticket = next_ticket_++;
  p.group = chosen;
  p.service_seconds = base_seconds * g.scale;
  p.predicted_seconds = backlog(g, now) + p.service_seconds;
  p.late = p.predicted_seconds > on_time;
  g.fifo.push_back(Item{p.ticket, base_seconds, p.service_seconds, p.late});
  where_[p.ticket] = chosen;
  return p;
}

bool Balancer::try_start(uint64_t ticket, double now) {
  auto w = where_.find(ticket);
  if (w == where_.end()) return false;
  Group& g = groups_.at(w->second);
  if (!g.healthy || g.fifo.empty() || g.fifo.front().ticket != ticket) return false;
  if (g.fifo.front().started < 0) g.fifo.front().started = now;
  return true;
}

void Balancer::finish(uint64_t ticket, double observed_seconds) {
  auto w = where_.find(ticket);
  if (w == where_.end()) return;
  Group& g = groups_.at(w->second);
  auto it = std::find_if(g.fifo.begin(), g.fifo.end(), [&](const Item& i) { return i.ticket == ticket; });
  if (it != g.fifo.end()) {
    if (observed_seconds > 0 && it->base > 0) {
      const double ratio = observed_seconds / it->base;
      // the first observation replaces the profile's speed; later ones are averaged in
      g.scale = g.measured ? (1 - o_.scale_weight) * g.scale + o_.scale_weight * ratio : ratio;
      g.measured = true;
      ++g.served;
    }
    g.fifo.erase(it);
  }
  where_.erase(w);
}

void Balancer::cancel(uint64_t ticket) { finish(ticket, 0); }

int Balancer::group_of(uint64_t ticket) const {
  auto w = where_.find(ticket);
  return w == where_.end() ? -1 : w->second;
}

std::vector<GroupSnapshot> Balancer::snapshot(double now) const {
  std::vector<GroupSnapshot> out;
  for (const auto& [id, g] : groups_) {
    int waiting = 0, running = 0;
    for (const Item& i : g.fifo) (i.started < 0 ? waiting : running)++;
    out.push_back({id, g.healthy, g.draining, waiting, running, backlog(g, now), g.scale, g.served});
  }
  return out;
}

}  // namespace veil::serve
