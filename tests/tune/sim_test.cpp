// The tuning harness on a synthetic market: revocation, resume from checkpoint, failures,
// early stopping, budgets and determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "veil/tune/backend.h"
#include "veil/tune/eval.h"
#include "veil/tune/sim.h"

using namespace veil::tune;

namespace {

// One instance type at $3.6/h on demand (0.1 cent per second), spot at a third of it.
struct SyntheticMarket {
  Market m;
  MarketReplay r;
  explicit SyntheticMarket(std::vector<int> trace, double gap_s = 500) {
    m.name = "synthetic";
    m.types = {{"box", 1, 3.6, 1.0}};
    m.spot = {PriceSeries{{0}, {1.2}}};
    m.baseline = 0;
    r.market = &m;
    r.scenario = "synthetic";
    r.traces = {AvailabilityTrace("t", gap_s, std::move(trace))};
    r.estimate = {estimate_revocation(r.traces[0], 0, r.traces[0].duration_s())};
  }
};

// Curves with constant 1000 s epochs.
CurveSet curves(const std::vector<std::vector<double>>& ys, int epochs) {
  CurveSet s;
  s.epochs = epochs;
  for (const auto& y : ys) {
    Curve c;
    c.params = {{"id", s.curves.size()}};
    c.metric = y;
    c.seconds.assign(y.size(), 1.0);
    if (int(y.size()) < epochs) c.failure = "crashed";
    s.curves.push_back(c);
  }
  return s;
}

// Wraps a backend and logs what the simulator asked of it.
struct LoggingBackend : TrialBackend {
  TrialBackend& inner;
  std::vector<std::pair<size_t, int>> runs;
  std::vector<size_t> kills;
  explicit LoggingBackend(TrialBackend& b) : inner(b) {}
  size_t configs() const override { return inner.configs(); }
  nlohmann::json config(size_t c) const override { return inner.config(c); }
  double expected_seconds(size_t c, int e) const override { return inner.expected_seconds(c, e); }
  EpochOutcome run_epoch(size_t c, int e) override {
    runs.emplace_back(c, e);
    return inner.run_epoch(c, e);
  }
  void kill(size_t c, double f) override { kills.push_back(c), inner.kill(c, f); }
  void release(size_t c) override { inner.release(c); }
};

// Every epoch of every trial ran exactly once, in order.
void expect_every_epoch_once_in_order(const LoggingBackend& lb) {
  std::map<size_t, int> last;
  for (auto [c, e] : lb.runs) {
    EXPECT_EQ(e, last[c] + 1) << "config " << c;
    last[c] = e;
  }
}

std::vector<double> decay(double floor, double amp, int n) {
  std::vector<double> y;
  for (int e = 1; e <= n; ++e) y.push_back(floor + amp * std::pow(double(e), -0.7));
  return y;
}

}  // namespace

TEST(TuneSim, OnDemandCostIsExact) {
  SyntheticMarket sm({1});
  CurveSet cs = curves({decay(2, 1, 5), decay(2.1, 1, 5)}, 5);
  ReplayBackend b(cs, 1000.0 / 60);  // every epoch 1000 s
  SimOptions o;
  o.method = Method::random_od;
  o.epochs = 5;
  o.parallel = 1;
  auto r = simulate(sm.r, b, {0, 1}, o);
  // Two leases of 120 s launch + 5000 s at 0.1 cent/s.
  EXPECT_NEAR(r.cost, 2 * 5120 * 0.001, 1e-9);
  EXPECT_NEAR(r.wall_s, 2 * 5120, 1e-6);
  EXPECT_EQ(r.epochs_run, 10);
  EXPECT_NEAR(r.best, 2 + std::pow(5.0, -0.7), 1e-12);
  EXPECT_EQ(r.best_config, 0);
}

TEST(TuneSim, RevocationRequeuesAndResumesFromTheLastCheckpoint) {
  // Capacity 0..2500 s, none 2500..3000 s, then back: the trial is revoked in epoch 3.
  SyntheticMarket sm({1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  CurveSet cs = curves({decay(2, 1, 5)}, 5);
  ReplayBackend rb(cs, 1000.0 / 60);
  LoggingBackend b(rb);
  SimOptions o;
  o.method = Method::random_spot;
  o.epochs = 5;
  o.parallel = 1;
  auto r = simulate(sm.r, b, {0}, o);
  EXPECT_EQ(r.revocations, 1);
  ASSERT_EQ(b.kills.size(), 1u);
  // Every epoch was run exactly once: nothing before the checkpoint of epoch 2 was redone.
  std::vector<std::pair<size_t, int>> want = {{0, 1}, {0, 2}, {0, 3}, {0, 4}, {0, 5}};
  EXPECT_EQ(b.runs, want);
  EXPECT_EQ(r.epochs_run, 5);
  // Epochs 1-2 end at 2120 s; the notice comes at 2380 s; capacity returns at 3000 s;
  // relaunch (120 s) and epochs 3-5 end at 6120 s.
  EXPECT_NEAR(r.wall_s, 6120, 1e-3);
  // Spot cost: 2380 s on the first lease (per-second billing stops at the notice) + 3120 s.
  EXPECT_NEAR(r.cost, (2380 + 3120) * 1.2 / 3600, 1e-3);
}

TEST(TuneSim, HourlyBillingLetsTheProviderTakeTheInstance) {
  SyntheticMarket sm({1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  CurveSet cs = curves({decay(2, 1, 8)}, 8);
  ReplayBackend b(cs, 1000.0 / 60);
  SimOptions o;
  o.method = Method::random_spot;
  o.epochs = 8;
  o.parallel = 1;
  o.billing = parse_billing("hourly");
  auto r = simulate(sm.r, b, {0}, o);
  EXPECT_EQ(r.revocations, 1);
  // First lease 0..4000 s revoked: one full hour charged, its partial hour free. Second
  // lease from 4500 s: 120 + 5 epochs... = 5120 s -> two started hours.
  EXPECT_NEAR(r.cost, 1.2 * (1 + 2), 1e-9);
}

TEST(TuneSim, CrashedTrialIsReportedAndTuningGoesOn) {
  SyntheticMarket sm({1});
  CurveSet cs = curves({decay(2, 1, 5), decay(1.9, 1, 2), decay(2.2, 1, 5)}, 5);
  ReplayBackend b(cs, 1000.0 / 60);
  SimOptions o;
  o.method = Method::random_od;
  o.epochs = 5;
  o.parallel = 2;
  auto r = simulate(sm.r, b, {0, 1, 2}, o);
  EXPECT_EQ(r.failed, 1);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("config 1 failed in epoch 3"), std::string::npos) << r.errors[0];
  EXPECT_EQ(r.epochs_run, 5 + 2 + 5);
  EXPECT_EQ(r.trials_table.size(), 3u);
  EXPECT_EQ(r.trials_table[1].status, "failed");
}

TEST(TuneSim, SpotTuneStopsPoorTrialsAndKeepsTheBest) {
  SyntheticMarket sm({1});
  // The trend prediction is calibrated on the other trials (trend.h): the first few run
  // until there are references; every later poor trial is stopped.
  std::vector<std::vector<double>> ys = {decay(1.5, 1, 15)};
  for (int k = 0; k < 11; ++k) ys.push_back(decay(2.5 + 0.1 * (k % 7), 1, 15));
  CurveSet cs = curves(ys, 15);
  ReplayBackend b(cs, 1000.0 / 60);
  SimOptions o;
  o.epochs = 15;
  o.parallel = 2;
  std::vector<size_t> order = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  o.method = Method::random_od;
  auto full = simulate(sm.r, b, order, o);
  o.method = Method::spottune;
  auto st = simulate(sm.r, b, order, o);
  EXPECT_EQ(st.best, full.best);
  EXPECT_GE(st.stopped_early, 8);
  EXPECT_LT(st.epochs_run, full.epochs_run / 2);
  EXPECT_LT(st.cost, full.cost / 3);  // early stopping and spot
}

// Hourly billing, 20-minute epochs: a trial stopped after 3 epochs leaves most of its second
// hour paid. `method` runs without, then with a hand-over (turned on by `enable`): with it the
// next trial takes over the instance instead of a new one, which costs less and loses nothing.
void expect_a_hand_over_saves(Method method, bool SimOptions::*enable) {
  SyntheticMarket sm({1});
  std::vector<std::vector<double>> ys = {decay(1.5, 1, 9)};
  for (int k = 0; k < 11; ++k) ys.push_back(decay(2.5 + 0.1 * (k % 7), 1, 9));
  CurveSet cs = curves(ys, 9);
  ReplayBackend b(cs, 20);
  LoggingBackend lb(b);
  SimOptions o;
  o.method = method;
  o.epochs = 9;
  o.parallel = 2;
  o.billing.mode = BillingMode::hourly;
  std::vector<size_t> order;
  for (size_t i = 0; i < ys.size(); ++i) order.push_back(i);
  o.*enable = false;
  auto without = simulate(sm.r, b, order, o);
  o.*enable = true;
  auto with = simulate(sm.r, lb, order, o);
  EXPECT_EQ(without.handovers, 0);
  EXPECT_GT(with.handovers, 0);
  EXPECT_LT(with.cost, without.cost);
  EXPECT_EQ(with.best, without.best);
  expect_every_epoch_once_in_order(lb);  // hand-overs lose nothing
}

TEST(TuneSim, HourlySpotTuneHandsAPaidHourToTheNextTrial) {
  expect_a_hand_over_saves(Method::spottune, &SimOptions::hand_over);
}

TEST(TuneSim, AshaHandsAPaidHourToTheNextTrialOnlyWhenAskedTo) {
  EXPECT_FALSE(SimOptions{}.asha_hand_over);  // off by default: asha-spot stays the published baseline
  expect_a_hand_over_saves(Method::asha_spot, &SimOptions::asha_hand_over);
}

// Eight trials at a time, all at the same pace: none is ahead of the others, so the
// calibrated prediction has no references and abstains. The first four to start are
// middling, the next three lead early, and the eighth, the best (config 0), is a slow
// starter: behind the best third at epoch 3.
struct RankEarlyScenario {
  SyntheticMarket sm{{1}};
  std::vector<std::vector<double>> ys;
  CurveSet cs;
  std::vector<size_t> order = {5, 9, 13, 17, 1, 11, 21, 0};
  RankEarlyScenario() {
    ys.push_back(decay(1.0, 4, 15));
    for (int k = 0; k < 23; ++k) ys.push_back(decay(2.0 + 0.05 * ((k * 7) % 23), 1, 15));
    cs = curves(ys, 15);
    for (size_t c = 1; c < ys.size(); ++c)
      if (std::find(order.begin(), order.end(), c) == order.end()) order.push_back(c);
  }
  SimOptions options(bool rank_early, int fair_refs) const {
    SimOptions o;
    o.method = Method::spottune;
    o.epochs = 15;
    o.parallel = 8;
    o.rank_early = rank_early;
    o.fair_refs = fair_refs;
    return o;
  }
};

// What the simulator showed of each trial after every epoch: whether it was ever paused,
// and its epochs when first paused and at the end.
struct PauseLog {
  std::map<size_t, int> paused_at, epochs;
  ProgressFn fn() {
    return [this](double, double, const SimResult& r) {
      for (const auto& t : r.trials_table) {
        if (t.status == "paused" && !paused_at.count(t.config)) paused_at[t.config] = t.epochs;
        epochs[t.config] = t.epochs;
      }
    };
  }
};

TEST(TuneSim, RankEarlyPausesTrialsBehindTheirPeersWhileThePredictionAbstains) {
  // Without rank-early the first eight run to the end. With it, a trial outside the best
  // third at its epoch pauses and a new trial takes its instance; the best third run on and
  // become the references by which the paused trials are judged later (resumed or stopped).
  RankEarlyScenario sc;
  ReplayBackend b(sc.cs, 1000.0 / 60);
  LoggingBackend lb(b);
  auto plain = simulate(sc.sm.r, b, sc.order, sc.options(false, 0));
  auto ranked = simulate(sc.sm.r, lb, sc.order, sc.options(true, 0));
  EXPECT_EQ(ranked.best, plain.best);
  EXPECT_EQ(ranked.best_config, 0);
  EXPECT_LT(ranked.epochs_run, plain.epochs_run);
  EXPECT_LT(ranked.cost, plain.cost);
  for (const auto& t : ranked.trials_table) EXPECT_NE(t.status, "paused") << "config " << t.config << " left paused";
  expect_every_epoch_once_in_order(lb);  // across pauses and resumptions
}

TEST(TuneSim, FairRefsNeverPauseTheFirstTrialsAndResumePausedOnes) {
  // The default rule: the first four trials to start are reference trials and run unpaused
  // whatever their rank; the others may pause while the prediction abstains, and a paused
  // trial is resumed when the prediction, calibrated on the trials never paused, allows it.
  RankEarlyScenario sc;
  ReplayBackend b(sc.cs, 1000.0 / 60);
  LoggingBackend lb(b);
  const SimOptions o = sc.options(true, 4);
  EXPECT_EQ(o.fair_refs, SimOptions{}.fair_refs);  // the default
  EXPECT_TRUE(SimOptions{}.rank_early);
  PauseLog log;
  auto fair = simulate(sc.sm.r, lb, sc.order, o, log.fn());
  auto plain = simulate(sc.sm.r, b, sc.order, sc.options(false, 0));
  for (size_t k = 0; k < 4; ++k) EXPECT_FALSE(log.paused_at.count(sc.order[k])) << "reference trial " << sc.order[k];
  // Without fair references the same first four are ranked like the others, and some pause.
  PauseLog biased;
  simulate(sc.sm.r, b, sc.order, sc.options(true, 0), biased.fn());
  EXPECT_TRUE(biased.paused_at.count(sc.order[0]) || biased.paused_at.count(sc.order[1]) ||
              biased.paused_at.count(sc.order[2]) || biased.paused_at.count(sc.order[3]));
  // The slow starter pauses at epoch 3 and, once the references can judge it, resumes.
  ASSERT_TRUE(log.paused_at.count(0));
  EXPECT_EQ(log.paused_at[0], 3);
  EXPECT_EQ(log.epochs[0], 15) << "a pause is not a verdict";
  EXPECT_EQ(fair.best, plain.best);
  EXPECT_EQ(fair.best_config, 0);
  for (const auto& t : fair.trials_table) EXPECT_NE(t.status, "paused") << "config " << t.config << " left paused";
  expect_every_epoch_once_in_order(lb);
}

TEST(TuneSim, MoneyBudgetStopsTheRun) {
  SyntheticMarket sm({1});
  CurveSet cs = curves({decay(2, 1, 10), decay(2, 1, 10), decay(2, 1, 10)}, 10);
  ReplayBackend b(cs, 1000.0 / 60);
  SimOptions o;
  o.method = Method::random_od;
  o.epochs = 10;
  o.parallel = 1;
  o.budget.money = 5.0;
  auto r = simulate(sm.r, b, {0, 1, 2}, o);
  EXPECT_TRUE(r.budget_exhausted);
  EXPECT_LE(r.cost, 5.0 + 1.0 + 1e-9);  // stops at the first epoch end past the budget
  EXPECT_LT(r.epochs_run, 30);
}

TEST(TuneSim, SameSeedSameResult) {
  SyntheticMarket sm({1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 1}, 900);
  std::vector<std::vector<double>> ys;
  for (int k = 0; k < 12; ++k) ys.push_back(decay(2 + 0.05 * ((k * 7) % 12), 1, 9));
  CurveSet cs = curves(ys, 9);
  ReplayBackend b(cs, 1000.0 / 60);
  for (Method m : all_methods()) {
    SimOptions o;
    o.method = m;
    o.epochs = 9;
    o.parallel = 3;
    auto order = config_order(cs.curves.size(), 4);
    auto a = simulate(sm.r, b, order, o), c = simulate(sm.r, b, order, o);
    EXPECT_EQ(a.cost, c.cost) << method_name(m);
    EXPECT_EQ(a.best_vs_cost, c.best_vs_cost) << method_name(m);
    EXPECT_GT(a.epochs_run, 0);
  }
  EXPECT_NE(config_order(12, 1), config_order(12, 2));
}

TEST(TuneSim, ExpectedCostPrefersReliableCheapCapacity) {
  SyntheticMarket sm({1});
  SimOptions o;
  double spot = expected_cost(sm.r, o, 0, true, 0, 36000, 600, true);
  double od = expected_cost(sm.r, o, 0, false, 0, 36000, 600, true);
  EXPECT_LT(spot, od);
  // A very unreliable market makes spot lose against on-demand.
  sm.r.estimate[0].rate_per_hour = 50;
  EXPECT_GT(expected_cost(sm.r, o, 0, true, 0, 36000, 600, true), od);
  EXPECT_THROW(parse_method("bohb"), std::invalid_argument);
}
