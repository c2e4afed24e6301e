#include "veil/attest/quote.h"

#include <algorithm>
#include <cstring>

#include "veil/attest/check.h"

namespace veil::attest {
namespace {

[[noreturn]] void bad(const std::string& why) { throw CheckFailed("quote format", why); }

// A bounds-checked reader over the quote bytes; `what` names the field in the error.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  size_t pos() const { return pos_; }
  std::span<const uint8_t> take(size_t n, const char* what) {
    if (n > b_.size() - pos_)
      bad(std::string("quote ends inside the ") + what + " (needs " + std::to_string(n) + " bytes at offset " +
          std::to_string(pos_) + ", " + std::to_string(b_.size() - pos_) + " left)");
    auto s = b_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  template <class T>
  T read(const char* what) {
    T v;
    std::memcpy(&v, take(sizeof(T), what).data(), sizeof(T));
    return v;
  }
  template <size_t N>
  std::array<uint8_t, N> array(const char* what) {
    std::array<uint8_t, N> a;
    auto s = take(N, what);
    std::copy(s.begin(), s.end(), a.begin());
    return a;
  }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
};

void check_header(const QuoteHeader& h) {
  if (h.version < 3 || h.version > 5) bad("unsupported quote version " + std::to_string(h.version) + " (3, 4 or 5)");
  if (h.attestation_key_type != kAttestationKeyEcdsaP256)
    bad("attestation key type " + std::to_string(h.attestation_key_type) + " is not ECDSA P-256 (2)");
  if (h.tee_type != kTeeSgx && h.tee_type != kTeeTdx) bad("unknown TEE type " + std::to_string(h.tee_type));
  if (h.version == 3 && h.tee_type != kTeeSgx) bad("quote v3 carries only SGX enclave reports");
  if (!std::equal(kIntelQeVendorId.begin(), kIntelQeVendorId.end(), h.qe_vendor_id))
    bad("QE vendor id is not Intel's quoting enclave");
}

void read_body(Reader& r, Quote& q) {
  const QuoteHeader& h = q.header;
  if (h.version < 5) {
    if (h.tee_type == kTeeSgx) {
      q.body_kind = BodyKind::sgx_enclave;
      q.enclave = r.read<EnclaveReport>("enclave report");
    } else {
      q.body_kind = BodyKind::td_report10;
      q.td.base = r.read<TdReport10>("TD report");
    }
    return;
  }
  const auto type = r.read<uint16_t>("body type");
  const auto size = r.read<uint32_t>("body size");
  if (type == 1 && size == sizeof(EnclaveReport) && h.tee_type == kTeeSgx) {
    q.body_kind = BodyKind::sgx_enclave;
    q.enclave = r.read<EnclaveReport>("enclave report");
  } else if (type == 2 && size == sizeof(TdReport10) && h.tee_type == kTeeTdx) {
    q.body_kind = BodyKind::td_report10;
    q.td.base = r.read<TdReport10>("TD report");
  } else if (type == 3 && size == sizeof(TdReport15) && h.tee_type == kTeeTdx) {
    q.body_kind = BodyKind::td_report15;
    q.td = r.read<TdReport15>("TD report 1.5");
  } else {
    bad("body type " + std::to_string(type) + " with size " + std::to_string(size) + " does not fit TEE type " +
        std::to_string(h.tee_type) + " (1/384 SGX, 2/584 or 3/648 TDX)");
  }
}

// The PEM chain of certification data type 5: PEM text followed by at most NUL padding.
std::string pem_chain(std::span<const uint8_t> data) {
  size_t end = data.size();
  while (end > 0 && data[end - 1] == 0) --end;
  if (std::find(data.begin(), data.begin() + end, 0) != data.begin() + end)
    bad("NUL byte inside the PCK certificate chain");
  return std::string(reinterpret_cast<const char*>(data.data()), end);
}

}  // namespace

Quote parse_quote(std::span<const uint8_t> bytes) {
  Reader r(bytes);
  Quote q{};
  q.header = r.read<QuoteHeader>("header");
  check_header(q.header);
  read_body(r, q);
  auto signed_len = r.pos();
  q.signed_data.assign(bytes.begin(), bytes.begin() + signed_len);

  const auto sig_size = r.read<uint32_t>("signature data size");
  Reader s(r.take(sig_size, "signature data"));
  for (size_t i = r.pos(); i < bytes.size(); ++i)
    if (bytes[i] != 0) bad("non-zero byte at offset " + std::to_string(i) + " after the signature data");

  q.signature = s.array<64>("quote signature");
  q.attestation_key = s.array<64>("attestation key");
  if (q.header.version >= 4) {
    const auto type = s.read<uint16_t>("certification data type");
    const auto size = s.read<uint32_t>("certification data size");
    if (type != kCertDataQeReport)
      bad("certification data type " + std::to_string(type) + " is not QE report certification data (6)");
    if (size != sig_size - (64 + 64 + 6))
      bad("QE report certification data size " + std::to_string(size) + " does not fill the signature data");
  }
  q.qe_report_bytes = s.array<384>("QE report");
  std::memcpy(&q.qe_report, q.qe_report_bytes.data(), sizeof(EnclaveReport));
  q.qe_report_signature = s.array<64>("QE report signature");
  const auto auth_size = s.read<uint16_t>("QE auth data size");
  auto auth = s.take(auth_size, "QE auth data");
  q.qe_auth_data.assign(auth.begin(), auth.end());

  const auto cert_type = s.read<uint16_t>("PCK certification data type");
  const auto cert_size = s.read<uint32_t>("PCK certification data size");
  if (cert_type != kCertDataPckChain)
    bad("PCK certification data type " + std::to_string(cert_type) + " is not a PEM PCK certificate chain (5)");
  q.pck_chain_pem = pem_chain(s.take(cert_size, "PCK certificate chain"));
  if (s.pos() != sig_size)
    bad(std::to_string(sig_size - s.pos()) + " bytes left over at the end of the signature data");
  return q;
}

}  // namespace veil::attest
