// Empirical calibration of a learning-curve predictor on trials that have finished.
//
// A predictor maps the first k epochs of a curve to a point estimate of its final value.
// Run on the first k epochs of every finished reference curve, it leaves residuals
// e_j = final_j - estimate_j: how far off that predictor was, at that k, on this workload.
// The calibrated predictive distribution of a new curve's final value is the estimate
// plus a new residual drawn like those n. Two forms:
//   * student (default): residuals normal with unknown mean and variance; the predictive
//     distribution of a new one is Student-t with n-1 degrees of freedom, location the
//     mean, scale sd * sqrt(1 + 1/n). Its heavy tails for small n are the honest doubt of
//     a calibration on a handful of curves.
//   * kernel: the residuals smoothed by a Gaussian kernel (Silverman's bandwidth),
//     P(final < threshold) = (1/n) sum_j Phi((threshold - estimate - e_j) / h);
//     no normality assumed, but overconfident in the tails when n is small.
//
// Values are in "lower is better" orientation (a maximised metric is negated by the
// caller). This is what Domhan et al. do with the other trials' curves in spirit and what
// SpotTune's "trend prediction" needs to be safe: the spread is measured, not assumed.
#pragma once
#include <cstddef>
#include <vector>

namespace veil::tune {

enum class CalibrationForm { student, kernel };

// CDF of Student's t with `dof` degrees of freedom (dof > 0).
double student_t_cdf(double t, double dof);

class ResidualCalibration {
 public:
  ResidualCalibration() = default;
  explicit ResidualCalibration(std::vector<double> residuals, CalibrationForm form = CalibrationForm::student);

  size_t size() const { return r_.size(); }
  double bias() const { return mean_; }          // mean residual
  double spread() const { return sd_; }          // standard deviation of the residuals
  double bandwidth() const { return h_; }        // kernel width

  // P(estimate + residual < threshold). With fewer than 2 residuals: 1 (nothing is known
  // about the spread, stop nothing).
  double prob_below(double estimate, double threshold) const;

 private:
  std::vector<double> r_;
  CalibrationForm form_ = CalibrationForm::student;
  double mean_ = 0, sd_ = 0, h_ = 0;
};

}  // namespace veil::tune
