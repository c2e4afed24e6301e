// The cross-trial predictor of SpotTune's trend prediction: a straight-line map from a
// curve's value at epoch k to its final value, fitted by least squares on the trials that
// have finished (their value at epoch k against their final), with leave-one-out residuals
// as the honest measure of its error on a curve it was not fitted on.
//
// With fewer than `min_for_slope` references, or references that all share one value at
// epoch k, the slope is fixed at 1: final = value at k + mean remaining change.
#pragma once
#include <cstddef>
#include <vector>

namespace veil::tune {

struct FinalMap {
  double a = 0, b = 1;              // final ~ a + b * value_at_k
  std::vector<double> loo;          // leave-one-out residuals (final - prediction without it)
  bool ok = false;                  // at least 2 references
  double operator()(double x) const { return a + b * x; }
};

FinalMap fit_final_map(const std::vector<double>& at_k, const std::vector<double>& finals, size_t min_for_slope = 4);

}  // namespace veil::tune
