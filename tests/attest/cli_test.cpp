// `veil attest verify` end to end on the samples: exit status, the human and JSON output, and the
// failing check on stderr.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "attest/attest_test_util.h"

using namespace veil::attest::test;

namespace {

struct CliRun {
  int rc;
  std::string out;  // stdout and stderr
};

CliRun run_veil(const std::string& args) {
  const std::string cmd = std::string(VEIL_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {-1, ""};
  std::array<char, 4096> buf;
  std::string out;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

std::string sample_args(const std::string& name, const std::string& at) {
  return "attest verify " + sample_dir() + "/" + name + " --collateral " + sample_dir() + "/" + name +
         "_collateral.json --at " + at;
}

}  // namespace

TEST(AttestCli, VerifiesTheSgxSampleAndPrintsItsMeasurements) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  const CliRun r = run_veil(sample_args("sgx_quote", "2025-06-20T00:00:00Z"));
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("verified: SGX quote v3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ConfigurationAndSWHardeningNeeded"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"), std::string::npos) << r.out;
}

TEST(AttestCli, JsonOutputForTheTdxSample) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  const CliRun r = run_veil(sample_args("tdx_quote", "1750377600") + " --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["verified"], true);
  EXPECT_EQ(j["tee"], "TDX");
  EXPECT_EQ(j["tcb_status"], "UpToDate");
  EXPECT_EQ(j["mr_td"], "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7");
  EXPECT_EQ(j["rtmr3"], std::string(96, '0'));
}

TEST(AttestCli, ExpiredCollateralFailsNamingTheCheck) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  CliRun r = run_veil(sample_args("sgx_quote", "2025-08-01T00:00:00Z"));
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("veil attest verify: check \"pck crl\" failed: the CRL has expired"), std::string::npos) << r.out;
  r = run_veil(sample_args("tdx_quote_outdated", "2026-02-20T00:00:00Z") + " --json");
  EXPECT_EQ(r.rc, 1) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["verified"], false);
  EXPECT_EQ(j["check"], "tcb level");
}

TEST(AttestCli, BadArgumentsAreExplained) {
  const CliRun r = run_veil("attest verify /nonexistent --collateral /nonexistent --at 2025-06-20");
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("is not ISO-8601"), std::string::npos) << r.out;
  const CliRun help = run_veil("attest verify --help");
  EXPECT_EQ(help.rc, 0);
  EXPECT_NE(help.out.find("--collateral"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--at"), std::string::npos) << help.out;
}
