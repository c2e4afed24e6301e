// The KMS's sgx-dcap / tdx-dcap verifiers on the real DCAP samples (../shared/data/sgx-dcap, times
// pinned as tests/attest pins them). The samples bind no key of ours, so the whole decision refuses
// them with "report data does not bind this key"; the policy is tested on its own over the samples'
// verified measurements: a matching policy accepts, and each mismatch is refused with its reason.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "attest/attest_test_util.h"
#include "serve/kms_test_util.h"
#include "veil/core/digest.h"
#include "veil/core/utc_time.h"
#include "veil/serve/dcap_verifier.h"

namespace veil::serve::test {
namespace {

using attest::test::sample_dir;

const std::string kMrEnclave = "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb";
const std::string kMrSigner = "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6";
const std::string kMrTd =
    "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7";
const std::string kRtmr0 =
    "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0";
const std::string kOther32(64, 'a');
const std::string kOther48(96, 'b');

// Both samples' collateral (absolute paths), the SGX sample's status accepted by default.
json policy_json(json sgx, json tdx = json::array()) {
  return json{{"collateral",
               {sample_dir() + "/sgx_quote_collateral.json", sample_dir() + "/tdx_quote_collateral.json"}},
              {"accept_tcb_status", {"UpToDate", "ConfigurationAndSWHardeningNeeded"}},
              {"sgx", std::move(sgx)},
              {"tdx", std::move(tdx)}};
}

json sgx_entry(json fields) {
  fields["org"] = "org-a";
  fields["party"] = 0;
  fields["worker"] = "enclave";
  return fields;
}

DcapPolicy policy(const json& j) { return parse_dcap_policy(j.dump(), "/", "test policy"); }

std::string public_key_of(EVP_PKEY* key) { return public_key_der(key); }

std::span<const uint8_t> bytes(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

// A key the policy step suffixes worker names with: the first 8 hex digits of its SHA-256.
const std::string kKeyDer = "a worker's SubjectPublicKeyInfo";
const std::span<const uint8_t> kKey = bytes(kKeyDer);
const std::string kSuffix = "-c9f91e70";  // sha256sum of kKeyDer, first 8 digits

TEST(DcapVerifier, TheSampleQuoteDoesNotBindAFreshKey) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  const auto s = attest::test::sgx_sample();
  const DcapPolicy p = policy(policy_json({sgx_entry({{"mrenclave", kMrEnclave}})}));
  const PkeyPtr key = new_p256_key();
  DcapVerifier v(attest::Tee::sgx, std::make_shared<const DcapPolicy>(p));
  EXPECT_EQ(v.kind(), "sgx-dcap");
  AttestationEvidence ev;
  ev.kind = "sgx-dcap";
  ev.quote = hex(s.quote);
  ev.public_key_der = public_key_of(key.get());
  const AttestationResult a = v.verify(ev, s.at);
  EXPECT_FALSE(a.ok);
  EXPECT_EQ(a.reason, "key_not_bound");
  EXPECT_EQ(a.detail, "report data does not bind this key");
  EXPECT_TRUE(a.identity.org.empty());
}

TEST(DcapVerifier, EveryOtherStepOfTheSampleIsRefusedWithItsReason) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  const auto s = attest::test::sgx_sample();
  const auto t = attest::test::tdx_sample();
  const DcapPolicy p = policy(policy_json({sgx_entry({{"mrenclave", kMrEnclave}})}));
  const std::string key = public_key_of(new_p256_key().get());
  auto decide = [&](const DcapPolicy& pol, attest::Tee tee, const std::vector<uint8_t>& q, int64_t at) {
    return verify_dcap_quote(pol, tee, q, bytes(key), at);
  };
  // The TDX sample sent as sgx-dcap evidence.
  AttestationResult a = decide(p, attest::Tee::sgx, t.quote, t.at);
  EXPECT_EQ(a.reason, "wrong_tee");
  EXPECT_EQ(a.detail, "the quote is a TDX quote, not SGX");
  // After the collateral expired (the PCK CRL's nextUpdate).
  a = decide(p, attest::Tee::sgx, s.quote, parse_time("2025-08-01T00:00:00Z"));
  EXPECT_EQ(a.reason, "quote_rejected");
  EXPECT_NE(a.detail.find("check \"pck crl\" failed"), std::string::npos) << a.detail;
  // A corrupted quote signature.
  std::vector<uint8_t> bad = s.quote;
  bad[48 + 100] ^= 1;  // a byte of the report body
  a = decide(p, attest::Tee::sgx, bad, s.at);
  EXPECT_EQ(a.reason, "quote_rejected");
  EXPECT_NE(a.detail.find("check \"quote signature\" failed"), std::string::npos) << a.detail;
  // Not a quote.
  a = decide(p, attest::Tee::sgx, std::vector<uint8_t>(10, 0), s.at);
  EXPECT_EQ(a.reason, "quote_rejected");
  EXPECT_NE(a.detail.find("check \"quote format\" failed"), std::string::npos) << a.detail;
  // Only the TDX platform's collateral.
  json only_tdx = policy_json({sgx_entry({{"mrenclave", kMrEnclave}})});
  only_tdx["collateral"] = {sample_dir() + "/tdx_quote_collateral.json"};
  a = decide(policy(only_tdx), attest::Tee::sgx, s.quote, s.at);
  EXPECT_EQ(a.reason, "no_collateral");
  EXPECT_EQ(a.detail, "the KMS has no SGX collateral for FMSPC 00a067110000 (see the attestation policy's "
                      "'collateral')");
  // Evidence that is not hex.
  DcapVerifier v(attest::Tee::tdx, std::make_shared<const DcapPolicy>(p));
  EXPECT_EQ(v.kind(), "tdx-dcap");
  AttestationEvidence ev;
  ev.quote = "zz";
  EXPECT_EQ(v.verify(ev, s.at).reason, "bad_evidence");
  ev.quote.clear();
  EXPECT_EQ(v.verify(ev, s.at).reason, "bad_evidence");
}

// The verified SGX sample: MRENCLAVE 33d8…, MRSIGNER 815f…, ISV product id 0, ISV SVN 0, not debug,
// ConfigurationAndSWHardeningNeeded.
TEST(DcapPolicyEvaluation, SgxSampleAcceptedByAMatchingPolicy) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  const attest::VerifyResult r = attest::test::verify(attest::test::sgx_sample());
  ASSERT_TRUE(r.ok()) << attest::test::describe(r);
  for (const json& entry : {sgx_entry({{"mrenclave", kMrEnclave}}),
                            sgx_entry({{"mrsigner", kMrSigner}, {"isv_prod_id", 0}, {"min_isv_svn", 0}}),
                            sgx_entry({{"mrenclave", kMrEnclave}, {"mrsigner", kMrSigner}, {"isv_prod_id", 0}})}) {
    const AttestationResult a = evaluate_dcap_policy(policy(policy_json({entry})), r, kKey);
    ASSERT_TRUE(a.ok) << entry.dump() << ": " << a.reason << ": " << a.detail;
    EXPECT_EQ(a.identity, (WorkerIdentity{"org-a", 0, "enclave" + kSuffix}));
    EXPECT_EQ(a.claims.at("tee"), "sgx");
    EXPECT_EQ(a.claims.at("mrenclave"), kMrEnclave);
    EXPECT_EQ(a.claims.at("mrsigner"), kMrSigner);
    EXPECT_EQ(a.claims.at("isv_svn"), "0");
    EXPECT_EQ(a.claims.at("tcb_status"), "ConfigurationAndSWHardeningNeeded");
  }
  // The first matching entry gives the identity.
  json second = sgx_entry({{"mrenclave", kMrEnclave}});
  second["org"] = "org-b";
  second["party"] = 1;
  const AttestationResult a =
      evaluate_dcap_policy(policy(policy_json({sgx_entry({{"mrenclave", kOther32}}), second})), r, kKey);
  ASSERT_TRUE(a.ok) << a.reason;
  EXPECT_EQ(a.identity, (WorkerIdentity{"org-b", 1, "enclave" + kSuffix}));
}

TEST(DcapPolicyEvaluation, EachSgxMismatchIsRefusedWithItsOwnReason) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  const attest::VerifyResult r = attest::test::verify(attest::test::sgx_sample());
  ASSERT_TRUE(r.ok()) << attest::test::describe(r);
  auto refusal = [&](const json& j) {
    const AttestationResult a = evaluate_dcap_policy(policy(j), r, kKey);
    EXPECT_FALSE(a.ok);
    EXPECT_TRUE(a.identity.org.empty());
    EXPECT_TRUE(a.claims.empty());
    return a;
  };
  AttestationResult a = refusal(policy_json({sgx_entry({{"mrenclave", kOther32}})}));
  EXPECT_EQ(a.reason, "mrenclave_not_allowed");
  EXPECT_EQ(a.detail, "MRENCLAVE " + kMrEnclave + " is not the policy's " + kOther32);
  a = refusal(policy_json({sgx_entry({{"mrsigner", kOther32}, {"isv_prod_id", 0}})}));
  EXPECT_EQ(a.reason, "mrsigner_not_allowed");
  a = refusal(policy_json({sgx_entry({{"mrsigner", kMrSigner}, {"isv_prod_id", 7}})}));
  EXPECT_EQ(a.reason, "isv_prod_id_not_allowed");
  a = refusal(policy_json({sgx_entry({{"mrenclave", kMrEnclave}, {"min_isv_svn", 1}})}));
  EXPECT_EQ(a.reason, "isv_svn_too_low");
  EXPECT_EQ(a.detail, "ISV SVN 0 is below the policy's minimum 1");
  a = refusal(policy_json({sgx_entry({{"mrenclave", kMrEnclave}, {"accept_tcb_status", {"UpToDate"}}})}));
  EXPECT_EQ(a.reason, "tcb_status_not_accepted");
  EXPECT_EQ(a.detail, "TCB status ConfigurationAndSWHardeningNeeded is not one the policy accepts (UpToDate)");
  // No SGX entry at all.
  a = refusal(policy_json(json::array(), {{{"mrtd", kMrTd}, {"org", "org-a"}, {"party", 0}, {"worker", "td"}}}));
  EXPECT_EQ(a.reason, "no_policy");
  // Of two entries, the refusal is that of the one that came closest (right MRENCLAVE, wrong status).
  a = refusal(policy_json({sgx_entry({{"mrenclave", kOther32}}),
                           sgx_entry({{"mrenclave", kMrEnclave}, {"accept_tcb_status", {"UpToDate"}}})}));
  EXPECT_EQ(a.reason, "tcb_status_not_accepted");
}

TEST(DcapPolicyEvaluation, SgxDebugEnclaveRefusedUnlessAllowed) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  attest::VerifyResult r = attest::test::verify(attest::test::sgx_sample());
  ASSERT_TRUE(r.ok()) << attest::test::describe(r);
  r.report.debug = true;  // as a DEBUG enclave's quote would report it
  AttestationResult a = evaluate_dcap_policy(policy(policy_json({sgx_entry({{"mrenclave", kMrEnclave}})})), r, kKey);
  EXPECT_EQ(a.reason, "debug_not_allowed");
  a = evaluate_dcap_policy(
      policy(policy_json({sgx_entry({{"mrenclave", kMrEnclave}, {"allow_debug", true}})})), r, kKey);
  EXPECT_TRUE(a.ok) << a.reason;
}

// The verified TDX sample: MRTD 91eb…, RTMR0 44c0…, UpToDate.
TEST(DcapPolicyEvaluation, TdxSampleAcceptedAndEachMismatchRefused) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  const attest::VerifyResult r = attest::test::verify(attest::test::tdx_sample());
  ASSERT_TRUE(r.ok()) << attest::test::describe(r);
  auto td = [](json fields) {
    fields["org"] = "org-b";
    fields["party"] = 2;
    fields["worker"] = "td";
    return policy(policy_json(json::array(), {fields}));
  };
  AttestationResult a = evaluate_dcap_policy(td({{"mrtd", kMrTd}, {"rtmr0", kRtmr0}}), r, kKey);
  ASSERT_TRUE(a.ok) << a.reason << ": " << a.detail;
  EXPECT_EQ(a.identity, (WorkerIdentity{"org-b", 2, "td" + kSuffix}));
  EXPECT_EQ(a.claims.at("tee"), "tdx");
  EXPECT_EQ(a.claims.at("mrtd"), kMrTd);
  EXPECT_EQ(a.claims.at("tcb_status"), "UpToDate");
  a = evaluate_dcap_policy(td({{"mrtd", kOther48}}), r, kKey);
  EXPECT_EQ(a.reason, "mrtd_not_allowed");
  EXPECT_EQ(a.detail, "MRTD " + kMrTd + " is not the policy's " + kOther48);
  a = evaluate_dcap_policy(td({{"mrtd", kMrTd}, {"rtmr3", kOther48}}), r, kKey);
  EXPECT_EQ(a.reason, "rtmr_not_allowed");
  EXPECT_NE(a.detail.find("RTMR3 "), std::string::npos) << a.detail;
  a = evaluate_dcap_policy(td({{"mrtd", kMrTd}, {"accept_tcb_status", {"OutOfDate"}}}), r, kKey);
  EXPECT_EQ(a.reason, "tcb_status_not_accepted");
}

TEST(DcapPolicyFile, MalformedPoliciesAreRefusedWithTheirPlace) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  auto error = [](const json& j) {
    try {
      policy(j);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(error(policy_json({sgx_entry({{"mrsigner", kMrSigner}})})),
            "test policy: sgx[0]: names neither 'mrenclave' nor 'mrsigner' with 'isv_prod_id' (it would accept any "
            "enclave)");
  EXPECT_EQ(error(policy_json({sgx_entry({{"mrenclave", kMrEnclave}, {"mrenclve", kMrEnclave}})})),
            "test policy: sgx[0]: unknown member 'mrenclve'");
  EXPECT_EQ(error(policy_json({sgx_entry({{"mrenclave", "33d8"}})})),
            "test policy: sgx[0]: 'mrenclave' must be 64 hex digits");
  EXPECT_EQ(error(policy_json({sgx_entry({{"mrenclave", kMrEnclave}, {"accept_tcb_status", {"Fine"}}})})),
            "test policy: sgx[0]: unknown TCB status 'Fine'");
  json no_default = policy_json({sgx_entry({{"mrenclave", kMrEnclave}})});
  no_default.erase("accept_tcb_status");
  EXPECT_EQ(error(no_default), "test policy: sgx[0]: no 'accept_tcb_status' here nor at the top level");
  json missing = policy_json({sgx_entry({{"mrenclave", kMrEnclave}})});
  missing["collateral"] = {"/nonexistent/collateral.json"};
  EXPECT_EQ(error(missing), "test policy: collateral /nonexistent/collateral.json: cannot read collateral file "
                            "/nonexistent/collateral.json");
  EXPECT_EQ(error(policy_json(json::array())), "test policy: the top level: no 'sgx' or 'tdx' entries: nothing could "
                                               "enrol");
}

// Over HTTPS: sgx-dcap evidence is refused with key_not_bound, audited, and no certificate issued.
using DcapKmsTest = KmsFixture;

TEST_F(DcapKmsTest, EnrolmentWithTheSampleQuoteIsRefusedAndAudited) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  const auto s = attest::test::sgx_sample();
  const std::string policy_file = tmp_.path() + "/attestation-policy.json";
  json j = policy_json({sgx_entry({{"mrenclave", kMrEnclave}})});
  j["collateral"] = {"sgx-collateral.json"};  // relative to the policy file
  std::ofstream(tmp_.path() + "/sgx-collateral.json") << s.collateral_json;
  std::ofstream(policy_file) << j.dump(2);
  add_dcap_verifiers(server_->service(), policy_file);
  now_ = s.at;  // the KMS verifies at its clock: a time when the sample's collateral is valid

  const PkeyPtr key = new_p256_key();
  const json evidence = {{"kind", "sgx-dcap"}, {"quote", hex(s.quote)}};
  const Reply r = enrol_raw(json{{"csr", make_csr(key.get())}, {"evidence", evidence}}.dump());
  expect_refused(r, 401, "enrol", "key_not_bound");
  EXPECT_EQ(r.body.value("message", ""), "report data does not bind this key");

  // The same KMS refuses the TDX sample under sgx-dcap, and knows tdx-dcap.
  const auto t = attest::test::tdx_sample();
  const Reply wrong =
      enrol_raw(json{{"csr", make_csr(key.get())}, {"evidence", {{"kind", "sgx-dcap"}, {"quote", hex(t.quote)}}}}
                    .dump());
  expect_refused(wrong, 401, "enrol", "wrong_tee");
  const Reply tdx =
      enrol_raw(json{{"csr", make_csr(key.get())}, {"evidence", {{"kind", "tdx-dcap"}, {"quote", hex(t.quote)}}}}
                    .dump());
  expect_refused(tdx, 401, "enrol", "no_collateral");  // only the SGX platform's collateral is configured
}

}  // namespace
}  // namespace veil::serve::test
