#include "veil/tune/cross_trial.h"

#include <cmath>

namespace veil::tune {

FinalMap fit_final_map(const std::vector<double>& x, const std::vector<double>& y, size_t min_for_slope) {
  FinalMap m;
  const size_t n = std::min(x.size(), y.size());
  if (n < 2) return m;
  double xb = 0, yb = 0;
  for (size_t i = 0; i < n; ++i) xb += x[i], yb += y[i];
  xb /= double(n), yb /= double(n);
  double sxx = 0, sxy = 0;
  for (size_t i = 0; i < n; ++i) sxx += (x[i] - xb) * (x[i] - xb), sxy += (x[i] - xb) * (y[i] - yb);
  const bool slope = n >= min_for_slope && n >= 3 && sxx > 1e-12 * (1 + xb * xb);
  m.b = slope ? sxy / sxx : 1.0;
  m.a = yb - m.b * xb;
  m.loo.resize(n);
  for (size_t i = 0; i < n; ++i) {
    double r = y[i] - m(x[i]);
    // Leverage of point i: with a fitted slope 1/n + (x_i - xb)^2 / Sxx, with a fixed one 1/n.
    double h = 1.0 / double(n) + (slope ? (x[i] - xb) * (x[i] - xb) / sxx : 0.0);
    m.loo[i] = h < 1 - 1e-9 ? r / (1 - h) : r;
  }
  m.ok = true;
  return m;
}

}  // namespace veil::tune
