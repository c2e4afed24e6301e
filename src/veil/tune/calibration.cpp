#include "veil/tune/calibration.h"

#include <algorithm>
#include <cmath>

namespace veil::tune {

namespace {

// Continued fraction of the regularised incomplete beta function (Lentz's method).
double beta_cf(double a, double b, double x) {
  const double tiny = 1e-300;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::abs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 300; ++m) {
    double m2 = 2 * m, aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d, c = 1 + aa / c;
    if (std::abs(d) < tiny) d = tiny;
    if (std::abs(c) < tiny) c = tiny;
    d = 1 / d, h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d, c = 1 + aa / c;
    if (std::abs(d) < tiny) d = tiny;
    if (std::abs(c) < tiny) c = tiny;
    d = 1 / d;
    double del = d * c;
    h *= del;
    if (std::abs(del - 1) < 1e-14) break;
  }
  return h;
}

double inc_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  double lbt = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log(1 - x);
  if (x < (a + 1) / (a + b + 2)) return std::exp(lbt) * beta_cf(a, b, x) / a;
  return 1 - std::exp(lbt) * beta_cf(b, a, 1 - x) / b;
}

}  // namespace

double student_t_cdf(double t, double dof) {
  double tail = 0.5 * inc_beta(dof / 2, 0.5, dof / (dof + t * t));  // P(T > |t|)
  return t >= 0 ? 1 - tail : tail;
}

ResidualCalibration::ResidualCalibration(std::vector<double> residuals, CalibrationForm form)
    : r_(std::move(residuals)), form_(form) {
  const double n = double(r_.size());
  if (r_.empty()) return;
  for (double e : r_) mean_ += e;
  mean_ /= n;
  double ss = 0;
  for (double e : r_) ss += (e - mean_) * (e - mean_);
  sd_ = r_.size() > 1 ? std::sqrt(ss / (n - 1)) : 0;
  // Silverman's rule of thumb; a floor keeps identical residuals from giving a step function
  // that claims certainty from a handful of curves.
  double scale = std::max(sd_, 1e-6 * (1 + std::abs(mean_)));
  h_ = 1.06 * scale * std::pow(n, -0.2);
}

double ResidualCalibration::prob_below(double estimate, double threshold) const {
  if (r_.size() < 2) return 1.0;
  if (form_ == CalibrationForm::student) {
    const double n = double(r_.size());
    const double s = std::max(sd_, 1e-6 * (1 + std::abs(mean_))) * std::sqrt(1 + 1 / n);
    return student_t_cdf((threshold - estimate - mean_) / s, n - 1);
  }
  double p = 0;
  for (double e : r_) p += 0.5 * std::erfc(-(threshold - estimate - e) / (h_ * std::sqrt(2.0)));
  return p / double(r_.size());
}

}  // namespace veil::tune
