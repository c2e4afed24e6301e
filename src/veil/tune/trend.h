// SpotTune's trend prediction: should a running trial stop?
//
// After every epoch a trial's curve so far is judged against the best metric seen so far
// (the best checkpoint of any trial). Two predictors of the trial's best checkpoint, each
// calibrated on what the other trials have shown by then (calibration.h):
//   * cross-trial ("map", cross_trial.h, any k >= 1): a straight line from the value at
//     epoch k to the best checkpoint, fitted on the trials that have finished; calibrated
//     by its leave-one-out residuals. Needs `min_references` finished trials.
//   * parametric ("ensemble", k >= 3): the Domhan-style ensemble of curve_fit.h, whose own
//     predictive variance is too narrow on real curves (a cosine learning-rate schedule
//     keeps them falling after any saturating fit has flattened: from 4 of 12 epochs it
//     predicts the best GPT-2 trial's final 4.6 of its own sd too high). It is calibrated
//     by backtesting: for every other trial that has reached at least epoch
//     k + ceil(backtest_reach * (epochs - k)), the ensemble is fitted on that trial's first
//     k epochs and asked for its latest epoch t; the errors
//     e = best checkpoint up to t - prediction
//     are the calibration. Running and stopped trials count, so it works before any trial
//     has finished; finished trials give errors at the full horizon.
// A predictor with fewer than `min_references` references abstains. The trial stops when
// every predictor that does not abstain gives P(best checkpoint better than best) < stop_prob.
//
// Leakage: the predictor holds only the epochs the simulator hands to observe() after they
// have completed; nothing else about any trial.
#pragma once
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace veil::tune {

// The parametric ensemble extrapolates a curve from this many completed epochs on.
constexpr int kEnsembleMinEpochs = 3;

struct TrendOptions {
  int epochs = 15;
  bool minimize = true;
  double stop_prob = 0.05;
  bool calibrate = true;      // false: only the uncalibrated ensemble, from predict_after
  int predict_from = 1;       // first epoch at which a stop may happen
  int min_references = 3;     // references a calibrated predictor needs
  bool use_map = false;       // the cross-trial predictor takes part
  bool use_ensemble = true;   // the backtest-calibrated parametric ensemble takes part
  bool student = true;        // calibration form: Student-t (true) or Gaussian kernel
  double backtest_reach = 0.25;  // a backtest reference must have covered this share of the horizon
  int predict_after = 0;      // uncalibrated rule: 0 means a third of the epochs, at least 3
};

struct TrendAssessment {
  double prob = 1;            // P(best checkpoint better than best); the largest over the predictors used
  int references = 0;         // references of the predictors used (sum)
  std::string basis = "none"; // none, ensemble (uncalibrated), map, calibrated-ensemble, map+ensemble
  bool stop = false;
};

class TrendPredictor {
 public:
  explicit TrendPredictor(TrendOptions o);
  // The completed epochs of trial `id` so far (called after each epoch; a curve only grows).
  void observe(size_t id, const std::vector<double>& completed);
  // Trial `id` is no longer a reference: its curve leaves every calibration (the simulator
  // drops a trial whose running on was decided by rank, not a fair sample of the curves).
  void forget(size_t id);
  size_t finished() const;
  // Judges trial `id`, which has completed `observed` (epochs 1..k), against `best` so far.
  TrendAssessment assess(size_t id, const std::vector<double>& observed, double best) const;
  const TrendOptions& options() const { return o_; }

 private:
  struct Backtest {
    double mean = 0, sd = 0;
    bool ok = false;
  };
  double lower(double v) const { return o_.minimize ? v : -v; }
  double prob_map(const std::vector<double>& v, double thr, int* refs) const;
  double prob_ensemble(size_t id, const std::vector<double>& v, double thr, int* refs) const;
  // Ensemble prediction (lower-is-better units) of epoch t from the first k epochs of trial j.
  Backtest backtest(size_t j, int k, int t) const;

  TrendOptions o_;
  std::map<size_t, std::vector<double>> curves_;  // lower-is-better units
  mutable std::map<std::tuple<size_t, int, int>, Backtest> cache_;
};

}  // namespace veil::tune
