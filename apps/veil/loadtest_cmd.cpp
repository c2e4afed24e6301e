// `veil loadtest`: N concurrent clients of `POST /v1/completions` for a fixed time against a
// gateway on loopback (one given by --gateway, or one started here per balancer policy with
// --local-groups), optionally killing one party worker in the middle. Reports throughput,
// latency percentiles, refused (429) and failed requests, whether every accepted request got
// exactly one final response (the gateway's counters), and the autoscaler's decisions. With
// --backend tee the requests go to the gateway's TEE workers and --policies names TEE placers
// (epc-aware, least-loaded, round-robin); the report adds the hosts' peak EPC overcommitment.
#include <httplib.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "veil/commands.h"
#include "veil/net/endpoint.h"
#include "veil/serve/balancer.h"
#include "veil/serve/epc_placement.h"
#include "veil/serve/local_groups.h"

extern char** environ;

namespace veil::app {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct LoadArgs {
  std::string gateway;
  int local_groups = 0;
  std::string model, state_dir = "veil-loadtest";
  std::string policies = "slo";
  std::vector<std::string> gateway_flags;
  int clients = 8;
  double duration_s = 30;
  int64_t max_requests = 100000;
  std::string prompt = "Once upon a time";
  int max_tokens = 8;
  double kill_at_s = -1;
  double slo_ms = 2000;
  bool json_out = false;
  std::string backend = "mpc";
};

struct Sample {
  double at, seconds;
  int status;
  int attempts;
  double predicted;  // the gateway's prediction at placement, seconds
};

struct Timeline {
  double at;
  int groups, healthy, desired, queue;
};

struct RunResult {
  std::string policy;
  std::vector<Sample> samples;
  std::vector<Timeline> timeline;
  json decisions = json::array();
  std::string killed;
  double elapsed = 0;
  double accepted = 0, final_ok = 0, final_failed = 0;
  double tee_peak_overcommit = 0;  // largest committed / usable EPC of any TEE host
};

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(std::ceil(q * double(v.size()))) - (q > 0 ? 1 : 0))];
}

// Sum of a counter's series whose labels contain all of `match` (from the /metrics text).
double counter_sum(const std::string& text, const std::string& name, const std::vector<std::string>& match) {
  double sum = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name, 0) != 0 || (line.size() > name.size() && line[name.size()] != '{' && line[name.size()] != ' '))
      continue;
    bool ok = true;
    for (const std::string& m : match) ok = ok && line.find(m) != std::string::npos;
    if (ok) sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

RunResult drive(const LoadArgs& a, const std::string& gateway, const std::string& policy) {
  const net::Endpoint gw = net::parse_endpoint(gateway);
  if (gw.host != "127.0.0.1" && gw.host != "localhost" && gw.host != "::1")
    throw std::invalid_argument("veil loadtest runs against a gateway on loopback only, not " + gateway);
  httplib::Client ctl(gw.host, gw.port);
  ctl.set_read_timeout(10, 0);
  if (!ctl.Get("/healthz"))
    throw std::runtime_error("no gateway answers at " + gateway + ": start `veil gateway` there, or fix --gateway");
  RunResult r;
  r.policy = policy;
  std::mutex mu;
  std::atomic<int64_t> started{0};
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::duration<double>(a.duration_s);
  auto secs = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  const std::string body = json{{"prompt", a.prompt}, {"max_tokens", a.max_tokens}, {"backend", a.backend}}.dump();
  std::vector<std::thread> clients;
  for (int c = 0; c < a.clients; ++c)
    clients.emplace_back([&] {
      httplib::Client cl(gw.host, gw.port);
      cl.set_read_timeout(300, 0);
      cl.set_connection_timeout(10, 0);
      while (Clock::now() < end && started++ < a.max_requests) {
        const double at = secs();
        auto res = cl.Post("/v1/completions", body, "application/json");
        Sample s{at, secs() - at, res ? res->status : 0, 0, 0};
        if (res && res->status == 200) {
          const json v = json::parse(res->body)["veil"];
          s.attempts = v["attempts"].get<int>();
          s.predicted = v["predicted_ms"].get<double>() / 1e3;
        }
        if (res && res->status == 429) {  // a refused client backs off as told (bounded by the run's end)
          const double wait = std::min(std::stod(res->has_header("Retry-After") ? res->get_header_value("Retry-After") : std::string("1")), a.duration_s);
          std::this_thread::sleep_for(std::chrono::duration<double>(wait));
        }
        std::lock_guard lock(mu);
        r.samples.push_back(s);
      }
    });
  bool killed = false;
  while (Clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto st = ctl.Get("/v1/status");
    if (!st || st->status != 200) continue;
    const json s = json::parse(st->body);
    int healthy = 0;
    for (const json& g : s["groups"]) healthy += g["healthy"].get<bool>() && !g["draining"].get<bool>();
    r.timeline.push_back({secs(), int(s["groups"].size()), healthy, s["autoscaler"]["desired"].get<int>(),
                          s["queue_depth"].get<int>()});
    if (a.kill_at_s >= 0 && !killed && secs() >= a.kill_at_s) {
      // the busiest group's party 1, killed with SIGKILL in the middle of its session
      const json* victim = nullptr;
      for (const json& g : s["groups"])
        if (g.contains("pids") && (!victim || g["running"].get<int>() > (*victim)["running"].get<int>())) victim = &g;
      if (!victim) throw std::runtime_error("--kill-party-at-s needs a local gateway (its /v1/status lists party pids)");
      const pid_t pid = (*victim)["pids"][1].get<pid_t>();
      ::kill(pid, SIGKILL);
      killed = true;
      char line[160];
      std::snprintf(line, sizeof line, "party 1 of group %d (pid %d) killed at %.1f s, %d sessions running there",
                    (*victim)["id"].get<int>(), int(pid), secs(), (*victim)["running"].get<int>());
      r.killed = line;
      std::fprintf(stderr, "veil loadtest: %s\n", line);
    }
  }
  for (std::thread& t : clients) t.join();
  r.elapsed = secs();
  if (auto st = ctl.Get("/v1/status"); st && st->status == 200) {
    const json s = json::parse(st->body);
    r.decisions = s["autoscaler"]["decisions"];
    if (s.contains("tee"))
      for (const json& h : s["tee"]["hosts"]) r.tee_peak_overcommit = std::max(r.tee_peak_overcommit, h["peak_overcommit"].get<double>());
  }
  if (auto m = ctl.Get("/metrics"); m && m->status == 200) {
    r.accepted = counter_sum(m->body, "veil_gateway_accepted_total", {"endpoint=\"completions\""});
    r.final_ok = counter_sum(m->body, "veil_gateway_requests_total", {"endpoint=\"completions\"", "outcome=\"ok\""});
    r.final_failed = counter_sum(m->body, "veil_gateway_requests_total", {"endpoint=\"completions\"", "outcome=\"failed\""});
  }
  return r;
}

json summarize(const LoadArgs& a, const RunResult& r) {
  std::vector<double> ok, ratio;
  int refused = 0, failed = 0, retried = 0, within = 0;
  for (const Sample& s : r.samples) {
    if (s.status == 200) {
      ok.push_back(s.seconds);
      if (s.predicted > 0) ratio.push_back(s.seconds / s.predicted);
      retried += s.attempts > 1;
      within += s.seconds * 1e3 <= a.slo_ms;
    } else if (s.status == 429) {
      ++refused;
    } else {
      ++failed;
    }
  }
  json timeline = json::array();
  for (const Timeline& t : r.timeline)
    timeline.push_back({{"at_s", std::round(t.at * 10) / 10}, {"groups", t.groups}, {"healthy", t.healthy},
                        {"desired", t.desired}, {"queue", t.queue}});
  return {{"policy", r.policy},
          {"clients", a.clients},
          {"duration_s", r.elapsed},
          {"requests", r.samples.size()},
          {"ok", ok.size()},
          {"refused_429", refused},
          {"failed", failed},
          {"retried_ok", retried},
          {"throughput_rps", double(ok.size()) / r.elapsed},
          {"p50_ms", percentile(ok, 0.5) * 1e3},
          {"p99_ms", percentile(ok, 0.99) * 1e3},
          {"max_ms", percentile(ok, 1.0) * 1e3},
          {"slo_ms", a.slo_ms},
          {"observed_over_predicted_p50", percentile(ratio, 0.5)},
          {"ok_within_slo", within},
          {"gateway_accepted", r.accepted},
          {"gateway_final_ok", r.final_ok},
          {"gateway_final_failed", r.final_failed},
          {"one_final_response_each", r.accepted == r.final_ok + r.final_failed},
          {"killed", r.killed},
          {"backend", a.backend},
          {"tee_peak_epc_overcommit", r.tee_peak_overcommit},
          {"autoscaler_decisions", r.decisions},
          {"timeline", timeline}};
}

void print_table(const std::vector<json>& runs) {
  std::printf("%-18s %5s %5s %5s %6s %6s %8s %8s %8s %10s %9s %8s %s\n", "policy", "reqs", "ok", "429", "failed", "retry",
              "req/s", "p50 ms", "p99 ms", "in SLO", "obs/pred", "EPC peak", "accepted = final");
  for (const json& j : runs) {
    std::printf("%-18s %5d %5d %5d %6d %6d %8.2f %8.0f %8.0f %9.1f%% %9.2f %8.2f %s (%g = %g + %g)\n",
                j["policy"].get<std::string>().c_str(), j["requests"].get<int>(), j["ok"].get<int>(),
                j["refused_429"].get<int>(), j["failed"].get<int>(), j["retried_ok"].get<int>(),
                j["throughput_rps"].get<double>(), j["p50_ms"].is_number() ? j["p50_ms"].get<double>() : NAN,
                j["p99_ms"].is_number() ? j["p99_ms"].get<double>() : NAN,
                j["ok"].get<int>() ? 100.0 * j["ok_within_slo"].get<int>() / j["ok"].get<int>() : 0.0,
                j["observed_over_predicted_p50"].is_number() ? j["observed_over_predicted_p50"].get<double>() : NAN,
                j["tee_peak_epc_overcommit"].get<double>(), j["one_final_response_each"].get<bool>() ? "yes" : "NO", j["gateway_accepted"].get<double>(),
                j["gateway_final_ok"].get<double>(), j["gateway_final_failed"].get<double>());
  }
  for (const json& j : runs) {
    std::printf("\n%s: ", j["policy"].get<std::string>().c_str());
    if (!j["killed"].get<std::string>().empty()) std::printf("%s; ", j["killed"].get<std::string>().c_str());
    std::printf("groups healthy/desired over time:");
    int last_h = -1, last_d = -1;
    for (const json& t : j["timeline"])
      if (t["healthy"] != last_h || t["desired"] != last_d) {
        last_h = t["healthy"], last_d = t["desired"];
        std::printf(" %.1fs %d/%d", t["at_s"].get<double>(), last_h, last_d);
      }
    std::printf("\n");
    for (const json& d : j["autoscaler_decisions"])
      std::printf("  autoscaler at %.1f s: %d -> %d groups (%s)\n", d["at_s"].get<double>(), d["from"].get<int>(),
                  d["to"].get<int>(), d["reason"].get<std::string>().c_str());
  }
}

// Starts `veil gateway --local` on a free loopback port; returns its pid and address.
pid_t start_gateway(const LoadArgs& a, const std::string& policy, std::string& address) {
  address = "127.0.0.1:" + std::to_string(serve::free_loopback_ports(1)[0]);
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::string> args{self, "gateway", "--local", std::to_string(a.local_groups), "--model", a.model,
                                "--state-dir", a.state_dir, "--listen", address, "--slo-ms", std::to_string(a.slo_ms)};
  args.insert(args.end(), {a.backend == "tee" ? "--tee-placer" : "--policy", policy});
  args.insert(args.end(), a.gateway_flags.begin(), a.gateway_flags.end());
  std::filesystem::create_directories(a.state_dir);
  const std::string log = a.state_dir + "/gateway-" + policy + ".log";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> argv;
  for (std::string& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, self.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start veil gateway");
  const net::Endpoint e = net::parse_endpoint(address);
  httplib::Client c(e.host, e.port);
  c.set_connection_timeout(1, 0);
  const auto deadline = Clock::now() + std::chrono::seconds(180);
  int ready_groups = 0;
  while (Clock::now() < deadline) {  // every local group ready
    if (auto st = c.Get("/v1/status"); st && st->status == 200) {
      ready_groups = 0;
      const json status = json::parse(st->body);
      for (const json& g : status["groups"]) ready_groups += g["healthy"].get<bool>();
      bool tee_ready = true;  // every TEE worker (--gateway-flag --local-tee N) ready too
      for (const json& w : status["tee"]["workers"]) tee_ready = tee_ready && w["healthy"].get<bool>();
      if (ready_groups >= a.local_groups && tee_ready) return pid;
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) throw std::runtime_error("veil gateway exited; see " + log);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ::kill(pid, SIGTERM);
  throw std::runtime_error("the local gateway's groups were not ready within 180 s; see " + log);
}

void run_loadtest(const LoadArgs& a) {
  std::vector<json> runs;
  if (!a.gateway.empty()) {
    if (a.local_groups > 0) throw std::invalid_argument("give either --gateway or --local-groups");
    runs.push_back(summarize(a, drive(a, a.gateway, "(external gateway)")));
  } else {
    if (a.local_groups <= 0 || a.model.empty())
      throw std::invalid_argument("give --gateway HOST:PORT, or --local-groups N with --model DIR to start one here");
    std::vector<std::string> policies;
    std::stringstream ps(a.policies);
    for (std::string policy; std::getline(ps, policy, ',');) {  // all checked before the first run
      if (a.backend == "tee") serve::parse_tee_placer(policy);  // names the placers when it is none
      else serve::parse_policy(policy);
      policies.push_back(policy);
    }
    for (const std::string& policy : policies) {
      std::string address;
      std::fprintf(stderr, "veil loadtest: starting a local gateway (policy %s, %d groups)\n", policy.c_str(), a.local_groups);
      const pid_t pid = start_gateway(a, policy, address);
      std::fprintf(stderr, "veil loadtest: %d clients for %.0f s against %s\n", a.clients, a.duration_s, address.c_str());
      try {
        runs.push_back(summarize(a, drive(a, address, policy)));
      } catch (...) {
        ::kill(pid, SIGTERM);
        ::waitpid(pid, nullptr, 0);
        throw;
      }
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }
  if (a.json_out) {
    std::printf("%s\n", json(runs).dump(2).c_str());
  } else {
    print_table(runs);
  }
}

}  // namespace

void register_loadtest(CLI::App& app) {
  auto a = std::make_shared<LoadArgs>();
  CLI::App* cmd = app.add_subcommand(
      "loadtest", "Load-test a gateway on loopback: --clients concurrent clients of POST /v1/completions for "
                  "--duration-s; reports throughput, p50/p99 latency, refused (429), failed, and the autoscaler's "
                  "decisions. With --local-groups it starts `veil gateway --local` itself, once per --policies entry.");
  cmd->add_option("--gateway", a->gateway, "host:port of a running gateway (loopback)");
  cmd->add_option("--local-groups", a->local_groups, "Start a local gateway with this many groups per policy")
      ->check(CLI::Range(1, 16));
  cmd->add_option("--model", a->model, "With --local-groups: the full model folder")->check(CLI::ExistingDirectory);
  cmd->add_option("--state-dir", a->state_dir, "With --local-groups: certificates, bundles, logs")->capture_default_str();
  cmd->add_option("--policies", a->policies, "With --local-groups: comma-separated balancer policies to compare")
      ->capture_default_str();
  cmd->add_option("--gateway-flag", a->gateway_flags,
                  "With --local-groups: an extra flag for `veil gateway` (repeat; e.g. --gateway-flag=--autoscale)")
      ->allow_extra_args(false);
  cmd->add_option("--clients", a->clients, "Concurrent clients")->check(CLI::Range(1, 256))->capture_default_str();
  cmd->add_option("--duration-s", a->duration_s, "How long each run sends requests")->check(CLI::Range(1.0, 600.0))->capture_default_str();
  cmd->add_option("--max-requests", a->max_requests, "Most requests per run")->check(CLI::Range(int64_t{1}, int64_t{1000000}))->capture_default_str();
  cmd->add_option("--prompt", a->prompt, "Prompt of every request")->capture_default_str();
  cmd->add_option("--max-tokens", a->max_tokens, "max_tokens of every request")->check(CLI::Range(1, 1024))->capture_default_str();
  cmd->add_option("--kill-party-at-s", a->kill_at_s,
                  "Kill (SIGKILL) party 1 of the busiest local group this many seconds into each run")
      ->check(CLI::Range(0.0, 600.0));
  cmd->add_option("--slo-ms", a->slo_ms, "The latency objective (reported; passed to a local gateway)")
      ->check(CLI::Range(1.0, 3.6e6))  // as `veil gateway --slo-ms`
      ->capture_default_str();
  cmd->add_flag("--json", a->json_out, "Print the runs as JSON");
  cmd->add_option("--backend", a->backend,
                  "The requests' \"backend\": mpc (party groups), or tee (the gateway's TEE workers: start them with "
                  "--gateway-flag=--local-tee --gateway-flag=N ...; --policies then names TEE placers: epc-aware, "
                  "least-loaded, round-robin)")
      ->check(CLI::IsMember({"mpc", "tee"}))
      ->capture_default_str();
  cmd->callback([a] { run_loadtest(*a); });
}

}  // namespace veil::app
