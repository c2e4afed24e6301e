#include "veil/tune/trend.h"

#include <algorithm>
#include <cmath>

#include "veil/tune/calibration.h"
#include "veil/tune/cross_trial.h"
#include "veil/tune/curve_fit.h"

namespace veil::tune {

namespace {
double best_of(const std::vector<double>& v, size_t n) { return *std::min_element(v.begin(), v.begin() + long(n)); }
}  // namespace

TrendPredictor::TrendPredictor(TrendOptions o) : o_(o) {}

void TrendPredictor::observe(size_t id, const std::vector<double>& completed) {
  std::vector<double> v(completed.begin(), completed.begin() + long(std::min(completed.size(), size_t(o_.epochs))));
  for (double& x : v) x = lower(x);
  curves_[id] = std::move(v);
}

void TrendPredictor::forget(size_t id) { curves_.erase(id); }

size_t TrendPredictor::finished() const {
  size_t n = 0;
  for (const auto& [id, c] : curves_) n += int(c.size()) >= o_.epochs;
  return n;
}

TrendPredictor::Backtest TrendPredictor::backtest(size_t j, int k, int t) const {
  auto key = std::make_tuple(j, k, t);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  const std::vector<double>& c = curves_.at(j);
  std::vector<double> prefix(c.begin(), c.begin() + k);
  CurvePrediction p = predict_curve(prefix, t, /*minimize=*/true);
  Backtest b;
  b.ok = p.ok && p.members > 0;
  b.mean = p.mean, b.sd = p.stddev;
  cache_[key] = b;
  return b;
}

double TrendPredictor::prob_map(const std::vector<double>& v, double thr, int* refs) const {
  const size_t k = v.size();
  std::vector<double> at_k, fin;
  for (const auto& [id, c] : curves_)
    if (int(c.size()) >= o_.epochs) at_k.push_back(c[k - 1]), fin.push_back(best_of(c, c.size()));
  if (int(at_k.size()) < o_.min_references) return -1;
  FinalMap fm = fit_final_map(at_k, fin);
  if (!fm.ok) return -1;
  *refs += int(at_k.size());
  const CalibrationForm form = o_.student ? CalibrationForm::student : CalibrationForm::kernel;
  return ResidualCalibration(fm.loo, form).prob_below(fm(v.back()), thr);
}

double TrendPredictor::prob_ensemble(size_t id, const std::vector<double>& v, double thr, int* refs) const {
  const int k = int(v.size()), T = o_.epochs;
  if (k < kEnsembleMinEpochs) return -1;
  const int reach = k + std::max(1, int(std::ceil((T - k) * o_.backtest_reach)));
  std::vector<double> r;
  for (const auto& [j, c] : curves_) {
    const int t = int(c.size());
    if (j == id || t < reach) continue;
    Backtest b = backtest(j, k, t);
    if (b.ok) r.push_back(best_of(c, size_t(t)) - b.mean);
  }
  if (int(r.size()) < o_.min_references) return -1;
  CurvePrediction p = predict_curve(v, T, /*minimize=*/true);
  if (!p.ok || p.members == 0) return -1;
  *refs += int(r.size());
  const CalibrationForm form = o_.student ? CalibrationForm::student : CalibrationForm::kernel;
  return ResidualCalibration(r, form).prob_below(p.mean, thr);
}

TrendAssessment TrendPredictor::assess(size_t id, const std::vector<double>& observed, double best) const {
  TrendAssessment a;
  const int k = int(observed.size());
  if (k < 1 || k >= o_.epochs || !std::isfinite(best)) return a;

  if (o_.calibrate) {
    if (k < o_.predict_from) return a;
    std::vector<double> v(observed);
    for (double& x : v) x = lower(x);
    const double thr = lower(best);
    int refs = 0;
    double pm = o_.use_map ? prob_map(v, thr, &refs) : -1;
    double pe = o_.use_ensemble ? prob_ensemble(id, v, thr, &refs) : -1;
    if (pm < 0 && pe < 0) return a;  // every predictor abstains
    a.prob = std::max(pm, pe);
    a.references = refs;
    a.basis = pm >= 0 && pe >= 0 ? "map+ensemble" : pm >= 0 ? "map" : "calibrated-ensemble";
    a.stop = a.prob < o_.stop_prob;
    return a;
  }

  const int after = o_.predict_after > 0 ? o_.predict_after : std::max(kEnsembleMinEpochs, o_.epochs / 3);
  if (k < after) return a;
  CurvePrediction p = predict_curve(observed, o_.epochs, o_.minimize);
  if (!p.ok) return a;
  a.prob = p.prob_better(best, o_.minimize);
  a.basis = "ensemble";
  a.stop = a.prob < o_.stop_prob;
  return a;
}

}  // namespace veil::tune
