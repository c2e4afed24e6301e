#include "veil/attest/collateral.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <limits>
#include <stdexcept>

#include "veil/attest/check.h"
#include "veil/core/utc_time.h"

namespace veil::attest {
namespace {

using json = nlohmann::json;

std::vector<uint8_t> from_hex(std::string_view s, const std::string& check, const std::string& what) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (s.size() % 2) throw CheckFailed(check, what + " has an odd number of hex digits");
  std::vector<uint8_t> out(s.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
    if (hi < 0 || lo < 0) throw CheckFailed(check, what + " is not hex");
    out[i] = uint8_t(hi << 4 | lo);
  }
  return out;
}

template <size_t N>
std::array<uint8_t, N> hex_array(const json& j, const char* key, const std::string& check) {
  auto v = from_hex(j.at(key).get<std::string>(), check, key);
  if (v.size() != N) throw CheckFailed(check, std::string(key) + " is not " + std::to_string(N) + " bytes");
  std::array<uint8_t, N> a;
  std::copy(v.begin(), v.end(), a.begin());
  return a;
}

uint32_t hex_u32(const json& j, const char* key, const std::string& check) {
  auto a = hex_array<4>(j, key, check);  // PCS writes miscselect big-endian as text; the report holds a uint32
  return uint32_t(a[0]) << 24 | uint32_t(a[1]) << 16 | uint32_t(a[2]) << 8 | a[3];
}

int64_t date(const json& j, const char* key, const std::string& check) {
  try {
    return parse_time(j.at(key).get<std::string>());
  } catch (const std::invalid_argument& e) {
    throw CheckFailed(check, std::string(key) + ": " + e.what());
  }
}

std::vector<std::string> advisories(const json& level) {
  return level.contains("advisoryIDs") ? level["advisoryIDs"].get<std::vector<std::string>>() : std::vector<std::string>{};
}

// An SVN or id: a non-negative integer that fits T (nlohmann's get<T> would wrap silently).
template <class T>
T small(const json& j, const std::string& check) {
  if (!j.is_number_unsigned() || j.get<uint64_t>() > std::numeric_limits<T>::max())
    throw CheckFailed(check, "expected an integer from 0 to " + std::to_string(std::numeric_limits<T>::max()) +
                                 ", got " + j.dump());
  return j.get<T>();
}

std::array<uint8_t, 16> components(const json& list, const std::string& check) {
  if (!list.is_array() || list.size() != 16) throw CheckFailed(check, "a TCB level does not have 16 components");
  std::array<uint8_t, 16> a;
  for (size_t i = 0; i < 16; ++i) a[i] = small<uint8_t>(list[i].at("svn"), check);
  return a;
}

std::vector<IsvTcbLevel> isv_levels(const json& list, const std::string& check) {
  std::vector<IsvTcbLevel> out;
  for (const json& l : list)
    out.push_back({small<uint16_t>(l.at("tcb").at("isvsvn"), check), l.at("tcbStatus").get<std::string>(), advisories(l)});
  return out;
}

TdxModuleIdentity module_identity(const json& j, const std::string& check) {
  TdxModuleIdentity m;
  m.id = j.value("id", "");
  m.mr_signer = hex_array<48>(j, "mrsigner", check);
  m.attributes = hex_array<8>(j, "attributes", check);
  m.attributes_mask = hex_array<8>(j, "attributesMask", check);
  if (j.contains("tcbLevels")) m.levels = isv_levels(j["tcbLevels"], check);
  return m;
}

// Runs `f` and turns JSON shape errors (missing member, wrong type, out of range) into CheckFailed.
template <class F>
auto shaped(const std::string& check, F f) {
  try {
    return f();
  } catch (const json::exception& e) {
    throw CheckFailed(check, std::string("unexpected JSON: ") + e.what());
  }
}

}  // namespace

Collateral parse_collateral(std::string_view text) {
  const std::string check = "collateral format";
  return shaped(check, [&] {
    const json j = json::parse(text);
    auto str = [&](const char* key) { return j.at(key).get<std::string>(); };
    auto hex = [&](const char* key) { return from_hex(str(key), check, key); };
    Collateral c;
    c.tcb_info = str("tcb_info");
    c.tcb_info_signature = hex("tcb_info_signature");
    c.tcb_info_issuer_chain = str("tcb_info_issuer_chain");
    c.qe_identity = str("qe_identity");
    c.qe_identity_signature = hex("qe_identity_signature");
    c.qe_identity_issuer_chain = str("qe_identity_issuer_chain");
    c.pck_crl = hex("pck_crl");
    c.pck_crl_issuer_chain = str("pck_crl_issuer_chain");
    c.root_ca_crl = hex("root_ca_crl");
    return c;
  });
}

TcbInfo parse_tcb_info(std::string_view text) {
  const std::string check = "tcb info";
  return shaped(check, [&] {
    const json j = json::parse(text);
    TcbInfo t;
    t.version = j.at("version").get<int>();
    if (t.version != 2 && t.version != 3) throw CheckFailed(check, "unsupported version " + std::to_string(t.version));
    t.id = t.version == 3 ? j.at("id").get<std::string>() : "SGX";
    t.issue_date = date(j, "issueDate", check);
    t.next_update = date(j, "nextUpdate", check);
    t.fmspc = hex_array<6>(j, "fmspc", check);
    t.pce_id = hex_array<2>(j, "pceId", check);
    for (const json& l : j.at("tcbLevels")) {
      const json& tcb = l.at("tcb");
      TcbLevel level;
      if (t.version == 3) {
        level.sgx_components = components(tcb.at("sgxtcbcomponents"), check);
        if (tcb.contains("tdxtcbcomponents")) level.tdx_components = components(tcb["tdxtcbcomponents"], check);
      } else {  // v2: sgxtcbcomp01svn .. sgxtcbcomp16svn
        for (size_t i = 0; i < 16; ++i) {
          char key[20];
          std::snprintf(key, sizeof key, "sgxtcbcomp%02zusvn", i + 1);
          level.sgx_components[i] = small<uint8_t>(tcb.at(key), check);
        }
      }
      level.pce_svn = small<uint16_t>(tcb.at("pcesvn"), check);
      level.status = l.at("tcbStatus").get<std::string>();
      level.advisory_ids = advisories(l);
      t.levels.push_back(std::move(level));
    }
    if (j.contains("tdxModule")) t.tdx_module = module_identity(j["tdxModule"], check);
    if (j.contains("tdxModuleIdentities"))
      for (const json& m : j["tdxModuleIdentities"]) t.tdx_module_identities.push_back(module_identity(m, check));
    return t;
  });
}

QeIdentity parse_qe_identity(std::string_view text) {
  const std::string check = "qe identity";
  return shaped(check, [&] {
    const json j = json::parse(text);
    QeIdentity q;
    q.id = j.at("id").get<std::string>();
    q.version = j.at("version").get<int>();
    if (q.version != 2) throw CheckFailed(check, "unsupported version " + std::to_string(q.version));
    q.issue_date = date(j, "issueDate", check);
    q.next_update = date(j, "nextUpdate", check);
    q.miscselect = hex_u32(j, "miscselect", check);
    q.miscselect_mask = hex_u32(j, "miscselectMask", check);
    q.attributes = hex_array<16>(j, "attributes", check);
    q.attributes_mask = hex_array<16>(j, "attributesMask", check);
    q.mr_signer = hex_array<32>(j, "mrsigner", check);
    q.isv_prod_id = small<uint16_t>(j.at("isvprodid"), check);
    q.levels = isv_levels(j.at("tcbLevels"), check);
    return q;
  });
}

}  // namespace veil::attest
