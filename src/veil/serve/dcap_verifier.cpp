#include "veil/serve/dcap_verifier.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "veil/attest/check.h"
#include "veil/attest/pck_extension.h"
#include "veil/attest/pki.h"
#include "veil/attest/quote.h"
#include "veil/core/digest.h"
#include "veil/core/file_read.h"
#include "veil/serve/kms_server.h"

namespace veil::serve {

namespace {

using json = nlohmann::json;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::vector<uint8_t>> decode_hex(const std::string& s) {
  if (s.size() % 2) return std::nullopt;
  std::vector<uint8_t> out(s.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = uint8_t(hi * 16 + lo);
  }
  return out;
}

std::string read_or_throw(const std::string& path, const std::string& what) {
  std::optional<std::string> text = read_file(path);
  if (!text) throw std::invalid_argument("cannot read " + what + " " + path);
  return std::move(*text);
}

struct PolicyReader {
  std::string source;

  [[noreturn]] void fail(const std::string& where, const std::string& why) const {
    throw std::invalid_argument(source + ": " + where + ": " + why);
  }

  void only(const json& j, const std::set<std::string>& allowed, const std::string& where) const {
    if (!j.is_object()) fail(where, "must be an object");
    for (const auto& [k, v] : j.items())
      if (!allowed.count(k)) fail(where, "unknown member '" + k + "'");
  }

  template <size_t N>
  std::array<uint8_t, N> hex_n(const json& j, const std::string& key, const std::string& where) const {
    if (!j.at(key).is_string()) fail(where, "'" + key + "' must be a hex string");
    const auto v = decode_hex(j.at(key).get<std::string>());
    if (!v || v->size() != N) fail(where, "'" + key + "' must be " + std::to_string(2 * N) + " hex digits");
    std::array<uint8_t, N> a;
    std::copy(v->begin(), v->end(), a.begin());
    return a;
  }

  std::vector<attest::TcbStatus> statuses(const json& j, const std::string& where) const {
    if (!j.is_array() || j.empty()) fail(where, "'accept_tcb_status' must be a non-empty array of TCB statuses");
    std::vector<attest::TcbStatus> out;
    for (const json& s : j) {
      if (!s.is_string()) fail(where, "'accept_tcb_status' must hold strings");
      try {
        out.push_back(attest::parse_tcb_status(s.get<std::string>()));
      } catch (const attest::CheckFailed&) {
        fail(where, "unknown TCB status '" + s.get<std::string>() + "'");
      }
    }
    return out;
  }

  uint16_t u16(const json& j, const std::string& key, const std::string& where) const {
    const json& v = j.at(key);
    if (!v.is_number_unsigned() || v.get<uint64_t>() > 0xffff) fail(where, "'" + key + "' must be 0..65535");
    return uint16_t(v.get<uint64_t>());
  }

  // org, party, worker, accept_tcb_status (or the default), allow_debug.
  template <class Entry>
  void common(const json& j, Entry& e, const std::optional<std::vector<attest::TcbStatus>>& dflt,
              const std::string& where) const {
    for (const char* k : {"org", "worker"})
      if (!j.contains(k) || !j.at(k).is_string() || j.at(k).get<std::string>().empty())
        fail(where, std::string("'") + k + "' must be a non-empty string");
    e.identity.org = j.at("org").get<std::string>();
    e.identity.worker = j.at("worker").get<std::string>();
    for (char c : e.identity.worker)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
        fail(where, "'worker' may hold only letters, digits, '-', '_' and '.'");
    if (!j.contains("party") || !j.at("party").is_number_integer() || j.at("party").get<int>() < 0 ||
        j.at("party").get<int>() > 2)
      fail(where, "'party' must be 0, 1 or 2");
    e.identity.party = j.at("party").get<int>();
    if (j.contains("accept_tcb_status"))
      e.accept_tcb_status = statuses(j.at("accept_tcb_status"), where);
    else if (dflt)
      e.accept_tcb_status = *dflt;
    else
      fail(where, "no 'accept_tcb_status' here nor at the top level");
    if (j.contains("allow_debug")) {
      if (!j.at("allow_debug").is_boolean()) fail(where, "'allow_debug' must be true or false");
      e.allow_debug = j.at("allow_debug").get<bool>();
    }
  }
};

bool accepted(const std::vector<attest::TcbStatus>& list, attest::TcbStatus s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

std::string accepted_list(const std::vector<attest::TcbStatus>& list) {
  std::string out;
  for (attest::TcbStatus s : list) out += (out.empty() ? "" : ", ") + std::string(attest::to_string(s));
  return out;
}

// One entry's verdict: how many checks passed, and the first failure.
struct EntryVerdict {
  int passed = 0;
  std::string reason, detail;
};

// The checks every entry makes after its measurements: debug, then TCB status.
template <class Entry>
void check_common(const Entry& e, const attest::VerifyResult& r, EntryVerdict& v) {
  if (r.report.debug && !e.allow_debug) {
    v.reason = "debug_not_allowed";
    v.detail = "the quote is from a debug enclave or TD (its memory is readable by the host)";
    return;
  }
  ++v.passed;
  if (!accepted(e.accept_tcb_status, r.tcb_status)) {
    v.reason = "tcb_status_not_accepted";
    v.detail = "TCB status " + std::string(attest::to_string(r.tcb_status)) + " is not one the policy accepts (" +
               accepted_list(e.accept_tcb_status) + ")";
    return;
  }
  ++v.passed;
}

EntryVerdict judge(const SgxPolicyEntry& e, const attest::VerifyResult& r) {
  const attest::SgxMeasurements& m = *r.report.sgx;
  EntryVerdict v;
  if (e.mr_enclave && *e.mr_enclave != m.mr_enclave) {
    v.reason = "mrenclave_not_allowed";
    v.detail = "MRENCLAVE " + hex(m.mr_enclave) + " is not the policy's " + hex(*e.mr_enclave);
    return v;
  }
  ++v.passed;
  if (e.mr_signer && *e.mr_signer != m.mr_signer) {
    v.reason = "mrsigner_not_allowed";
    v.detail = "MRSIGNER " + hex(m.mr_signer) + " is not the policy's " + hex(*e.mr_signer);
    return v;
  }
  ++v.passed;
  if (e.isv_prod_id && *e.isv_prod_id != m.isv_prod_id) {
    v.reason = "isv_prod_id_not_allowed";
    v.detail = "ISV product id " + std::to_string(m.isv_prod_id) + " is not the policy's " +
               std::to_string(*e.isv_prod_id);
    return v;
  }
  ++v.passed;
  if (m.isv_svn < e.min_isv_svn) {
    v.reason = "isv_svn_too_low";
    v.detail = "ISV SVN " + std::to_string(m.isv_svn) + " is below the policy's minimum " +
               std::to_string(e.min_isv_svn);
    return v;
  }
  ++v.passed;
  check_common(e, r, v);
  return v;
}

EntryVerdict judge(const TdxPolicyEntry& e, const attest::VerifyResult& r) {
  const attest::TdxMeasurements& m = *r.report.tdx;
  EntryVerdict v;
  if (e.mr_td != m.mr_td) {
    v.reason = "mrtd_not_allowed";
    v.detail = "MRTD " + hex(m.mr_td) + " is not the policy's " + hex(e.mr_td);
    return v;
  }
  ++v.passed;
  for (int i = 0; i < 4; ++i) {
    if (e.rtmr[i] && *e.rtmr[i] != m.rtmr[i]) {
      v.reason = "rtmr_not_allowed";
      v.detail = "RTMR" + std::to_string(i) + " " + hex(m.rtmr[i]) + " is not the policy's " + hex(*e.rtmr[i]);
      return v;
    }
    ++v.passed;
  }
  check_common(e, r, v);
  return v;
}

constexpr int kSgxChecks = 6, kTdxChecks = 7;  // checks per entry (all passed: accepted)

template <class Entry>
AttestationResult first_match(const std::vector<Entry>& entries, const attest::VerifyResult& r, int all_checks,
                              const char* tee) {
  AttestationResult out;
  if (entries.empty()) {
    out.reason = "no_policy";
    out.detail = std::string("the attestation policy has no ") + tee + " entries";
    return out;
  }
  EntryVerdict best;
  best.passed = -1;
  for (const Entry& e : entries) {
    EntryVerdict v = judge(e, r);
    if (v.passed == all_checks) {
      out.ok = true;
      out.identity = e.identity;
      return out;
    }
    if (v.passed > best.passed) best = std::move(v);
  }
  out.reason = best.reason;
  out.detail = best.detail;
  return out;
}

AttestationResult refusal(const std::string& reason, const std::string& detail) {
  AttestationResult a;
  a.reason = reason;
  a.detail = detail;
  return a;
}

const char* tee_name(attest::Tee t) { return t == attest::Tee::sgx ? "SGX" : "TDX"; }

}  // namespace

DcapPolicy parse_dcap_policy(const std::string& json_text, const std::string& base_dir, const std::string& source) {
  PolicyReader rd{source};
  const json j = json::parse(json_text, nullptr, false);
  if (j.is_discarded()) rd.fail("the file", "not JSON");
  rd.only(j, {"collateral", "accept_tcb_status", "sgx", "tdx"}, "the top level");
  DcapPolicy p;
  if (!j.contains("collateral") || !j.at("collateral").is_array() || j.at("collateral").empty())
    rd.fail("'collateral'", "must be a non-empty array of collateral file paths");
  for (const json& c : j.at("collateral")) {
    if (!c.is_string()) rd.fail("'collateral'", "must hold paths");
    std::filesystem::path path = c.get<std::string>();
    if (path.is_relative()) path = std::filesystem::path(base_dir) / path;
    try {
      p.collateral.push_back(attest::parse_collateral(read_or_throw(path.string(), "collateral file")));
      // Read the TCB info now: a collateral file the verifier cannot match by FMSPC is an error here.
      attest::parse_tcb_info(p.collateral.back().tcb_info);
    } catch (const std::exception& e) {  // unreadable (invalid_argument) or malformed (CheckFailed)
      rd.fail("collateral " + path.string(), e.what());
    }
  }
  std::optional<std::vector<attest::TcbStatus>> dflt;
  if (j.contains("accept_tcb_status")) dflt = rd.statuses(j.at("accept_tcb_status"), "the top level");
  if (j.contains("sgx")) {
    if (!j.at("sgx").is_array()) rd.fail("'sgx'", "must be an array of entries");
    for (size_t i = 0; i < j.at("sgx").size(); ++i) {
      const json& e = j.at("sgx")[i];
      const std::string where = "sgx[" + std::to_string(i) + "]";
      rd.only(e, {"mrenclave", "mrsigner", "isv_prod_id", "min_isv_svn", "accept_tcb_status", "allow_debug", "org",
                  "party", "worker"},
              where);
      SgxPolicyEntry s;
      if (e.contains("mrenclave")) s.mr_enclave = rd.hex_n<32>(e, "mrenclave", where);
      if (e.contains("mrsigner")) s.mr_signer = rd.hex_n<32>(e, "mrsigner", where);
      if (e.contains("isv_prod_id")) s.isv_prod_id = rd.u16(e, "isv_prod_id", where);
      if (e.contains("min_isv_svn")) s.min_isv_svn = rd.u16(e, "min_isv_svn", where);
      if (!s.mr_enclave && !(s.mr_signer && s.isv_prod_id))
        rd.fail(where, "names neither 'mrenclave' nor 'mrsigner' with 'isv_prod_id' (it would accept any enclave)");
      rd.common(e, s, dflt, where);
      p.sgx.push_back(std::move(s));
    }
  }
  if (j.contains("tdx")) {
    if (!j.at("tdx").is_array()) rd.fail("'tdx'", "must be an array of entries");
    for (size_t i = 0; i < j.at("tdx").size(); ++i) {
      const json& e = j.at("tdx")[i];
      const std::string where = "tdx[" + std::to_string(i) + "]";
      rd.only(e, {"mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "accept_tcb_status", "allow_debug", "org", "party",
                  "worker"},
              where);
      TdxPolicyEntry t;
      if (!e.contains("mrtd")) rd.fail(where, "'mrtd' is required");
      t.mr_td = rd.hex_n<48>(e, "mrtd", where);
      for (int r = 0; r < 4; ++r) {
        const std::string key = "rtmr" + std::to_string(r);
        if (e.contains(key)) t.rtmr[r] = rd.hex_n<48>(e, key, where);
      }
      rd.common(e, t, dflt, where);
      p.tdx.push_back(std::move(t));
    }
  }
  if (p.sgx.empty() && p.tdx.empty()) rd.fail("the top level", "no 'sgx' or 'tdx' entries: nothing could enrol");
  return p;
}

DcapPolicy load_dcap_policy(const std::string& path) {
  return parse_dcap_policy(read_or_throw(path, "attestation policy"),
                           std::filesystem::path(path).parent_path().string(), path);
}

AttestationResult evaluate_dcap_policy(const DcapPolicy& policy, const attest::VerifyResult& r,
                                       std::span<const uint8_t> public_key_der) {
  if (!r.ok()) throw std::logic_error("evaluate_dcap_policy needs a verified quote");
  AttestationResult a = r.report.tee == attest::Tee::sgx ? first_match(policy.sgx, r, kSgxChecks, "sgx")
                                                         : first_match(policy.tdx, r, kTdxChecks, "tdx");
  if (!a.ok) return a;
  a.identity.worker += "-" + hex(sha256(public_key_der)).substr(0, 8);
  a.claims["tee"] = r.report.tee == attest::Tee::sgx ? "sgx" : "tdx";
  a.claims["tcb_status"] = std::string(attest::to_string(r.tcb_status));
  if (r.report.sgx) {
    a.claims["mrenclave"] = hex(r.report.sgx->mr_enclave);
    a.claims["mrsigner"] = hex(r.report.sgx->mr_signer);
    a.claims["isv_prod_id"] = std::to_string(r.report.sgx->isv_prod_id);
    a.claims["isv_svn"] = std::to_string(r.report.sgx->isv_svn);
  } else {
    a.claims["mrtd"] = hex(r.report.tdx->mr_td);
  }
  return a;
}

AttestationResult verify_dcap_quote(const DcapPolicy& policy, attest::Tee expected, std::span<const uint8_t> quote,
                                    std::span<const uint8_t> public_key_der, int64_t now) {
  // Choose the collateral by the quote's TEE and its PCK certificate's FMSPC; verify_quote then
  // checks every one of these again, with signatures.
  const attest::Collateral* collateral = nullptr;
  try {
    const attest::Quote q = attest::parse_quote(quote);
    const attest::Tee tee = q.is_tdx() ? attest::Tee::tdx : attest::Tee::sgx;
    if (tee != expected)
      return refusal("wrong_tee", std::string("the quote is a ") + tee_name(tee) + " quote, not " + tee_name(expected));
    const std::vector<attest::Cert> chain = attest::parse_pem_chain(q.pck_chain_pem, "pck chain");
    if (chain.empty()) return refusal("quote_rejected", "check \"pck chain\" failed: the quote holds no certificate");
    const attest::PckExtension pck = attest::parse_pck_extension(chain.front().get());
    for (const attest::Collateral& c : policy.collateral) {
      const attest::TcbInfo info = attest::parse_tcb_info(c.tcb_info);
      if (info.fmspc == pck.fmspc && (info.id == "TDX") == (tee == attest::Tee::tdx)) {
        collateral = &c;
        break;
      }
    }
    if (!collateral)
      return refusal("no_collateral", std::string("the KMS has no ") + tee_name(tee) + " collateral for FMSPC " +
                                          hex(pck.fmspc) + " (see the attestation policy's 'collateral')");
  } catch (const attest::CheckFailed& e) {
    return refusal("quote_rejected",
                   "check \"" + e.failure().check + "\" failed: " + e.failure().reason);
  }
  const attest::VerifyResult r = attest::verify_quote(quote, *collateral, now);
  if (!r.ok()) return refusal("quote_rejected", "check \"" + r.failure->check + "\" failed: " + r.failure->reason);
  if (auto f = attest::check_report_data_binds_key(r.report, public_key_der)) return refusal("key_not_bound", f->reason);
  return evaluate_dcap_policy(policy, r, public_key_der);
}

AttestationResult DcapVerifier::verify(const AttestationEvidence& evidence, int64_t now) {
  if (evidence.quote.empty()) return refusal("bad_evidence", kind() + " evidence needs 'quote' (hex)");
  const auto quote = decode_hex(evidence.quote);
  if (!quote) return refusal("bad_evidence", "'quote' is not hex");
  const auto* key = reinterpret_cast<const uint8_t*>(evidence.public_key_der.data());
  return verify_dcap_quote(*policy_, tee_, *quote, {key, evidence.public_key_der.size()}, now);
}

void add_dcap_verifiers(KmsService& kms, const std::string& policy_path) {
  auto policy = std::make_shared<const DcapPolicy>(load_dcap_policy(policy_path));
  kms.add_verifier(std::make_unique<DcapVerifier>(attest::Tee::sgx, policy));
  kms.add_verifier(std::make_unique<DcapVerifier>(attest::Tee::tdx, policy));
}

}  // namespace veil::serve
