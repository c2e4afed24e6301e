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
