// Collateral JSON and time parsing: the samples' collateral, and "collateral format" errors for files
// that lack a member or carry bad hex.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "attest/attest_test_util.h"

using namespace veil;
using namespace veil::attest;
using namespace veil::attest::test;

TEST(AttestCollateral, SampleCollateralParses) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  const Sample s = tdx_sample();
  EXPECT_EQ(s.collateral.tcb_info_signature.size(), 64u);
  EXPECT_EQ(s.collateral.qe_identity_signature.size(), 64u);
  const TcbInfo info = parse_tcb_info(s.collateral.tcb_info);
  EXPECT_EQ(info.id, "TDX");
  EXPECT_EQ(info.version, 3);
  EXPECT_EQ(format_time(info.issue_date), "2025-06-19T10:16:03Z");
  EXPECT_EQ(format_time(info.next_update), "2025-07-19T10:16:03Z");
  ASSERT_EQ(info.levels.size(), 2u);  // the TDX sample's TCB info has an UpToDate and an OutOfDate level
  EXPECT_EQ(info.levels[0].status, "UpToDate");
  ASSERT_TRUE(info.levels[0].tdx_components.has_value());
  EXPECT_EQ(info.tdx_module_identities.size(), 2u);
  const QeIdentity qe = parse_qe_identity(s.collateral.qe_identity);
  EXPECT_EQ(qe.id, "TD_QE");
  EXPECT_EQ(qe.isv_prod_id, 2);
  EXPECT_EQ(qe.attributes_mask[0], 0xfb);
}

TEST(AttestCollateral, SvnsOutOfRangeAreRefusedNotWrapped) {
  const std::string level = R"({"tcb":{"isvsvn":%s},"tcbDate":"2024-03-13T00:00:00Z","tcbStatus":"UpToDate"})";
  auto identity = [&](const std::string& svn) {
    std::string l = level;
    l.replace(l.find("%s"), 2, svn);
    return R"({"id":"QE","version":2,"issueDate":"2025-06-19T10:01:18Z","nextUpdate":"2025-07-19T10:01:18Z",)"
           R"("miscselect":"00000000","miscselectMask":"FFFFFFFF","attributes":"11000000000000000000000000000000",)"
           R"("attributesMask":"FBFFFFFFFFFFFFFF0000000000000000","mrsigner":)"
           R"("8C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B094490C57BFF","isvprodid":1,"tcbLevels":[)" +
           l + "]}";
  };
  EXPECT_EQ(parse_qe_identity(identity("8")).levels.at(0).isv_svn, 8);
  for (const char* bad : {"65536", "-1", "\"8\""}) {
    try {
      parse_qe_identity(identity(bad));
      ADD_FAILURE() << "isvsvn " << bad << " was accepted";
    } catch (const CheckFailed& e) {
      EXPECT_EQ(e.failure().check, "qe identity") << bad;
    }
  }
}

TEST(AttestCollateral, MissingMembersAndBadHexAreNamed) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  const nlohmann::json good = nlohmann::json::parse(sgx_sample().collateral_json);
  auto error_of = [](const nlohmann::json& j) -> Failure {
    try {
      parse_collateral(j.dump());
    } catch (const CheckFailed& e) {
      return e.failure();
    }
    return {"", "(parsed)"};
  };
  nlohmann::json missing = good;
  missing.erase("pck_crl");
  Failure f = error_of(missing);
  EXPECT_EQ(f.check, "collateral format");
  EXPECT_NE(f.reason.find("pck_crl"), std::string::npos) << f.reason;
  nlohmann::json bad_hex = good;
  bad_hex["root_ca_crl"] = "30zz";
  f = error_of(bad_hex);
  EXPECT_EQ(f.check, "collateral format");
  EXPECT_EQ(f.reason, "root_ca_crl is not hex");
  f = error_of(nlohmann::json::array());
  EXPECT_EQ(f.check, "collateral format");
}

TEST(AttestCollateral, TimesAreIsoUtcOrUnixSeconds) {
  EXPECT_EQ(parse_time("2025-06-20T00:00:00Z"), 1750377600);
  EXPECT_EQ(parse_time("2025-06-20T00:00:00.250Z"), 1750377600);
  EXPECT_EQ(parse_time("2025-06-20T00:00:00+00:00"), 1750377600);
  EXPECT_EQ(parse_time("1750377600"), 1750377600);
  EXPECT_EQ(format_time(1750377600), "2025-06-20T00:00:00Z");
  EXPECT_THROW(parse_time("2025-06-20"), std::invalid_argument);
  EXPECT_THROW(parse_time("2025-06-20T00:00:00+02:00"), std::invalid_argument);
  EXPECT_THROW(parse_time("2025-13-20T00:00:00Z"), std::invalid_argument);
  EXPECT_THROW(parse_time("2025-02-30T00:00:00Z"), std::invalid_argument);
  EXPECT_THROW(parse_time("99999999999999999999"), std::invalid_argument);  // not std::stoll's out_of_range
  EXPECT_EQ(format_time(parse_time("2024-02-29T23:59:59Z")), "2024-02-29T23:59:59Z");
  EXPECT_THROW(parse_time("yesterday"), std::invalid_argument);
}
