// The real samples verify with the TCB status and measurements they carry; collateral outside its
// validity window and a key that the report data does not bind are refused.
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "attest/attest_test_util.h"
#include "veil/core/utc_time.h"
#include "veil/core/digest.h"

using namespace veil;
using namespace veil::attest;
using namespace veil::attest::test;

TEST(AttestVerify, SgxQuoteV3VerifiesWithItsMeasurements) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  const VerifyResult r = verify(sgx_sample());
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.tcb_status, TcbStatus::ConfigurationAndSWHardeningNeeded);
  EXPECT_EQ(r.advisory_ids, (std::vector<std::string>{"INTEL-SA-00289", "INTEL-SA-00615"}));
  EXPECT_EQ(hex(r.fmspc), "00a067110000");
  EXPECT_EQ(r.report.tee, Tee::sgx);
  EXPECT_EQ(r.report.quote_version, 3);
  EXPECT_FALSE(r.report.debug);
  ASSERT_TRUE(r.report.sgx.has_value());
  EXPECT_FALSE(r.report.tdx.has_value());
  EXPECT_EQ(hex(r.report.sgx->mr_enclave), "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb");
  EXPECT_EQ(hex(r.report.sgx->mr_signer), "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6");
  EXPECT_EQ(r.report.sgx->isv_prod_id, 0);
  EXPECT_EQ(r.report.sgx->isv_svn, 0);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(r.report.report_data.data())), "Hello, world!");
  EXPECT_EQ(format_time(r.collateral_expires), "2025-07-19T10:01:18Z");  // the QE identity's nextUpdate
}

TEST(AttestVerify, TdxQuoteV4VerifiesUpToDateWithItsMeasurements) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  const VerifyResult r = verify(tdx_sample());
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.tcb_status, TcbStatus::UpToDate);
  EXPECT_TRUE(r.advisory_ids.empty());
  EXPECT_EQ(hex(r.fmspc), "b0c06f000000");
  EXPECT_EQ(r.report.tee, Tee::tdx);
  EXPECT_EQ(r.report.quote_version, 4);
  EXPECT_FALSE(r.report.debug);
  ASSERT_TRUE(r.report.tdx.has_value());
  const TdxMeasurements& m = *r.report.tdx;
  EXPECT_EQ(hex(m.mr_td), "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7");
  EXPECT_EQ(hex(m.rtmr[0]), "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0");
  EXPECT_EQ(hex(m.rtmr[1]), "0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c173019b3093d54e579e9378");
  EXPECT_EQ(hex(m.rtmr[2]), "d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e01d48c3132");
  EXPECT_EQ(hex(m.rtmr[3]), std::string(96, '0'));
  EXPECT_EQ(hex(m.tee_tcb_svn), "06010300000000000000000000000000");
  EXPECT_EQ(hex(r.report.report_data),
            "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9"
            "eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20");
}

// The "outdated" sample (dcap-qvl reports it OutOfDate) is below every TCB level by Intel's rule: its
// PCK certificate has SGX TCB component 8 at SVN 3 and every level of its TCB info asks for 5. Intel's
// QVL compares component by component and answers "TCB not supported"; dcap-qvl compares the 16 SVNs
// as one lexicographic key, so 3,3,2,2,4,1,0,3 sorts above 2,2,2,2,3,1,0,5 and lands on OutOfDate. Every
// check before the TCB level passes.
TEST(AttestVerify, OutdatedTdxQuoteV5IsBelowEveryTcbLevel) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  const VerifyResult r = verify(tdx_outdated_sample());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure->check, "tcb level") << describe(r);
  EXPECT_EQ(r.failure->reason, "the platform's SGX TCB (PCK certificate) is below every TCB level");
}

// Its real, signed TCB info does rate a platform OutOfDate once SGX component 8 is raised to 5 and
// component 5 lowered to 3 (below the UpToDate level, at the second level).
TEST(AttestVerify, OutdatedSampleTcbInfoRatesALowerPlatformOutOfDate) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  const Sample s = tdx_outdated_sample();
  const TcbInfo info = parse_tcb_info(s.collateral.tcb_info);
  const QeIdentity qe = parse_qe_identity(s.collateral.qe_identity);
  PlatformTcb p{{3, 3, 2, 2, 3, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0}, 13,
                std::array<uint8_t, 16>{7, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}};
  const IsvTcbLevel& qe_level = match_isv_level(qe.levels, 4, "qe identity");
  const TcbVerdict v = evaluate_tcb(info, p, qe_level, nullptr);
  EXPECT_EQ(v.status, TcbStatus::OutOfDate);
  EXPECT_EQ(v.advisory_ids, info.levels[1].advisory_ids);
  EXPECT_FALSE(v.advisory_ids.empty());
  p.sgx_components[4] = 4;  // the PCK's own value: the UpToDate level
  EXPECT_EQ(evaluate_tcb(info, p, qe_level, nullptr).status, TcbStatus::UpToDate);
}

TEST(AttestVerify, CollateralIsRefusedAfterItExpires) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  for (Sample s : {sgx_sample(), tdx_sample()}) {
    const VerifyResult good = verify(s);
    ASSERT_TRUE(good.ok()) << s.name << ": " << describe(good);
    s.at = good.collateral_expires + 1;
    const VerifyResult r = verify(s);
    ASSERT_FALSE(r.ok()) << s.name << " verified one second after its collateral expired";
    EXPECT_NE(r.failure->reason.find("expired"), std::string::npos) << s.name << ": " << describe(r);
    s.at = parse_time("2031-01-01T00:00:00Z");
    EXPECT_FALSE(verify(s).ok()) << s.name << " verified in 2031";
  }
  Sample outdated = tdx_outdated_sample();  // fails at "tcb level" inside its window, earlier after it
  outdated.at = parse_time("2026-03-21T00:00:00Z");
  const VerifyResult r = verify(outdated);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.failure->check, "tcb level") << describe(r);
  EXPECT_NE(r.failure->reason.find("expired"), std::string::npos) << describe(r);
}

TEST(AttestVerify, CollateralIsRefusedBeforeItIsIssued) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  Sample s = sgx_sample();
  s.at = parse_time("2025-06-19T10:30:00Z");  // after the PCK CRL (10:23:18), before the TCB info (10:56:11)
  const VerifyResult r = verify(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure->check, "tcb info") << describe(r);
  EXPECT_NE(r.failure->reason.find("not yet valid"), std::string::npos) << describe(r);
}

TEST(AttestVerify, ACollateralForAnotherPlatformIsRefused) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  Sample s = tdx_sample();
  s.collateral = tdx_outdated_sample().collateral;  // another FMSPC, another PCK CRL
  EXPECT_FALSE(verify(s).ok());
  Sample sgx = sgx_sample();
  Sample tdx = tdx_sample();
  sgx.collateral.tcb_info = tdx.collateral.tcb_info;
  sgx.collateral.tcb_info_signature = tdx.collateral.tcb_info_signature;
  const VerifyResult r = verify(sgx);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure->check, "tcb info") << describe(r);
  EXPECT_NE(r.failure->reason.find("is not for a SGX quote"), std::string::npos) << describe(r);
}

namespace {

std::vector<uint8_t> fresh_p256_spki() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key, &der);
  std::vector<uint8_t> out(der, der + n);
  OPENSSL_free(der);
  EVP_PKEY_free(key);
  return out;
}

}  // namespace

TEST(AttestKeyBinding, TheSampleQuoteDoesNotBindAFreshKey) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  for (const Sample& s : {sgx_sample(), tdx_sample()}) {
    const VerifyResult r = verify(s);
    ASSERT_TRUE(r.ok()) << describe(r);
    const auto failure = check_report_data_binds_key(r.report, fresh_p256_spki());
    ASSERT_TRUE(failure.has_value()) << s.name;
    EXPECT_EQ(failure->check, "key binding");
    EXPECT_EQ(failure->reason, "report data does not bind this key");
  }
}

TEST(AttestKeyBinding, ReportDataHoldingTheKeyHashBindsOnlyThatKey) {
  const std::vector<uint8_t> key = fresh_p256_spki();
  Report report{};
  const Sha256 h = sha256(key);
  std::copy(h.begin(), h.end(), report.report_data.begin());
  EXPECT_FALSE(check_report_data_binds_key(report, key).has_value());
  EXPECT_TRUE(check_report_data_binds_key(report, fresh_p256_spki()).has_value());
  std::vector<uint8_t> flipped = key;
  flipped.back() ^= 1;
  EXPECT_TRUE(check_report_data_binds_key(report, flipped).has_value());
}

namespace {

// A certificate named like Intel's, with a fresh key, signed by `signer` (itself when null).
X509* impostor(const char* cn, const char* issuer_cn, EVP_PKEY* key, EVP_PKEY* signer, bool ca) {
  X509* c = X509_new();
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), 1);
  X509_gmtime_adj(X509_getm_notBefore(c), -86400L * 365 * 10);
  X509_gmtime_adj(X509_getm_notAfter(c), 86400L * 365 * 10);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_NAME_add_entry_by_txt(X509_get_issuer_name(c), "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(issuer_cn), -1, -1, 0);
  X509_set_pubkey(c, key);
  if (ca) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, c, c, nullptr, nullptr, 0);
    X509_EXTENSION* bc = X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(c, bc, -1);
    X509_EXTENSION_free(bc);
  }
  X509_sign(c, signer ? signer : key, EVP_sha256());
  return c;
}

std::string pem(X509* c) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, c);
  char* d = nullptr;
  const long n = BIO_get_mem_data(b, &d);
  std::string s(d, size_t(n));
  BIO_free(b);
  return s;
}

}  // namespace

TEST(AttestVerify, AnImpostorRootIsRefusedEvenWithIntelsNames) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  EVP_PKEY* root_key = EVP_EC_gen("P-256");
  EVP_PKEY* signing_key = EVP_EC_gen("P-256");
  X509* root = impostor("Intel SGX Root CA", "Intel SGX Root CA", root_key, nullptr, true);
  X509* signing = impostor("Intel SGX TCB Signing", "Intel SGX Root CA", signing_key, root_key, false);
  Sample s = sgx_sample();
  s.collateral.tcb_info_issuer_chain = pem(signing) + pem(root);
  const VerifyResult r = verify(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure->check, "tcb info");
  EXPECT_EQ(r.failure->reason, "the chain does not end in the pinned Intel SGX Root CA");
  X509_free(signing);
  X509_free(root);
  EVP_PKEY_free(signing_key);
  EVP_PKEY_free(root_key);
}
