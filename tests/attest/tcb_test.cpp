// TCB level evaluation on a small synthetic TCB info: level matching (component-wise, PCE SVN, TDX
// components with the module bytes skipped), convergence with the QE and TDX module status, and the
// "tcb level" failures.
#include <gtest/gtest.h>

#include "veil/attest/check.h"
#include "veil/attest/tcb.h"

using namespace veil::attest;

namespace {

std::array<uint8_t, 16> svns(uint8_t first, uint8_t second, uint8_t rest = 0) {
  std::array<uint8_t, 16> a{};
  a.fill(rest);
  a[0] = first;
  a[1] = second;
  return a;
}

TcbInfo two_levels() {
  TcbInfo t{};
  t.id = "SGX";
  t.version = 3;
  t.levels.push_back({svns(5, 5), 10, std::nullopt, "UpToDate", {}});
  t.levels.push_back({svns(3, 3), 10, std::nullopt, "ConfigurationNeeded", {"INTEL-SA-1"}});
  return t;
}

const IsvTcbLevel kQeUpToDate{8, "UpToDate", {}};
const IsvTcbLevel kQeOutOfDate{6, "OutOfDate", {"INTEL-SA-QE"}};
const IsvTcbLevel kQeRevoked{1, "Revoked", {}};

std::string failure_of(const TcbInfo& t, const PlatformTcb& p) {
  try {
    evaluate_tcb(t, p, kQeUpToDate, nullptr);
  } catch (const CheckFailed& e) {
    EXPECT_EQ(e.failure().check, "tcb level");
    return e.failure().reason;
  }
  return "(rated)";
}

}  // namespace

TEST(AttestTcb, FirstLevelWithEveryComponentAtOrBelowThePlatformWins) {
  const TcbInfo t = two_levels();
  EXPECT_EQ(evaluate_tcb(t, {svns(5, 5), 10, std::nullopt}, kQeUpToDate, nullptr).status, TcbStatus::UpToDate);
  EXPECT_EQ(evaluate_tcb(t, {svns(9, 4), 10, std::nullopt}, kQeUpToDate, nullptr).status,
            TcbStatus::ConfigurationNeeded);  // one component below the top level is enough to drop
  EXPECT_EQ(failure_of(t, {svns(5, 5), 9, std::nullopt}),  // PCE SVN below every level
            "the platform's SGX TCB (PCK certificate) is below every TCB level");
  EXPECT_EQ(failure_of(t, {svns(2, 9), 10, std::nullopt}), "the platform's SGX TCB (PCK certificate) is below every TCB level");
}

TEST(AttestTcb, AnOutOfDateOrRevokedQuotingEnclaveLowersTheStatus) {
  const TcbInfo t = two_levels();
  const PlatformTcb top{svns(5, 5), 10, std::nullopt};
  const PlatformTcb config{svns(3, 3), 10, std::nullopt};
  TcbVerdict v = evaluate_tcb(t, top, kQeOutOfDate, nullptr);
  EXPECT_EQ(v.status, TcbStatus::OutOfDate);
  EXPECT_EQ(v.advisory_ids, std::vector<std::string>{"INTEL-SA-QE"});
  v = evaluate_tcb(t, config, kQeOutOfDate, nullptr);
  EXPECT_EQ(v.status, TcbStatus::OutOfDateConfigurationNeeded);
  EXPECT_EQ(v.advisory_ids, (std::vector<std::string>{"INTEL-SA-1", "INTEL-SA-QE"}));
  EXPECT_EQ(evaluate_tcb(t, top, kQeRevoked, nullptr).status, TcbStatus::Revoked);
}

TEST(AttestTcb, TdxComponentsSkipTheModuleBytesWhenTheModuleHasAVersion) {
  TcbInfo t{};
  t.id = "TDX";
  t.version = 3;
  t.levels.push_back({svns(0, 0), 0, svns(5, 0, 3), "UpToDate", {}});
  t.levels.push_back({svns(0, 0), 0, svns(5, 0, 2), "OutOfDate", {"INTEL-SA-TDX"}});
  // Module version 1: bytes 0 and 1 are the module's and are not compared with the levels.
  EXPECT_EQ(evaluate_tcb(t, {svns(0, 0), 0, svns(1, 1, 3)}, kQeUpToDate, nullptr).status, TcbStatus::UpToDate);
  EXPECT_EQ(evaluate_tcb(t, {svns(0, 0), 0, svns(1, 1, 2)}, kQeUpToDate, nullptr).status, TcbStatus::OutOfDate);
  // Module version 0: every byte counts, and 1 < 5 leaves no level.
  EXPECT_EQ(failure_of(t, {svns(0, 0), 0, svns(1, 0, 3)}), "the TD's TEE TCB SVN is below every TDX TCB level");
  // A TDX module that is OutOfDate lowers an UpToDate level.
  const IsvTcbLevel module_out_of_date{2, "OutOfDate", {"INTEL-SA-MODULE"}};
  const TcbVerdict v = evaluate_tcb(t, {svns(0, 0), 0, svns(3, 1, 3)}, kQeUpToDate, &module_out_of_date);
  EXPECT_EQ(v.status, TcbStatus::OutOfDate);
  EXPECT_EQ(v.advisory_ids, std::vector<std::string>{"INTEL-SA-MODULE"});
}

TEST(AttestTcb, IsvLevelsAndStatusNames) {
  const std::vector<IsvTcbLevel> levels = {{8, "UpToDate", {}}, {6, "OutOfDate", {}}};
  EXPECT_EQ(match_isv_level(levels, 9, "qe identity").status, "UpToDate");
  EXPECT_EQ(match_isv_level(levels, 7, "qe identity").status, "OutOfDate");
  try {
    match_isv_level(levels, 5, "qe identity");
    ADD_FAILURE() << "ISV SVN 5 matched a level";
  } catch (const CheckFailed& e) {
    EXPECT_EQ(e.failure().check, "qe identity");
    EXPECT_EQ(e.failure().reason, "no TCB level for ISV SVN 5 (below every level)");
  }
  for (TcbStatus s : {TcbStatus::UpToDate, TcbStatus::SWHardeningNeeded, TcbStatus::ConfigurationNeeded,
                      TcbStatus::ConfigurationAndSWHardeningNeeded, TcbStatus::OutOfDate,
                      TcbStatus::OutOfDateConfigurationNeeded, TcbStatus::Revoked})
    EXPECT_EQ(parse_tcb_status(to_string(s)), s);
  EXPECT_THROW(parse_tcb_status("Fine"), CheckFailed);
}
