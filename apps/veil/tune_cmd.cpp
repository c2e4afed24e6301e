// `veil tune`: cost-efficient hyper-parameter tuning on (simulated) spot instances, after
// SpotTune (Li et al., ICDCS 2020, arXiv:2012.03576). Subcommands:
//   record  run a set of real trials once and store their learning curves (CSV)
//   run     tune with real trial processes; market clock, prices and revocations replayed
//   replay  tune on recorded curves (seconds, repeatable by seed)
//   eval    all methods x seeds x traces; writes the table into docs/TUNING.md
//   market  print the market: prices, speeds, estimated revocation rates
//   k8s     write Kubernetes Job manifests for trials on a spot node pool
#include <cstdio>
#include <filesystem>
#include <memory>

#include "veil/commands.h"
#include "veil/tune/curves.h"
#include "veil/tune/space.h"
#include "veil/tune/trial_process.h"

namespace veil::app {

namespace {

void cmd_record(const std::string& space_path, int configs, uint64_t seed, const std::string& out,
                const std::string& workdir, int nice) {
  tune::SearchSpace sp = tune::load_space(space_path);
  if (sp.command.empty()) throw std::invalid_argument(space_path + ": \"command\" is required to record curves");
  tune::CurveSet set;
  set.metric = sp.metric;
  set.minimize = sp.minimize;
  set.epochs = sp.epochs;
  set.provenance.push_back("space=" + space_path + " configs=" + std::to_string(configs) + " seed=" + std::to_string(seed));
  set.provenance.push_back("command=" + sp.command);
  auto cfgs = sp.sample_n(configs, seed);
  for (int c = 0; c < configs; ++c) {
    tune::TrialProcessOptions o;
    o.command = sp.command;
    o.metric = sp.metric;
    o.report_timeout_s = sp.report_timeout_s;
    o.nice = nice;
    o.epochs = sp.epochs;
    const std::string dir = workdir + "/record-" + std::to_string(c);
    std::filesystem::remove_all(dir);
    tune::Curve cv;
    cv.params = cfgs[c];
    tune::TrialProcess p(o, cfgs[c], dir, c);
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
    std::fprintf(stderr, "record: config %d/%d %s: %zu epochs, last %s=%.4f%s%s\n", c + 1, configs,
                 cfgs[c].dump().c_str(), cv.metric.size(), sp.metric.c_str(),
                 cv.metric.empty() ? 0.0 : cv.metric.back(), cv.failure.empty() ? "" : " FAILED: ",
                 cv.failure.c_str());
    set.curves.push_back(cv);
    tune::write_curves(out, set);  // after every trial, so an interrupted recording keeps its curves
    std::filesystem::remove_all(dir);
  }
  std::printf("wrote %d curves to %s\n", configs, out.c_str());
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
  };
  auto ra = std::make_shared<RecordArgs>();
  CLI::App* rec = tune->add_subcommand("record", "Run `--configs` sampled configurations of the search space for its full "
                                                 "number of epochs, one after another, and write their learning curves (CSV)");
  rec->add_option("--space", ra->space, "Search space JSON (needs \"command\")")->required()->check(CLI::ExistingFile);
  rec->add_option("--out", ra->out, "Output curves CSV")->required();
  rec->add_option("--configs", ra->configs, "How many configurations to sample and run")->capture_default_str()->check(CLI::Range(1, 100000));
  rec->add_option("--seed", ra->seed, "Seed of the configuration sample")->capture_default_str();
  rec->add_option("--workdir", ra->workdir, "Directory for the trials' checkpoints and logs")->capture_default_str();
  rec->add_option("--nice", ra->nice, "Niceness added to each trial process")->capture_default_str()->check(CLI::Range(0, 19));
  rec->callback([ra] { cmd_record(ra->space, ra->configs, ra->seed, ra->out, ra->workdir, ra->nice); });
}

}  // namespace veil::app
