// Quote layout parsing: the samples' structure, and the "quote format" errors for quotes that are cut
// short, of another version or key type, or padded with anything but zeros.
#include <gtest/gtest.h>

#include <cstring>

#include "attest/attest_test_util.h"
#include "veil/attest/quote.h"

using namespace veil::attest;
using namespace veil::attest::test;

namespace {

std::string format_error(const std::vector<uint8_t>& bytes) {
  try {
    parse_quote(bytes);
  } catch (const CheckFailed& e) {
    EXPECT_EQ(e.failure().check, "quote format");
    return e.failure().reason;
  }
  return "(parsed)";
}

}  // namespace

TEST(AttestQuote, SamplesParseIntoTheirLayouts) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  const Quote sgx = parse_quote(sgx_sample().quote);
  EXPECT_EQ(sgx.header.version, 3);
  EXPECT_EQ(sgx.body_kind, BodyKind::sgx_enclave);
  EXPECT_EQ(sgx.signed_data.size(), 48u + 384u);
  EXPECT_EQ(sgx.qe_auth_data.size(), 32u);
  EXPECT_EQ(sgx.pck_chain_pem.rfind("-----BEGIN CERTIFICATE-----", 0), 0u);

  const Quote tdx = parse_quote(tdx_sample().quote);
  EXPECT_EQ(tdx.header.version, 4);
  EXPECT_EQ(tdx.header.tee_type, kTeeTdx);
  EXPECT_EQ(tdx.body_kind, BodyKind::td_report10);
  EXPECT_EQ(tdx.signed_data.size(), 48u + 584u);

  const Quote v5 = parse_quote(tdx_outdated_sample().quote);
  EXPECT_EQ(v5.header.version, 5);
  EXPECT_EQ(v5.body_kind, BodyKind::td_report15);
  EXPECT_EQ(v5.signed_data.size(), 48u + 6u + 648u);
}

TEST(AttestQuote, MalformedQuotesNameTheProblem) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  const std::vector<uint8_t> good = sgx_sample().quote;
  EXPECT_NE(format_error({good.begin(), good.begin() + 100}).find("quote ends inside the enclave report"), std::string::npos);
  EXPECT_NE(format_error({good.begin(), good.end() - 1}).find("quote ends inside the signature data"), std::string::npos);

  std::vector<uint8_t> v2 = good;
  v2[0] = 2;
  EXPECT_EQ(format_error(v2), "unsupported quote version 2 (3, 4 or 5)");
  std::vector<uint8_t> epid = good;
  epid[2] = 0;
  EXPECT_EQ(format_error(epid), "attestation key type 0 is not ECDSA P-256 (2)");
  std::vector<uint8_t> vendor = good;
  vendor[12] ^= 0xff;
  EXPECT_EQ(format_error(vendor), "QE vendor id is not Intel's quoting enclave");

  std::vector<uint8_t> padded = good;
  padded.insert(padded.end(), 16, 0);
  EXPECT_NO_THROW(parse_quote(padded));  // zero padding after the signature data is allowed
  padded.back() = 1;
  EXPECT_EQ(format_error(padded), "non-zero byte at offset " + std::to_string(padded.size() - 1) + " after the signature data");
}
