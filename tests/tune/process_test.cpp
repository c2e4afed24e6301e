// The local executor: real trial processes in step with a simulated spot market. A
// revocation kills the process; the restart resumes from its checkpoint. Crashing,
// garbage-printing and silent trials give a clear error and the tuning goes on.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tune/tune_test_util.h"
#include "veil/tune/backend.h"
#include "veil/tune/sim.h"
#include "veil/tune/trial_process.h"

using namespace veil::tune;

namespace {

std::string fake_trial() { return std::string(VEIL_SOURCE_DIR) + "/tests/tune/fake_trial.sh"; }

SearchSpace space(int epochs, double timeout_s = 20) {
  SearchSpace s;
  s.metric = "loss";
  s.epochs = epochs;
  s.command = "exec sh " + fake_trial();
  s.report_timeout_s = timeout_s;
  return s;
}

std::string workdir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("veil-tune-test-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(d);
  return d.string();
}

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

struct OneTypeMarket {
  Market m;
  MarketReplay r;
  explicit OneTypeMarket(std::vector<int> trace, double gap_s) {
    m.types = {{"box", 1, 3.6, 1.0}};
    m.spot = {PriceSeries{{0}, {1.2}}};
    r.market = &m;
    r.scenario = "synthetic";
    r.traces = {AvailabilityTrace("t", gap_s, std::move(trace))};
    r.estimate = {estimate_revocation(r.traces[0], 0, r.traces[0].duration_s())};
  }
};

}  // namespace

TEST(TuneProcess, ReportsEpochsAndResumesFromCheckpoint) {
  std::string d = workdir("resume");
  TrialProcessOptions o{"exec sh " + fake_trial(), "loss", 20, 0, 4};
  {
    TrialProcess p(o, {{"base", 1}}, d, 0);
    p.start();
    auto r1 = p.next(), r2 = p.next();
    ASSERT_EQ(r1.kind, EpochReport::got_epoch) << r1.error;
    EXPECT_EQ(r1.epoch, 1);
    EXPECT_DOUBLE_EQ(r1.metric, 2.0);
    EXPECT_EQ(r2.epoch, 2);
    EXPECT_GE(p.garbage_lines(), 2);  // the "some log line"s are skipped
    p.kill();                         // revocation after epoch 2's checkpoint
  }
  TrialProcess p(o, {{"base", 1}}, d, 0);
  p.start();
  auto r3 = p.next();
  ASSERT_EQ(r3.kind, EpochReport::got_epoch) << r3.error;
  EXPECT_EQ(r3.epoch, 3);  // resumed after the last checkpoint
  EXPECT_EQ(p.next().epoch, 4);
  EXPECT_EQ(p.next().kind, EpochReport::exited);
  EXPECT_EQ(slurp(d + "/starts"), "start 0\nstart 2\n");
  std::filesystem::remove_all(d);
}

TEST(TuneProcess, SimulatedRevocationKillsAndRestartResumes) {
  // Each real epoch (~0.06 s) counts as about 1000 simulated seconds; capacity vanishes at
  // 2500 s and returns at 3000 s, so the trial is killed in epoch 2 or 3 and restarted.
  OneTypeMarket mk({1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 500);
  SearchSpace sp = space(5);
  std::string d = workdir("revoke");
  ProcessBackend b(sp, {{{"base", 1}}}, d, 1000.0 / 0.06, 0);
  SimOptions o;
  o.method = Method::random_spot;
  o.epochs = 5;
  o.parallel = 1;
  o.launch_overhead_s = 120;
  auto r = simulate(mk.r, b, {0}, o);
  EXPECT_GE(r.revocations, 1);
  EXPECT_GE(b.kills(), 1);
  EXPECT_GE(b.restarts(), 1);
  EXPECT_EQ(r.failed, 0) << (r.errors.empty() ? "" : r.errors[0]);
  EXPECT_EQ(r.epochs_run, 5);  // each epoch reported once, none lost before its checkpoint
  EXPECT_NEAR(r.best, 1.2, 1e-6);
  std::string starts = slurp(b.checkpoint_dir(0) + "/starts");
  EXPECT_EQ(starts.rfind("start 0\n", 0), 0u) << starts;
  // The restart resumed from a checkpoint (real timing decides whether after epoch 1 or 2).
  EXPECT_TRUE(starts.find("start 1\n") != std::string::npos || starts.find("start 2\n") != std::string::npos) << starts;
  std::filesystem::remove_all(d);
}

TEST(TuneProcess, CrashGarbageAndSilenceAreClearErrorsAndTuningGoesOn) {
  OneTypeMarket mk({1}, 1000);
  SearchSpace sp = space(4, /*timeout_s=*/1.0);
  std::string d = workdir("bad");
  std::vector<nlohmann::json> cfg = {{{"mode", "crash"}},
                                     {{"mode", "garbage"}},
                                     {{"mode", "silent"}},
                                     {{"mode", "ok"}, {"base", 0.5}}};
  ProcessBackend b(sp, cfg, d, 1000, 0);
  SimOptions o;
  o.method = Method::random_od;
  o.epochs = 4;
  o.parallel = 2;
  auto r = simulate(mk.r, b, {0, 1, 2, 3}, o);
  EXPECT_EQ(r.failed, 3);
  EXPECT_EQ(r.trials, 4);
  EXPECT_NEAR(r.best, 0.75, 1e-6);  // the good trial finished
  std::string all;
  for (auto& e : r.errors) all += e + "\n";
  EXPECT_NE(all.find("exited with status 3"), std::string::npos) << all;
  EXPECT_NE(all.find("trial.log"), std::string::npos) << all;
  EXPECT_NE(all.find("line(s) that are not {\"epoch\": N, \"loss\": x}"), std::string::npos) << all;
  EXPECT_NE(all.find("reported no epoch for 1 s; killed"), std::string::npos) << all;
  EXPECT_NE(slurp(b.checkpoint_dir(0) + "/trial.log").find("boom"), std::string::npos);
  std::filesystem::remove_all(d);
}

TEST(TuneProcess, CommandTemplateQuotesParameters) {
  TrialProcessOptions o{"run --params {params} --dir {checkpoint_dir} --epochs {epochs} #{trial}", "loss", 1, 0, 7};
  TrialProcess p(o, {{"name", "it's"}}, "/tmp/a b", 3);
  EXPECT_EQ(p.command_line(), "run --params '{\"name\":\"it'\\''s\"}' --dir '/tmp/a b' --epochs 7 #3");
}

// Regression (flaky TuneCli.RunTunesRealProcessesAndWritesAReport under load): a process runs
// on between the epoch line the simulator reads and its SIGSTOP, and while it is resumed for
// part of an epoch before a revocation's SIGKILL, so it can checkpoint (and report) epochs the
// simulator has not asked for yet. Those reports used to be lost with the killed process, and
// a restart on a checkpoint of the last epoch exited 0 at once: "exited with status 0 before
// reporting epoch N", a failed trial. "ahead" leaves that state deterministically.
TEST(TuneProcess, EpochsAKilledProcessRanAheadAreKeptAndACompleteCheckpointFinishes) {
  SearchSpace sp = space(4);
  std::string d = workdir("ahead");
  ProcessBackend b(sp, {{{"mode", "ahead"}, {"base", 1}}}, d, 1000, 0);
  EpochOutcome e1 = b.run_epoch(0, 1);
  ASSERT_TRUE(e1.ok) << e1.error;
  EXPECT_EQ(e1.epoch, 1);
  EXPECT_DOUBLE_EQ(e1.metric, 2.0);
  b.kill(0, 0.5);  // revocation; epoch 2's line is written but unread, epoch 4 checkpointed
  EpochOutcome e2 = b.run_epoch(0, 2);
  ASSERT_TRUE(e2.ok) << e2.error;
  EXPECT_FALSE(e2.finished);
  EXPECT_EQ(e2.epoch, 2);
  EXPECT_DOUBLE_EQ(e2.metric, 1.5);  // the killed process's report, not lost
  EpochOutcome e3 = b.run_epoch(0, 3);
  ASSERT_TRUE(e3.ok) << e3.error;
  EXPECT_TRUE(e3.finished);  // the restart found epoch 4's checkpoint and had nothing to do
  EXPECT_EQ(e3.epoch, 2);    // the last epoch whose metric is known
  EXPECT_EQ(slurp(b.checkpoint_dir(0) + "/starts"), "start 0\nstart 4\n");  // epoch 2 was not rerun
  EXPECT_EQ(b.kills(), 1);
  EXPECT_EQ(b.restarts(), 1);
  std::filesystem::remove_all(d);
}

TEST(TuneProcess, FirstStartThatExitsWithoutReportingStillFails) {
  // Only a restart may find its work done; a first start that reports nothing is an error.
  SearchSpace sp = space(3);
  sp.command = "exit 0";
  std::string d = workdir("noreport");
  ProcessBackend b(sp, {{{"base", 1}}}, d, 1000, 0);
  EpochOutcome e = b.run_epoch(0, 1);
  EXPECT_FALSE(e.ok);
  EXPECT_FALSE(e.finished);
  EXPECT_NE(e.error.find("exited with status 0 before reporting epoch 1"), std::string::npos) << e.error;
  std::filesystem::remove_all(d);
}

namespace {

// Trial 0's restart finds its checkpoint complete after epoch 2 was reported.
class LostTailBackend : public TrialBackend {
 public:
  size_t configs() const override { return 2; }
  nlohmann::json config(size_t c) const override { return {{"c", c}}; }
  double expected_seconds(size_t, int) const override { return 100; }
  EpochOutcome run_epoch(size_t c, int epoch) override {
    EpochOutcome o;
    o.ok = true;
    o.ref_seconds = 100;
    if (c == 0 && epoch == 3) {
      o.finished = true;
      o.epoch = 2;
      return o;
    }
    o.epoch = epoch;
    o.metric = 1 + double(c) + 1.0 / epoch;
    return o;
  }
  void kill(size_t, double) override {}
  void release(size_t) override {}
};

}  // namespace

TEST(TuneProcess, SimulatorCountsAFinishedRestartAsDoneNotFailed) {
  OneTypeMarket mk({1}, 1000);
  LostTailBackend b;
  SimOptions o;
  o.method = Method::random_od;
  o.epochs = 4;
  o.parallel = 1;
  auto r = simulate(mk.r, b, {0, 1}, o);
  EXPECT_EQ(r.failed, 0) << (r.errors.empty() ? "" : r.errors[0]);
  EXPECT_EQ(r.trials, 2);
  EXPECT_EQ(r.epochs_run, 2 + 4);
  EXPECT_NEAR(r.best, 1.5, 1e-12);
  ASSERT_EQ(r.trials_table.size(), 2u);
  EXPECT_EQ(r.trials_table[0].status, "done");
  EXPECT_EQ(r.trials_table[0].epochs, 2);
  EXPECT_NE(r.trials_table[0].error.find("epochs 3-4 were lost"), std::string::npos) << r.trials_table[0].error;
  EXPECT_EQ(r.trials_table[1].status, "done");
}
