// Verification of an Intel DCAP quote (SGX or TDX) against PCS collateral at a given time: the
// library behind `veil attest verify`. docs/ATTESTATION.md lists the checks in order.
//
//   auto r = attest::verify_quote(quote_bytes, attest::parse_collateral(json), attest::parse_time("..."));
//   if (!r.ok()) fail(r.failure->check + ": " + r.failure->reason);
//   // r.tcb_status, r.report.sgx->mr_enclave / r.report.tdx->mr_td, r.report.report_data ...
//
// A verified quote proves: Intel's attestation infrastructure (PCK certificate up to the pinned root,
// not revoked) vouches for a quoting enclave of Intel's identity, which vouches for the report body
// (SGX enclave or TD measurements plus 64 bytes of report data chosen by the enclave). Whether those
// measurements, SVNs and that TCB status are acceptable is the caller's policy.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "veil/attest/check.h"
#include "veil/attest/collateral.h"
#include "veil/attest/tcb.h"

namespace veil::attest {

enum class Tee { sgx, tdx };

struct SgxMeasurements {
  std::array<uint8_t, 32> mr_enclave, mr_signer;
  uint16_t isv_prod_id, isv_svn;
  std::array<uint8_t, 16> attributes;
  uint32_t misc_select;
};

struct TdxMeasurements {
  std::array<uint8_t, 48> mr_td, mr_seam, mr_signer_seam, mr_config_id, mr_owner, mr_owner_config;
  std::array<std::array<uint8_t, 48>, 4> rtmr;
  std::array<uint8_t, 16> tee_tcb_svn;
  std::array<uint8_t, 8> td_attributes, xfam;
};

struct Report {
  Tee tee;
  int quote_version;
  std::array<uint8_t, 64> report_data;  // chosen by the enclave/TD, e.g. a hash binding a key (RA-TLS)
  bool debug;                           // SGX DEBUG attribute / TD DEBUG attribute: memory readable by the host
  std::optional<SgxMeasurements> sgx;
  std::optional<TdxMeasurements> tdx;
};

struct VerifyResult {
  std::optional<Failure> failure;  // the first check that failed; the fields below are then unset
  TcbStatus tcb_status = TcbStatus::Revoked;
  std::vector<std::string> advisory_ids;
  Report report{};
  std::array<uint8_t, 6> fmspc{};
  int64_t collateral_expires = 0;  // earliest nextUpdate of TCB info, QE identity and the CRLs

  bool ok() const { return !failure.has_value(); }
};

// Every check must pass for ok(); a Revoked TCB fails the check "tcb level".
VerifyResult verify_quote(std::span<const uint8_t> quote, const Collateral& collateral, int64_t at_unix);

// RA-TLS binding: the first 32 bytes of the report data are SHA-256 of `public_key_der` (a
// SubjectPublicKeyInfo, e.g. i2d_PUBKEY of a certificate's key); the other 32 bytes are not read.
// Returns a Failure{"key binding", "report data does not bind this key"} if they are not.
std::optional<Failure> check_report_data_binds_key(const Report& report, std::span<const uint8_t> public_key_der);

}  // namespace veil::attest
