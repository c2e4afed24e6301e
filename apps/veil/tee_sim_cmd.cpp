// `veil tee-sim`: one simulated request stream through a fleet of SGX hosts, placed by the
// EPC-aware balancer and by EPC-blind ones (serve/tee_fleet_sim.h); prints one table row per
// placer and rate. Simulated: no enclave runs, service times and the paging penalty are modelled.
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "veil/commands.h"
#include "veil/serve/tee_fleet_sim.h"

namespace veil::app {
namespace {

// GPT-2's published sizes (Hugging Face configs of gpt2, gpt2-medium, gpt2-large, gpt2-xl), float32.
const std::map<std::string, serve::EnclaveModel>& presets() {
  static const std::map<std::string, serve::EnclaveModel> m = {
      {"gpt2", {12, 768, 1024, 50257, 3072, 4}},
      {"gpt2-medium", {24, 1024, 1024, 50257, 4096, 4}},
      {"gpt2-large", {36, 1280, 1024, 50257, 5120, 4}},
      {"gpt2-xl", {48, 1600, 1024, 50257, 6400, 4}},
  };
  return m;
}

std::string mib(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / (1 << 20));
  return buf;
}

}  // namespace

void register_tee_sim(CLI::App& app) {
  struct Args {
    std::string model = "gpt2-medium", config;
    double epc_gib = 8;
    std::vector<double> rates{8};
    std::vector<std::string> placers{"epc-aware", "least-loaded", "round-robin"};
    serve::TeeSimOptions o;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "tee-sim",
      "Simulate TEE workers (SGX enclaves) on a fleet of hosts: the same request stream placed by the EPC-aware "
      "balancer and by EPC-blind ones; throughput, p50/p99 latency, refusals, hosts, EPC overcommitment "
      "(modelled: no enclave runs here)");
  CLI::Option* model =
      cmd->add_option("--model", a->model, "GPT-2 size whose enclave is simulated: gpt2, gpt2-medium, gpt2-large, gpt2-xl")
          ->capture_default_str();
  cmd->add_option("--config", a->config, "A GPT-2 config.json instead of --model (n_layer, n_embd, n_positions, "
                                         "vocab_size, n_inner, torch_dtype)")
      ->check(CLI::ExistingFile)
      ->excludes(model);
  cmd->add_option("--hosts", a->o.hosts, "Hosts in the fleet")->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("--epc-gib", a->epc_gib, "Usable EPC per host, GiB")->capture_default_str()->check(positive);
  cmd->add_option("--slots", a->o.slots, "Requests a host runs at once (cores)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--rate", a->rates, "Arrivals per second (repeat for several runs)")
      ->capture_default_str()
      ->check(positive);
  cmd->add_option("--duration", a->o.duration, "Seconds of arrivals")->capture_default_str()->check(positive);
  cmd->add_option("--min-context", a->o.min_context, "Shortest context, tokens")->capture_default_str();
  cmd->add_option("--max-context", a->o.max_context, "Longest context, tokens (at most n_positions)")
      ->capture_default_str();
  cmd->add_option("--service-base", a->o.service_base, "Service seconds per request without paging, fixed part")
      ->capture_default_str()
      ->check(non_negative);
  cmd->add_option("--service-per-token", a->o.service_per_token, "Service seconds per context token")
      ->capture_default_str()
      ->check(non_negative);
  cmd->add_option("--max-queue", a->o.max_queue, "Waiting requests (all hosts) beyond which arrivals are refused")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--paging-slowdown", a->o.paging_slowdown,
                  "S in the paging penalty 1 + S(1 - 1/r) at overcommit ratio r (serve/epc_placement.h)")
      ->capture_default_str()
      ->check(non_negative);
  cmd->add_option("--slo", a->o.slo_seconds, "Latency objective for the autoscaler's latency count, seconds")
      ->capture_default_str()
      ->check(positive);
  cmd->add_option("--seed", a->o.seed, "Seed of the request stream")->capture_default_str();
  cmd->add_option("--placer", a->placers, "epc-aware, least-loaded, round-robin (repeat)")->capture_default_str();
  cmd->callback([a] {
    serve::TeeSimOptions o = a->o;
    std::string model_name = a->model;
    if (!a->config.empty()) {
      std::ifstream f(a->config);
      const nlohmann::json config = nlohmann::json::parse(f, nullptr, false);
      if (config.is_discarded()) throw std::invalid_argument("--config " + a->config + " is not JSON (a GPT-2 config.json)");
      o.model = serve::enclave_model_from_config(config, a->config);
      model_name = a->config;
    } else {
      auto it = presets().find(a->model);
      if (it == presets().end()) throw std::invalid_argument("unknown --model '" + a->model + "'");
      o.model = it->second;
    }
    for (const auto& [flag, context] : {std::pair{"--min-context", o.min_context}, std::pair{"--max-context", o.max_context}})
      if (context < 1 || context > o.model.n_positions)
        throw std::invalid_argument(std::string(flag) + " " + std::to_string(context) + " is outside 1.." +
                                    std::to_string(o.model.n_positions) + " (the model's n_positions)");
    if (o.min_context > o.max_context)
      throw std::invalid_argument("--min-context " + std::to_string(o.min_context) + " is above --max-context " +
                                  std::to_string(o.max_context));
    o.epc_bytes = int64_t(a->epc_gib * double(int64_t(1) << 30));
    std::vector<serve::TeePlacer> placers;
    for (const std::string& p : a->placers) placers.push_back(serve::parse_tee_placer(p));
    std::printf("model %s: %s weights, enclave %s (context %lld) to %s (context %lld); %d hosts x %.3g GiB EPC, "
                "%d slots; service %.3g s + %.3g s/token; paging slowdown S=%.3g; max queue %d; seed %llu\n\n",
                model_name.c_str(), mib(serve::model_bytes(o.model)).c_str(),
                mib(serve::enclave_bytes(o.model, o.min_context)).c_str(), (long long)o.min_context,
                mib(serve::enclave_bytes(o.model, o.max_context)).c_str(), (long long)o.max_context, o.hosts,
                a->epc_gib, o.slots, o.service_base, o.service_per_token, o.paging_slowdown, o.max_queue,
                (unsigned long long)o.seed);
    std::printf("| rate (req/s) | placer | requests | completed | refused | throughput (req/s) | p50 (s) | p99 (s) | "
                "hosts used | host-time overcommitted | max overcommit | peak hosts needed: EPC / latency |\n");
    std::printf("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (double rate : a->rates) {
      o.rate = rate;
      const std::vector<serve::TeeRequest> stream = serve::tee_request_stream(o);
      for (serve::TeePlacer p : placers) {
        const serve::TeeSimReport r = serve::run_tee_sim(o, p, stream);
        std::printf("| %.3g | %s | %llu | %llu | %llu | %.2f | %.2f | %.2f | %d | %.1f%% | %.2f | %d / %d |\n", rate,
                    r.placer.c_str(), (unsigned long long)r.requests, (unsigned long long)r.completed,
                    (unsigned long long)r.refused, r.throughput, r.p50, r.p99, r.hosts_used,
                    100 * r.overcommitted_fraction, r.max_overcommit, r.peak_hosts_by_epc, r.peak_hosts_by_latency);
      }
    }
  });
}

}  // namespace veil::app
