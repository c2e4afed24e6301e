#include "veil/attest/tcb.h"

#include <algorithm>

#include "veil/attest/check.h"

namespace veil::attest {
namespace {

constexpr std::array<std::pair<TcbStatus, std::string_view>, 7> kNames = {{
    {TcbStatus::UpToDate, "UpToDate"},
    {TcbStatus::SWHardeningNeeded, "SWHardeningNeeded"},
    {TcbStatus::ConfigurationNeeded, "ConfigurationNeeded"},
    {TcbStatus::ConfigurationAndSWHardeningNeeded, "ConfigurationAndSWHardeningNeeded"},
    {TcbStatus::OutOfDate, "OutOfDate"},
    {TcbStatus::OutOfDateConfigurationNeeded, "OutOfDateConfigurationNeeded"},
    {TcbStatus::Revoked, "Revoked"},
}};

bool all_at_least(const std::array<uint8_t, 16>& have, const std::array<uint8_t, 16>& need, size_t from) {
  for (size_t i = from; i < 16; ++i)
    if (have[i] < need[i]) return false;
  return true;
}

// An OutOfDate or Revoked QE or TDX module lowers the platform's status (Intel's "converge" rules).
TcbStatus converge(TcbStatus level, TcbStatus part) {
  if (part == TcbStatus::Revoked) return TcbStatus::Revoked;
  if (part != TcbStatus::OutOfDate) return level;
  switch (level) {
    case TcbStatus::UpToDate:
    case TcbStatus::SWHardeningNeeded: return TcbStatus::OutOfDate;
    case TcbStatus::ConfigurationNeeded:
    case TcbStatus::ConfigurationAndSWHardeningNeeded: return TcbStatus::OutOfDateConfigurationNeeded;
    default: return level;
  }
}

void add_unique(std::vector<std::string>& to, const std::vector<std::string>& ids) {
  for (const auto& id : ids)
    if (std::find(to.begin(), to.end(), id) == to.end()) to.push_back(id);
}

}  // namespace

std::string_view to_string(TcbStatus s) {
  for (const auto& [k, name] : kNames)
    if (k == s) return name;
  return "?";
}

TcbStatus parse_tcb_status(std::string_view s) {
  for (const auto& [k, name] : kNames)
    if (name == s) return k;
  throw CheckFailed("tcb level", "unknown TCB status \"" + std::string(s) + "\"");
}

const IsvTcbLevel& match_isv_level(const std::vector<IsvTcbLevel>& levels, uint16_t isv_svn, const std::string& check) {
  for (const IsvTcbLevel& l : levels)
    if (isv_svn >= l.isv_svn) return l;
  throw CheckFailed(check, "no TCB level for ISV SVN " + std::to_string(isv_svn) + " (below every level)");
}

TcbVerdict evaluate_tcb(const TcbInfo& info, const PlatformTcb& p, const IsvTcbLevel& qe, const IsvTcbLevel* module) {
  const TcbLevel* chosen = nullptr;
  bool sgx_matched = false;
  for (const TcbLevel& l : info.levels) {
    if (!all_at_least(p.sgx_components, l.sgx_components, 0) || p.pce_svn < l.pce_svn) continue;
    sgx_matched = true;
    if (!p.tee_tcb_svn) {
      chosen = &l;
      break;
    }
    if (!l.tdx_components) throw CheckFailed("tcb level", "a TCB level of the TDX TCB info has no TDX components");
    const size_t from = (*p.tee_tcb_svn)[1] > 0 ? 2 : 0;
    if (all_at_least(*p.tee_tcb_svn, *l.tdx_components, from)) {
      chosen = &l;
      break;
    }
  }
  if (!sgx_matched) throw CheckFailed("tcb level", "the platform's SGX TCB (PCK certificate) is below every TCB level");
  if (!chosen) throw CheckFailed("tcb level", "the TD's TEE TCB SVN is below every TDX TCB level");

  TcbVerdict v{parse_tcb_status(chosen->status), chosen->advisory_ids};
  if (module) {
    v.status = converge(v.status, parse_tcb_status(module->status));
    add_unique(v.advisory_ids, module->advisory_ids);
  }
  v.status = converge(v.status, parse_tcb_status(qe.status));
  add_unique(v.advisory_ids, qe.advisory_ids);
  return v;
}

}  // namespace veil::attest
