// `veil generate --kv-policy mpcache` in one process and over three `veil party --serve`
// processes on loopback TLS, with the trained tiny GPT-2: the greedy tokens equal the plaintext
// backend's with the same policy; the parties log the policy; a request for a plaintext-only
// policy is refused by the parties with a reason; bad --kv-* flags are explained.
#include <nlohmann/json.hpp>

#include "nn/process_util.h"
#include "nn/served_fixture.h"
#include "nn_test_util.h"
#include "veil/mpc/client_wire.h"
#include "veil/net/certs.h"
#include "veil/net/message_conn.h"
#include "veil/net/socket.h"
#include "veil/nn/session_request.h"

namespace veil::nn {
namespace {

using namespace std::chrono_literals;
using test::Process;
using test::Processes;

// The first 8 lines of the fixture's README, about 170 tokens: the sink, 4 coarse clusters and a recent
// tail, so the 40% budget selects clusters at every step (and static eviction runs at the prefill).
std::string prompt_text() {
  std::ifstream in(test::repo_path("models/tiny-gpt2/README.md"));
  std::string line, text;
  for (int i = 0; std::getline(in, line) && i < 8; ++i) text += line + "\n";
  return text;
}

class KvServedTest : public test::ServedFixture {
 protected:
  const std::vector<std::string> mpcache_ = {"--prompt", prompt_text(), "--max-new-tokens", "3", "--kv-policy",
                                             "mpcache", "--kv-budget", "0.4"};
};

TEST_F(KvServedTest, MpcacheOverThreeTlsProcessesMatchesThePlaintextBackend) {
  const nlohmann::json want = local("plaintext", mpcache_, "plain");
  ASSERT_GT(want.at("prompt_tokens").size(), 160u);
  EXPECT_EQ(want.at("kv").at("policy"), "mpcache");
  const nlohmann::json inproc = local("mpc", mpcache_, "inproc");
  EXPECT_EQ(inproc.at("tokens"), want.at("tokens"));
  EXPECT_EQ(inproc.at("kv"), want.at("kv"));

  auto parties = start_parties(1);
  const nlohmann::json got = finished(client(mpcache_, "client", {}, "60000"));
  EXPECT_EQ(got.at("tokens"), want.at("tokens"));
  EXPECT_EQ(got.at("kv"), want.at("kv"));
  for (Process* p : parties) {
    EXPECT_EQ(Processes::wait_exit(*p, 60s), 0) << p->err();
    EXPECT_PRED2(test::contains, p->err(), "KV policy mpcache alpha=0.6 budget=0.4");
  }
}

TEST_F(KvServedTest, PartiesRefuseAPlaintextOnlyPolicyAndBadFlagsAreExplained) {
  auto parties = start_parties(1);
  const net::TlsContext tls(net::client_cert_files(certs_));
  std::ifstream cfg(shared_ + "/client/config.json");
  SessionRequest req;
  req.config_sha256 = sha256(std::string(std::istreambuf_iterator<char>(cfg), {}));
  req.prompt_tokens = 3, req.max_new_tokens = 2;
  req.kv.kind = KvPolicyKind::h2o;  // a raw client: `veil generate` itself refuses before connecting
  const auto deadline = net::Clock::now() + 30s;
  std::array<std::unique_ptr<net::MessageConn>, 3> conns;
  for (int i = 0; i < 3; ++i) {
    const net::Endpoint e = net::parse_endpoint(ports_[size_t(3 + i)]);
    conns[size_t(i)] = net::open_message_conn(net::connect_until(e, deadline, "test: ", "party"), tls, false,
                                              net::party_common_name(i), "party " + std::to_string(i), deadline, 1 << 20);
    conns[size_t(i)]->send(encode_request(req, i), 10s);
  }
  for (int i = 0; i < 3; ++i) {
    const std::vector<uint8_t> reply = conns[size_t(i)]->recv(30s);
    ASSERT_EQ(mpc::message_kind(reply, "party"), mpc::ClientMessage::error) << i;
    EXPECT_PRED2(test::contains, mpc::error_text(reply), "KV policy h2o is a plaintext baseline");
  }
  for (Process* p : parties) EXPECT_EQ(Processes::wait_exit(*p, 60s), 0) << p->err();

  auto refused = [&](const std::vector<std::string>& extra, const std::string& name) {
    std::vector<std::string> args{"generate", "--model", kModel, "--prompt", "hi"};
    args.insert(args.end(), extra.begin(), extra.end());
    Process& p = procs_.start(args, name);
    EXPECT_EQ(Processes::wait_exit(p, 30s), 1) << name;
    return p.err();
  };
  EXPECT_PRED2(test::contains, refused({"--kv-policy", "lru"}, "name"), "unknown policy 'lru'; choose one of full");
  EXPECT_PRED2(test::contains, refused({"--kv-policy", "quest"}, "quest-mpc"), "--kv-policy quest is a plaintext baseline");
  EXPECT_PRED2(test::contains, refused({"--kv-policy", "topk"}, "topk-mpc"), "--kv-policy topk is a plaintext baseline");
  EXPECT_PRED2(test::contains, refused({"--kv-policy", "mpcache", "--kv-budget", "0"}, "budget"),
               "--kv-budget must be in (0, 1], got 0");
  EXPECT_PRED2(test::contains, refused({"--kv-policy", "mpcache", "--kv-coarse", "24"}, "coarse"),
               "--kv-coarse must be a multiple (at least 2) of --kv-fine");
  EXPECT_PRED2(test::contains, refused({"--kv-policy", "mpcache", "--kv-reveal", "nothing"}, "reveal"),
               "choose positions or count");
  EXPECT_PRED2(test::contains, refused({"--kv-policy", "mpcache", "--kv-share", "yes"}, "share"),
               "--kv-share must be on or off");
}

}  // namespace
}  // namespace veil::nn
