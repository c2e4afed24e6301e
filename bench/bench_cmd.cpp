// `veil bench ops`: the operation table of docs/BENCHMARKS.md; `veil bench costs`: the declared
// cost table of docs/PROTOCOLS.md; `veil bench gemm`: the local ring GEMM against a naive loop;
// `veil bench kernels`: the per-kernel breakdown of a GeLU, a softmax and a LayerNorm block;
// `veil bench ditto`: the fp64 and ditto precision plans on the mixed-ring backend (ditto_bench.h).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cost_table.h"
#include "ditto_bench.h"
#include "gemm_bench.h"
#include "kernel_breakdown.h"
#include "kv_bench.h"
#include "model_bench.h"
#include "net_model.h"
#include "ops_cases.h"
#include "veil/commands.h"
#include "veil/kv_flags.h"

namespace veil::app {

namespace {

std::string human_bytes(int64_t b) {
  char buf[32];
  if (b >= int64_t(1) << 30) std::snprintf(buf, sizeof buf, "%.2f GiB", double(b) / double(1 << 30));
  else if (b >= 1 << 20) std::snprintf(buf, sizeof buf, "%.2f MiB", double(b) / double(1 << 20));
  else if (b >= 1 << 10) std::snprintf(buf, sizeof buf, "%.1f KiB", double(b) / 1024.0);
  else std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(b));
  return buf;
}

struct OpsOptions {
  bool quick = false;
  int runs = 5;
  std::string filter;
  std::string json_path;
};

void run_ops(const OpsOptions& o) {
  std::vector<bench::OpCase> cases = bench::mpc_op_cases(o.quick);
  for (auto& c : bench::fxp_op_cases(o.quick)) cases.push_back(std::move(c));
  std::printf("| op | shape | ring | wall median (s) | wall min–max (s) | busiest party | all parties | rounds | LAN (s) | WAN (s) |\n");
  std::printf("|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& c : cases) {
    if (!o.filter.empty() && c.op.find(o.filter) == std::string::npos) continue;
    std::fprintf(stderr, "bench ops: %s %s %s (%d runs)...\n", c.op.c_str(), c.shape.c_str(), c.ring.c_str(), o.runs);
    bench::OpResult r = bench::run_op(c.op, c.shape, c.ring, c.setup, o.runs);
    double lan = bench::kLan.time(r.wall_median_s, r.bytes_max, r.rounds);
    double wan = bench::kWan.time(r.wall_median_s, r.bytes_max, r.rounds);
    std::printf("| %s | %s | %s | %.4f | %.4f–%.4f | %s | %s | %lld | %.4f | %.3f |\n", r.op.c_str(), r.shape.c_str(),
                r.ring.c_str(), r.wall_median_s, r.wall_min_s, r.wall_max_s, human_bytes(r.bytes_max).c_str(),
                human_bytes(r.bytes_total).c_str(), static_cast<long long>(r.rounds), lan, wan);
    std::fflush(stdout);
    rows.push_back({{"op", r.op}, {"shape", r.shape}, {"ring", r.ring}, {"wall_median_s", r.wall_median_s},
                    {"wall_min_s", r.wall_min_s}, {"wall_max_s", r.wall_max_s}, {"bytes_max", r.bytes_max},
                    {"bytes_total", r.bytes_total}, {"rounds", r.rounds}, {"lan_s", lan}, {"wan_s", wan}});
  }
  if (!o.json_path.empty()) {
    std::ofstream f(o.json_path);
    if (!f) throw std::runtime_error("cannot write " + o.json_path);
    f << rows.dump(2) << "\n";
  }
}

}  // namespace

void register_bench(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Measure the engine: operation table, declared costs, local GEMM");
  bench->require_subcommand(1);

  auto o = std::make_shared<OpsOptions>();
  auto* ops = bench->add_subcommand("ops", "Time each MPC operation on three in-process parties and print a "
                                           "markdown table (wall time, bytes, rounds, modelled LAN/WAN time)");
  ops->add_flag("--quick", o->quick, "Small shapes and 2 runs: a smoke run in seconds");
  ops->add_option("--runs", o->runs, "Runs per operation; the table shows the median (2 with --quick)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  ops->add_option("--filter", o->filter, "Only operations whose name contains this text");
  ops->add_option("--json", o->json_path, "Also write the rows as JSON to this file");
  ops->callback([o] {
    OpsOptions opt = *o;
    if (opt.quick && opt.runs == 5) opt.runs = 2;
    run_ops(opt);
  });

  auto* costs = bench->add_subcommand("costs", "Print the declared cost of every kernel (rounds, bytes per party) "
                                               "as a markdown table, evaluated at n elements");
  auto n = std::make_shared<int64_t>(1 << 20);
  costs->add_option("-n,--elements", *n, "Element count to evaluate the formulas at")->check(positive)->capture_default_str();
  costs->callback([n] { bench::print_cost_table(*n); });

  auto mo = std::make_shared<bench::ModelBenchOptions>();
  auto* model = bench->add_subcommand("model", "Private GPT2-base (32-token prompt + 1 token; decode steps at contexts "
                                               "128/512/1024) and BERT-base (128 tokens) on the MPC backend with random "
                                               "weights of the real shapes; per-layer-type breakdown. Bytes between the parties are counted by the "
                                               "links; the client's token inputs (encoded messages) are added to the "
                                               "embedding column and the total");
  model->add_flag("--quick", mo->quick, "2 layers instead of 12 (a smoke run)");
  model->add_option("--model", mo->which, "gpt2, bert or all")->check(CLI::IsMember({"gpt2", "bert", "all"}))->capture_default_str();
  model->add_option("--json", mo->json_path, "Also write the rows as JSON to this file");
  model->add_option("--token-input", mo->token_input,
                    "How the client feeds tokens: onehot (it secret-shares one-hot rows; what generation does) or ids "
                    "(it shares ids and the parties build the one-hot by secure equality)")
      ->check(CLI::IsMember({"onehot", "ids"}))
      ->capture_default_str();
  model->callback([mo] { bench::run_model_bench(*mo); });

  auto dop = std::make_shared<bench::DittoBenchOptions>();
  auto* ditto = bench->add_subcommand("ditto", "The mixed-ring backend under the fp64 and ditto precision plans in one run: "
                                               "GPT2-base (32-token prompt + 1 token) and BERT-base (128 tokens) with random "
                                               "weights of the real shapes (the ditto plan's weight scales as calibration "
                                               "picks them from max |w|); wall, bytes, rounds, modelled LAN/WAN, per-op "
                                               "breakdown with the casts as their own column, and the fp64/ditto ratios "
                                               "against the targets (LAN >= 1.6x, bytes >= 2x)");
  ditto->add_flag("--quick", dop->quick, "2 layers instead of 12 (a smoke run)");
  ditto->add_option("--model", dop->which, "gpt2, bert or all")->check(CLI::IsMember({"gpt2", "bert", "all"}))->capture_default_str();
  ditto->add_option("--json", dop->json_path, "Also write the rows as JSON to this file");
  ditto->add_flag("--by-tag", dop->by_tag,
                  "Also print every link tag (the kernels inside the ops too), fp64 against ditto, per workload: "
                  "where the bytes go");
  ditto->callback([dop] { bench::run_ditto_bench(*dop); });

  auto* kernels = bench->add_subcommand("kernels", "Bytes and rounds per kernel (link tag) inside one GeLU block, "
                                                   "one softmax block and one LayerNorm block on FM64");
  kernels->callback([] { bench::print_kernel_breakdown(); });

  auto ko = std::make_shared<bench::KvBenchOptions>();
  auto kf = std::make_shared<KvFlags>();
  auto* kv = bench->add_subcommand("kv", "MPCache against the full KV cache on the MPC backend, GPT2-base shape with "
                                         "random weights: one decoding step per context (wall, bytes, rounds, "
                                         "modelled LAN/WAN, selection costs broken out) and the prefill's static "
                                         "eviction revealing positions or only the count. The --kv-* flags set MPCache");
  kv->add_flag("--quick", ko->quick, "2 layers instead of 12 (a smoke run)");
  kv->add_option("--contexts", ko->contexts, "Contexts of the decoding step (and prompt lengths of the eviction table)")
      ->delimiter(',')
      ->capture_default_str();
  kv->add_option("--eviction", ko->eviction, "Also the static-eviction table (true, false)")->capture_default_str();
  kv->add_option("--runs", ko->runs, "Runs per row; the table shows the run of median wall time")
      ->check(positive)
      ->capture_default_str();
  kv->add_option("--json", ko->json_path, "Also write every row and setting as JSON to this file");
  add_kv_flags(kv, *kf, false);
  for (const char* other : {"--kv-sink", "--kv-snap-window", "--kv-pool", "--kv-page"})  // streaming, snapkv, quest
    kv->remove_option(kv->get_option(other));
  kv->callback([ko, kf] {
    kf->policy = "mpcache";
    ko->kv = kf->resolve();
    bench::run_kv_bench(*ko);
  });

  auto* gemm = bench->add_subcommand("gemm", "Local ring GEMM (blocked) against a naive triple loop and a plaintext "
                                             "reference, both rings");
  auto reps = std::make_shared<int>(3);
  gemm->add_option("--runs", *reps, "Runs per shape; medians are shown")->check(CLI::Range(1, 50))->capture_default_str();
  gemm->callback([reps] { bench::print_gemm_table(*reps); });
}

}  // namespace veil::app
