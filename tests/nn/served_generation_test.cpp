// Three `veil party --serve` processes on loopback over TLS, serving successive sessions of
// `veil generate --parties` with the bundled trained tiny GPT-2: greedy tokens equal the
// plaintext backend's, sampling equals the in-process MPC run with the same seed; a client that
// disconnects mid-session, a refused session and a party that is not running leave clear
// messages and working servers. The distilled tiny GPT-2 shared for the ditto precision plan is
// served by the mixed-precision backend: its tokens follow the plan's simulation as the in-process
// ditto run's do (nn/ditto_check.h; the probabilistic truncations make exact equality between two
// MPC runs likely, not certain), and a client that asks for another plan, or speaks the session
// version before plans, is refused clearly.
#include <ctime>

#include <nlohmann/json.hpp>

#include "nn/ditto_check.h"
#include "nn/process_util.h"
#include "nn/served_fixture.h"
#include "nn_test_util.h"
#include "veil/mpc/client_wire.h"
#include "veil/net/certs.h"
#include "veil/net/message_conn.h"
#include "veil/net/socket.h"
#include "veil/nn/precision_plan.h"
#include "veil/nn/session_request.h"
#include "veil/nn/session_token.h"

namespace veil::nn {
namespace {

using namespace std::chrono_literals;
using test::Process;
using test::Processes;

const std::string kPrompt = "To be, or not to be";

class ServedGenerationTest : public test::ServedFixture {
 protected:
  const std::vector<std::string> greedy_ = {"--prompt", kPrompt, "--max-new-tokens", "8"};
};

TEST_F(ServedGenerationTest, TwoGreedySessionsMatchThePlaintextBackend) {
  const nlohmann::json want = local("plaintext", greedy_, "plain");
  auto parties = start_parties(2);
  for (int s = 1; s <= 2; ++s) {
    const nlohmann::json got = finished(client(greedy_, "client" + std::to_string(s)));
    EXPECT_EQ(got.at("tokens"), want.at("tokens")) << "session " << s;
    EXPECT_EQ(got.at("text"), want.at("text"));
    EXPECT_EQ(got.at("prompt_tokens"), want.at("prompt_tokens"));
    ASSERT_EQ(got.at("steps").size(), 8u);
    for (const auto& step : got.at("steps")) {
      EXPECT_GT(step.at("bytes_all_parties").get<int64_t>(), 0);  // carried back in the output messages
      EXPECT_GT(step.at("rounds").get<int64_t>(), 0);
      EXPECT_GT(step.at("client_bytes_received").get<int64_t>(), 0);
    }
  }
  expect_exit_ok(parties);
  for (Process* p : parties) {
    EXPECT_PRED2(test::contains, p->err(), "session 1 (the client at 127.0.0.1:");
    EXPECT_PRED2(test::contains, p->err(), "7 prompt tokens, 8 steps, greedy: done");
    EXPECT_PRED2(test::contains, p->err(), "session 2 (");
  }
}

TEST_F(ServedGenerationTest, SamplingMatchesTheInProcessMpcRun) {
  const std::vector<std::string> args = {"--prompt", kPrompt, "--max-new-tokens", "6", "--temperature", "0.8",
                                         "--top-k", "40", "--seed", "11"};
  const nlohmann::json want = local("mpc", args, "inproc");
  auto parties = start_parties(1);
  const nlohmann::json got = finished(client(args, "client"));
  EXPECT_EQ(got.at("tokens"), want.at("tokens"));
  expect_exit_ok(parties);
  EXPECT_PRED2(test::contains, parties[0]->err(), "6 steps, sampling: done");
}

TEST_F(ServedGenerationTest, ClientThatDisconnectsMidSessionLeavesTheServersServing) {
  auto parties = start_parties(2);
  Process& quitter = client({"--prompt", kPrompt, "--max-new-tokens", "400", "--ignore-eos"}, "quitter");
  ASSERT_TRUE(Processes::wait_for_err(quitter, "  token ", 60s)) << quitter.err();
  ::kill(quitter.pid, SIGKILL);  // mid-session
  EXPECT_EQ(Processes::wait_exit(quitter, 10s), 128 + SIGKILL);

  const nlohmann::json want = local("plaintext", greedy_, "plain");
  const nlohmann::json got = finished(client(greedy_, "client2"));
  EXPECT_EQ(got.at("tokens"), want.at("tokens"));
  expect_exit_ok(parties);
  for (Process* p : parties) {
    EXPECT_PRED2(test::contains, p->err(), "session 1 (the client at ");
    EXPECT_PRED2(test::contains, p->err(), "failed: ");
    EXPECT_PRED2(test::contains, p->err(), "reconnecting to the other parties");
    EXPECT_PRED2(test::contains, p->err(), "greedy: done");
  }
}

// A raw client that sends party 2 a different request than parties 0 and 1: all three refuse,
// and the next (honest) session is served.
TEST_F(ServedGenerationTest, PartiesRefuseRequestsThatDiffer) {
  auto parties = start_parties(2);
  const net::TlsContext tls(net::client_cert_files(certs_));
  std::ifstream cfg(shared_ + "/client/config.json");
  SessionRequest req;
  req.config_sha256 = sha256(std::string(std::istreambuf_iterator<char>(cfg), {}));
  req.plan_sha256 = plan_fingerprint(builtin_plan("fp64"));  // what an FM64 bundle serves
  req.prompt_tokens = 3, req.max_new_tokens = 2;
  std::array<std::unique_ptr<net::MessageConn>, 3> conns;
  const auto deadline = net::Clock::now() + 30s;
  for (int i = 0; i < 3; ++i) {
    const net::Endpoint e = net::parse_endpoint(ports_[size_t(3 + i)]);
    conns[size_t(i)] = net::open_message_conn(net::connect_until(e, deadline, "test: ", "party"), tls, false,
                                              net::party_common_name(i), "party " + std::to_string(i), deadline, 1 << 20);
  }
  for (int i = 0; i < 3; ++i) {
    SessionRequest r = req;
    if (i == 2) r.max_new_tokens = 3;
    conns[size_t(i)]->send(encode_request(r, i), 10s);
  }
  for (int i = 0; i < 3; ++i) {
    const std::vector<uint8_t> reply = conns[size_t(i)]->recv(30s);
    ASSERT_EQ(mpc::message_kind(reply, "party"), mpc::ClientMessage::error) << i;
    EXPECT_PRED2(test::contains, mpc::error_text(reply), "the three parties received different session requests");
  }
  const nlohmann::json want = local("plaintext", greedy_, "plain");
  EXPECT_EQ(finished(client(greedy_, "client2")).at("tokens"), want.at("tokens"));
  expect_exit_ok(parties);
  EXPECT_PRED2(test::contains, parties[1]->err(), "refused: the three parties received different session requests");
}

// Parties with the gateway's session key (--session-key, --group 1) refuse a client that bypasses
// the gateway: no token, a forged one, an expired one, one for another group and a replayed one,
// each with its reason to the client and in the log, and keep serving: a valid token is served.
TEST_F(ServedGenerationTest, PartiesWithASessionKeyServeOnlyValidGatewayTokens) {
  const std::string key_file = tmp_.path() + "/session.key", key = "0123456789abcdef0123456789abcdef";
  std::ofstream(key_file) << key << "\n";
  std::array<Process*, 3> parties{};
  for (int i = 2; i >= 0; --i) parties[size_t(i)] = &start_party(i, 6, {"--session-key", key_file, "--group", "1"});
  const int64_t now = int64_t(std::time(nullptr));
  const std::vector<std::string> args = {"--prompt", kPrompt, "--max-new-tokens", "2"};
  auto with_token = [&](const std::string& token) {
    std::vector<std::string> a = args;
    if (!token.empty()) a.insert(a.end(), {"--session-token", token});
    return a;
  };
  auto refused = [&](const std::string& token, const std::string& name, const std::string& why) {
    Process& c = client(with_token(token), name);
    EXPECT_EQ(Processes::wait_exit(c, 60s), 1) << name << ": " << c.err();
    EXPECT_PRED2(test::contains, c.err(), "refused the session: " + why) << name;
  };
  refused("", "no-token", "this party requires a session token from the gateway");
  refused(make_session_token("another key, not the gateway's", "f0", 1, now + 300), "forged",
          "the session token is not one the gateway issued (bad MAC)");
  refused(make_session_token(key, "e0", 1, now - 10), "expired", "the session token expired");
  refused(make_session_token(key, "a0", 2, now + 300), "other-group",
          "the session token is for party group 2, this party serves group 1");
  const std::string valid = make_session_token(key, "b0", 1, now + 300);
  const nlohmann::json got = finished(client(with_token(valid), "valid"));
  EXPECT_EQ(got.at("tokens").size(), 2u);
  refused(valid, "replayed", "the session token of session b0 was used before (replay)");
  expect_exit_ok(parties);
  for (Process* p : parties) {
    EXPECT_PRED2(test::contains, p->err(), "sessions need a session token of the gateway for group 1");
    EXPECT_PRED2(test::contains, p->err(), "session 1 (the client at ");
    EXPECT_PRED2(test::contains, p->err(), "refused: this party requires a session token");
    EXPECT_PRED2(test::contains, p->err(), "refused: the session token is not one the gateway issued");
    EXPECT_PRED2(test::contains, p->err(), "refused: the session token expired");
    EXPECT_PRED2(test::contains, p->err(), "refused: the session token is for party group 2");
    EXPECT_PRED2(test::contains, p->err(), "2 steps, greedy: done");
    EXPECT_PRED2(test::contains, p->err(), "refused: the session token of session b0 was used before (replay)");
  }
}

TEST_F(ServedGenerationTest, WrongModelConfigIsRefusedWithAReason) {
  auto parties = start_parties(1);
  const std::string other = tmp_.sub("other");
  for (const char* f : {"vocab.json", "merges.txt"})
    std::filesystem::copy_file(shared_ + "/client/" + f, other + "/" + f);
  nlohmann::json cfg = test::read_json(shared_ + "/client/config.json");
  cfg["layer_norm_epsilon"] = 1e-6;
  test::write_json(other + "/config.json", cfg);
  Process& c = client(greedy_, "client", other);
  EXPECT_EQ(Processes::wait_exit(c, 60s), 1);
  EXPECT_PRED2(test::contains, c.err(), "refused the session: the client's config.json");
  expect_exit_ok(parties);
}

TEST_F(ServedGenerationTest, PartyThatIsNotRunningIsNamed) {
  start_party(0, 1);
  start_party(1, 1);  // party 2 never starts
  const auto start = std::chrono::steady_clock::now();
  Process& c = procs_.start({"generate", "--parties", clients(), "--ca", certs_ + "/ca.pem", "--cert",
                             certs_ + "/client.pem", "--key", certs_ + "/client.key", "--model", shared_ + "/client",
                             "--prompt", "hi", "--timeout-ms", "1500"},
                            "client");
  EXPECT_EQ(Processes::wait_exit(c, 30s), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 15s);
  EXPECT_PRED2(test::contains, c.err(), "veil: error: client: could not connect to party 2 at " + ports_[5]);
}

TEST_F(ServedGenerationTest, BadFlagsKeysAndBundlesAreExplained) {
  auto run = [&](const std::vector<std::string>& args, const std::string& name) {
    Process& p = procs_.start(args, name);
    EXPECT_NE(Processes::wait_exit(p, 30s), 0) << name;
    return p.err();
  };
  const std::string b0 = shared_ + "/party-0.bundle", k0 = shared_ + "/keys/party-0.key", k1 = shared_ + "/keys/party-1.key";
  const std::vector<std::string> tls = {"--cert", certs_ + "/party0.pem", "--key", certs_ + "/party0.key", "--ca",
                                        certs_ + "/ca.pem"};
  auto party0 = [&](std::vector<std::string> extra) {
    std::vector<std::string> a{"party", "--id", "0", "--peers", peers()};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  std::vector<std::string> a = party0({"--serve", "--bundle", b0, "--bundle-key", k0});
  a.insert(a.end(), tls.begin(), tls.end());
  EXPECT_PRED2(test::contains, run(a, "no-listen"), "--serve needs --client-listen");
  a = party0({"--serve", "--insecure", "--client-listen", ports_[3], "--bundle", b0, "--bundle-key", k0});
  EXPECT_PRED2(test::contains, run(a, "insecure"), "--serve needs TLS");
  a = party0({"--bundle", b0});
  a.insert(a.end(), tls.begin(), tls.end());
  EXPECT_PRED2(test::contains, run(a, "no-serve"), "belong to --serve");
  a = party0({"--serve", "--client-listen", ports_[3], "--bundle", b0, "--bundle-key", k1});
  a.insert(a.end(), tls.begin(), tls.end());
  EXPECT_PRED2(test::contains, run(a, "wrong-key"),
               "authentication failed: wrong key for this bundle, or the bundle was modified");
  a = party0({"--serve", "--client-listen", ports_[3], "--bundle", shared_ + "/party-1.bundle", "--bundle-key", k0});
  a.insert(a.end(), tls.begin(), tls.end());
  EXPECT_PRED2(test::contains, run(a, "wrong-bundle"), "is party 1's bundle, but this is party 0");

  const std::string client_dir = shared_ + "/client";
  EXPECT_PRED2(test::contains,
               run({"generate", "--parties", clients(), "--model", client_dir, "--prompt", "hi"}, "no-ca"),
               "--parties needs --ca, --cert and --key");
  EXPECT_PRED2(test::contains,
               run({"generate", "--model", kModel, "--prompt", "hi", "--ca", certs_ + "/ca.pem"}, "ca-alone"),
               "are for --parties");
  EXPECT_PRED2(test::contains,
               run({"generate", "--parties", "127.0.0.1:1", "--model", client_dir, "--prompt", "hi", "--ca",
                    certs_ + "/ca.pem", "--cert", certs_ + "/client.pem", "--key", certs_ + "/client.key"},
                   "two-parties"),
               "expected three host:port entries");
  EXPECT_PRED2(test::contains,
               run({"generate", "--parties", clients(), "--model", client_dir, "--prompt", "hi", "--backend",
                    "plaintext", "--ca", certs_ + "/ca.pem", "--cert", certs_ + "/client.pem", "--key",
                    certs_ + "/client.key"},
                   "plaintext"),
               "--parties runs the MPC backend");
}

class ServedDittoTest : public test::ServedFixture {
 protected:
  ServedDittoTest() {
    model_ = test::repo_path("models/tiny-gpt2-ditto");
    share_flags_ = {"--precision", "ditto"};
  }
  void SetUp() override {
    if (!std::filesystem::exists(model_ + "/plan.json")) GTEST_SKIP() << model_ << " is absent";
    ServedFixture::SetUp();
  }
};

TEST_F(ServedDittoTest, DittoSessionMatchesTheInProcessDittoRunAndOtherPlansAreRefused) {
  const std::vector<std::string> args = {"--prompt", kPrompt, "--max-new-tokens", "6", "--ignore-eos", "--precision", "ditto"};
  // The client folder holds the plan the bundles were dealt for, calibrated scales included.
  const PrecisionPlan plan = load_precision_plan(model_ + "/plan.json");
  EXPECT_EQ(plan_fingerprint(load_precision_plan(shared_ + "/client/plan.json")), plan_fingerprint(plan));
  const nlohmann::json want = local("mpc", args, "inproc");
  auto parties = start_parties(3);
  const nlohmann::json got = finished(client(args, "client"));
  std::printf("[served-ditto] tiny-gpt2-ditto over three TLS processes: %s, in process %s (%s)\n", got.at("tokens").dump().c_str(),
              want.at("tokens").dump().c_str(), got.at("tokens") == want.at("tokens") ? "equal" : "different");
  ASSERT_EQ(got.at("tokens").size(), 6u);
  EXPECT_EQ(got.at("prompt_tokens"), want.at("prompt_tokens"));
  EXPECT_EQ(got.at("precision"), "ditto");
  const auto prompt = got.at("prompt_tokens").get<std::vector<int32_t>>();
  EXPECT_GE(test::expect_follows_simulation(model_, plan, prompt, got.at("tokens").get<std::vector<int32_t>>()).exact, 5);
  EXPECT_GE(test::expect_follows_simulation(model_, plan, prompt, want.at("tokens").get<std::vector<int32_t>>()).exact, 5);

  // Without --precision the client asks for fp64: refused, with what to do.
  Process& fp64 = client({"--prompt", kPrompt, "--max-new-tokens", "2"}, "fp64-client");
  EXPECT_EQ(Processes::wait_exit(fp64, 60s), 1);
  EXPECT_PRED2(test::contains, fp64.err(), "refused the session: the client asks for precision plan");
  EXPECT_PRED2(test::contains, fp64.err(), "but this party serves plan 'ditto'");
  EXPECT_PRED2(test::contains, fp64.err(), "run the client with --precision ditto");

  // A version-2 request (160 bytes, no plan fingerprint) is refused by name.
  const net::TlsContext tls(net::client_cert_files(certs_));
  const auto deadline = net::Clock::now() + 30s;
  std::array<std::unique_ptr<net::MessageConn>, 3> conns;
  for (int i = 0; i < 3; ++i) {
    conns[size_t(i)] = net::open_message_conn(net::connect_until(net::parse_endpoint(ports_[size_t(3 + i)]), deadline, "test: ", "party"),
                                              tls, false, net::party_common_name(i), "party " + std::to_string(i), deadline, 1 << 20);
    std::vector<uint8_t> v2 = encode_request(SessionRequest{}, i);
    v2.resize(1 + 160);
    v2[1 + 8] = 2;  // version_le
    conns[size_t(i)]->send(v2, 10s);
  }
  for (int i = 0; i < 3; ++i) {
    const std::vector<uint8_t> reply = conns[size_t(i)]->recv(30s);
    ASSERT_EQ(mpc::message_kind(reply, "party"), mpc::ClientMessage::error) << i;
    EXPECT_PRED2(test::contains, mpc::error_text(reply), "speaks session version 2 (no precision plan), this party speaks 3");
  }
  expect_exit_ok(parties);
}

}  // namespace
}  // namespace veil::nn
