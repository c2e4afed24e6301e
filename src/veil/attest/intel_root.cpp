#include "veil/attest/intel_root.h"

#include <openssl/pem.h>

#include <stdexcept>

#include "veil/core/digest.h"

namespace veil::attest {
namespace {

// Intel SGX Root CA (CN=Intel SGX Root CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US), serial
// 22650cd65a9d3489f383b49552bf501b392706ac, valid 2018-05-21 to 2049-12-31, ECDSA P-256; Intel serves it
// at https://certificates.trustedservices.intel.com/IntelSGXRootCA.der. Taken from the issuer chains of
// the collateral in ../shared/data/sgx-dcap (all nine chains end in this certificate). Its DER's SHA-256,
// 44:A0:19:6B:...:74:D3, is the fingerprint independent verifiers pin too (e.g. the Intel root pins in
// public DCAP verifiers written in Go, Rust and TypeScript, which give the same serial and validity).
constexpr const char* kRootPem = R"(-----BEGIN CERTIFICATE-----
MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw
aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv
cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ
BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG
A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0
aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT
AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7
1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB
uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ
MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50
ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV
Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI
KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg
AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=
-----END CERTIFICATE-----
)";

X509* load() {
  BIO* bio = BIO_new_mem_buf(kRootPem, -1);
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!cert) throw std::logic_error("the pinned Intel SGX Root CA does not parse");
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  const std::string fp = hex(sha256(std::span<const uint8_t>(der, size_t(len > 0 ? len : 0))));
  OPENSSL_free(der);
  if (fp != kIntelSgxRootCaSha256) throw std::logic_error("the pinned Intel SGX Root CA has fingerprint " + fp);
  return cert;
}

}  // namespace

X509* intel_sgx_root_ca() {
  static X509* const root = load();
  return root;
}

}  // namespace veil::attest
