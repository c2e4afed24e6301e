// Single-byte corruption sweeps: every byte of each of the three sample quotes, and every byte of every
// collateral field of the SGX and the TDX v4 sample (the PEM text of the issuer chains, the decoded bytes
// of the hex CRLs and signatures, the signed TCB info and QE identity text), is flipped (XOR 0x01) in
// turn; every such quote or collateral must be refused, by a named check. The baseline of the outdated TDX sample fails at "tcb level" (see
// verify_test.cpp), so its corruptions must fail at an earlier check.
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <span>

#include "attest/attest_test_util.h"

using namespace veil::attest;
using namespace veil::attest::test;

namespace {

const std::set<std::string> kChecks = {"quote format", "root ca crl", "pck crl",         "pck chain",
                                       "pck extension", "tcb info",  "qe identity",     "qe report signature",
                                       "qe report data", "quote signature", "tdx module", "tcb level"};

Sample sample_named(const std::string& name) {
  if (name == "sgx_quote") return sgx_sample();
  if (name == "tdx_quote") return tdx_sample();
  return tdx_outdated_sample();
}

// Flips each byte of `bytes` in turn, runs `verify_now` and collects the offsets that were not refused
// as they must be.
template <class Verify>
std::vector<size_t> sweep(std::span<uint8_t> bytes, bool baseline_ok, Verify verify_now, std::string* example) {
  std::vector<size_t> accepted;
  for (size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] ^= 0x01;
    const VerifyResult r = verify_now();
    bytes[i] ^= 0x01;
    const bool refused = !r.ok() && kChecks.count(r.failure->check) && !r.failure->reason.empty() &&
                         (baseline_ok || r.failure->check != "tcb level");
    if (!refused) {
      if (accepted.empty()) *example = describe(r);
      accepted.push_back(i);
    }
  }
  return accepted;
}

std::string first_offsets(const std::vector<size_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < 10; ++i) s += std::to_string(v[i]) + " ";
  return s;
}

class QuoteSweep : public testing::TestWithParam<std::string> {};

TEST_P(QuoteSweep, EveryByteOfTheQuoteIsCovered) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  Sample s = sample_named(GetParam());
  const bool baseline_ok = verify(s).ok();
  std::string example;
  auto accepted = sweep(s.quote, baseline_ok, [&] { return verify(s); }, &example);
  EXPECT_TRUE(accepted.empty()) << accepted.size() << " of " << s.quote.size() << " corrupted quotes were not refused"
                                << " (offsets " << first_offsets(accepted) << "; first: " << example << ")";
}

INSTANTIATE_TEST_SUITE_P(Samples, QuoteSweep, testing::Values("sgx_quote", "tdx_quote", "tdx_quote_outdated"));

struct Field {
  const char* name;
  std::function<std::span<uint8_t>(Collateral&)> bytes;
};

std::span<uint8_t> of(std::string& s) { return {reinterpret_cast<uint8_t*>(s.data()), s.size()}; }
std::span<uint8_t> of(std::vector<uint8_t>& v) { return v; }

const std::vector<Field> kFields = {
    {"tcb_info", [](Collateral& c) { return of(c.tcb_info); }},
    {"tcb_info_signature", [](Collateral& c) { return of(c.tcb_info_signature); }},
    {"tcb_info_issuer_chain", [](Collateral& c) { return of(c.tcb_info_issuer_chain); }},
    {"qe_identity", [](Collateral& c) { return of(c.qe_identity); }},
    {"qe_identity_signature", [](Collateral& c) { return of(c.qe_identity_signature); }},
    {"qe_identity_issuer_chain", [](Collateral& c) { return of(c.qe_identity_issuer_chain); }},
    {"pck_crl", [](Collateral& c) { return of(c.pck_crl); }},
    {"pck_crl_issuer_chain", [](Collateral& c) { return of(c.pck_crl_issuer_chain); }},
    {"root_ca_crl", [](Collateral& c) { return of(c.root_ca_crl); }},
};

class CollateralSweep : public testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(CollateralSweep, EveryByteOfTheFieldIsCovered) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  Sample s = sample_named(std::get<0>(GetParam()));
  const Field& field = kFields[size_t(std::get<1>(GetParam()))];
  const bool baseline_ok = verify(s).ok();
  std::span<uint8_t> bytes = field.bytes(s.collateral);
  ASSERT_FALSE(bytes.empty()) << field.name;
  std::string example;
  auto accepted = sweep(bytes, baseline_ok, [&] { return verify(s); }, &example);
  EXPECT_TRUE(accepted.empty()) << field.name << ": " << accepted.size() << " of " << bytes.size()
                                << " corruptions were not refused (offsets " << first_offsets(accepted)
                                << "; first: " << example << ")";
}

INSTANTIATE_TEST_SUITE_P(Samples, CollateralSweep,
                         testing::Combine(testing::Values("sgx_quote", "tdx_quote"),
                                          testing::Range(0, int(kFields.size()))),
                         [](const testing::TestParamInfo<std::tuple<std::string, int>>& info) {
                           return std::get<0>(info.param) + "_" + kFields[size_t(std::get<1>(info.param))].name;
                         });

}  // namespace
