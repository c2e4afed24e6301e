// `veil kms` as a user runs it: every subcommand has --help; put-key, retire-key, policy, status
// and rotate-master-key work on one database; the old master key is refused after a rotation,
// with a message that says so; the master key can come from the environment.
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "nn/nn_test_util.h"
#include "nn/process_util.h"

namespace veil::serve::test {
namespace {

using namespace std::chrono_literals;
using nn::test::Process;
using nn::test::Processes;

class KmsCliTest : public ::testing::Test {
 protected:
  // Runs `veil kms <args>`; returns (exit code, stdout + stderr).
  std::pair<int, std::string> kms(std::vector<std::string> args) {
    args.insert(args.begin(), "kms");
    Process& p = procs_.start(args, "kms-" + std::to_string(n_++));
    const std::optional<int> rc = Processes::wait_exit(p, 30s);
    return {rc.value_or(-1), p.out() + p.err()};
  }
  std::vector<std::string> db(const std::string& master) { return {"--db", db_, "--master-key-file", master}; }
  std::pair<int, std::string> kms(std::vector<std::string> args, const std::string& master) {
    for (const std::string& a : db(master)) args.push_back(a);
    return kms(args);
  }

  nn::test::TempDir tmp_;
  Processes procs_{tmp_.path()};
  int n_ = 0;
  std::string db_ = tmp_.path() + "/kms.db", master_ = tmp_.path() + "/master.key";
};

TEST_F(KmsCliTest, EverySubcommandExplainsItself) {
  for (const char* sub : {"init", "add-org", "put-key", "retire-key", "policy", "issue-token", "rotate-master-key",
                          "audit", "status", "serve"}) {
    const auto [rc, out] = kms({sub, "--help"});
    EXPECT_EQ(rc, 0) << sub;
    EXPECT_PRED2(nn::test::contains, out, "--db") << sub;
  }
}

TEST_F(KmsCliTest, KeysPoliciesAndMasterKeyRotation) {
  ASSERT_EQ(kms({"init", "--kms-ca-out", tmp_.path() + "/kms-ca.pem"}, master_).first, 0);
  EXPECT_NE(kms({"init", "--kms-ca-out", tmp_.path() + "/other.pem"}, master_).first, 0);  // never replaces a database
  const std::string key = tmp_.path() + "/party-0.key";
  std::ofstream(key) << std::string(64, 'b') << "\n";
  ASSERT_EQ(kms({"add-org", "acme"}, master_).first, 0);
  ASSERT_EQ(
      kms({"policy", "--model", "m", "--party", "0", "--org", "acme", "--allow-version", "1", "--allow-version", "2"},
          master_)
          .first,
      0);
  EXPECT_NE(kms({"policy", "--model", "m", "--party", "1", "--org", "nobody", "--allow-version", "1"}, master_).first,
            0);
  ASSERT_EQ(kms({"put-key", "--model", "m", "--party", "0", "--key-file", key, "--bundle-sha256", std::string(64, 'a')},
                master_)
                .first,
            0);
  ASSERT_EQ(kms({"put-key", "--model", "m", "--party", "0", "--key-file", key, "--bundle-sha256", std::string(64, 'c')},
                master_)
                .first,
            0);
  ASSERT_EQ(kms({"retire-key", "--model", "m", "--party", "0", "--version", "1"}, master_).first, 0);

  const std::string next = tmp_.path() + "/next.key";
  auto [rc, out] = kms({"rotate-master-key", "--new-master-key-file", next}, master_);
  ASSERT_EQ(rc, 0) << out;
  std::tie(rc, out) = kms({"status"}, master_);
  EXPECT_NE(rc, 0);
  EXPECT_PRED2(nn::test::contains, out, "does not open");
  ::setenv("VEIL_KMS_MASTER_KEY", nn::test::Process::slurp(next).substr(0, 64).c_str(), 1);
  std::tie(rc, out) = kms({"status", "--db", db_});  // the key from the environment
  ::unsetenv("VEIL_KMS_MASTER_KEY");
  ASSERT_EQ(rc, 0) << out;
  const nlohmann::json status = nlohmann::json::parse(out);
  EXPECT_EQ(status.at("orgs"), nlohmann::json::array({"acme"}));
  const nlohmann::json& p = status.at("policies").at(0);
  EXPECT_EQ(p.at("versions"), nlohmann::json::array({"1", "2"}));
  ASSERT_EQ(p.at("keys").size(), 2u);
  EXPECT_EQ(p.at("keys").at(0).at("retired"), true);
  EXPECT_EQ(p.at("keys").at(1).at("retired"), false);
  EXPECT_EQ(out.find(std::string(64, 'b')), std::string::npos);  // status shows no key
}

// A --ca-out in a folder that does not exist is refused before the organisation is added (the
// organisation was added and the file silently not written).
TEST_F(KmsCliTest, AddOrgRefusesACaOutItCannotWrite) {
  ASSERT_EQ(kms({"init", "--kms-ca-out", tmp_.path() + "/kms-ca.pem"}, master_).first, 0);
  const std::string ca = tmp_.path() + "/missing/acme-ca.pem";
  auto [rc, out] = kms({"add-org", "acme", "--ca-out", ca}, master_);
  EXPECT_EQ(rc, 1);
  EXPECT_PRED2(nn::test::contains, out, "--ca-out " + ca + ": no directory " + tmp_.path() + "/missing");
  std::tie(rc, out) = kms({"add-org", "acme", "--ca-out", tmp_.path() + "/acme-ca.pem"}, master_);
  EXPECT_EQ(rc, 0) << out;  // not added by the refused call
  EXPECT_TRUE(std::filesystem::exists(tmp_.path() + "/acme-ca.pem"));
}

// An --out that cannot be written is refused before the token is stored, so that no token
// exists that nobody received.
TEST_F(KmsCliTest, IssueTokenRefusesAnExistingOutFileBeforeIssuing) {
  ASSERT_EQ(kms({"init", "--kms-ca-out", tmp_.path() + "/kms-ca.pem"}, master_).first, 0);
  ASSERT_EQ(kms({"add-org", "acme"}, master_).first, 0);
  const std::string token = tmp_.path() + "/token";
  const std::vector<std::string> issue{"issue-token", "--org", "acme", "--party", "0", "--worker", "w0", "--out", token};
  ASSERT_EQ(kms(issue, master_).first, 0);
  auto [rc, out] = kms(issue, master_);
  EXPECT_EQ(rc, 1);
  EXPECT_PRED2(nn::test::contains, out, "--out " + token + " already exists: remove it or choose another file");
  std::tie(rc, out) = kms({"status"}, master_);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(nlohmann::json::parse(out).at("tokens").size(), 1u);
}

}  // namespace
}  // namespace veil::serve::test
