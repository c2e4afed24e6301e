// The Intel SGX extension (OID 1.2.840.113741.1.13.1) of a PCK certificate: which platform (FMSPC,
// PCE-ID) and at which TCB (16 SGX TCB component SVNs, PCE SVN, CPUSVN) the certificate was issued for.
//
//   SGX Extensions ::= SEQUENCE OF SEQUENCE { OID, value }
//     .1 PPID OCTET STRING(16)     .2 TCB SEQUENCE { .2.1 .. .2.16 INTEGER (component SVNs),
//     .3 PCE-ID OCTET STRING(2)                      .2.17 INTEGER (PCE SVN), .2.18 OCTET STRING(16) CPUSVN }
//     .4 FMSPC OCTET STRING(6)     .5 SGX type ENUMERATED, and more that are not read here
// Spec: Intel SGX PCK Certificate and CRL Profile Specification, section "Intel SGX PCK Certificate".
#pragma once
#include <openssl/x509.h>

#include <array>
#include <cstdint>

namespace veil::attest {

struct PckExtension {
  std::array<uint8_t, 16> ppid;
  std::array<uint8_t, 16> tcb_components;  // SGX TCB component SVNs 1..16
  uint16_t pce_svn;
  std::array<uint8_t, 16> cpu_svn;
  std::array<uint8_t, 2> pce_id;
  std::array<uint8_t, 6> fmspc;
};

// Throws CheckFailed{"pck extension", why} if the extension is missing or malformed.
PckExtension parse_pck_extension(X509* pck_cert);

}  // namespace veil::attest
