// The KMS's `sgx-dcap` and `tdx-dcap` attestation verifiers (attestation.h): a worker enrols with
// an Intel DCAP quote whose report data binds SHA-256 of its CSR's public key (RA-TLS style), and
// gets a certificate for the identity that the attestation policy maps its measurements to.
//
// Evidence: {"kind": "sgx-dcap" | "tdx-dcap", "quote": hex of the raw quote}. Collateral does not
// travel with the evidence: the KMS's policy file names collateral files (the dcap-qvl-style JSON
// of attest/collateral.h), and the verifier uses the one whose TCB info is for the quote's TEE and
// its PCK certificate's FMSPC. Verification time is the KMS's clock.
//
// Steps, each refused with its own reason code (and audited by the KMS as every refusal is):
//   bad_evidence           the quote is missing or not hex
//   quote_rejected         attest::verify_quote failed (detail: the check and why), or the quote
//                          is unreadable before collateral can be chosen
//   wrong_tee              an SGX quote sent as tdx-dcap evidence or the other way round
//   no_collateral          the policy has no collateral for this TEE and FMSPC
//   key_not_bound          the report data does not hold SHA-256 of the CSR's public key
//   then the policy (evaluate_dcap_policy), entry by entry:
//   mrenclave_not_allowed, mrsigner_not_allowed, isv_prod_id_not_allowed, isv_svn_too_low   (SGX)
//   mrtd_not_allowed, rtmr_not_allowed                                                      (TDX)
//   debug_not_allowed, tcb_status_not_accepted, no_policy (no entry for this TEE)
// The first entry whose every check passes gives the identity; otherwise the refusal is that of
// the entry that passed most checks (the first such entry), in the order listed above.
//
// Policy file (JSON; docs/KMS.md "Attestation" has an example):
//   {"collateral": [path, ...],              relative to the policy file's folder
//    "accept_tcb_status": [status, ...],     default for entries: e.g. ["UpToDate"]
//    "sgx": [{"mrenclave": hex32?, "mrsigner": hex32?, "isv_prod_id": n?, "min_isv_svn": n?,
//             "accept_tcb_status": [...]?, "allow_debug": false?, "org", "party", "worker"}],
//    "tdx": [{"mrtd": hex48, "rtmr0".."rtmr3": hex48?, "accept_tcb_status"?, "allow_debug"?,
//             "org", "party", "worker"}]}
// An SGX entry names MRENCLAVE, or MRSIGNER with ISV product id (or both). The certificate's worker
// name is the entry's "worker" plus "-" and the first 8 hex digits of SHA-256(public key), so two
// enclaves of one measurement get distinct names.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "veil/attest/collateral.h"
#include "veil/attest/tcb.h"
#include "veil/attest/verify.h"
#include "veil/serve/attestation.h"

namespace veil::serve {

struct SgxPolicyEntry {
  std::optional<std::array<uint8_t, 32>> mr_enclave, mr_signer;
  std::optional<uint16_t> isv_prod_id;
  uint16_t min_isv_svn = 0;
  std::vector<attest::TcbStatus> accept_tcb_status;
  bool allow_debug = false;
  WorkerIdentity identity;
};

struct TdxPolicyEntry {
  std::array<uint8_t, 48> mr_td{};
  std::array<std::optional<std::array<uint8_t, 48>>, 4> rtmr;
  std::vector<attest::TcbStatus> accept_tcb_status;
  bool allow_debug = false;
  WorkerIdentity identity;
};

struct DcapPolicy {
  std::vector<attest::Collateral> collateral;
  std::vector<SgxPolicyEntry> sgx;
  std::vector<TdxPolicyEntry> tdx;
};

// Throws std::invalid_argument naming `source` and the member for a policy that is not as above
// (unknown member, bad hex, an SGX entry with neither MRENCLAVE nor MRSIGNER+ISV product id, an
// unknown TCB status, a party outside 0..2). Collateral paths are read relative to `base_dir`.
DcapPolicy parse_dcap_policy(const std::string& json_text, const std::string& base_dir, const std::string& source);
DcapPolicy load_dcap_policy(const std::string& path);

// The policy over a verified quote (r.ok()): identity (the worker name suffixed for
// `public_key_der`) and claims (tee, tcb_status, measurements), or the refusal of the entry that
// came closest. Does not look at the report data: the key binding is checked before.
AttestationResult evaluate_dcap_policy(const DcapPolicy& policy, const attest::VerifyResult& r,
                                       std::span<const uint8_t> public_key_der);

// The whole decision for a raw quote: collateral, verify_quote at `now`, the tee, the key binding,
// the policy.
AttestationResult verify_dcap_quote(const DcapPolicy& policy, attest::Tee expected, std::span<const uint8_t> quote,
                                    std::span<const uint8_t> public_key_der, int64_t now);

class DcapVerifier : public AttestationVerifier {
 public:
  DcapVerifier(attest::Tee tee, std::shared_ptr<const DcapPolicy> policy) : tee_(tee), policy_(std::move(policy)) {}
  std::string kind() const override { return tee_ == attest::Tee::sgx ? "sgx-dcap" : "tdx-dcap"; }
  AttestationResult verify(const AttestationEvidence& evidence, int64_t now) override;

 private:
  attest::Tee tee_;
  std::shared_ptr<const DcapPolicy> policy_;
};

// Adds both verifiers, sharing the policy in `path`, to `kms` (one call in `veil kms serve`).
class KmsService;
void add_dcap_verifiers(KmsService& kms, const std::string& policy_path);

}  // namespace veil::serve
