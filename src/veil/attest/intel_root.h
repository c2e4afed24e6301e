// Intel's SGX Root CA: the one trust anchor of every DCAP quote (PCK chains), TCB info and QE identity
// (TCB Signing chain) and CRL.
#pragma once
#include <openssl/x509.h>

#include <string_view>

namespace veil::attest {

// SHA-256 of the certificate's DER, as others publish it (see intel_root.cpp).
inline constexpr std::string_view kIntelSgxRootCaSha256 =
    "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";

// The pinned certificate (parsed once; owned by the function, do not free).
X509* intel_sgx_root_ca();

}  // namespace veil::attest
