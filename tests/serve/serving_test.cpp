// The serving system end to end on loopback: `veil gateway --local 2` with two real groups of
// `veil party --serve`, sessions through the gateway, a party killed in the middle of a session,
// and a party drained by SIGTERM. Waits have generous limits and assert states, not durations.
#include <httplib.h>
#include <signal.h>

#include <future>
#include <thread>

#include "nn/served_fixture.h"

namespace veil::serve::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using nn::test::Process;
using nn::test::Processes;

class GatewayStack : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::string> args{"gateway", "--local", "2", "--model", nn::test::repo_path("models/tiny-gpt2"), "--state-dir",
                                  state_, "--listen", address_, "--timeout-ms", "15000", "--slo-ms", "60000"};
    if (kms_) args.push_back("--kms");
    gateway_ = &procs_.start(args, "gateway");
    const auto deadline = std::chrono::steady_clock::now() + 180s;
    while (healthy() < 2) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << gateway_->err();
      std::this_thread::sleep_for(100ms);
    }
  }

  // SIGTERM lets the gateway stop its parties (SIGKILL would leave them to their parent-death signal).
  void TearDown() override {
    if (!gateway_ || gateway_->reaped) return;
    ::kill(gateway_->pid, SIGTERM);
    EXPECT_EQ(Processes::wait_exit(*gateway_, 60s), 0) << gateway_->err();
  }

  httplib::Client client() {
    const size_t colon = address_.rfind(':');
    httplib::Client c(address_.substr(0, colon), std::stoi(address_.substr(colon + 1)));
    c.set_read_timeout(180, 0);
    return c;
  }
  json status() {
    auto r = client().Get("/v1/status");
    return r && r->status == 200 ? json::parse(r->body) : json{{"groups", json::array()}};
  }
  int healthy() {
    int n = 0;
    const json s = status();
    for (const json& g : s["groups"]) n += g["healthy"].get<bool>();
    return n;
  }
  double metric(const std::string& series) {
    auto r = client().Get("/metrics");
    if (!r) return -1;
    const size_t at = r->body.find("\n" + series + " ");  // a sample line, not its # HELP
    return at == std::string::npos ? 0 : std::stod(r->body.substr(at + series.size() + 2));
  }
  // Waits until a group runs a session; returns it.
  json running_group() {
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    for (;;) {
      const json s = status();
      for (const json& g : s["groups"])
        if (g["running"].get<int>() > 0) return g;
      if (std::chrono::steady_clock::now() > deadline) return nullptr;
      std::this_thread::sleep_for(20ms);
    }
  }

  nn::test::TempDir tmp_;
  std::string state_ = tmp_.path() + "/state";
  Processes procs_{tmp_.path()};
  std::string address_ = nn::test::free_loopback_ports(1)[0];
  Process* gateway_ = nullptr;
  bool kms_ = false;  // the parties fetch their keys from a local KMS
};

// Flags that cannot work are refused before any certificate, bundle or party is made.
TEST(GatewayCli, BadFlagsAreRefusedBeforeAnythingStarts) {
  nn::test::TempDir tmp;
  const std::string state = tmp.path() + "/state";
  const std::string gateway = std::string(VEIL_BINARY) + " gateway --local 1 --model " +
                              nn::test::repo_path("models/tiny-gpt2") + " --state-dir " + state;
  auto r = nn::test::run_command(gateway + " --autoscale --min-groups 3 --max-groups 2 2>&1");
  EXPECT_EQ(r.rc, 1);
  EXPECT_PRED2(nn::test::contains, r.out, "--min-groups 3 is above --max-groups 2");
  r = nn::test::run_command(gateway + " --listen 8080 2>&1");
  EXPECT_EQ(r.rc, 105);
  EXPECT_PRED2(nn::test::contains, r.out, "--listen: bad endpoint '8080'");
  EXPECT_FALSE(std::filesystem::exists(state));
}

// A load test against a port where no gateway answers fails at once; it reported every request
// as failed and exited 0.
TEST(LoadtestCli, NoGatewayIsAClearError) {
  nn::test::TempDir tmp;
  const std::string address = nn::test::free_loopback_ports(1)[0];
  auto r = nn::test::run_command(std::string(VEIL_BINARY) + " loadtest --gateway " + address + " --duration-s 1 2>&1");
  EXPECT_EQ(r.rc, 1);
  EXPECT_PRED2(nn::test::contains, r.out, "no gateway answers at " + address);
  r = nn::test::run_command(std::string(VEIL_BINARY) + " loadtest --local-groups 1 --model " +
                            nn::test::repo_path("models/tiny-gpt2") + " --policies slo,fastest --duration-s 1 --state-dir " +
                            tmp.path() + " 2>&1");
  EXPECT_EQ(r.rc, 1);
  EXPECT_PRED2(nn::test::contains, r.out, "unknown balancer policy 'fastest'");
  EXPECT_FALSE(nn::test::contains(r.out, "starting a local gateway")) << r.out;
  r = nn::test::run_command(std::string(VEIL_BINARY) + " loadtest --gateway " + address + " --slo-ms -5 2>&1");
  EXPECT_EQ(r.rc, 105);  // was reported as 0% within the SLO, or made a local gateway exit ("see ...log")
  EXPECT_PRED2(nn::test::contains, r.out, "--slo-ms: Value -5 not in range");
}

TEST_F(GatewayStack, ServesCompletionsAndSessionsOnTwoGroups) {
  auto r = client().Post("/v1/completions", R"({"prompt": "Once upon a time", "max_tokens": 4})", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json c = json::parse(r->body);
  EXPECT_EQ(c["usage"]["completion_tokens"].get<int>() + (c["choices"][0]["finish_reason"] == "stop"), 4);
  EXPECT_GT(c["veil"]["bytes_all_parties"].get<double>(), 0);

  // A session: the gateway places it, the client talks to the parties itself.
  r = client().Post("/v1/sessions", R"({"prompt_tokens": 5, "max_new_tokens": 3})", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json s = json::parse(r->body);
  const std::string parties = s["parties"][0].get<std::string>() + "," + s["parties"][1].get<std::string>() + "," +
                              s["parties"][2].get<std::string>();
  // A client that bypasses the gateway (no token) is refused by the parties.
  Process& bypass = procs_.start({"generate", "--parties", parties, "--ca", state_ + "/certs/ca.pem", "--cert",
                                  state_ + "/certs/client.pem", "--key", state_ + "/certs/client.key", "--model",
                                  state_ + "/shared/client", "--prompt", "Once upon a time", "--max-new-tokens", "3",
                                  "--timeout-ms", "60000"},
                                 "bypass-client");
  EXPECT_EQ(Processes::wait_exit(bypass, 120s), 1) << bypass.err();
  EXPECT_NE(bypass.err().find("this party requires a session token from the gateway"), std::string::npos) << bypass.err();
  Process& gen = procs_.start({"generate", "--parties", parties, "--ca", state_ + "/certs/ca.pem", "--cert",
                               state_ + "/certs/client.pem", "--key", state_ + "/certs/client.key", "--model",
                               state_ + "/shared/client", "--prompt", "Once upon a time", "--max-new-tokens", "3",
                               "--json", "--timeout-ms", "60000", "--session-token", s["token"].get<std::string>()},
                              "session-client");
  ASSERT_EQ(Processes::wait_exit(gen, 120s), 0) << gen.err();
  r = client().Post("/v1/sessions/finish", json{{"token", s["token"]}, {"ok", true}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;

  r = client().Post("/v1/completions", R"({"prompt": 7})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("'prompt' must be a non-empty string"), std::string::npos) << r->body;
  EXPECT_EQ(metric("veil_gateway_requests_total{endpoint=\"sessions\",outcome=\"ok\"}"), 1);
}

// The same stack with a local KMS: the parties enrol with one-time tokens and fetch their keys.
class GatewayStackKms : public GatewayStack {
 protected:
  void SetUp() override {
    kms_ = true;
    GatewayStack::SetUp();
  }
};

TEST_F(GatewayStackKms, PartiesGetTheirKeysFromTheKmsAndServe) {
  auto r = client().Post("/v1/completions", R"({"prompt": "Once upon a time", "max_tokens": 2})", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  for (int i = 0; i < 3; ++i) {  // key files were not given to the parties
    const std::string log = Process::slurp(state_ + "/logs/group-0-party-" + std::to_string(i) + ".log");
    EXPECT_NE(log.find("linked to parties"), std::string::npos) << log;
  }
  std::ifstream ps("/proc/" + std::to_string(status()["groups"][0]["pids"][0].get<int>()) + "/cmdline");
  std::string cmdline((std::istreambuf_iterator<char>(ps)), std::istreambuf_iterator<char>());
  EXPECT_NE(cmdline.find("--bootstrap-token"), std::string::npos);
  EXPECT_EQ(cmdline.find("--bundle-key"), std::string::npos);
}

// A party killed in the middle of a completion: the gateway's request fails on that group, the
// group is marked unhealthy, the request is retried once on the other group and succeeds: one
// final response.
TEST_F(GatewayStack, APartyKilledMidSessionIsRetriedOnTheOtherGroup) {
  auto pending = std::async(std::launch::async, [&] {
    return client().Post("/v1/completions", R"({"prompt": "Once upon a time", "max_tokens": 40})", "application/json");
  });
  const json g = running_group();
  ASSERT_FALSE(g.is_null());
  ASSERT_EQ(::kill(g["pids"][1].get<pid_t>(), SIGKILL), 0);
  auto r = pending.get();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json c = json::parse(r->body);
  EXPECT_EQ(c["veil"]["attempts"], 2);
  EXPECT_NE(c["veil"]["group"], g["id"]);
  EXPECT_EQ(metric("veil_gateway_retries_total"), 1);
  EXPECT_EQ(metric("veil_gateway_group_failures_total{group=\"" + std::to_string(g["id"].get<int>()) + "\"}"), 1);
  EXPECT_EQ(metric("veil_gateway_accepted_total{endpoint=\"completions\"}"), 1);
  EXPECT_EQ(metric("veil_gateway_requests_total{endpoint=\"completions\",outcome=\"ok\"}"), 1);
  EXPECT_EQ(metric("veil_gateway_requests_total{endpoint=\"completions\",outcome=\"failed\"}"), 0);
  // The gateway replaces the broken local group: two healthy groups again.
  const auto deadline = std::chrono::steady_clock::now() + 180s;
  while (healthy() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(healthy(), 2) << gateway_->err();
}

// The same fault seen by a direct client of a session: it gets a clear error naming a party
// within its timeout, and its report marks the group unhealthy.
TEST_F(GatewayStack, ADirectClientGetsAClearErrorWhenAPartyIsKilled) {
  auto r = client().Post("/v1/sessions", R"({"prompt_tokens": 5, "max_new_tokens": 40})", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json s = json::parse(r->body);
  const std::string parties = s["parties"][0].get<std::string>() + "," + s["parties"][1].get<std::string>() + "," +
                              s["parties"][2].get<std::string>();
  Process& gen = procs_.start({"generate", "--parties", parties, "--ca", state_ + "/certs/ca.pem", "--cert",
                               state_ + "/certs/client.pem", "--key", state_ + "/certs/client.key", "--model",
                               state_ + "/shared/client", "--prompt", "Once upon a time", "--max-new-tokens", "40",
                               "--timeout-ms", "20000", "--session-token", s["token"].get<std::string>()},
                              "session-client");
  ASSERT_TRUE(Processes::wait_for_err(gen, "  token ", 120s)) << gen.err();  // the session runs
  json group;
  const json st = status();
  for (const json& g : st["groups"])
    if (g["id"] == s["group"]) group = g;
  ASSERT_EQ(::kill(group["pids"][2].get<pid_t>(), SIGKILL), 0);
  const std::optional<int> rc = Processes::wait_exit(gen, 90s);
  ASSERT_TRUE(rc.has_value()) << "the client did not give up within its timeout";
  EXPECT_NE(*rc, 0);
  EXPECT_NE(gen.err().find("party"), std::string::npos) << gen.err();
  r = client().Post("/v1/sessions/finish", json{{"token", s["token"]}, {"ok", false}, {"error", gen.err()}}.dump(),
                    "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(metric("veil_gateway_requests_total{endpoint=\"sessions\",outcome=\"failed\"}"), 1);
  EXPECT_EQ(metric("veil_gateway_accepted_total{endpoint=\"sessions\"}"), 1);
}

// SIGTERM to serving parties: the running session finishes, the parties exit 0.
class PartyDrain : public nn::test::ServedFixture {};

TEST_F(PartyDrain, SigtermFinishesTheRunningSessionThenExits) {
  ports_ = nn::test::free_loopback_ports(9);  // peers, clients and health ports, all different
  const std::vector<std::string> health(ports_.begin() + 6, ports_.end());
  std::array<Process*, 3> parties{};
  for (int i = 0; i < 3; ++i) parties[size_t(i)] = &start_party(i, 0, {"--health-listen", health[size_t(i)]});
  Process& gen = client({"--prompt", "Once upon a time", "--max-new-tokens", "40"}, "client");
  ASSERT_TRUE(Processes::wait_for_err(gen, "  token ", 120s)) << gen.err();  // the session runs
  {
    const size_t colon = health[0].rfind(':');
    httplib::Client h(health[0].substr(0, colon), std::stoi(health[0].substr(colon + 1)));
    auto ready = h.Get("/readyz");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 200) << ready->body;
    auto m = h.Get("/metrics");
    ASSERT_TRUE(m);
    EXPECT_NE(m->body.find("veil_party_ready{party=\"0\"} 1"), std::string::npos) << m->body;
  }
  for (Process* p : parties) ASSERT_EQ(::kill(p->pid, SIGTERM), 0);
  const json out = finished(gen);  // the session ran to its end
  EXPECT_EQ(out["steps"].size(), 40u);
  for (Process* p : parties) {
    EXPECT_EQ(Processes::wait_exit(*p, 60s), 0) << p->err();
    EXPECT_NE(p->err().find("drained after SIGTERM"), std::string::npos) << p->err();
  }
}

TEST_F(PartyDrain, SigtermToAnIdlePartyExitsAtOnce) {
  Process& p = start_party(0, 0);  // its peers never come: it waits for them
  ASSERT_TRUE(Processes::wait_for_err(p, "serving a GPT-2", 60s)) << p.err();
  ASSERT_EQ(::kill(p.pid, SIGTERM), 0);
  EXPECT_EQ(Processes::wait_exit(p, 30s), 0) << p.err();
}

}  // namespace
}  // namespace veil::serve::test
