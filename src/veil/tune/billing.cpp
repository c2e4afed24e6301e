#include "veil/tune/billing.h"

#include <cmath>
#include <stdexcept>

namespace veil::tune {

BillingRule parse_billing(const std::string& s) {
  BillingRule r;
  if (s == "per-second" || s == "per_second") r.mode = BillingMode::per_second;
  else if (s == "hourly") r.mode = BillingMode::hourly;
  else throw std::invalid_argument("billing must be \"per-second\" or \"hourly\", got \"" + s + "\"");
  return r;
}

PriceFn PriceFn::constant(double per_hour) {
  return {[per_hour](double) { return per_hour; }, [per_hour](double a, double b) { return per_hour * (b - a) / 3600.0; }};
}

double lease_cost(const BillingRule& rule, const PriceFn& price, double start, double end, bool revoked) {
  if (end < start) end = start;
  const double d = end - start;
  if (rule.mode == BillingMode::per_second) {
    double billed = std::max(std::ceil(d - 1e-9), rule.min_seconds);
    return price.dollars(start, start + billed);
  }
  // hourly
  double full = std::floor(d / 3600.0 + 1e-12);
  bool partial = d - full * 3600.0 > 1e-9;
  double hours = full + (partial && !revoked ? 1 : 0);
  if (d <= 0 && !revoked) hours = 1;  // a launch is at least one hour
  double sum = 0;
  for (int h = 0; h < int(hours); ++h) sum += price.at(start + h * 3600.0);
  return sum;
}

}  // namespace veil::tune
