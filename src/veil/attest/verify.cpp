#include "veil/attest/verify.h"

#include <openssl/err.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "veil/attest/ecdsa.h"
#include "veil/attest/intel_root.h"
#include "veil/attest/pck_extension.h"
#include "veil/attest/pki.h"
#include "veil/attest/quote.h"
#include "veil/core/digest.h"
#include "veil/core/utc_time.h"

namespace veil::attest {
namespace {

template <size_t N>
std::array<uint8_t, N> arr(const uint8_t (&a)[N]) {
  std::array<uint8_t, N> out;
  std::copy(a, a + N, out.begin());
  return out;
}

void require_cn(X509* cert, std::initializer_list<std::string_view> allowed, const std::string& check) {
  const std::string cn = common_name(X509_get_subject_name(cert));
  if (std::find(allowed.begin(), allowed.end(), cn) != allowed.end()) return;
  std::string names;
  for (std::string_view a : allowed) names += (names.empty() ? "\"" : " or \"") + std::string(a) + "\"";
  throw CheckFailed(check, "the first certificate is \"" + cn + "\", not " + names);
}

void require_window(int64_t issued, int64_t next_update, int64_t at, const std::string& check) {
  if (at < issued) throw CheckFailed(check, "not yet valid at the verification time (issued " + format_time(issued) + ")");
  if (at > next_update) throw CheckFailed(check, "expired at " + format_time(next_update));
}

// A signed collateral document (TCB info, QE identity): its issuer chain is Intel SGX TCB Signing up to
// the pinned root, not revoked, and its signature covers `body`.
void check_signed_document(std::string_view body, std::span<const uint8_t> signature, std::string_view issuer_chain,
                           X509_CRL* root_crl, int64_t at, const std::string& check) {
  auto chain = parse_pem_chain(issuer_chain, check);
  require_cn(chain.front().get(), {"Intel SGX TCB Signing"}, check);
  check_chain(chain, {root_crl}, at, check);
  if (signature.size() != 64) throw CheckFailed(check, "the signature is not 64 bytes (r||s)");
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(body.data()), body.size());
  if (!ecdsa_p256_verify(X509_get0_pubkey(chain.front().get()), bytes, signature.first<64>()))
    throw CheckFailed(check, "the signature does not verify with the Intel SGX TCB Signing key");
}

template <size_t N>
bool masked_equal(const uint8_t* value, const std::array<uint8_t, N>& mask, const std::array<uint8_t, N>& expected) {
  for (size_t i = 0; i < N; ++i)
    if ((value[i] & mask[i]) != expected[i]) return false;
  return true;
}

// The QE report is of Intel's quoting enclave for this TEE; returns its rated TCB level.
const IsvTcbLevel& check_qe_identity(const QeIdentity& id, const EnclaveReport& qe) {
  const std::string check = "qe identity";
  if ((qe.misc_select & id.miscselect_mask) != id.miscselect) throw CheckFailed(check, "MISCSELECT does not match");
  if (!masked_equal(qe.attributes, id.attributes_mask, id.attributes)) throw CheckFailed(check, "attributes do not match");
  if (!std::equal(id.mr_signer.begin(), id.mr_signer.end(), qe.mr_signer))
    throw CheckFailed(check, "MRSIGNER " + hex(arr(qe.mr_signer)) + " is not the QE's " + hex(id.mr_signer));
  if (qe.isv_prod_id != id.isv_prod_id)
    throw CheckFailed(check, "ISV product id " + std::to_string(qe.isv_prod_id) + " is not the QE's " +
                                 std::to_string(id.isv_prod_id));
  return match_isv_level(id.levels, qe.isv_svn, check);
}

// The TD report's TDX module is Intel's (signer, attributes); returns the module's rated level, or
// null for module version 0 (rated by the TCB level's TDX components alone).
const IsvTcbLevel* check_tdx_module(const TcbInfo& info, const TdReport10& td) {
  const std::string check = "tdx module";
  const uint8_t version = td.tee_tcb_svn[1];
  const TdxModuleIdentity* id = info.tdx_module ? &*info.tdx_module : nullptr;
  char name[8];
  std::snprintf(name, sizeof name, "TDX_%02X", version);
  if (version > 0) {
    auto it = std::find_if(info.tdx_module_identities.begin(), info.tdx_module_identities.end(), [&](const auto& m) {
      std::string upper = m.id;
      std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
      return upper == name;
    });
    id = it == info.tdx_module_identities.end() ? nullptr : &*it;
  }
  if (!id) throw CheckFailed(check, std::string("the TCB info has no identity for the TDX module (") + name + ")");
  if (!std::equal(id->mr_signer.begin(), id->mr_signer.end(), td.mr_signer_seam))
    throw CheckFailed(check, "MRSIGNERSEAM is not the TDX module signer's");
  if (!masked_equal(td.seam_attributes, id->attributes_mask, id->attributes))
    throw CheckFailed(check, "SEAM attributes do not match");
  return version > 0 ? &match_isv_level(id->levels, td.tee_tcb_svn[0], check) : nullptr;
}

Report report_of(const Quote& q) {
  Report r{};
  r.quote_version = q.header.version;
  if (!q.is_tdx()) {
    const EnclaveReport& e = q.enclave;
    r.tee = Tee::sgx;
    r.report_data = arr(e.report_data);
    r.debug = (e.attributes[0] & 0x02) != 0;
    r.sgx = SgxMeasurements{arr(e.mr_enclave), arr(e.mr_signer), e.isv_prod_id, e.isv_svn, arr(e.attributes),
                            e.misc_select};
    return r;
  }
  const TdReport10& t = q.td.base;
  r.tee = Tee::tdx;
  r.report_data = arr(t.report_data);
  r.debug = (t.td_attributes[0] & 0x01) != 0;
  TdxMeasurements m{arr(t.mr_td),        arr(t.mr_seam),  arr(t.mr_signer_seam), arr(t.mr_config_id),
                    arr(t.mr_owner),     arr(t.mr_owner_config), {},             arr(t.tee_tcb_svn),
                    arr(t.td_attributes), arr(t.xfam)};
  for (size_t i = 0; i < 4; ++i) m.rtmr[i] = arr(t.rtmr[i]);
  r.tdx = m;
  return r;
}

int64_t next_update(X509_CRL* crl) {  // check_crl made sure there is one
  std::tm tm{};
  ASN1_TIME_to_tm(X509_CRL_get0_nextUpdate(crl), &tm);
  return int64_t(timegm(&tm));
}

VerifyResult verify_or_throw(std::span<const uint8_t> bytes, const Collateral& c, int64_t at) {
  const Quote q = parse_quote(bytes);
  X509* root = intel_sgx_root_ca();

  // Revocation lists: the root's, and the one of the CA that issued PCK certificates.
  Crl root_crl = parse_der_crl(c.root_ca_crl, "root ca crl");
  check_crl(root_crl.get(), root, at, "root ca crl");
  auto pck_ca_chain = parse_pem_chain(c.pck_crl_issuer_chain, "pck crl");
  require_cn(pck_ca_chain.front().get(), {"Intel SGX PCK Platform CA", "Intel SGX PCK Processor CA"}, "pck crl");
  check_chain(pck_ca_chain, {root_crl.get()}, at, "pck crl");
  Crl pck_crl = parse_der_crl(c.pck_crl, "pck crl");
  check_crl(pck_crl.get(), pck_ca_chain.front().get(), at, "pck crl");

  // The PCK certificate chain in the quote, issued by that CA.
  auto pck_chain = parse_pem_chain(q.pck_chain_pem, "pck chain");
  require_cn(pck_chain.front().get(), {"Intel SGX PCK Certificate"}, "pck chain");
  if (pck_chain.size() != 3 || X509_cmp(pck_chain[1].get(), pck_ca_chain.front().get()) != 0)
    throw CheckFailed("pck chain", "the PCK certificate's CA is not the one whose CRL the collateral holds");
  check_chain(pck_chain, {root_crl.get(), pck_crl.get()}, at, "pck chain");
  const PckExtension pck = parse_pck_extension(pck_chain.front().get());

  // TCB info and QE identity, signed by Intel SGX TCB Signing, current, for this TEE and platform.
  check_signed_document(c.tcb_info, c.tcb_info_signature, c.tcb_info_issuer_chain, root_crl.get(), at, "tcb info");
  const TcbInfo info = parse_tcb_info(c.tcb_info);
  require_window(info.issue_date, info.next_update, at, "tcb info");
  if (info.id != (q.is_tdx() ? "TDX" : "SGX") || (q.is_tdx() && info.version < 3))
    throw CheckFailed("tcb info", "TCB info \"" + info.id + "\" v" + std::to_string(info.version) + " is not for a " +
                                      (q.is_tdx() ? "TDX" : "SGX") + " quote");
  if (info.fmspc != pck.fmspc)
    throw CheckFailed("tcb info", "FMSPC " + hex(info.fmspc) + " is not the PCK certificate's " + hex(pck.fmspc));
  if (info.pce_id != pck.pce_id)
    throw CheckFailed("tcb info", "PCE-ID " + hex(info.pce_id) + " is not the PCK certificate's " + hex(pck.pce_id));

  check_signed_document(c.qe_identity, c.qe_identity_signature, c.qe_identity_issuer_chain, root_crl.get(), at,
                        "qe identity");
  const QeIdentity qe_id = parse_qe_identity(c.qe_identity);
  require_window(qe_id.issue_date, qe_id.next_update, at, "qe identity");
  if (qe_id.id != (q.is_tdx() ? "TD_QE" : "QE"))
    throw CheckFailed("qe identity", "identity \"" + qe_id.id + "\" is not of the " + (q.is_tdx() ? "TDX" : "SGX") + " QE");

  // The signatures inside the quote: PCK key -> QE report -> attestation key -> header and body.
  if (!ecdsa_p256_verify(X509_get0_pubkey(pck_chain.front().get()), q.qe_report_bytes, q.qe_report_signature))
    throw CheckFailed("qe report signature", "the QE report's signature does not verify with the PCK certificate's key");
  std::vector<uint8_t> key_and_auth(q.attestation_key.begin(), q.attestation_key.end());
  key_and_auth.insert(key_and_auth.end(), q.qe_auth_data.begin(), q.qe_auth_data.end());
  const Sha256 digest = sha256(key_and_auth);
  if (!std::equal(digest.begin(), digest.end(), q.qe_report.report_data))
    throw CheckFailed("qe report data", "the QE report does not hold SHA-256(attestation key || QE auth data)");
  const PublicKey attestation_key = p256_public_key(q.attestation_key);
  if (!attestation_key) throw CheckFailed("quote signature", "the attestation key is not a P-256 point");
  if (!ecdsa_p256_verify(attestation_key.get(), q.signed_data, q.signature))
    throw CheckFailed("quote signature", "the quote's signature does not verify with the attestation key");

  // Identities and TCB levels.
  const IsvTcbLevel& qe_level = check_qe_identity(qe_id, q.qe_report);
  const IsvTcbLevel* module_level = q.is_tdx() ? check_tdx_module(info, q.td.base) : nullptr;
  PlatformTcb platform{pck.tcb_components, pck.pce_svn, std::nullopt};
  if (q.is_tdx()) platform.tee_tcb_svn = arr(q.td.base.tee_tcb_svn);
  TcbVerdict tcb = evaluate_tcb(info, platform, qe_level, module_level);
  if (tcb.status == TcbStatus::Revoked) throw CheckFailed("tcb level", "the TCB status is Revoked");

  VerifyResult r;
  r.tcb_status = tcb.status;
  r.advisory_ids = std::move(tcb.advisory_ids);
  r.report = report_of(q);
  r.fmspc = pck.fmspc;
  r.collateral_expires = std::min({info.next_update, qe_id.next_update, next_update(root_crl.get()),
                                   next_update(pck_crl.get())});
  return r;
}

}  // namespace

VerifyResult verify_quote(std::span<const uint8_t> quote, const Collateral& collateral, int64_t at_unix) {
  VerifyResult r;
  try {
    r = verify_or_throw(quote, collateral, at_unix);
  } catch (const CheckFailed& e) {
    r = VerifyResult{};
    r.failure = e.failure();
  }
  ERR_clear_error();
  return r;
}

std::optional<Failure> check_report_data_binds_key(const Report& report, std::span<const uint8_t> public_key_der) {
  const Sha256 h = sha256(public_key_der);
  if (std::equal(h.begin(), h.end(), report.report_data.begin())) return std::nullopt;
  return Failure{"key binding", "report data does not bind this key"};
}

}  // namespace veil::attest
