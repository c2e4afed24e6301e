// Billing of one instance lease, as a setting:
//  * per_second: charged per started second with a minimum (AWS Linux since 2017: 60 s);
//    a time-varying spot price is integrated over the lease.
//  * hourly: each started hour is charged at the price at the hour's start; when the
//    provider revokes a spot instance its last partial hour is not charged (the pre-2017
//    AWS spot rule SpotTune exploits); an instance the user stops pays its partial hour.
#pragma once
#include <functional>
#include <string>

namespace veil::tune {

enum class BillingMode { per_second, hourly };

struct BillingRule {
  BillingMode mode = BillingMode::per_second;
  double min_seconds = 60;  // per_second only
  std::string name() const { return mode == BillingMode::hourly ? "hourly" : "per-second"; }
};

BillingRule parse_billing(const std::string& s);  // "per-second" or "hourly"; throws otherwise

// Price of the instance in dollars per hour as a function of time (seconds), and the
// dollars of running over [t0, t1) at that price (used by per-second billing).
struct PriceFn {
  std::function<double(double)> at;
  std::function<double(double, double)> dollars;
  static PriceFn constant(double per_hour);
};

// Cost in dollars of a lease [start, end); `revoked` = ended by the provider.
double lease_cost(const BillingRule& rule, const PriceFn& price, double start, double end, bool revoked);

}  // namespace veil::tune
