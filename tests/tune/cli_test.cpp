// `veil tune` end to end: run with real (tiny) trial processes on the replayed market,
// replay/eval on the committed curves, and clear errors for bad inputs.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <utility>
#include <vector>

#include "tune/tune_test_util.h"
#include "veil/tune/curves.h"
#include "veil/tune/eval.h"
#include "veil/tune/market.h"

using namespace veil::tune;

namespace {

struct Out {
  int rc;
  std::string text;
};

Out sh(const std::string& cmd) {
  std::array<char, 4096> buf;
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, ""};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

std::string tmpdir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("veil-tune-cli-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

const std::string src = VEIL_SOURCE_DIR;
const std::string veil_bin = VEIL_BINARY;
std::string market_args() { return " --market " + src + "/data/tune/market-eu-west-3a.json --data " + test::shared_data(); }

}  // namespace

TEST(TuneCli, RunTunesRealProcessesAndWritesAReport) {
  VEIL_REQUIRE_SHARED("spot/skypilot-traces");
  std::string d = tmpdir("run");
  std::ofstream(d + "/space.json") << R"({"metric": "loss", "epochs": 6,
    "params": {"base": {"type": "float", "min": 0.5, "max": 2.0}},
    "budget": {"max_trials": 6},
    "command": "exec sh )" + src + R"(/tests/tune/fake_trial.sh", "report_timeout_s": 20})";
  auto r = sh(veil_bin + " tune run --space " + d + "/space.json" + market_args() +
              " --parallel 3 --time-scale 10000 --seed 2 --quiet --workdir " + d + "/work --report " + d + "/report");
  ASSERT_EQ(r.rc, 0) << r.text;
  EXPECT_NE(r.text.find("spottune"), std::string::npos) << r.text;
  EXPECT_NE(r.text.find("failed 0"), std::string::npos) << r.text;
  EXPECT_NE(r.text.find("processes killed by revocations"), std::string::npos) << r.text;
  std::string svg;
  {
    std::ifstream f(d + "/report/best_vs_cost.svg");
    svg.assign(std::istreambuf_iterator<char>(f), {});
  }
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("spottune"), std::string::npos);
  if (std::system("/usr/bin/python3 -c 'import xml' 2>/dev/null") == 0) {
    auto x = sh("/usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' " + d + "/report/best_vs_cost.svg");
    EXPECT_EQ(x.rc, 0) << "SVG is not well-formed XML: " << x.text;
  }
  EXPECT_TRUE(std::filesystem::exists(d + "/report/report.md"));
  std::filesystem::remove_all(d);
}

TEST(TuneCli, RecordRunsTrialsInParallelAndKeepsConfigOrder) {
  std::string d = tmpdir("record");
  // Configs alternate between a good trial and one that crashes after epoch 2.
  std::ofstream(d + "/space.json") << R"({"metric": "loss", "epochs": 4,
    "params": {"base": {"type": "float", "min": 0.5, "max": 2.0},
               "mode": {"type": "categorical", "values": ["ok", "crash"]}},
    "command": "exec sh )" + src + R"(/tests/tune/fake_trial.sh", "report_timeout_s": 20})";
  auto r = sh(veil_bin + " tune record --space " + d + "/space.json --configs 6 --jobs 3 --nice 0 --out " + d +
              "/curves.csv --workdir " + d + "/work");
  ASSERT_EQ(r.rc, 0) << r.text;
  const CurveSet set = read_curves(d + "/curves.csv");
  ASSERT_EQ(set.curves.size(), 6u);
  int crashed = 0;
  for (const Curve& c : set.curves) {
    const double base = c.params.at("base").get<double>();
    if (c.params.at("mode") == "crash") {
      ++crashed;
      EXPECT_EQ(c.metric.size(), 2u);
      EXPECT_NE(c.failure.find("exited with status 3"), std::string::npos) << c.failure;
    } else {
      ASSERT_EQ(c.metric.size(), 4u) << c.failure;
      for (size_t e = 0; e < 4; ++e) EXPECT_NEAR(c.metric[e], base + 1.0 / double(e + 1), 1e-5);
    }
  }
  EXPECT_GT(crashed, 0);
  EXPECT_LT(crashed, 6);
  // Same seed, one job at a time: the same configurations in the same order.
  auto r1 = sh(veil_bin + " tune record --space " + d + "/space.json --configs 6 --jobs 1 --nice 0 --out " + d +
               "/serial.csv --workdir " + d + "/work");
  ASSERT_EQ(r1.rc, 0) << r1.text;
  const CurveSet serial = read_curves(d + "/serial.csv");
  ASSERT_EQ(serial.curves.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(serial.curves[i].params, set.curves[i].params);
    EXPECT_EQ(serial.curves[i].metric, set.curves[i].metric);
  }
  std::filesystem::remove_all(d);
}

TEST(TuneCli, BadInputsSayWhatIsWrong) {
  std::string d = tmpdir("bad");
  std::ofstream(d + "/space.json") << R"({"metric": "loss", "epochs": 3, "params": {"lr": {"type": "float", "min": 0, "max": 1, "scale": "log"}}})";
  auto r = sh(veil_bin + " tune run --space " + d + "/space.json" + market_args());
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.text.find("params.lr: a log-scale range needs min > 0"), std::string::npos) << r.text;
  std::ofstream(d + "/broken.json") << "{\"metric\": ";
  r = sh(veil_bin + " tune run --space " + d + "/broken.json" + market_args());
  EXPECT_NE(r.text.find("not valid JSON"), std::string::npos) << r.text;
  r = sh(veil_bin + " tune replay --curves " + d + "/space.json" + market_args());
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.text.find("expected the header config,epoch,metric,seconds,params"), std::string::npos) << r.text;
  r = sh(veil_bin + " tune replay --curves " + src + "/data/tune/mlp_curves.csv --methods bohb" + market_args());
  EXPECT_NE(r.text.find("unknown method \"bohb\""), std::string::npos) << r.text;
  r = sh(veil_bin + " tune replay --billing monthly --curves " + src + "/data/tune/mlp_curves.csv" + market_args());
  EXPECT_NE(r.text.find("billing must be"), std::string::npos) << r.text;
  r = sh(veil_bin + " tune market --data /nonexistent");
  EXPECT_NE(r.text.find("no spot data under /nonexistent"), std::string::npos) << r.text;
  std::filesystem::remove_all(d);
}

// Numbers the simulation cannot use are refused by name (they gave negative wall times, or were
// silently replaced by the default), and `tune market` lists only the options it reads.
TEST(TuneCli, OutOfRangeNumbersAreRefused) {
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {"replay --epoch-minutes -3", "--epoch-minutes: must be a number > 0, got -3"},
           {"eval --epoch-minutes 0", "--epoch-minutes: must be a number > 0, got 0"},
           {"replay --overhead -1", "--overhead: must be a number >= 0, got -1"},
           {"replay --notice -5", "--notice: must be a number >= 0, got -5"},
           {"replay --stop-prob 2", "--stop-prob: Value 2 not in range"},
           {"replay --max-trials -4", "--max-trials: Value -4 not in range"}}) {
    const auto r = sh(veil_bin + " tune " + args);
    EXPECT_EQ(r.rc, 105) << args << "\n" << r.text;
    EXPECT_NE(r.text.find(message), std::string::npos) << args << "\n" << r.text;
  }
  const auto help = sh(veil_bin + " tune market --help");
  ASSERT_EQ(help.rc, 0);
  EXPECT_NE(help.text.find("--data"), std::string::npos) << help.text;
  EXPECT_EQ(help.text.find("--stop-prob"), std::string::npos) << help.text;
}

TEST(TuneCli, ReplayIsRepeatableBySeed) {
  VEIL_REQUIRE_SHARED("spot/skypilot-traces");
  std::string c = src + "/data/tune/mlp_curves.csv";
  auto a = sh(veil_bin + " tune replay --curves " + c + market_args() + " --seed 3");
  auto b = sh(veil_bin + " tune replay --curves " + c + market_args() + " --seed 3");
  ASSERT_EQ(a.rc, 0) << a.text;
  EXPECT_EQ(a.text, b.text);
  EXPECT_NE(a.text.find("asha-spot"), std::string::npos);
}

// The issue's targets on one workload's committed curves, 5 seeds x every trace scenario:
// SpotTune comes within 1% of on-demand random search's best at <= 25% of its cost, and
// costs less than ASHA on spot while being at least as good.
static void expect_the_targets_met(const std::string& curves_csv) {
  CurveSet cs = read_curves(src + "/" + curves_csv);
  Market m = load_market(src + "/data/tune/market-eu-west-3a.json", test::shared_data());
  EvalOptions o;
  o.seeds = 5;
  o.methods = {Method::random_od, Method::spottune, Method::asha_spot};
  o.sim.budget.max_trials = int(cs.curves.size()) * 3 / 4;
  auto runs = run_eval(m, cs, o);
  double st_cost = 0, od_cost = 0, asha_cost = 0, st_best = 0, od_best = 0, asha_best = 0;
  for (const auto& r : runs) {
    if (r.method == Method::spottune) st_cost += r.result.cost, st_best += r.result.best;
    if (r.method == Method::random_od) od_cost += r.result.cost, od_best += r.result.best;
    if (r.method == Method::asha_spot) asha_cost += r.result.cost, asha_best += r.result.best;
  }
  EXPECT_LE(st_cost, 0.25 * od_cost) << curves_csv;
  EXPECT_LE(st_best, 1.01 * od_best) << curves_csv;
  EXPECT_LT(st_cost, asha_cost) << curves_csv;
  EXPECT_LE(st_best, asha_best + 1e-9) << curves_csv;  // on GPT-2 both find the same best in every run
}

TEST(TuneEval, SpotTuneMeetsTheTargetsOnTheRecordedCurves) {
  VEIL_REQUIRE_SHARED("spot/skypilot-traces");
  expect_the_targets_met("data/tune/mlp_curves.csv");
  // Tiny GPT-2: the default before fair references (--no-rank-early) cost more than
  // asha-spot on these seeds ($5.88 against $5.75 a run), so the third check can fail.
  expect_the_targets_met("data/tune/gpt2_curves.csv");
}
