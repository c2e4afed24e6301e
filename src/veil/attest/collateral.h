// Verification collateral: what Intel's PCS (or a PCCS cache) serves for a platform, bundled in one
// JSON file with these members (the layout dcap-qvl's `QuoteCollateralV3` and `get_collateral` use):
//
//   "tcb_info"                  the TCB info JSON object exactly as PCS signed it (a string)
//   "tcb_info_signature"        hex, ECDSA P-256 r||s over those bytes
//   "tcb_info_issuer_chain"     PEM: Intel SGX TCB Signing, Intel SGX Root CA
//   "qe_identity"               the QE identity JSON object exactly as PCS signed it (a string)
//   "qe_identity_signature"     hex r||s
//   "qe_identity_issuer_chain"  PEM: Intel SGX TCB Signing, Intel SGX Root CA
//   "pck_crl"                   hex DER, the CRL of the PCK Platform or Processor CA
//   "pck_crl_issuer_chain"      PEM: that CA, Intel SGX Root CA
//   "root_ca_crl"               hex DER, the Intel SGX Root CA's CRL
//
// TCB info (v2 SGX, v3 SGX/TDX) and QE identity (v2) follow Intel's PCS API reference ("TCB Info V3",
// "Enclave Identity V2"); parse_tcb_info and parse_qe_identity read the members verification uses.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace veil::attest {

struct Collateral {
  std::string tcb_info;
  std::vector<uint8_t> tcb_info_signature;
  std::string tcb_info_issuer_chain;
  std::string qe_identity;
  std::vector<uint8_t> qe_identity_signature;
  std::string qe_identity_issuer_chain;
  std::vector<uint8_t> pck_crl;
  std::string pck_crl_issuer_chain;
  std::vector<uint8_t> root_ca_crl;
};

// Throws CheckFailed{"collateral format", why} for a missing member, a non-string, or bad hex.
Collateral parse_collateral(std::string_view json);

// A TCB level keyed by an ISV SVN: QE identity levels and TDX module identity levels.
struct IsvTcbLevel {
  uint16_t isv_svn;
  std::string status;
  std::vector<std::string> advisory_ids;
};

struct TcbLevel {
  std::array<uint8_t, 16> sgx_components;
  uint16_t pce_svn;
  std::optional<std::array<uint8_t, 16>> tdx_components;  // TDX TCB info only
  std::string status;
  std::vector<std::string> advisory_ids;
};

struct TdxModuleIdentity {
  std::string id;  // "TDX_" + module major version in two hex digits, e.g. "TDX_03"
  std::array<uint8_t, 48> mr_signer;
  std::array<uint8_t, 8> attributes, attributes_mask;
  std::vector<IsvTcbLevel> levels;
};

struct TcbInfo {
  std::string id;  // "SGX" or "TDX" (v3); v2 has no id and is SGX
  int version;
  int64_t issue_date, next_update;  // unix seconds
  std::array<uint8_t, 6> fmspc;
  std::array<uint8_t, 2> pce_id;
  std::vector<TcbLevel> levels;                      // as served: highest TCB first
  std::optional<TdxModuleIdentity> tdx_module;       // TDX: the module without a version (levels unused)
  std::vector<TdxModuleIdentity> tdx_module_identities;
};

struct QeIdentity {
  std::string id;  // "QE" (SGX) or "TD_QE" (TDX)
  int version;
  int64_t issue_date, next_update;
  uint32_t miscselect, miscselect_mask;
  std::array<uint8_t, 16> attributes, attributes_mask;
  std::array<uint8_t, 32> mr_signer;
  uint16_t isv_prod_id;
  std::vector<IsvTcbLevel> levels;  // highest ISV SVN first
};

// Both throw CheckFailed{"tcb info" | "qe identity", why} for JSON that does not have the expected shape.
TcbInfo parse_tcb_info(std::string_view json);
QeIdentity parse_qe_identity(std::string_view json);

}  // namespace veil::attest
