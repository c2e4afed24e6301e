// The real DCAP samples in ../shared/data/sgx-dcap (from Phala-Network/dcap-qvl, MIT): an SGX quote v3,
// a TDX quote v4 and a TDX quote v5 with an out-of-date TCB, each with the collateral PCS served for it.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "veil/attest/collateral.h"
#include "veil/attest/verify.h"
#include "veil/core/utc_time.h"

namespace veil::attest::test {

inline std::string sample_dir() { return std::string(VEIL_SOURCE_DIR) + "/../shared/data/sgx-dcap"; }

#define VEIL_REQUIRE_DCAP_SAMPLES()                                                                      \
  do {                                                                                                   \
    if (!std::filesystem::exists(::veil::attest::test::sample_dir() + "/sgx_quote"))                     \
      GTEST_SKIP() << "the DCAP samples are not in " << ::veil::attest::test::sample_dir()               \
                   << " (sgx_quote, tdx_quote, tdx_quote_outdated and their *_collateral.json)";        \
  } while (0)

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

struct Sample {
  std::string name;
  std::vector<uint8_t> quote;
  std::string collateral_json;
  Collateral collateral;
  int64_t at;  // a time when every piece of the collateral is valid
};

// `name`: "sgx_quote", "tdx_quote" or "tdx_quote_outdated".
inline Sample load_sample(const std::string& name, const std::string& at) {
  Sample s;
  s.name = name;
  const std::string q = slurp(sample_dir() + "/" + name);
  s.quote.assign(q.begin(), q.end());
  s.collateral_json = slurp(sample_dir() + "/" + name + "_collateral.json");
  s.collateral = parse_collateral(s.collateral_json);
  s.at = parse_time(at);
  return s;
}

// The collateral is issued on 2025-06-19 (SGX, TDX) and 2026-02-18 (outdated TDX) and valid for 30 days.
inline Sample sgx_sample() { return load_sample("sgx_quote", "2025-06-20T00:00:00Z"); }
inline Sample tdx_sample() { return load_sample("tdx_quote", "2025-06-20T00:00:00Z"); }
inline Sample tdx_outdated_sample() { return load_sample("tdx_quote_outdated", "2026-02-20T00:00:00Z"); }

inline VerifyResult verify(const Sample& s) { return verify_quote(s.quote, s.collateral, s.at); }

inline std::string describe(const VerifyResult& r) {
  return r.ok() ? "verified" : r.failure->check + ": " + r.failure->reason;
}

}  // namespace veil::attest::test
