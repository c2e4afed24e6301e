// Learning-curve extrapolation: an ensemble of parametric families fitted by least squares
// (Levenberg-Marquardt, Eigen), after Domhan, Springenberg and Hutter, "Speeding up
// Automatic Hyperparameter Optimization of Deep Neural Networks by Extrapolation of
// Learning Curves" (IJCAI 2015), as SpotTune uses it to stop poor trials early.
//
// Families (x = epoch, increasing form; a minimised metric is fitted as its negation):
//   pow3       c - a x^-alpha                  exp3      c - exp(-a x + b)
//   pow4       c - (a x + b)^-alpha            janoschek alpha - (alpha-beta) exp(-kappa x^delta)
//   log_power  a / (1 + (x / e^b)^c)           mmf       alpha - (alpha-beta) / (1 + (kappa x)^delta)
//   ilog2      c - a / log(x + 1)
// Instead of Domhan's MCMC the ensemble weights each converged fit by its residual
// variance (w ~ 1 / (s^2 + eps)); the predictive variance is the weighted spread of the
// members' predictions plus the residual variance grown with the extrapolation distance.
// Cost: per family, <= 200 LM iterations of an n x p Jacobian (p <= 4) by central
// differences; about 0.1 ms for n = 15.
#pragma once
#include <string>
#include <vector>

namespace veil::tune {

struct CurveFamily {
  const char* name;
  int params;
  double (*f)(double x, const double* p);
};
const std::vector<CurveFamily>& curve_families();

struct FamilyFit {
  std::string family;
  std::vector<double> params;  // in the normalised space of the fit
  double sse = 0;              // sum of squared residuals (normalised units)
  bool ok = false;
};

// Fits one family to (x, y) by Levenberg-Marquardt from several starting points.
FamilyFit fit_family(const CurveFamily& fam, const std::vector<double>& x, const std::vector<double>& y);

struct CurvePrediction {
  bool ok = false;       // false with fewer than 3 points
  double mean = 0;       // predicted metric at the target epoch (original units and sign)
  double stddev = 0;
  int members = 0;       // families that contributed
  // Probability that the final metric is better than `best` (lower when minimising).
  double prob_better(double best, bool minimize) const;
};

// Predicts the metric after `target_epoch` from metric[e-1] at epochs 1..n.
CurvePrediction predict_curve(const std::vector<double>& metric, int target_epoch, bool minimize);

}  // namespace veil::tune
