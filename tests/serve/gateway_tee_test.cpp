// The gateway's TEE workers ("backend": "tee"): placement by enclave page cache on two hosts whose
// EPC holds one enclave each (the epc-aware placer queues the third session, an EPC-blind one
// overcommits a host), the session tokens, refusals, the retry after a failed worker, metrics,
// and a real worker process killed in the middle of a request.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "nn/nn_test_util.h"
#include "nn/process_util.h"
#include "veil/nn/session_token.h"
#include "veil/serve/gateway.h"

namespace veil::serve {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string kModel = std::string(VEIL_SOURCE_DIR) + "/models/tiny-gpt2";
const std::string kTeeKey(64, 't');
constexpr int64_t kPrompt = 8, kNew = 8;  // every session's shape below

int64_t need(int64_t context) {
  std::ifstream in(kModel + "/config.json");
  return enclave_bytes(enclave_model_from_config(json::parse(in), "config.json"), context);
}

GatewayOptions options(TeePlacer placer, int max_queue = 8) {
  GatewayOptions o;
  o.client_model = kModel;
  o.profile.decode_bytes = {1e6, 0};
  o.profile.prefill_bytes = {1e6, 0, 0};
  o.profile.bytes_per_second = 1e6;
  o.profile.model = "tiny-gpt2";
  o.balancer.max_queue = max_queue;
  o.queue_timeout = 120s;
  o.tee.placer = placer;
  o.tee_token_key = kTeeKey;
  return o;
}

std::vector<nn::PrivateToken> tokens(int64_t n) {
  std::vector<nn::PrivateToken> out;
  for (int64_t i = 0; i < n; ++i) out.push_back({int32_t(100 + i), 0.01});
  return out;
}

// Hosts a and b, each with usable EPC for one session of the shape above (1.5 enclaves) and two
// slots, workers 0 and 1 on a, 2 and 3 on b.
void add_fleet(Gateway& gw, int64_t epc = need(kPrompt + kNew) * 3 / 2) {
  for (const char* h : {"a", "b"}) gw.add_tee_host({h, epc, 2});
  for (int id = 0; id < 4; ++id) gw.add_tee_worker({id, id < 2 ? "a" : "b", {"127.0.0.1", uint16_t(21000 + id)}});
}

std::string session_body(int64_t prompt = kPrompt, int64_t added = kNew) {
  return json{{"prompt_tokens", prompt}, {"max_new_tokens", added}, {"backend", "tee"}}.dump();
}

json host(Gateway& gw, const std::string& name) {
  const json s = gw.status();
  for (const json& h : s["tee"]["hosts"])
    if (h["name"] == name) return h;
  return nullptr;
}

json tee_workers(Gateway& gw) { return gw.status()["tee"]["workers"]; }

TEST(GatewayTee, EpcAwarePlacementNeverPutsASecondEnclaveOnAHostWhoseEpcHoldsOne) {
  Gateway gw(options(TeePlacer::epc_aware));
  add_fleet(gw);
  const Gateway::Reply s1 = gw.open_session(session_body()), s2 = gw.open_session(session_body());
  ASSERT_EQ(s1.status, 200) << s1.body.dump();
  ASSERT_EQ(s2.status, 200) << s2.body.dump();
  EXPECT_EQ(s1.body["backend"], "tee");
  EXPECT_NE(s1.body["host"], s2.body["host"]);  // the other host has the headroom
  EXPECT_EQ(s1.body["enclave_bytes"], need(kPrompt + kNew));
  EXPECT_EQ(s1.body["endpoint"], "127.0.0.1:" + std::to_string(21000 + s1.body["worker"].get<int>()));

  auto third = std::async(std::launch::async, [&] { return gw.open_session(session_body()); });
  for (int i = 0; i < 500 && gw.status()["tee"]["queue_depth"] != 1; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(gw.status()["tee"]["queue_depth"], 1);
  EXPECT_EQ(third.wait_for(300ms), std::future_status::timeout);  // both hosts' EPC is taken: it waits
  for (const char* h : {"a", "b"}) {
    EXPECT_EQ(host(gw, h)["running"], 1);
    EXPECT_LE(host(gw, h)["peak_overcommit"].get<double>(), 1.0);
  }
  ASSERT_EQ(gw.finish_session(json{{"token", s1.body["token"]}, {"ok", true}}.dump()).status, 200);
  const Gateway::Reply s3 = third.get();
  ASSERT_EQ(s3.status, 200) << s3.body.dump();
  EXPECT_EQ(s3.body["host"], s1.body["host"]);
  for (const char* h : {"a", "b"}) EXPECT_LE(host(gw, h)["peak_overcommit"].get<double>(), 1.0);

  // /metrics: the EPC next to the latency for the TEE autoscaler (2 enclaves running, 1.5 per host).
  gw.tick();
  EXPECT_EQ(gw.metrics().value("veil_tee_hosts_desired", {{"by", "epc"}}), 2);
  EXPECT_EQ(gw.metrics().value("veil_tee_epc_demand_bytes"), double(2 * need(kPrompt + kNew)));
  EXPECT_EQ(gw.metrics().value("veil_tee_epc_committed_bytes", {{"host", s1.body["host"]}}), double(need(kPrompt + kNew)));
  EXPECT_NE(gw.metrics().render().find("veil_tee_hosts_desired{by=\"both\"} 2"), std::string::npos);
}

TEST(GatewayTee, AnEpcBlindPlacerOvercommitsAHostInTheSameScenario) {
  Gateway gw(options(TeePlacer::least_loaded));
  add_fleet(gw);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(gw.open_session(session_body()).status, 200);  // none waits
  const double peak = std::max(host(gw, "a")["peak_overcommit"].get<double>(), host(gw, "b")["peak_overcommit"].get<double>());
  EXPECT_NEAR(peak, 2.0 / 1.5, 0.01);  // two enclaves in the EPC of 1.5
}

TEST(GatewayTee, SessionTokensAreForTheChosenWorkerAndOpenNoPartyGroup) {
  GatewayOptions o = options(TeePlacer::epc_aware);
  o.token_key = std::string(64, 'm');
  Gateway gw(o);
  add_fleet(gw);
  const Gateway::Reply s = gw.open_session(session_body());
  ASSERT_EQ(s.status, 200);
  const std::string token = s.body["token"];
  const int worker = s.body["worker"];
  EXPECT_NE(nn::SessionTokenVerifier(kTeeKey, worker + 1).accept(token, std::time(nullptr)), "");
  EXPECT_NE(nn::SessionTokenVerifier(o.token_key, worker).accept(token, std::time(nullptr)), "");  // not an MPC token
  EXPECT_EQ(nn::SessionTokenVerifier(kTeeKey, worker).accept(token, std::time(nullptr)), "");
  // A failure the client reports marks the worker unhealthy.
  ASSERT_EQ(gw.finish_session(json{{"token", token}, {"ok", false}, {"error", "reset"}}.dump()).status, 200);
  for (const json& w : tee_workers(gw)) EXPECT_EQ(w["healthy"], w["id"] != worker);
  EXPECT_EQ(gw.finish_session(json{{"token", token}, {"ok", true}}.dump()).status, 404);
}

TEST(GatewayTee, RefusalsNameTheReason) {
  Gateway none(options(TeePlacer::epc_aware));
  const Gateway::Reply unknown = none.open_session(json{{"prompt_tokens", 4}, {"max_new_tokens", 2}, {"backend", "gpu"}}.dump());
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.dump().find("'backend' must be \\\"mpc\\\" (three-party groups) or \\\"tee\\\""), std::string::npos)
      << unknown.body.dump();
  EXPECT_EQ(none.completion(R"({"prompt": "Hello", "backend": 1})").status, 400);
  const Gateway::Reply no_workers = none.open_session(session_body());
  EXPECT_EQ(no_workers.status, 400);
  EXPECT_NE(no_workers.body.dump().find("no TEE workers"), std::string::npos);

  Gateway gw(options(TeePlacer::epc_aware, 1));
  add_fleet(gw, need(kPrompt + kNew));  // exactly one enclave of that shape
  const Gateway::Reply big = gw.open_session(session_body(kPrompt, kNew + 1));
  EXPECT_EQ(big.status, 400);
  EXPECT_NE(big.body.dump().find("more than any host's usable EPC"), std::string::npos) << big.body.dump();
  const Gateway::Reply first = gw.open_session(session_body());
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(gw.open_session(session_body()).status, 200);
  auto waiting = std::async(std::launch::async, [&] { return gw.open_session(session_body()); });
  for (int i = 0; i < 500 && gw.status()["tee"]["queue_depth"] != 1; ++i) std::this_thread::sleep_for(10ms);
  const Gateway::Reply full = gw.open_session(session_body());
  EXPECT_EQ(full.status, 429);
  EXPECT_GE(full.retry_after, 1);
  EXPECT_NE(full.body.dump().find("--max-queue"), std::string::npos);
  // Free a host: the waiting session starts there.
  ASSERT_EQ(gw.finish_session(json{{"token", first.body["token"]}, {"ok", true}}.dump()).status, 200);
  const Gateway::Reply started = waiting.get();
  ASSERT_EQ(started.status, 200) << started.body.dump();
  EXPECT_EQ(started.body["host"], first.body["host"]);
}

TEST(GatewayTee, ACompletionThatFailsOnAWorkerIsRetriedOnAnotherAndTheWorkerMarkedUnhealthy) {
  std::vector<int> tried;
  Gateway gw(options(TeePlacer::epc_aware), {},
             [&](const TeeWorkerSpec& w, const std::vector<int32_t>& prompt, const nn::GenerateOptions& o,
                 const std::string& token, double overcommit) -> std::vector<nn::PrivateToken> {
               tried.push_back(w.id);
               EXPECT_LE(overcommit, 1.0);  // epc-aware
               EXPECT_EQ(nn::SessionTokenVerifier(kTeeKey, w.id).accept(token, std::time(nullptr)), "");
               EXPECT_FALSE(prompt.empty());
               if (w.id == 0) throw std::runtime_error("TEE worker at 127.0.0.1:21000: connection reset");
               return tokens(o.max_new_tokens);
             });
  add_fleet(gw);
  const Gateway::Reply r = gw.completion(R"({"prompt": "Once upon a time", "max_tokens": 3, "backend": "tee"})");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["veil"]["backend"], "tee");
  EXPECT_EQ(r.body["veil"]["attempts"], 2);
  EXPECT_EQ(r.body["usage"]["completion_tokens"], 3);
  ASSERT_EQ(tried.size(), 2u);
  EXPECT_EQ(tried[0], 0);
  EXPECT_NE(tried[1], 0);
  EXPECT_EQ(gw.metrics().value("veil_tee_worker_failures_total", {{"worker", "0"}}), 1);
  for (const json& w : tee_workers(gw)) EXPECT_EQ(w["healthy"], w["id"] != 0);

  Gateway broken(options(TeePlacer::epc_aware), {},
                 [](const TeeWorkerSpec& w, const std::vector<int32_t>&, const nn::GenerateOptions&,
                    const std::string&, double) -> std::vector<nn::PrivateToken> {
                   throw std::runtime_error("worker " + std::to_string(w.id) + " is gone");
                 });
  add_fleet(broken);
  const Gateway::Reply failed = broken.completion(R"({"prompt": "Once upon a time", "max_tokens": 3, "backend": "tee"})");
  EXPECT_EQ(failed.status, 502);
  EXPECT_NE(failed.body.dump().find("failed on TEE worker 0 (worker 0 is gone) and on its retry on TEE worker"),
            std::string::npos)
      << failed.body.dump();
}

// Two real `veil tee-worker serve` processes on one host; the first is stopped, a completion is
// placed on it, and it is killed: the gateway reports the failure, marks it unhealthy and
// completes the request on the second.
TEST(GatewayTeeProcesses, AWorkerKilledMidRequestIsRetriedOnTheOther) {
  ::signal(SIGPIPE, SIG_IGN);
  nn::test::TempDir tmp;
  nn::test::Processes procs(tmp.path());
  const std::string certs = tmp.path() + "/certs", sealed = tmp.path() + "/m.tsm", key = tmp.path() + "/m.key";
  ASSERT_EQ(nn::test::Processes::wait_exit(procs.start({"certs", "--out", certs}, "certs"), 30s), 0);
  ASSERT_EQ(nn::test::Processes::wait_exit(procs.start({"tee-worker", "seal", kModel, "--out", sealed, "--key-out", key}, "seal"), 60s), 0);
  const std::vector<std::string> ports = nn::test::free_loopback_ports(2);
  std::vector<nn::test::Process*> workers;
  for (int id = 0; id < 2; ++id) {
    workers.push_back(&procs.start({"tee-worker", "serve", "--id", std::to_string(id), "--sealed", sealed, "--model-key", key,
                                    "--listen", ports[size_t(id)], "--cert", certs + "/tee-worker.pem", "--key",
                                    certs + "/tee-worker.key", "--ca", certs + "/ca.pem", "--session-key",
                                    tmp.path() + "/tee.key"},
                                   "worker" + std::to_string(id)));
    if (id == 0) std::ofstream(tmp.path() + "/tee.key") << kTeeKey << "\n";
  }
  for (nn::test::Process* w : workers) ASSERT_TRUE(nn::test::Processes::wait_for_err(*w, "serving a GPT-2", 60s)) << w->err();
  GatewayOptions o = options(TeePlacer::epc_aware);
  o.client_tls = {certs + "/client.pem", certs + "/client.key", certs + "/ca.pem"};
  o.session_timeout = 60s;
  Gateway gw(o);
  gw.add_tee_host({"a", need(1024) * 4, 2});
  for (int id = 0; id < 2; ++id) gw.add_tee_worker({id, "a", net::parse_endpoint(ports[size_t(id)])});

  const Gateway::Reply ok = gw.completion(R"({"prompt": "Once upon a time", "max_tokens": 4, "backend": "tee"})");
  ASSERT_EQ(ok.status, 200) << ok.body.dump();
  EXPECT_EQ(ok.body["veil"]["worker"], 0);
  ::kill(workers[0]->pid, SIGSTOP);
  auto r = std::async(std::launch::async,
                      [&] { return gw.completion(R"({"prompt": "Once upon a time", "max_tokens": 4, "backend": "tee"})"); });
  for (int i = 0; i < 500 && gw.status()["tee"]["hosts"][0]["running"] != 1; ++i) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(200ms);  // the gateway is connecting to (or waiting on) the stopped worker
  ::kill(workers[0]->pid, SIGKILL);
  const Gateway::Reply retried = r.get();
  ASSERT_EQ(retried.status, 200) << retried.body.dump();
  EXPECT_EQ(retried.body["veil"]["attempts"], 2);
  EXPECT_EQ(retried.body["veil"]["worker"], 1);
  EXPECT_EQ(ok.body["choices"][0]["text"], retried.body["choices"][0]["text"]);  // greedy: the same text
  for (const json& w : tee_workers(gw)) EXPECT_EQ(w["healthy"], w["id"] == 1);
}

// A gateway whose only workers are TEE workers lists no party group; without --tee-config the same
// empty list is an error. Both are decided before the HTTP server starts, so the refusal is a clear
// message and exit 1 (it was an abort), and the TEE-only gateway stops cleanly on SIGTERM.
TEST(GatewayTeeProcesses, AnEmptyGroupListIsRefusedWithoutTeeWorkersAndServesWithThem) {
  nn::test::TempDir tmp;
  nn::test::Processes procs(tmp.path());
  const std::string certs = tmp.path() + "/certs", shared = tmp.path() + "/shared", profile = tmp.path() + "/profile.json";
  ASSERT_EQ(nn::test::Processes::wait_exit(procs.start({"certs", "--out", certs}, "certs"), 30s), 0);
  ASSERT_EQ(nn::test::Processes::wait_exit(procs.start({"share-model", kModel, "--out", shared}, "share"), 60s), 0);
  ASSERT_EQ(nn::test::Processes::wait_exit(procs.start({"gateway", "profile", "--model", kModel, "--out", profile}, "profile"), 120s), 0);
  const std::string groups = tmp.path() + "/groups.json", tee = tmp.path() + "/tee.json";
  std::ofstream(groups) << R"({"groups": []})";
  const std::vector<std::string> ports = nn::test::free_loopback_ports(3);
  std::ofstream(tee) << json{{"hosts", {{{"name", "h0"}, {"epc_mb", 64}, {"slots", 1}}}},
                             {"workers", {{{"host", "h0"}, {"endpoint", ports[1]}, {"health", ports[2]}}}}}.dump();
  std::vector<std::string> args{"gateway", "--groups", groups, "--client-model", shared + "/client", "--ca", certs + "/ca.pem",
                                "--cert", certs + "/client.pem", "--key", certs + "/client.key", "--profile", profile,
                                "--listen", ports[0]};
  nn::test::Process& refused = procs.start(args, "refused");
  EXPECT_EQ(nn::test::Processes::wait_exit(refused, 30s), 1) << refused.err();
  EXPECT_NE(refused.err().find("expected {\"groups\""), std::string::npos) << refused.err();

  args.insert(args.end(), {"--tee-config", tee});
  nn::test::Process& gw = procs.start(args, "gateway");
  ASSERT_TRUE(nn::test::Processes::wait_for_err(gw, "listening on", 30s)) << gw.err();
  ::kill(gw.pid, SIGTERM);
  EXPECT_EQ(nn::test::Processes::wait_exit(gw, 30s), 0) << gw.err();
  EXPECT_NE(gw.err().find("veil gateway: stopping"), std::string::npos) << gw.err();
}

}  // namespace
}  // namespace veil::serve

namespace veil::serve {
namespace {

std::string config_error(const std::string& text) {
  try {
    parse_tee_config(text, "tee.json");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(TeeFleetConfig, ReadsHostsAndWorkersAndNamesWhatIsWrong) {
  const TeeFleetConfig c = parse_tee_config(
      R"({"hosts": [{"name": "h0", "epc_mb": 94, "slots": 4}, {"name": "h1", "epc_bytes": 1000}],
          "workers": [{"host": "h0", "endpoint": "127.0.0.1:7100", "health": "127.0.0.1:7101"},
                      {"host": "h1", "endpoint": "127.0.0.1:7200"}]})",
      "tee.json");
  ASSERT_EQ(c.hosts.size(), 2u);
  EXPECT_EQ(c.hosts[0].epc_bytes, int64_t(94) << 20);
  EXPECT_EQ(c.hosts[0].slots, 4);
  EXPECT_EQ(c.hosts[1].slots, 1);
  ASSERT_EQ(c.workers.size(), 2u);
  EXPECT_EQ(c.workers[1].id, 1);
  EXPECT_EQ(c.workers[0].health, "127.0.0.1:7101");
  EXPECT_EQ(c.workers[1].endpoint.str(), "127.0.0.1:7200");

  const std::string w = R"(, "workers": [{"host": "h0", "endpoint": "127.0.0.1:1"}]})";
  EXPECT_EQ(config_error("[]"), "tee.json: the top level: expected {\"hosts\": [...], \"workers\": [...]}");
  EXPECT_EQ(config_error(R"({"hosts": [{"epc_mb": 1}])" + w), "tee.json: hosts[0]: needs \"name\"");
  EXPECT_EQ(config_error(R"({"hosts": [{"name": "h0"}])" + w), "tee.json: hosts[0]: needs one of \"epc_bytes\" and \"epc_mb\"");
  EXPECT_EQ(config_error(R"({"hosts": [{"name": "h0", "epc_mb": -1}])" + w),
            "tee.json: hosts[0]: its usable EPC must be a positive number");
  EXPECT_EQ(config_error(R"({"hosts": [{"name": "h0", "epc_mb": 1, "slots": 0}])" + w),
            "tee.json: hosts[0]: \"slots\" must be a positive integer");
  EXPECT_EQ(config_error(R"({"hosts": [{"name": "h0", "epc_mb": 1}, {"name": "h0", "epc_mb": 1}])" + w),
            "tee.json: hosts[1]: TEE host 'h0' is declared twice");
  EXPECT_EQ(config_error(R"({"hosts": [{"name": "h0", "epc_mb": 1}], "workers": [{"host": "h9", "endpoint": "127.0.0.1:1"}]})"),
            "tee.json: workers[0]: TEE worker 0 names host 'h9', which is not declared");
  EXPECT_NE(config_error(R"({"hosts": [{"name": "h0", "epc_mb": 1}], "workers": [{"host": "h0", "endpoint": "nowhere"}]})")
                .find("tee.json: workers[0]: "),
            std::string::npos);
  EXPECT_EQ(config_error(R"({"hosts": [{"name": "h0", "epc_mb": 1}], "workers": []})"), "tee.json: workers: no TEE worker");
}

TEST(GatewayTeeFlags, BadTeeFlagsStopTheGatewayWithAClearError) {
  nn::test::TempDir tmp;
  nn::test::Processes procs(tmp.path());
  auto fails_with = [&](std::vector<std::string> args, const std::string& text) {
    args.insert(args.begin(), "gateway");
    nn::test::Process& p = procs.start(args, "gateway");
    EXPECT_NE(nn::test::Processes::wait_exit(p, 30s), 0) << p.err();
    EXPECT_NE(p.err().find(text), std::string::npos) << p.err();
  };
  const std::string state = tmp.path() + "/state";
  fails_with({"--local", "1", "--model", kModel, "--state-dir", state, "--local-tee", "2"}, "--local-tee needs --tee-epc-mb");
  fails_with({"--groups", kModel + "/config.json", "--local-tee", "2", "--tee-epc-mb", "8"},
             "--local-tee starts TEE workers next to --local groups");
  fails_with({"--local", "1", "--model", kModel, "--state-dir", state, "--tee-placer", "random"}, "--tee-placer");
  const std::string conf = tmp.path() + "/tee.json";
  std::ofstream(conf) << "{}";
  fails_with({"--local", "1", "--model", kModel, "--state-dir", state, "--local-tee", "1", "--tee-epc-mb", "8",
              "--tee-config", conf},
             "give either --local-tee N or --tee-config FILE");
  EXPECT_FALSE(std::filesystem::exists(state));  // refused before anything was made
}

}  // namespace
}  // namespace veil::serve
