#include "veil/serve/autoscaler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace veil::serve {

Autoscaler::Autoscaler(AutoscalerOptions o) : o_(o), desired_(o.min_groups), needed_(o.min_groups) {
  if (o.min_groups < 0 || o.max_groups < o.min_groups || o.max_groups < 1)
    throw std::invalid_argument("autoscaler: need 0 <= min_groups <= max_groups and max_groups >= 1");
  if (!(o.slo_seconds > 0) || !(o.target_utilization > 0) || o.target_utilization > 1)
    throw std::invalid_argument("autoscaler: the SLO must be > 0 and the target utilization in (0, 1]");
}

int Autoscaler::tick(const AutoscalerInput& in) {
  int need = int(std::ceil(in.backlog_seconds / (o_.slo_seconds * o_.target_utilization) - 1e-9));
  std::string why = "predicted backlog " + std::to_string(int(in.backlog_seconds * 1000)) + " ms";
  const bool pressure = in.waiting > 0 || in.refused_since_last > 0;
  if (in.p99 && *in.p99 > o_.slo_seconds && pressure && need <= desired_) {
    need = desired_ + 1;
    char buf[96];
    std::snprintf(buf, sizeof buf, "observed p99 %.0f ms > SLO %.0f ms", *in.p99 * 1000, o_.slo_seconds * 1000);
    why = buf;
  }
  needed_ = std::clamp(need, o_.min_groups, o_.max_groups);
  if (needed_ > desired_) {
    below_since_.reset();
    if (!above_since_) above_since_ = in.now;
    if (in.now - *above_since_ >= o_.scale_up_window) {
      decisions_.push_back({in.now, desired_, needed_, needed_, "scale up: " + why});
      desired_ = needed_;
      above_since_.reset();
    }
  } else if (needed_ < desired_) {
    above_since_.reset();
    if (!below_since_) below_since_ = in.now;
    if (in.now - *below_since_ >= o_.scale_down_window) {
      decisions_.push_back({in.now, desired_, desired_ - 1, needed_, "scale down: " + why});
      --desired_;
      below_since_ = in.now;  // the next step down needs another full window
    }
  } else {
    above_since_.reset(), below_since_.reset();
  }
  return desired_;
}

}  // namespace veil::serve
