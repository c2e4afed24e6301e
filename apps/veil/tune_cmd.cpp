// `veil tune`: cost-efficient hyper-parameter tuning on (simulated) spot instances, after
// SpotTune (Li et al., ICDCS 2020, arXiv:2012.03576). Subcommands:
//   record  run a set of real trials once and store their learning curves (CSV)
//   run     tune with real trial processes; market clock, prices and revocations replayed
//   replay  tune on recorded curves (seconds, repeatable by seed)
//   eval    all methods x seeds x traces; writes the table into docs/TUNING.md
//   market  print the market: prices, speeds, estimated revocation rates
//   k8s     write Kubernetes Job manifests for trials on a spot node pool
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "veil/commands.h"
#include "veil/tune/backend.h"
#include "veil/tune/curves.h"
#include "veil/tune/eval.h"
#include "veil/tune/k8s.h"
#include "veil/tune/market.h"
#include "veil/tune/report.h"
#include "veil/tune/sim.h"
#include "veil/tune/space.h"
#include "veil/tune/trial_process.h"

namespace veil::app {

namespace {

// Runs one recorded configuration to its end (or failure); the trial's checkpoints live in
// `dir` and are removed afterwards.
tune::Curve record_one(const tune::SearchSpace& sp, const nlohmann::json& params, int c, const std::string& dir,
                       int nice) {
  tune::TrialProcessOptions o;
  o.command = sp.command;
  o.metric = sp.metric;
  o.report_timeout_s = sp.report_timeout_s;
  o.nice = nice;
  o.epochs = sp.epochs;
  std::filesystem::remove_all(dir);
  tune::Curve cv;
  cv.params = params;
  tune::TrialProcess p(o, params, dir, c);
  p.start();
  for (;;) {
    tune::EpochReport r = p.next();
    if (r.kind == tune::EpochReport::got_epoch) {
      if (r.epoch != int(cv.metric.size()) + 1) continue;
      cv.metric.push_back(r.metric);
      cv.seconds.push_back(r.seconds);
      continue;
    }
    if (r.kind == tune::EpochReport::failed) cv.failure = r.error;
    else if (int(cv.metric.size()) < sp.epochs) cv.failure = "exited after epoch " + std::to_string(cv.metric.size());
    break;
  }
  std::filesystem::remove_all(dir);
  return cv;
}

void cmd_record(const std::string& space_path, int configs, uint64_t seed, const std::string& out,
                const std::string& workdir, int nice, int jobs) {
  tune::SearchSpace sp = tune::load_space(space_path);
  if (sp.command.empty()) throw std::invalid_argument(space_path + ": \"command\" is required to record curves");
  const auto cfgs = sp.sample_n(configs, seed);
  std::vector<std::optional<tune::Curve>> done(size_t(configs), std::nullopt);
  std::mutex mu;
  int next = 0, finished = 0;
  // Writes the finished curves in configuration order after every trial, so an interrupted
  // recording keeps what it has.
  auto write_done = [&] {
    tune::CurveSet set;
    set.metric = sp.metric;
    set.minimize = sp.minimize;
    set.epochs = sp.epochs;
    set.provenance.push_back("space=" + space_path + " configs=" + std::to_string(configs) +
                             " seed=" + std::to_string(seed) + " jobs=" + std::to_string(jobs));
    set.provenance.push_back("command=" + sp.command);
    for (const auto& cv : done)
      if (cv) set.curves.push_back(*cv);
    tune::write_curves(out, set);
  };
  std::exception_ptr error;
  auto worker = [&] {
    for (;;) {
      int c;
      {
        std::lock_guard<std::mutex> g(mu);
        if (next >= configs || error) return;
        c = next++;
      }
      try {
        tune::Curve cv = record_one(sp, cfgs[size_t(c)], c, workdir + "/record-" + std::to_string(c), nice);
        std::lock_guard<std::mutex> g(mu);
        ++finished;
        std::fprintf(stderr, "record: config %d (%d/%d done) %s: %zu epochs, last %s=%.4f%s%s\n", c + 1, finished,
                     configs, cfgs[size_t(c)].dump().c_str(), cv.metric.size(), sp.metric.c_str(),
                     cv.metric.empty() ? 0.0 : cv.metric.back(), cv.failure.empty() ? "" : " FAILED: ",
                     cv.failure.c_str());
        done[size_t(c)] = std::move(cv);
        write_done();
      } catch (...) {
        std::lock_guard<std::mutex> g(mu);
        if (!error) error = std::current_exception();
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int j = 0; j < std::min(jobs, configs); ++j) pool.emplace_back(worker);
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  std::printf("wrote %d curves to %s\n", configs, out.c_str());
}

// Options shared by the commands that replay a market.
struct MarketArgs {
  std::string market = "data/tune/market-eu-west-3a.json";
  std::string data = "../shared/data";
  std::string billing = "per-second";
  std::string scenario;
  int parallel = 8;
  double overhead_s = 120, notice_s = 120;
  double stop_prob = 0.05;
  int predict_after = 0;
  int predict_from = 1, calibration_refs = 3;
  std::string trend = "ensemble";
  double backtest_reach = 0.25;
  int max_trials = 0;
  int fair_refs = tune::SimOptions{}.fair_refs;
  bool no_provisioning = false, no_prediction = false, no_calibration = false, no_hand_over = false, no_rank_early = false,
       asha_hand_over = false;

  // The market's files only (`veil tune market`).
  void add_market(CLI::App* c) {
    c->add_option("--market", market, "Market file: instance types, on-demand prices, speeds, trace scenarios")
        ->capture_default_str();
    c->add_option("--data", data, "Shared data folder with spot/aws-prices and spot/skypilot-traces")->capture_default_str();
  }
  // The market and the simulated tuning.
  void add(CLI::App* c) {
    add_market(c);
    c->add_option("--billing", billing, "per-second (60 s minimum) or hourly (revoked partial hour free)")
        ->capture_default_str();
    c->add_option("--scenario", scenario, "Trace scenario name from the market file (default: the first)");
    c->add_option("--parallel", parallel, "Trials running at once (one instance each)")->capture_default_str()->check(CLI::Range(1, 1000));
    c->add_option("--overhead", overhead_s, "Launch/restart overhead in seconds, charged on every (re)start")
        ->capture_default_str()
        ->check(non_negative);
    c->add_option("--notice", notice_s, "Revocation notice in seconds")->capture_default_str()->check(non_negative);
    c->add_option("--stop-prob", stop_prob, "SpotTune stops a trial when P(final better than best) < this")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    c->add_option("--predict-from", predict_from,
                  "First epoch at which SpotTune's calibrated trend prediction may stop a trial")
        ->capture_default_str()->check(CLI::Range(1, 1000));
    c->add_option("--calibration-refs", calibration_refs,
                  "Finished trials SpotTune needs before it calibrates its trend prediction on them")
        ->capture_default_str()->check(CLI::Range(1, 1000));
    c->add_option("--trend", trend,
                  "Calibrated predictors that must all agree before a stop: map (cross-trial: value at epoch k to final), "
                  "ensemble (parametric curve fit), or both comma-separated")
        ->capture_default_str();
    c->add_option("--backtest-reach", backtest_reach,
                  "Calibrated ensemble: a trial serves as a backtest at epoch k once it has run k + this share of the "
                  "remaining epochs")
        ->capture_default_str()->check(CLI::Range(0.0, 1.0));
    c->add_flag("--no-calibration", no_calibration,
                "Ablation: SpotTune's uncalibrated curve-fit ensemble only (stops from --predict-after on)");
    c->add_option("--predict-after", predict_after,
                  "Epochs before the uncalibrated ensemble extrapolates a curve (used until --calibration-refs "
                  "trials have finished, or always with --no-calibration; 0: a third of the epochs, at least 3)")
        ->capture_default_str()->check(CLI::Range(0, 1000));
    c->add_flag("--no-provisioning", no_provisioning, "Ablation: SpotTune on the baseline type's spot market only");
    c->add_flag("--no-prediction", no_prediction, "Ablation: SpotTune without early stopping");
    c->add_flag("--no-hand-over", no_hand_over,
                "Ablation: with hourly billing, SpotTune does not hand a stopped trial's paid hour to the next trial");
    c->add_flag("--asha-hand-over", asha_hand_over,
                "With hourly billing, asha-od and asha-spot also hand a stopped trial's paid hour to the next trial "
                "(SpotTune's mechanism, for a like-for-like comparison; off by default)");
    c->add_flag("--no-rank-early", no_rank_early,
                "Ablation: SpotTune does not pause trials while its calibrated prediction abstains, so the first trials "
                "run until others can judge them (the default before ranking early)");
    c->add_option("--fair-refs", fair_refs,
                  "SpotTune's rank-early rule: while the calibrated prediction abstains (too few references), a trial "
                  "not in the best third of the values recorded at its epoch pauses until the prediction can judge it; "
                  "the first N trials to start are never paused, and a trial once paused is no calibration reference. "
                  "0: any trial may pause and paused trials become references once resumed (biased, see TUNING.md)")
        ->capture_default_str()->check(CLI::Range(0, 1000));
    c->add_option("--max-trials", max_trials, "Trials per run (default: the space's budget.max_trials or all curves)")
        ->check(CLI::Range(1, 1000000));
  }
  tune::SimOptions sim() const {
    tune::SimOptions o;
    o.parallel = parallel;
    o.billing = tune::parse_billing(billing);
    o.launch_overhead_s = overhead_s;
    o.notice_s = notice_s;
    o.stop_prob = stop_prob;
    o.predict_after = predict_after;
    o.predict_from = predict_from;
    o.min_references = calibration_refs;
    o.calibrate = !no_calibration;
    o.backtest_reach = backtest_reach;
    o.trend_map = o.trend_ensemble = false;
    std::stringstream ss(trend);
    for (std::string w; std::getline(ss, w, ',');) {
      if (w == "map") o.trend_map = true;
      else if (w == "ensemble") o.trend_ensemble = true;
      else throw std::invalid_argument("--trend: unknown predictor \"" + w + "\"; use map, ensemble or map,ensemble");
    }
    if (!o.trend_map && !o.trend_ensemble) throw std::invalid_argument("--trend: name at least one predictor");
    o.provisioning = !no_provisioning;
    o.prediction = !no_prediction;
    o.hand_over = !no_hand_over;
    o.asha_hand_over = asha_hand_over;
    o.rank_early = !no_rank_early;
    o.fair_refs = fair_refs;
    return o;
  }
  tune::Market load() const {
    if (!std::filesystem::exists(data + "/spot"))
      throw std::runtime_error("no spot data under " + data + " (expected spot/aws-prices and spot/skypilot-traces); pass --data");
    return tune::load_market(market, data);
  }
  size_t scenario_index(const tune::Market& m) const {
    if (scenario.empty()) return 0;
    for (size_t i = 0; i < m.scenarios.size(); ++i)
      if (m.scenarios[i].name == scenario) return i;
    std::string names;
    for (auto& s : m.scenarios) names += " " + s.name;
    throw std::invalid_argument("unknown --scenario " + scenario + "; the market has:" + names);
  }
};

std::vector<tune::Method> parse_methods(const std::string& s) {
  if (s == "all") return tune::all_methods();
  std::vector<tune::Method> out;
  std::stringstream ss(s);
  std::string m;
  while (std::getline(ss, m, ',')) out.push_back(tune::parse_method(m));
  return out;
}

void print_summary(const tune::SimResult& r, const std::string& metric) {
  std::printf("%-12s cost $%8.3f  wall %6.2f h  best %s %.4f (config %ld)  trials %d  epochs %d  revocations %d  "
              "migrations %d  stopped early %d  failed %d  spot %.0f%%\n",
              r.method.c_str(), r.cost, r.wall_s / 3600, metric.c_str(), r.best, r.best_config, r.trials, r.epochs_run,
              r.revocations, r.migrations, r.stopped_early, r.failed, 100 * r.spot_share);
  for (const auto& e : r.errors) std::printf("    trial error: %s\n", e.c_str());
}

void write_report(const std::string& dir, const std::vector<tune::SimResult>& rs, const std::string& metric,
                  const std::string& title) {
  std::filesystem::create_directories(dir);
  std::vector<tune::PlotSeries> ps;
  for (const auto& r : rs) ps.push_back({r.method, r.best_vs_cost});
  std::ofstream(dir + "/best_vs_cost.svg") << tune::svg_best_vs_cost(ps, metric, title);
  std::ofstream md(dir + "/report.md");
  md << "# veil tune report\n\n" << title << "\n\n![best " << metric << " vs money](best_vs_cost.svg)\n\n";
  md << "| method | cost $ | wall h | best " << metric << " | trials | epochs | revocations | migrations | stopped early | failed |\n";
  md << "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : rs) {
    char b[512];
    std::snprintf(b, sizeof b, "| %s | %.3f | %.2f | %.4f | %d | %d | %d | %d | %d | %d |\n", r.method.c_str(), r.cost,
                  r.wall_s / 3600, r.best, r.trials, r.epochs_run, r.revocations, r.migrations, r.stopped_early, r.failed);
    md << b;
  }
  for (const auto& r : rs) {
    md << "\n## " << r.method << "\n\n```\n" << tune::progress_table(r.wall_s, r.cost, r, metric) << "```\n";
  }
  std::printf("report: %s/report.md, %s/best_vs_cost.svg\n", dir.c_str(), dir.c_str());
}

}  // namespace

void register_tune(CLI::App& app) {
  CLI::App* tune = app.add_subcommand("tune", "Hyper-parameter tuning on spot instances (SpotTune) with market replay");
  tune->require_subcommand(1);

  struct RecordArgs {
    std::string space, out, workdir = "/tmp/veil-tune-record";
    int configs = 40;
    uint64_t seed = 1;
    int nice = 19;
    int jobs = 1;
  };
  auto ra = std::make_shared<RecordArgs>();
  CLI::App* rec = tune->add_subcommand("record", "Run `--configs` sampled configurations of the search space for its full "
                                                 "number of epochs, `--jobs` at a time, and write their learning curves (CSV)");
  rec->add_option("--space", ra->space, "Search space JSON (needs \"command\")")->required()->check(CLI::ExistingFile);
  rec->add_option("--out", ra->out, "Output curves CSV")->required();
  rec->add_option("--configs", ra->configs, "How many configurations to sample and run")->capture_default_str()->check(CLI::Range(1, 100000));
  rec->add_option("--seed", ra->seed, "Seed of the configuration sample")->capture_default_str();
  rec->add_option("--workdir", ra->workdir, "Directory for the trials' checkpoints and logs")->capture_default_str();
  rec->add_option("--nice", ra->nice, "Niceness added to each trial process")->capture_default_str()->check(CLI::Range(0, 19));
  rec->add_option("--jobs", ra->jobs, "Trials running at once (each is its own process; they share the machine, "
                                      "so recorded epoch times include that contention)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  rec->callback([ra] { cmd_record(ra->space, ra->configs, ra->seed, ra->out, ra->workdir, ra->nice, ra->jobs); });

  // replay
  struct ReplayArgs {
    MarketArgs m;
    std::string curves = "data/tune/mlp_curves.csv", methods = "all", report;
    int seed = 1;
    double epoch_minutes = 10;
    bool live = false;
  };
  auto pa = std::make_shared<ReplayArgs>();
  CLI::App* rp = tune->add_subcommand("replay", "Tune on recorded learning curves with the market replayed from traces "
                                                "(seconds; the same seed gives the same result)");
  pa->m.add(rp);
  rp->add_option("--curves", pa->curves, "Recorded curves CSV from `veil tune record`")->capture_default_str();
  rp->add_option("--methods", pa->methods, "Comma-separated methods or all: spottune, random-od, random-spot, asha-od, asha-spot")
      ->capture_default_str();
  rp->add_option("--seed", pa->seed, "Seed: configuration order and trace/price offsets")->capture_default_str();
  rp->add_option("--epoch-minutes", pa->epoch_minutes, "Mean epoch length on the baseline instance (recorded times are scaled)")
      ->capture_default_str()
      ->check(positive);
  rp->add_option("--report", pa->report, "Write report.md and best_vs_cost.svg into this directory");
  rp->add_flag("--live", pa->live, "Print the progress table after every epoch");
  rp->callback([pa] {
    tune::CurveSet cs = tune::read_curves(pa->curves);
    tune::Market m = pa->m.load();
    size_t s = pa->m.scenario_index(m);
    tune::MarketReplay rep = tune::make_replay(m, s, uint64_t(pa->seed), 14 * 86400.0);
    tune::ReplayBackend b(cs, pa->epoch_minutes);
    auto order = tune::config_order(cs.curves.size(), pa->seed);
    std::vector<tune::SimResult> rs;
    for (tune::Method me : parse_methods(pa->methods)) {
      tune::SimOptions o = pa->m.sim();
      o.method = me;
      o.epochs = cs.epochs;
      o.minimize = cs.minimize;
      o.budget.max_trials = pa->m.max_trials > 0 ? pa->m.max_trials : int(cs.curves.size());
      tune::ProgressFn live;
      if (pa->live) live = [&](double t, double sp, const tune::SimResult& r) { std::fputs(tune::progress_table(t, sp, r, cs.metric).c_str(), stderr); };
      rs.push_back(tune::simulate(rep, b, order, o, live));
      print_summary(rs.back(), cs.metric);
    }
    if (!pa->report.empty())
      write_report(pa->report, rs, cs.metric, "replay of " + pa->curves + " on " + m.name + " / " + rep.scenario + ", seed " + std::to_string(pa->seed));
  });

  // eval
  struct EvalArgs {
    MarketArgs m;
    std::string curves = "data/tune/mlp_curves.csv", out = "docs/TUNING.md", svg = "data/tune/eval-best-vs-cost.svg", methods = "all";
    std::string tag;
    int seeds = 20, first_seed = 1;
    double epoch_minutes = 10;
  };
  auto ea = std::make_shared<EvalArgs>();
  CLI::App* ev = tune->add_subcommand("eval", "Run every method over --seeds seeds and every trace scenario, and write "
                                              "the table into --out between <!-- veil-tune-eval-[TAG-]BILLING:begin/end --> markers");
  ea->m.add(ev);
  ev->add_option("--curves", ea->curves, "Recorded curves CSV")->capture_default_str();
  ev->add_option("--seeds", ea->seeds, "Seeds per scenario")->capture_default_str()->check(CLI::Range(1, 10000));
  ev->add_option("--first-seed", ea->first_seed, "First seed (held-out checks: e.g. --first-seed 21 --seeds 20)")
      ->capture_default_str()->check(CLI::Range(1, 1000000));
  ev->add_option("--methods", ea->methods, "Methods (comma-separated) or all")->capture_default_str();
  ev->add_option("--epoch-minutes", ea->epoch_minutes, "Mean epoch length on the baseline instance")
      ->capture_default_str()
      ->check(positive);
  ev->add_option("--out", ea->out, "Markdown file to paste the table into (created if missing)")->capture_default_str();
  ev->add_option("--tag", ea->tag, "Workload name in the markers: <!-- veil-tune-eval-TAG-BILLING:begin/end --> "
                                   "(empty: veil-tune-eval-BILLING), so one file can hold several workloads' tables");
  ev->add_option("--svg", ea->svg, "SVG of best metric vs money for --first-seed of the first scenario (empty: none)")->capture_default_str();
  ev->callback([ea] {
    tune::CurveSet cs = tune::read_curves(ea->curves);
    tune::Market m = ea->m.load();
    tune::EvalOptions eo;
    eo.seeds = ea->seeds;
    eo.first_seed = ea->first_seed;
    eo.methods = parse_methods(ea->methods);
    eo.epoch_minutes = ea->epoch_minutes;
    eo.sim = ea->m.sim();
    // Default: each seed tunes over a random three quarters of the recorded configs, so
    // that seeds differ in which configurations exist, not only in their order.
    eo.sim.budget.max_trials = ea->m.max_trials > 0 ? ea->m.max_trials : std::max(1, int(cs.curves.size()) * 3 / 4);
    if (!ea->m.scenario.empty()) eo.scenarios = {ea->m.scenario_index(m)};
    auto t0 = std::chrono::steady_clock::now();
    auto runs = tune::run_eval(m, cs, eo);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string md = tune::eval_markdown(m, cs, eo, runs);
    std::fputs(md.c_str(), stdout);
    std::printf("\n%zu simulated runs in %.1f s\n", runs.size(), secs);
    std::string marker = "veil-tune-eval-" + (ea->tag.empty() ? "" : ea->tag + "-") + ea->m.billing;
    tune::paste_between_markers(ea->out, marker, md);
    if (!ea->svg.empty()) {
      std::vector<tune::PlotSeries> ps;
      for (const auto& r : runs)
        if (r.seed == ea->first_seed && r.scenario == runs.front().scenario) ps.push_back({tune::method_name(r.method), r.result.best_vs_cost});
      std::ofstream(ea->svg) << tune::svg_best_vs_cost(ps, cs.metric, "best " + cs.metric + " vs money, " + m.scenarios[runs.front().scenario].name + ", seed " + std::to_string(ea->first_seed) + ", " + ea->m.billing + " billing");
    }
    std::printf("pasted into %s (markers %s)\n", ea->out.c_str(), marker.c_str());
  });

  // run
  struct RunArgs {
    MarketArgs m;
    std::string space, method = "spottune", workdir = "/tmp/veil-tune-run", report;
    int seed = 1, nice = 19;
    double time_scale = 600;
    bool quiet = false;
  };
  auto ua = std::make_shared<RunArgs>();
  CLI::App* ru = tune->add_subcommand("run", "Tune with real trial processes (the space's \"command\") while the market clock, "
                                             "prices and revocations are replayed: a revocation kills the process, the "
                                             "restart resumes from its checkpoint. Trials run one epoch at a time, in step "
                                             "with the simulated clock");
  ua->m.add(ru);
  ru->add_option("--space", ua->space, "Search space JSON with \"command\"")->required()->check(CLI::ExistingFile);
  ru->add_option("--method", ua->method, "spottune, random-od, random-spot, asha-od or asha-spot")->capture_default_str();
  ru->add_option("--seed", ua->seed, "Seed: configurations sampled and trace/price offsets")->capture_default_str();
  ru->add_option("--workdir", ua->workdir, "Checkpoint directories trial-<i> and their trial.log")->capture_default_str();
  ru->add_option("--time-scale", ua->time_scale, "Simulated seconds per real second of a trial on the baseline instance")
      ->capture_default_str()->check(positive);
  ru->add_option("--nice", ua->nice, "Niceness added to trial processes")->capture_default_str()->check(CLI::Range(0, 19));
  ru->add_option("--report", ua->report, "Write report.md and best_vs_cost.svg into this directory");
  ru->add_flag("--quiet", ua->quiet, "No live progress table");
  ru->callback([ua] {
    tune::SearchSpace sp = tune::load_space(ua->space);
    tune::Market m = ua->m.load();
    size_t s = ua->m.scenario_index(m);
    tune::MarketReplay rep = tune::make_replay(m, s, uint64_t(ua->seed), 14 * 86400.0);
    int n = ua->m.max_trials > 0 ? ua->m.max_trials : sp.budget.max_trials;
    std::filesystem::remove_all(ua->workdir);
    tune::ProcessBackend b(sp, sp.sample_n(n, uint64_t(ua->seed)), ua->workdir, ua->time_scale, ua->nice);
    std::vector<size_t> order(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) order[size_t(i)] = size_t(i);
    tune::SimOptions o = ua->m.sim();
    o.method = tune::parse_method(ua->method);
    o.epochs = sp.epochs;
    o.minimize = sp.minimize;
    o.budget = sp.budget;
    o.budget.max_trials = n;
    auto last = std::chrono::steady_clock::now() - std::chrono::seconds(10);
    tune::ProgressFn live = [&](double t, double spent, const tune::SimResult& r) {
      if (ua->quiet) return;
      auto now = std::chrono::steady_clock::now();
      if (now - last < std::chrono::milliseconds(500)) return;
      last = now;
      if (isatty(2)) std::fputs("\x1b[H\x1b[2J", stderr);
      std::fputs(tune::progress_table(t, spent, r, sp.metric).c_str(), stderr);
    };
    tune::SimResult r = tune::simulate(rep, b, order, o, live);
    if (!ua->quiet) std::fputs(tune::progress_table(r.wall_s, r.cost, r, sp.metric).c_str(), stderr);
    print_summary(r, sp.metric);
    std::printf("processes killed by revocations: %d, restarts from checkpoint: %d\n", b.kills(), b.restarts());
    if (r.budget_exhausted) std::printf("stopped by the budget (money or deadline)\n");
    if (!ua->report.empty())
      write_report(ua->report, {r}, sp.metric, "veil tune run of " + ua->space + " on " + m.name + " / " + rep.scenario);
  });

  // k8s
  struct K8sArgs {
    std::string space, out = "deploy/k8s/tune";
    int trials = 3;
    uint64_t seed = 1;
    tune::K8sOptions o;
  };
  auto ka = std::make_shared<K8sArgs>();
  CLI::App* k8 = tune->add_subcommand("k8s", "Write Kubernetes manifests: a checkpoint PersistentVolumeClaim and one Job per "
                                             "sampled trial on a spot node pool (node selector + toleration)");
  k8->add_option("--space", ka->space, "Search space JSON with \"command\"")->required()->check(CLI::ExistingFile);
  k8->add_option("--out", ka->out, "Output directory")->capture_default_str();
  k8->add_option("--trials", ka->trials, "Trials to sample")->capture_default_str()->check(CLI::Range(1, 10000));
  k8->add_option("--seed", ka->seed, "Seed of the sample")->capture_default_str();
  k8->add_option("--image", ka->o.image, "Container image with the trial program")->capture_default_str();
  k8->add_option("--namespace", ka->o.ns, "Namespace")->capture_default_str();
  k8->add_option("--instance-type", ka->o.instance_type, "Pin node.kubernetes.io/instance-type (empty: any in the pool)");
  k8->add_option("--selector", ka->o.selector_key, "Node label that marks spot nodes")->capture_default_str();
  k8->add_option("--selector-value", ka->o.selector_value, "Its value")->capture_default_str();
  k8->add_option("--taint", ka->o.taint_key, "Taint key of the spot pool to tolerate (value true, NoSchedule)")->capture_default_str();
  k8->callback([ka] {
    tune::SearchSpace sp = tune::load_space(ka->space);
    if (sp.command.empty()) throw std::invalid_argument(ka->space + ": \"command\" is required for Jobs");
    std::filesystem::create_directories(ka->out);
    std::ofstream(ka->out + "/checkpoints-pvc.yaml") << tune::k8s_claim_yaml(ka->o);
    auto cfgs = sp.sample_n(ka->trials, ka->seed);
    for (int i = 0; i < ka->trials; ++i)
      std::ofstream(ka->out + "/trial-" + std::to_string(i) + ".yaml") << tune::k8s_job_yaml(sp, cfgs[size_t(i)], i, ka->o);
    std::printf("wrote %s/checkpoints-pvc.yaml and %d Job manifests; apply with kubectl apply -f %s\n", ka->out.c_str(),
                ka->trials, ka->out.c_str());
  });

  // market
  auto ma = std::make_shared<MarketArgs>();
  CLI::App* mk = tune->add_subcommand("market", "Print the market: on-demand and spot prices, speeds, and the revocation "
                                                "rates estimated from each scenario's traces");
  ma->add_market(mk);
  mk->callback([ma] {
    tune::Market m = ma->load();
    std::printf("%s\non-demand prices: %s\nspeeds: %s\n\n", m.name.c_str(), m.on_demand_source.c_str(), m.speed_note.c_str());
    std::printf("%-14s %6s %9s %9s %9s %6s  %s\n", "type", "vCPU", "od $/h", "spot min", "spot max", "speed", "od $/progress");
    for (size_t i = 0; i < m.types.size(); ++i) {
      auto& p = m.spot[i].price;
      std::printf("%-14s %6.0f %9.4f %9.4f %9.4f %6.3f  %.4f%s\n", m.types[i].name.c_str(), m.types[i].vcpus, m.types[i].on_demand,
                  *std::min_element(p.begin(), p.end()), *std::max_element(p.begin(), p.end()), m.types[i].speed,
                  m.types[i].on_demand / m.types[i].speed, int(i) == m.baseline ? "  (baseline)" : "");
    }
    for (size_t s = 0; s < m.scenarios.size(); ++s) {
      auto r = tune::make_replay(m, s, 1, 86400);
      std::printf("\nscenario %s (%s): revocations per held hour (first half of each trace), P(revoked within 1 h), availability\n",
                  m.scenarios[s].name.c_str(), m.scenarios[s].trace_dir.c_str());
      for (size_t i = 0; i < m.types.size(); ++i)
        std::printf("  %-14s %-26s %.3f/h  %.1f%%  %.0f%%\n", m.types[i].name.c_str(), r.traces[i].name().c_str(),
                    r.estimate[i].rate_per_hour, 100 * r.estimate[i].probability(1), 100 * r.estimate[i].availability);
    }
  });
}

}  // namespace veil::app
