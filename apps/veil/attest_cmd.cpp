// `veil attest verify`: check an Intel SGX/TDX DCAP quote against PCS collateral at a given time.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>

#include "veil/attest/verify.h"
#include "veil/commands.h"
#include "veil/core/file_read.h"
#include "veil/core/digest.h"
#include "veil/core/utc_time.h"

namespace veil::app {
namespace {

nlohmann::ordered_json to_json(const attest::VerifyResult& r) {
  using json = nlohmann::ordered_json;
  if (!r.ok()) return json{{"verified", false}, {"check", r.failure->check}, {"reason", r.failure->reason}};
  const attest::Report& rep = r.report;
  json j{{"verified", true},
         {"tee", rep.tee == attest::Tee::sgx ? "SGX" : "TDX"},
         {"quote_version", rep.quote_version},
         {"tcb_status", attest::to_string(r.tcb_status)},
         {"advisory_ids", r.advisory_ids},
         {"fmspc", hex(r.fmspc)},
         {"collateral_expires", format_time(r.collateral_expires)},
         {"debug", rep.debug},
         {"report_data", hex(rep.report_data)}};
  if (rep.sgx) {
    j["mr_enclave"] = hex(rep.sgx->mr_enclave);
    j["mr_signer"] = hex(rep.sgx->mr_signer);
    j["isv_prod_id"] = rep.sgx->isv_prod_id;
    j["isv_svn"] = rep.sgx->isv_svn;
    j["attributes"] = hex(rep.sgx->attributes);
  }
  if (rep.tdx) {
    j["mr_td"] = hex(rep.tdx->mr_td);
    for (size_t i = 0; i < 4; ++i) j["rtmr" + std::to_string(i)] = hex(rep.tdx->rtmr[i]);
    j["mr_seam"] = hex(rep.tdx->mr_seam);
    j["mr_config_id"] = hex(rep.tdx->mr_config_id);
    j["mr_owner"] = hex(rep.tdx->mr_owner);
    j["mr_owner_config"] = hex(rep.tdx->mr_owner_config);
    j["tee_tcb_svn"] = hex(rep.tdx->tee_tcb_svn);
    j["td_attributes"] = hex(rep.tdx->td_attributes);
    j["xfam"] = hex(rep.tdx->xfam);
  }
  return j;
}

void print_human(const nlohmann::ordered_json& j) {
  std::printf("verified: %s quote v%d\n", j["tee"].get<std::string>().c_str(), j["quote_version"].get<int>());
  for (const auto& [key, value] : j.items()) {
    if (key == "verified" || key == "tee" || key == "quote_version") continue;
    std::string text;
    if (value.is_string()) text = value.get<std::string>();
    else if (value.is_array()) {
      for (const auto& v : value) text += (text.empty() ? "" : ", ") + v.get<std::string>();
      if (text.empty()) text = "(none)";
    } else text = value.dump();
    std::printf("  %-18s %s\n", key.c_str(), text.c_str());
  }
}

}  // namespace

void register_attest(CLI::App& app) {
  struct Args {
    std::string quote, collateral, at;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* attest = app.add_subcommand("attest", "Remote attestation: Intel SGX/TDX DCAP quotes (see docs/ATTESTATION.md)");
  attest->require_subcommand(1);
  CLI::App* cmd = attest->add_subcommand(
      "verify",
      "Verify an Intel DCAP quote (SGX v3/v4, TDX v4/v5) against Intel PCS collateral: the PCK certificate chain up "
      "to the pinned Intel SGX Root CA and the CRLs, the TCB info and QE identity signatures, the QE report and "
      "quote signatures, the QE identity, the TDX module and the TCB level. Prints the TCB status and the "
      "measurements; exits 0 if every check passes, 1 naming the failed check otherwise. Whether the TCB status and "
      "measurements are acceptable is for the caller to decide.");
  cmd->add_option("QUOTE", args->quote, "The quote, raw binary as the quoting library returns it")->required();
  cmd->add_option("--collateral", args->collateral,
                  "JSON file with tcb_info, tcb_info_signature, tcb_info_issuer_chain, qe_identity, "
                  "qe_identity_signature, qe_identity_issuer_chain, pck_crl, pck_crl_issuer_chain, root_ca_crl "
                  "(what Intel PCS/PCCS serves for the quote's platform; the format dcap-qvl writes)")
      ->required();
  cmd->add_option("--at", args->at,
                  "Verification time: ISO-8601 UTC (2025-06-20T00:00:00Z) or unix seconds. Certificates, CRLs, TCB "
                  "info and QE identity must all be valid then; pass the current time for a live decision")
      ->required()
      ->check(parsed_by(parse_time));
  cmd->add_flag("--json", args->json, "Print the result as one JSON object (\"verified\", and \"check\"/\"reason\" on failure)");
  cmd->callback([args] {
    const int64_t at = parse_time(args->at);
    const std::string quote = read_file_or_throw(args->quote);
    attest::VerifyResult r;
    try {
      const attest::Collateral c = attest::parse_collateral(read_file_or_throw(args->collateral));
      r = attest::verify_quote({reinterpret_cast<const uint8_t*>(quote.data()), quote.size()}, c, at);
    } catch (const attest::CheckFailed& e) {
      r.failure = e.failure();
    }
    const nlohmann::ordered_json j = to_json(r);
    if (args->json) std::printf("%s\n", j.dump(2).c_str());
    else if (r.ok()) print_human(j);
    if (!r.ok()) {
      if (!args->json)
        std::fprintf(stderr, "veil attest verify: check \"%s\" failed: %s\n", r.failure->check.c_str(),
                     r.failure->reason.c_str());
      throw CLI::RuntimeError(1);
    }
  });
}

}  // namespace veil::app
