// How many party groups the gateway needs to hold its SLO, from the predicted work in the queues
// and the observed p99 latency, with hysteresis:
//   needed  = ceil(predicted backlog seconds / (SLO · target_utilization)), at least min_groups;
//             one more than now while the observed p99 exceeds the SLO and requests are waiting
//             or were refused since the last tick; at most max_groups.
//   desired = needed once `needed > desired` has held for scale_up_window (all at once), or
//             desired - 1 once `needed < desired` has held for scale_down_window.
// Locally the gateway starts and stops groups to match `desired`; on Kubernetes the metric
// veil_groups_desired drives an HPA or KEDA. Time is the caller's clock, in seconds.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace veil::serve {

struct AutoscalerOptions {
  int min_groups = 1, max_groups = 4;
  double slo_seconds = 2.0;
  double target_utilization = 0.7;
  double scale_up_window = 3.0;     // seconds
  double scale_down_window = 30.0;  // seconds
};

struct AutoscalerInput {
  double now = 0;
  double backlog_seconds = 0;     // predicted remaining work, all groups
  std::optional<double> p99;      // observed over the recent window, if any request finished
  int waiting = 0;                // requests waiting in the queues
  uint64_t refused_since_last = 0;
};

struct ScaleDecision {
  double at;
  int from, to;
  int needed;
  std::string reason;
};

class Autoscaler {
 public:
  explicit Autoscaler(AutoscalerOptions o);
  // Updates and returns `desired`; a change is appended to decisions().
  int tick(const AutoscalerInput& in);
  int desired() const { return desired_; }
  int needed() const { return needed_; }
  const std::vector<ScaleDecision>& decisions() const { return decisions_; }
  const AutoscalerOptions& options() const { return o_; }

 private:
  AutoscalerOptions o_;
  int desired_, needed_;
  std::optional<double> above_since_, below_since_;
  std::vector<ScaleDecision> decisions_;
};

}  // namespace veil::serve
