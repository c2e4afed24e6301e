// Intel DCAP ECDSA quotes: SGX quote v3, SGX/TDX quote v4, TDX quote v5 (TD report 1.5).
//
// All integers are little-endian. Offsets are from the start of the quote.
//
//   header            48 B   QuoteHeader
//   v3/v4: body      384 B   EnclaveReport (tee_type 0, SGX) or 584 B TdReport10 (tee_type 0x81, TDX)
//   v5:    body type  2 B    1 = SGX enclave report, 2 = TD report 1.0, 3 = TD report 1.5
//          body size  4 B    384, 584 or 648
//          body              EnclaveReport, TdReport10 or TdReport15
//   signature size    4 B    length of the signature data that follows
//   signature data:
//     quote signature       64 B   ECDSA P-256 r||s over header..body (everything before "signature size")
//     attestation key       64 B   P-256 public point x||y of the quoting enclave's attestation key
//     v4/v5 only: certification data header: type 2 B (6 = QE report certification data), size 4 B
//     QE report            384 B   EnclaveReport of the quoting enclave (QE); its report_data[0..32] is
//                                  SHA-256(attestation key || QE auth data)
//     QE report signature   64 B   ECDSA P-256 r||s over the QE report by the PCK certificate's key
//     QE auth data size      2 B, then the QE auth data
//     certification data: type 2 B (5 = PCK certificate chain, PEM), size 4 B, then the PEM chain
//                         (PCK certificate, PCK Platform/Processor CA, Intel SGX Root CA) and NUL padding
//   After the signature data the quote buffer may hold zero padding (the DCAP library allocates the
//   quote buffer before it knows the final size); anything else there is refused.
//
// Spec: Intel SGX ECDSA Quote Library API (appendix "Quote Format") and the Intel TDX DCAP Quoting
// Library API (quote v4/v5). The layouts below are pinned with static_assert.
#pragma once
#include <array>
#include <bit>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace veil::attest {

static_assert(std::endian::native == std::endian::little, "quote layouts are read as little-endian structs");

#pragma pack(push, 1)
struct QuoteHeader {
  uint16_t version;             // 3, 4 or 5
  uint16_t attestation_key_type;  // 2 = ECDSA-256 with P-256
  uint32_t tee_type;            // 0x00 SGX, 0x81 TDX (reserved = 0 in v3)
  uint16_t qe_svn;              // v3: QE SVN; v4/v5: reserved
  uint16_t pce_svn;             // v3: PCE SVN; v4/v5: reserved
  uint8_t qe_vendor_id[16];     // Intel's QE: 939a7233f79c4ca9940a0db3957f0607
  uint8_t user_data[20];        // first 16 bytes: platform identifier (QE-defined)
};
static_assert(sizeof(QuoteHeader) == 48);

// SGX REPORT body (an enclave's identity): the SGX quote's body and every quote's QE report.
struct EnclaveReport {
  uint8_t cpu_svn[16];
  uint32_t misc_select;
  uint8_t reserved1[28];
  uint8_t attributes[16];  // attributes[0] bit 1 = DEBUG
  uint8_t mr_enclave[32];
  uint8_t reserved2[32];
  uint8_t mr_signer[32];
  uint8_t reserved3[96];
  uint16_t isv_prod_id;
  uint16_t isv_svn;
  uint8_t reserved4[60];
  uint8_t report_data[64];
};
static_assert(sizeof(EnclaveReport) == 384);

// TDX TDREPORT body, version 1.0 (quote v4, or v5 with body type 2).
struct TdReport10 {
  uint8_t tee_tcb_svn[16];     // [0] TDX module ISV SVN, [1] TDX module major version, [2..] TCB components
  uint8_t mr_seam[48];         // measurement of the TDX module
  uint8_t mr_signer_seam[48];  // signer of the TDX module (zero for Intel's)
  uint8_t seam_attributes[8];
  uint8_t td_attributes[8];    // td_attributes[0] bit 0 = DEBUG
  uint8_t xfam[8];
  uint8_t mr_td[48];           // measurement of the initial TD contents
  uint8_t mr_config_id[48];
  uint8_t mr_owner[48];
  uint8_t mr_owner_config[48];
  uint8_t rtmr[4][48];         // runtime-extendable measurement registers 0..3
  uint8_t report_data[64];
};
static_assert(sizeof(TdReport10) == 584);

// TD report 1.5 (quote v5 with body type 3): 1.0 plus the second TCB SVN and the service TD measurement.
struct TdReport15 {
  TdReport10 base;
  uint8_t tee_tcb_svn2[16];
  uint8_t mr_service_td[48];
};
static_assert(sizeof(TdReport15) == 648);
#pragma pack(pop)

inline constexpr uint16_t kAttestationKeyEcdsaP256 = 2;
inline constexpr uint32_t kTeeSgx = 0x00;
inline constexpr uint32_t kTeeTdx = 0x81;
inline constexpr uint16_t kCertDataPckChain = 5;
inline constexpr uint16_t kCertDataQeReport = 6;
inline constexpr std::array<uint8_t, 16> kIntelQeVendorId = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                                             0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

enum class BodyKind { sgx_enclave, td_report10, td_report15 };

// A parsed quote. Fields are copies; `signed_data` is the exact byte range the quote signature covers.
struct Quote {
  QuoteHeader header;
  BodyKind body_kind;
  EnclaveReport enclave;  // body_kind == sgx_enclave
  TdReport15 td;          // td_report10: only td.base is meaningful
  std::vector<uint8_t> signed_data;
  std::array<uint8_t, 64> signature;
  std::array<uint8_t, 64> attestation_key;
  EnclaveReport qe_report;
  std::array<uint8_t, 384> qe_report_bytes;  // the bytes the QE report signature covers
  std::array<uint8_t, 64> qe_report_signature;
  std::vector<uint8_t> qe_auth_data;
  std::string pck_chain_pem;  // certification data type 5, NUL padding removed

  bool is_tdx() const { return body_kind != BodyKind::sgx_enclave; }
};

// Parses and checks the structure (versions, key type, TEE type, vendor, sizes, certification data
// types). Throws CheckFailed{"quote format", why}.
Quote parse_quote(std::span<const uint8_t> bytes);

}  // namespace veil::attest
