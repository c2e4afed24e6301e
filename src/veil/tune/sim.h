// The tuning harness: one event-driven simulation of a tuning job on a replayed spot
// market, shared by SpotTune and the baselines so that they differ only in policy.
//
// Model. Up to `parallel` trials run at once, each on its own instance (a lease). A lease
// starts with `launch_overhead_s` of boot + restore (charged). Each epoch ends with a
// checkpoint. A spot lease is revoked when the market's trace drops to zero capacity; the
// trial hears of it `notice_s` earlier: an epoch that cannot finish by the revocation is
// abandoned at the notice (work since the checkpoint is lost), and the trial is requeued
// at the front. Leases are billed by the BillingRule at the replayed spot or on-demand price.
//
// Methods:
//   spottune     cost-aware provisioning over all types and spot/on-demand (expected
//                cost per unit progress from price, speed, estimated revocation rate and
//                restart overhead; re-decided every epoch, migrating when it pays) +
//                learning-curve prediction that stops trials unlikely to beat the best; while
//                it has too few references, trials behind their peers pause (rank early),
//                except the first few, whose curves calibrate it (fair references).
//   random-od    random search, every trial to the end, on-demand baseline type.
//   random-spot  the same on spot of the baseline type (waits while there is no capacity).
//   asha-od / asha-spot   asynchronous successive halving (Li et al., MLSys 2020), eta = 3,
//                in its stopping form (a trial below the top 1/eta at a rung stops).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "veil/tune/backend.h"
#include "veil/tune/billing.h"
#include "veil/tune/market.h"
#include "veil/tune/space.h"

namespace veil::tune {

enum class Method { spottune, random_od, random_spot, asha_od, asha_spot };
const std::vector<Method>& all_methods();
std::string method_name(Method m);
Method parse_method(const std::string& s);  // throws std::invalid_argument listing the names

struct SimOptions {
  Method method = Method::spottune;
  int parallel = 8;
  int epochs = 15;
  bool minimize = true;
  Budget budget;
  BillingRule billing;
  double launch_overhead_s = 120;
  double notice_s = 120;
  // SpotTune
  double stop_prob = 0.05;     // stop when P(final better than best so far) falls below
  bool calibrate = true;       // calibrate the trend prediction on finished trials (trend.h)
  int predict_from = 1;        // calibrated: first epoch at which a trial may be stopped
  int min_references = 3;      // calibrated: finished trials needed before calibrating
  bool trend_map = false;      // calibrated: the cross-trial predictor (epoch-k value -> final) votes
  bool trend_ensemble = true;  // calibrated: the parametric ensemble votes
  bool trend_student = true;   // calibrated: Student-t predictive (false: Gaussian kernel)
  double backtest_reach = 0.25;  // calibrated ensemble: share of the horizon a backtest must cover
  int predict_after = 0;       // uncalibrated ensemble (before min_references trials finished, or
                               // with calibrate off): epochs before extrapolating; 0: a third (>= 3)
  double migrate_gain = 0.15;  // migrate when the expected remaining cost drops by this fraction
  bool provisioning = true;    // false: SpotTune's prediction on the baseline type's spot only
  bool prediction = true;      // false: SpotTune's provisioning without early stopping
  bool hand_over = true;       // hourly billing: a stopped trial's paid hour goes to the next trial
  bool asha_hand_over = false;  // the same for asha-od / asha-spot (to compare ASHA with the mechanism too)
  bool rank_early = true;      // while the prediction abstains, pause a trial outside the top 1/eta of
                               // the values recorded at its epoch; re-judged later (sim.cpp, next_trial)
  int fair_refs = 4;           // rank_early: the first fair_refs trials to start are never paused, and a
                               // paused trial is no calibration reference (0: every trial may pause)
  // ASHA (and SpotTune's rank_early)
  int eta = 3;
  int asha_min_epochs = 1;
};

struct TrialSummary {
  size_t config = 0;
  std::string status;          // running, queued, paused, done, stopped, failed
  int epochs = 0;
  double last = 0, best = 0;
  std::string instance;        // "c5.2xlarge/spot"
  double cost = 0;
  int revocations = 0, migrations = 0;
  std::string error;
};

// One early-stopping judgement of SpotTune's trend prediction (logged for every judgement,
// stop or not): when, which trial, how many epochs it had, and on what basis.
struct TrendDecision {
  double t = 0;
  size_t config = 0;
  int epoch = 0;
  double best = 0;             // best metric so far at that time
  double prob = 1;             // P(final better than best)
  int references = 0;
  std::string basis;
  bool stop = false;
};

struct SimResult {
  std::string method, scenario;
  double cost = 0;              // dollars
  double wall_s = 0;            // simulated seconds to the end
  double best = 0;              // best metric at any checkpoint of any trial
  long best_config = -1;
  int trials = 0, epochs_run = 0, revocations = 0, migrations = 0, stopped_early = 0, failed = 0;
  int handovers = 0;            // spottune, hourly: instances handed to the next trial with a paid hour left
  double spot_share = 0;        // fraction of instance-seconds on spot
  std::vector<std::pair<double, double>> best_vs_cost;  // (dollars spent, best so far)
  std::vector<std::string> errors;
  std::vector<TrialSummary> trials_table;
  std::vector<TrendDecision> decisions;  // spottune only
  bool budget_exhausted = false;
};

// Called after every completed epoch with the simulated time, money spent and the table.
using ProgressFn = std::function<void(double t, double spent, const SimResult& sofar)>;

SimResult simulate(const MarketReplay& market, TrialBackend& backend, const std::vector<size_t>& order,
                   const SimOptions& opt, const ProgressFn& progress = {});

// Expected dollars to do `work_s` baseline-seconds of training on type `ty` (spot or not)
// starting at `t`, with epochs of `epoch_s` baseline-seconds: the provisioning model.
double expected_cost(const MarketReplay& m, const SimOptions& opt, int ty, bool spot, double t, double work_s,
                     double epoch_s, bool fresh_launch, double* duration_s = nullptr);

}  // namespace veil::tune
