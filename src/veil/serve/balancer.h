// The gateway's placement of requests on party groups. A group serves one session at a time (its
// three parties run one MPC session together), so each group has a FIFO of placed requests; the
// balancer decides which group's FIFO a request joins, or refuses it.
//
//   slo                place where the predicted completion (the group's predicted remaining work
//                      plus this request's service time on it) is earliest. If even that misses
//                      headroom · SLO (predictions are averages: the headroom keeps the p99 in), the
//                      request is still queued while fewer than `late_queue` requests predicted
//                      late are waiting, and refused otherwise (HTTP 429, Retry-After: when the
//                      best group's backlog will have drained enough to meet it).
//   round-robin        the next healthy group in turn.
//   least-connections  the healthy group with the fewest placed (waiting + running) requests.
//
// Every policy refuses when `max_queue` requests are waiting (not running) in all groups.
// A request's service time on group g is the profile's prediction times g's speed scale: the
// observed / predicted seconds of g's calibration (or first) session, then an exponential
// average over its sessions.
// Not thread-safe (the gateway holds a lock); time is the caller's clock, in seconds.
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace veil::serve {

enum class Policy { slo, round_robin, least_connections };
Policy parse_policy(const std::string& s);  // throws std::invalid_argument listing the policies
std::string policy_name(Policy p);

struct BalancerOptions {
  Policy policy = Policy::slo;
  double slo_seconds = 2.0;   // the latency objective (the gateway's p99 target)
  double headroom = 0.8;      // slo: a request is on time when predicted within headroom · SLO
  int max_queue = 32;         // waiting requests, all groups together
  int late_queue = 2;         // slo: waiting requests predicted to miss the SLO
  double scale_weight = 0.3;  // weight of the newest observation in a group's speed scale
};

struct Placement {
  bool placed = false;
  uint64_t ticket = 0;
  int group = -1;
  double predicted_seconds = 0;    // from now to completion (wait + service)
  double service_seconds = 0;      // on the chosen group
  bool late = false;               // placed although predicted to miss the SLO
  double retry_after_seconds = 0;  // refused: when to try again
  std::string reason;              // refused: why
};

struct GroupSnapshot {
  int id;
  bool healthy, draining;
  int waiting, running;
  double backlog_seconds;  // predicted remaining work
  double scale;
  uint64_t served;
};

class Balancer {
 public:
  explicit Balancer(BalancerOptions o) : o_(o) {}

  void add_group(int id);  // healthy, scale 1
  // No new placements; its requests are still served. remove_group once idle.
  void drain_group(int id);
  void remove_group(int id);
  void set_healthy(int id, bool healthy);
  // Sets a group's speed scale from a measured session (observed ÷ predicted seconds).
  void calibrate(int id, double scale);
  bool has_group(int id) const { return groups_.count(id) != 0; }

  // Places a request of `base_seconds` (the profile's prediction); `exclude` is a group not to
  // use (the one a retried request failed on). A retry (`retry` true) skips the queue bounds.
  Placement place(double base_seconds, double now, std::optional<int> exclude = std::nullopt, bool retry = false);
  // True (and the request is running from now) when `ticket` heads its healthy group's FIFO and
  // nothing runs there. (A request waiting on a group that failed must be placed again: its
  // parties may still accept connections while they relink, and would hold it until a timeout.)
  bool try_start(uint64_t ticket, double now);
  // Ends a running request; `observed_seconds` > 0 updates the group's speed scale.
  void finish(uint64_t ticket, double observed_seconds);
  // Removes a waiting request (its group went unhealthy, its client gave up).
  void cancel(uint64_t ticket);
  // The group of a placed request, -1 once finished or cancelled.
  int group_of(uint64_t ticket) const;
  bool group_healthy(int id) const;

  std::vector<GroupSnapshot> snapshot(double now) const;
  double backlog_seconds(double now) const;  // all groups
  int waiting() const;
  int running() const;
  int healthy_groups() const;
  const BalancerOptions& options() const { return o_; }

 private:
  struct Item {
    uint64_t ticket;
    double base, service;
    bool late;
    double started = -1;  // -1: waiting
  };
  struct Group {
    bool healthy = true, draining = false;
    double scale = 1;
    bool measured = false;  // scale comes from an observation
    uint64_t served = 0;
    std::deque<Item> fifo;  // the running request, if any, is first
  };
  double backlog(const Group& g, double now) const;
  bool usable(const Group& g) const { return g.healthy && !g.draining; }
  int waiting_late() const;

  BalancerOptions o_;
  std::map<int, Group> groups_;
  std::map<uint64_t, int> where_;
  uint64_t next_ticket_ = 1;
  size_t rr_ = 0;
};

}  // namespace veil::serve
