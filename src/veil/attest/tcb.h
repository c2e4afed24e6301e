// TCB status: how current the platform's (and its quoting enclave's, and for TDX its TDX module's)
// security patches are, by Intel's TCB info and QE identity. Rules follow Intel's quote verification
// library (SGX-TDX-DCAP-QuoteVerificationLibrary, Verifiers/Checks/TcbLevelCheck.cpp, TdxModuleCheck.cpp):
//
//   platform level: the first TCB level (highest first) whose 16 SGX component SVNs are all <= the PCK
//     certificate's and whose PCE SVN is <= the PCK certificate's. For TDX, among the levels that pass
//     that test, the first whose 16 TDX component SVNs are all <= the TD report's TEE_TCB_SVN (bytes 0
//     and 1 are skipped when byte 1, the TDX module major version, is non-zero: the module identity
//     rates the module then).
//   TDX module: module version 0 is UpToDate; otherwise the identity "TDX_<version>" and its first
//     level with ISV SVN <= TEE_TCB_SVN[0].
//   QE: the QE identity's first level with ISV SVN <= the QE report's ISV SVN.
//   converge: a module or QE that is OutOfDate turns UpToDate/SWHardeningNeeded into OutOfDate and
//     ConfigurationNeeded/ConfigurationAndSWHardeningNeeded into OutOfDateConfigurationNeeded;
//     Revoked anywhere is Revoked.
// No matching level, or an unknown status string, fails the check "tcb level".
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "veil/attest/collateral.h"

namespace veil::attest {

enum class TcbStatus {
  UpToDate,
  SWHardeningNeeded,
  ConfigurationNeeded,
  ConfigurationAndSWHardeningNeeded,
  OutOfDate,
  OutOfDateConfigurationNeeded,
  Revoked,
};

std::string_view to_string(TcbStatus s);
// Throws CheckFailed{"tcb level", ...} for a string that is none of the above.
TcbStatus parse_tcb_status(std::string_view s);

struct TcbVerdict {
  TcbStatus status;
  std::vector<std::string> advisory_ids;  // of every level that went into the status, without repeats
};

// The rated ISV level (QE or TDX module) for `isv_svn`; throws CheckFailed{check, ...} if none matches.
const IsvTcbLevel& match_isv_level(const std::vector<IsvTcbLevel>& levels, uint16_t isv_svn, const std::string& check);

struct PlatformTcb {
  std::array<uint8_t, 16> sgx_components;  // from the PCK certificate
  uint16_t pce_svn;                         // from the PCK certificate
  std::optional<std::array<uint8_t, 16>> tee_tcb_svn;  // TDX: from the TD report
};

// The converged status. `qe` is the QE identity's level for the QE report; `module` the TDX module's
// level (TDX only; null for module version 0).
TcbVerdict evaluate_tcb(const TcbInfo& info, const PlatformTcb& platform, const IsvTcbLevel& qe,
                        const IsvTcbLevel* module);

}  // namespace veil::attest
