// End to end: `veil kms serve` as its own process holds the three share-bundle keys of the
// bundled tiny GPT-2; three `veil party --serve --kms ...` processes enrol with one-time tokens,
// receive their keys over mutual TLS (never written to disk) and serve one greedy generation
// whose tokens equal the plaintext backend's. A fourth worker that replays a used token is
// refused with the KMS's reason and exits; the audit log records all seven requests.
#include <signal.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "nn/process_util.h"
#include "nn/served_fixture.h"
#include "veil/serve/kms_store.h"

namespace veil::nn {
namespace {

using namespace std::chrono_literals;
using test::Process;
using test::Processes;

class KmsEndToEndTest : public test::ServedFixture {
 protected:
  // Runs `veil kms <args>` with the fixture's database and master key; returns its stdout.
  std::string kms(std::vector<std::string> args, const std::string& name) {
    args.insert(args.begin(), "kms");
    args.insert(args.end(), {"--db", db_, "--master-key-file", master_});
    Process& p = procs_.start(args, name);
    EXPECT_EQ(Processes::wait_exit(p, 30s), 0) << name << ": " << p.err();
    return p.out();
  }

  Process& start_party(int id, const std::string& token_file, const std::string& name) {
    const std::string p = "party" + std::to_string(id), i = std::to_string(id);
    return procs_.start({"party",
                         "--serve",
                         "--id",
                         i,
                         "--peers",
                         peers(),
                         "--client-listen",
                         ports_[size_t(3 + id)],
                         "--bundle",
                         shared_ + "/party-" + i + ".bundle",
                         "--kms",
                         "https://" + kms_port_,
                         "--kms-ca",
                         kms_ca_,
                         "--bootstrap-token",
                         token_file,
                         "--kms-model",
                         "tiny-gpt2",
                         "--worker-version",
                         "0.1.0",
                         "--cert",
                         certs_ + "/" + p + ".pem",
                         "--key",
                         certs_ + "/" + p + ".key",
                         "--ca",
                         certs_ + "/ca.pem",
                         "--max-sessions",
                         "1",
                         "--timeout-ms",
                         "20000"},
                        name);
  }

  std::string db_ = tmp_.path() + "/kms.db", master_ = tmp_.path() + "/master.key",
              kms_ca_ = tmp_.path() + "/kms-ca.pem";
  std::string kms_port_ = test::free_loopback_ports(1)[0];
};

TEST_F(KmsEndToEndTest, PartiesFetchTheirKeysFromTheKmsAndServeAGeneration) {
  kms({"init", "--kms-ca-out", kms_ca_}, "kms-init");
  ASSERT_TRUE(std::filesystem::exists(master_));
  for (int i = 0; i < 3; ++i) {
    const std::string id = std::to_string(i), org = "org" + id;
    kms({"add-org", org}, "kms-org" + id);
    kms({"put-key", "--model", "tiny-gpt2", "--party", id, "--key-file", shared_ + "/keys/party-" + id + ".key",
         "--bundle", shared_ + "/party-" + id + ".bundle"},
        "kms-put" + id);
    kms({"policy", "--model", "tiny-gpt2", "--party", id, "--org", org, "--allow-version", "0.1.0"}, "kms-policy" + id);
    kms({"issue-token", "--org", org, "--party", id, "--worker", "worker-" + id, "--ttl", "600", "--out",
         tmp_.path() + "/token-" + id},
        "kms-token" + id);
  }
  Process& server =
      procs_.start({"kms", "serve", "--db", db_, "--master-key-file", master_, "--listen", kms_port_}, "kms-serve");
  ASSERT_TRUE(Processes::wait_for_err(server, "serving on https://", 20s)) << server.err();

  const std::vector<std::string> greedy = {"--prompt", "To be, or not to be", "--max-new-tokens", "4"};
  const nlohmann::json want = local("plaintext", greedy, "plain");
  std::array<Process*, 3> parties{};
  for (int i = 2; i >= 0; --i)
    parties[size_t(i)] = &start_party(i, tmp_.path() + "/token-" + std::to_string(i), "party" + std::to_string(i));
  const nlohmann::json got = finished(client(greedy, "client"));
  EXPECT_EQ(got.at("tokens"), want.at("tokens"));
  expect_exit_ok(parties);
  for (int i = 0; i < 3; ++i) {
    const std::string id = std::to_string(i);
    EXPECT_PRED2(test::contains, parties[size_t(i)]->err(),
                 "enrolled with the KMS as org" + id + "/party-" + id + "/worker-" + id +
                     "; key version 1 of tiny-gpt2 released");
  }

  // The same token again: refused at enrolment, the party exits with the KMS's reason.
  Process& replay = start_party(0, tmp_.path() + "/token-0", "replay");
  EXPECT_NE(Processes::wait_exit(replay, 30s), 0);
  EXPECT_PRED2(test::contains, replay.err(), "enrolment refused by the KMS (token_replayed)");

  ::kill(server.pid, SIGTERM);
  EXPECT_EQ(Processes::wait_exit(server, 10s), 0) << server.err();
  std::vector<nlohmann::json> log;
  std::istringstream lines(kms({"audit"}, "kms-audit"));
  for (std::string line; std::getline(lines, line);) log.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(log.size(), 7u);
  int granted = 0;
  for (const auto& r : log) granted += r.at("outcome") == "granted";
  EXPECT_EQ(granted, 6);
  EXPECT_EQ(log.back().at("reason"), "token_replayed");
  EXPECT_EQ(log.back().at("worker"), "worker-0");
  // No file outside the model owner's keys/ folder holds a key, in hex or raw: not the database, the logs or anything
  // a party wrote.
  for (int i = 0; i < 3; ++i) {
    const std::string key_hex =
        test::Process::slurp(shared_ + "/keys/party-" + std::to_string(i) + ".key").substr(0, 64);
    const std::optional<AeadKey> key = serve::key_from_hex(key_hex);
    ASSERT_TRUE(key);
    const std::string key_raw(key->begin(), key->end());
    for (const auto& f : std::filesystem::recursive_directory_iterator(tmp_.path())) {
      if (!f.is_regular_file() || f.path().parent_path() == std::filesystem::path(shared_ + "/keys")) continue;
      const std::string bytes = test::Process::slurp(f.path().string());
      EXPECT_EQ(bytes.find(key_hex), std::string::npos) << f.path();
      EXPECT_EQ(bytes.find(key_raw), std::string::npos) << f.path();
    }
  }
}

}  // namespace
}  // namespace veil::nn
