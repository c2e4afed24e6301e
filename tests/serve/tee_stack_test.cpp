// The local serving stack with TEE workers: `veil gateway --local 1 --local-tee 2 --kms` seals the
// model, has the local KMS release its key to the workers on bootstrap tokens, and serves
// "backend": "tee" completions and sessions whose text equals the party group's.
#include <httplib.h>
#include <signal.h>

#include <thread>

#include "nn/nn_test_util.h"
#include "nn/process_util.h"
#include "veil/net/endpoint.h"
#include "veil/serve/tee_wire.h"

namespace veil::serve {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using nn::test::Process;
using nn::test::Processes;

TEST(TeeStack, LocalTeeWorkersGetTheirKeyFromTheKmsAndServeWhatTheGroupServes) {
  nn::test::TempDir tmp;
  Processes procs(tmp.path());
  const std::string state = tmp.path() + "/state", address = nn::test::free_loopback_ports(1)[0];
  Process& gw = procs.start({"gateway", "--local", "1", "--kms", "--local-tee", "2", "--tee-hosts", "1", "--tee-epc-mb", "64",
                             "--model", nn::test::repo_path("models/tiny-gpt2"), "--state-dir", state, "--listen", address,
                             "--timeout-ms", "15000", "--slo-ms", "60000"},
                            "gateway");
  const net::Endpoint at = net::parse_endpoint(address);
  httplib::Client c(at.host, at.port);
  c.set_read_timeout(180, 0);
  auto ready = [&] {
    auto r = c.Get("/v1/status");
    if (!r || r->status != 200) return false;
    const json s = json::parse(r->body);
    bool all = !s["groups"].empty() && s["tee"]["workers"].size() == 2;
    for (const json& g : s["groups"]) all = all && g["healthy"].get<bool>();
    for (const json& w : s["tee"]["workers"]) all = all && w["healthy"].get<bool>();
    return all;
  };
  const auto deadline = std::chrono::steady_clock::now() + 180s;
  while (!ready()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << gw.err();
    std::this_thread::sleep_for(200ms);
  }
  for (int id = 0; id < 2; ++id) {
    const std::string log = Process::slurp(state + "/logs/tee-worker-" + std::to_string(id) + ".log");
    EXPECT_NE(log.find("enrolled with the KMS as org0/party-0/tee-" + std::to_string(id)), std::string::npos) << log;
    EXPECT_NE(log.find("key version 1 of tiny-gpt2-tee released"), std::string::npos) << log;
  }
  const std::string body = R"({"prompt": "Once upon a time", "max_tokens": 6)";
  auto tee = c.Post("/v1/completions", body + R"(, "backend": "tee"})", "application/json");
  auto mpc = c.Post("/v1/completions", body + "}", "application/json");
  ASSERT_TRUE(tee && mpc);
  ASSERT_EQ(tee->status, 200) << tee->body;
  ASSERT_EQ(mpc->status, 200) << mpc->body;
  const json t = json::parse(tee->body), m = json::parse(mpc->body);
  EXPECT_EQ(t["veil"]["backend"], "tee");
  EXPECT_EQ(m["veil"]["backend"], "mpc");
  EXPECT_EQ(t["choices"][0]["text"], m["choices"][0]["text"]);  // greedy on the same weights

  // A TEE session: the gateway places it, the client talks to the worker with the token.
  auto s = c.Post("/v1/sessions", R"({"prompt_tokens": 3, "max_new_tokens": 2, "backend": "tee"})", "application/json");
  ASSERT_TRUE(s);
  ASSERT_EQ(s->status, 200) << s->body;
  const json session = json::parse(s->body);
  TeeClientOptions client;
  client.worker = net::parse_endpoint(session["endpoint"].get<std::string>());
  client.tls = {state + "/certs/client.pem", state + "/certs/client.key", state + "/certs/ca.pem"};
  client.timeout = 60s;
  const std::string config = Process::slurp(state + "/shared/client/config.json");
  nn::GenerateOptions opt;
  opt.max_new_tokens = 2;
  ::signal(SIGPIPE, SIG_IGN);
  EXPECT_THROW(generate_tee(client, config, {464, 318, 257}, opt), std::runtime_error);  // no token: refused
  client.session_token = session["token"];
  EXPECT_EQ(generate_tee(client, config, {464, 318, 257}, opt).size(), 2u);
  auto f = c.Post("/v1/sessions/finish", json{{"token", session["token"]}, {"ok", true}}.dump(), "application/json");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->status, 200) << f->body;

  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("veil_tee_epc_bytes{host=\"tee-host-0\"} 67108864"), std::string::npos);
  ::kill(gw.pid, SIGTERM);
  EXPECT_EQ(Processes::wait_exit(gw, 60s), 0) << gw.err();
}

}  // namespace
}  // namespace veil::serve
