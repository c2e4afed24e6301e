#include "veil/attest/pck_extension.h"

#include <openssl/objects.h>

#include <algorithm>
#include <cctype>
#include <span>
#include <string>
#include <vector>

#include "veil/attest/check.h"

namespace veil::attest {
namespace {

[[noreturn]] void bad(const std::string& why) { throw CheckFailed("pck extension", why); }

constexpr std::string_view kSgxOid = "1.2.840.113741.1.13.1";

// One DER TLV (single-byte tags, definite lengths of up to four bytes).
struct Tlv {
  uint8_t tag;
  std::span<const uint8_t> value;
};

Tlv next_tlv(std::span<const uint8_t>& in) {
  if (in.size() < 2) bad("truncated DER");
  const uint8_t tag = in[0];
  size_t len = in[1], hdr = 2;
  if (len & 0x80) {
    const size_t n = len & 0x7f;
    if (n == 0 || n > 4 || in.size() < 2 + n) bad("bad DER length");
    len = 0;
    for (size_t i = 0; i < n; ++i) len = (len << 8) | in[2 + i];
    hdr += n;
  }
  if (len > in.size() - hdr) bad("DER length past the end");
  Tlv t{tag, in.subspan(hdr, len)};
  in = in.subspan(hdr + len);
  return t;
}

std::string oid_text(std::span<const uint8_t> oid_value) {
  ASN1_OBJECT* obj = nullptr;
  std::vector<uint8_t> der = {0x06, uint8_t(oid_value.size())};
  if (oid_value.size() > 127) bad("OID too long");
  der.insert(der.end(), oid_value.begin(), oid_value.end());
  const unsigned char* p = der.data();
  if (!d2i_ASN1_OBJECT(&obj, &p, long(der.size()))) bad("bad OID");
  char buf[128];
  const int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
  ASN1_OBJECT_free(obj);
  if (n <= 0 || n >= int(sizeof buf)) bad("bad OID");
  return std::string(buf, size_t(n));
}

// The entries of a SEQUENCE OF SEQUENCE { OID, value } under `prefix`, passed to `f(suffix, value tlv)`.
template <class F>
void for_each_entry(std::span<const uint8_t> seq, std::string_view prefix, F f) {
  while (!seq.empty()) {
    Tlv entry = next_tlv(seq);
    if (entry.tag != 0x30) bad("entry is not a SEQUENCE");
    auto body = entry.value;
    Tlv oid = next_tlv(body);
    if (oid.tag != 0x06) bad("entry does not start with an OID");
    Tlv value = next_tlv(body);
    if (!body.empty()) bad("entry has more than an OID and a value");
    const std::string name = oid_text(oid.value);
    if (name.size() <= prefix.size() + 1 || name.compare(0, prefix.size(), prefix) != 0 || name[prefix.size()] != '.')
      bad("entry " + name + " is not under " + std::string(prefix));
    f(name.substr(prefix.size() + 1), value);
  }
}

template <size_t N>
void octets(const Tlv& t, std::array<uint8_t, N>& out, const char* what) {
  if (t.tag != 0x04 || t.value.size() != N) bad(std::string(what) + " is not an OCTET STRING of " + std::to_string(N) + " bytes");
  std::copy(t.value.begin(), t.value.end(), out.begin());
}

unsigned integer(const Tlv& t, unsigned max, const char* what) {
  if (t.tag != 0x02 || t.value.empty() || t.value.size() > 3 || (t.value[0] & 0x80)) bad(std::string(what) + " is not a small INTEGER");
  unsigned v = 0;
  for (uint8_t b : t.value) v = (v << 8) | b;
  if (v > max) bad(std::string(what) + " is out of range");
  return v;
}

}  // namespace

PckExtension parse_pck_extension(X509* pck_cert) {
  ASN1_OBJECT* sgx = OBJ_txt2obj(kSgxOid.data(), 1);
  const int idx = X509_get_ext_by_OBJ(pck_cert, sgx, -1);
  ASN1_OBJECT_free(sgx);
  if (idx < 0) bad("the PCK certificate has no Intel SGX extension");
  ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(X509_get_ext(pck_cert, idx));
  std::span<const uint8_t> der(ASN1_STRING_get0_data(data), size_t(ASN1_STRING_length(data)));
  Tlv top = next_tlv(der);
  if (top.tag != 0x30 || !der.empty()) bad("the SGX extension is not one SEQUENCE");

  PckExtension ext{};
  unsigned seen = 0, tcb_seen = 0;  // bit masks of the entries found
  for_each_entry(top.value, kSgxOid, [&](const std::string& id, const Tlv& v) {
    if (id == "1") octets(v, ext.ppid, "PPID"), seen |= 1;
    else if (id == "3") octets(v, ext.pce_id, "PCE-ID"), seen |= 2;
    else if (id == "4") octets(v, ext.fmspc, "FMSPC"), seen |= 4;
    else if (id == "2") {
      if (v.tag != 0x30) bad("TCB is not a SEQUENCE");
      seen |= 8;
      for_each_entry(v.value, std::string(kSgxOid) + ".2", [&](const std::string& c, const Tlv& cv) {
        const int n = (c.size() <= 2 && std::all_of(c.begin(), c.end(), ::isdigit)) ? std::stoi(c) : 0;
        if (n < 1 || n > 18) bad("unknown TCB entry " + c);
        if (n <= 16) ext.tcb_components[size_t(n - 1)] = uint8_t(integer(cv, 255, "TCB component SVN"));
        else if (n == 17) ext.pce_svn = uint16_t(integer(cv, 65535, "PCE SVN"));
        else octets(cv, ext.cpu_svn, "CPUSVN");
        tcb_seen |= 1u << (n - 1);
      });
    }
  });
  if (seen != 15) bad("the SGX extension lacks PPID, TCB, PCE-ID or FMSPC");
  if (tcb_seen != (1u << 18) - 1) bad("the TCB lacks some of its 16 component SVNs, PCE SVN and CPUSVN");
  return ext;
}

}  // namespace veil::attest
