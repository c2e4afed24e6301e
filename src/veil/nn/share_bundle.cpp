#include "veil/nn/share_bundle.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>

#include "veil/core/digest.h"
#include "veil/model/safetensors.h"

#include <nlohmann/json.hpp>

namespace veil::nn {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw BundleError("share bundle " + path + ": " + what);
}

template <size_t N> std::array<uint8_t, N> to_le(uint64_t v) {
  std::array<uint8_t, N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = uint8_t(v >> (8 * i));
  return out;
}
template <size_t N> uint64_t from_le(const std::array<uint8_t, N>& b) {
  uint64_t v = 0;
  for (size_t i = 0; i < N; ++i) v |= uint64_t(b[i]) << (8 * i);
  return v;
}

std::span<const uint8_t> bytes_of(const BundleHeader& h) {
  return {reinterpret_cast<const uint8_t*>(&h), sizeof h};
}

bool tied_head(const PlanWeightShares& w) { return !w.count("lm_head.weight"); }

// A plan bundle's plaintext: FM32 shares widened to U64 (kept alive in `wide`).
std::vector<uint8_t> plan_plaintext_of(const ShareBundle& b, const std::string& path) {
  std::map<std::string, model::U64View> views;
  std::deque<std::vector<uint64_t>> wide;  // stable addresses
  nlohmann::json encodings = nlohmann::json::object();
  auto view = [&](const std::string& key, const Shape& shape, const auto& v) {
    if (int64_t(v.size()) != numel(shape)) fail(path, "weight '" + key + "' holds a pair that does not fit its shape " + shape_str(shape));
    if constexpr (sizeof(v[0]) == 8) return model::U64View{shape, v.data()};
    else {
      wide.emplace_back(v.begin(), v.end());
      return model::U64View{shape, wide.back().data()};
    }
  };
  for (const auto& [name, encs] : b.plan_weights)
    for (const RingTensor& t : encs) {
      const std::string key = std::string(ring_name(t.ring)) + "/" + name;
      if (encodings.contains(key)) fail(path, "weight '" + name + "' has two encodings on " + std::string(ring_name(t.ring)));
      encodings[key] = t.frac_bits;
      if (t.ring == Ring::FM32) {
        views.emplace("s0/" + key, view(key, t.shape, t.a32.s0));
        views.emplace("s1/" + key, view(key, t.shape, t.a32.s1));
      } else {
        views.emplace("s0/" + key, view(key, t.shape, t.a64.s0));
        views.emplace("s1/" + key, view(key, t.shape, t.a64.s1));
      }
    }
  const std::map<std::string, std::string> meta = {{"format", "veil-share-bundle"},
                                                   {"party", std::to_string(b.party)},
                                                   {"ring", "plan"},
                                                   {"config.json", b.config_json},
                                                   {"precision_plan", plan_json(*b.plan)},
                                                   {"plan_sha256", hex(plan_fingerprint(*b.plan))},
                                                   {"encodings", encodings.dump()}};
  return model::encode_safetensors_u64(views, meta, path);
}

std::vector<uint8_t> plaintext_of(const ShareBundle& b, const std::string& path) {
  if (b.plan) return plan_plaintext_of(b, path);
  std::map<std::string, model::U64View> views;
  for (const auto& [name, share] : b.weights) {
    if (int64_t(share.s0.size()) != numel(share.shape) || int64_t(share.s1.size()) != numel(share.shape))
      fail(path, "weight '" + name + "' holds a pair that does not fit its shape " + shape_str(share.shape));
    views.emplace("s0/" + name, model::U64View{share.shape, share.s0.data()});
    views.emplace("s1/" + name, model::U64View{share.shape, share.s1.data()});
  }
  const std::map<std::string, std::string> meta = {{"format", "veil-share-bundle"},
                                                   {"party", std::to_string(b.party)},
                                                   {"ring", "FM64"},
                                                   {"frac_bits", std::to_string(b.frac_bits)},
                                                   {"config.json", b.config_json}};
  return model::encode_safetensors_u64(views, meta, path);
}

// The weights of a plan bundle: each "s0/<ring>/<name>" with its "s1" twin, checked against the
// encodings the plan gives the weight.
void plan_bundle_of(const model::SafeTensors& st, const std::string& plan_text, const std::string& plan_sha,
                    const std::string& encodings_text, const std::string& path, ShareBundle& b) {
  try {
    b.plan = parse_precision_plan(plan_text, path + " (precision_plan)");
  } catch (const PlanError& e) {
    fail(path, e.what());
  }
  if (hex(plan_fingerprint(*b.plan)) != plan_sha) fail(path, "its plan does not match its plan_sha256 (modified?)");
  nlohmann::json enc;
  try {
    enc = nlohmann::json::parse(encodings_text);
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("its encodings are not valid JSON: ") + e.what());
  }
  for (const std::string& name : st.names()) {
    if (name.rfind("s1/", 0) == 0) {
      if (!st.contains("s0/" + name.substr(3))) fail(path, "tensor '" + name + "' has no s0 component");
      continue;
    }
    if (name.rfind("s0/", 0) != 0) fail(path, "unexpected tensor '" + name + "'");
    const std::string key = name.substr(3);
    const size_t slash = key.find('/');
    const std::string ring = key.substr(0, slash == std::string::npos ? 0 : slash), w = key.substr(slash + 1);
    if (ring != "FM32" && ring != "FM64") fail(path, "tensor '" + name + "' is on no ring (s0/FM32/<name> or s0/FM64/<name>)");
    if (!st.contains("s1/" + key)) fail(path, "tensor '" + name + "' has no s1 component");
    if (st.info(name).shape != st.info("s1/" + key).shape) fail(path, "the two components of '" + key + "' differ in shape");
    if (!enc.contains(key) || !enc[key].is_number_integer()) fail(path, "no fraction bits recorded for '" + key + "'");
    const int frac = enc[key].get<int>();
    std::vector<uint64_t> s0 = st.get_u64(name), s1 = st.get_u64("s1/" + key);
    RingTensor t;
    if (ring == "FM32") {
      for (const std::vector<uint64_t>* v : {&s0, &s1})
        if (std::any_of(v->begin(), v->end(), [](uint64_t x) { return x >> 32; }))
          fail(path, "'" + key + "' holds an FM32 share element of more than 32 bits");
      mpc::AShare<uint32_t> a(st.info(name).shape);
      a.s0.assign(s0.begin(), s0.end()), a.s1.assign(s1.begin(), s1.end());
      t = RingTensor::of(std::move(a), frac);
    } else {
      mpc::AShare<uint64_t> a(st.info(name).shape);
      a.s0 = std::move(s0), a.s1 = std::move(s1);
      t = RingTensor::of(std::move(a), frac);
    }
    t.weight = w;
    b.plan_weights[w].push_back(std::move(t));
  }
  const bool tied = tied_head(b.plan_weights);
  for (auto& [w, encs] : b.plan_weights) {
    std::vector<WeightEncoding> want;
    try {
      want = weight_encodings(*b.plan, w, tied);
    } catch (const PlanError& e) {
      fail(path, e.what());
    }
    std::vector<RingTensor> ordered;  // in the plan's order, as deal_plan_weights makes them
    for (const WeightEncoding& e : want) {
      auto it = std::find_if(encs.begin(), encs.end(), [&](const RingTensor& t) { return t.ring == e.ring; });
      if (it == encs.end() || it->frac_bits != e.frac_bits)
        fail(path, "weight '" + w + "' is not encoded on " + std::string(ring_name(e.ring)) + " with " +
                       std::to_string(e.frac_bits) + " fraction bits, as its plan asks");
      ordered.push_back(std::move(*it));
    }
    if (ordered.size() != encs.size()) fail(path, "weight '" + w + "' has encodings its plan does not use");
    encs = std::move(ordered);
  }
}

ShareBundle bundle_of(model::SafeTensors st, int expected_party, const std::string& path) {
  const auto& meta = st.metadata();
  auto field = [&](const std::string& key) {
    auto it = meta.find(key);
    if (it == meta.end()) fail(path, "the decrypted contents lack the '" + key + "' field");
    return it->second;
  };
  if (field("format") != "veil-share-bundle") fail(path, "the decrypted contents are not a share bundle");
  if (field("ring") != "FM64" && field("ring") != "plan")
    fail(path, "holds shares on ring " + field("ring") + ", this build reads FM64 and plan bundles");
  if (field("party") != std::to_string(expected_party))
    fail(path, "the decrypted contents belong to party " + field("party") + ", not " + std::to_string(expected_party));
  ShareBundle b;
  b.party = expected_party;
  if (field("ring") == "plan") {
    b.config_json = field("config.json");
    plan_bundle_of(st, field("precision_plan"), field("plan_sha256"), field("encodings"), path, b);
    return b;
  }
  try {
    b.frac_bits = std::stoi(field("frac_bits"));
  } catch (const std::exception&) {
    fail(path, "frac_bits '" + field("frac_bits") + "' is not a number");
  }
  b.config_json = field("config.json");
  for (const std::string& name : st.names()) {
    if (name.rfind("s0/", 0) != 0) {
      if (name.rfind("s1/", 0) != 0) fail(path, "unexpected tensor '" + name + "'");
      if (!st.contains("s0/" + name.substr(3))) fail(path, "tensor '" + name + "' has no s0 component");
      continue;
    }
    const std::string w = name.substr(3);
    if (!st.contains("s1/" + w)) fail(path, "tensor '" + name + "' has no s1 component");
    if (st.info(name).shape != st.info("s1/" + w).shape) fail(path, "the two components of '" + w + "' differ in shape");
    mpc::AShare<uint64_t> share;
    share.shape = st.info(name).shape;
    share.s0 = st.get_u64(name);
    share.s1 = st.get_u64("s1/" + w);
    b.weights.emplace(w, std::move(share));
  }
  return b;
}

}  // namespace

void write_share_bundle(const std::string& path, const ShareBundle& bundle, const AeadKey& key) {
  if (bundle.party < 0 || bundle.party > 2) fail(path, "party id must be 0, 1 or 2");
  std::vector<uint8_t> data = plaintext_of(bundle, path);
  const BundleHeader header{kBundleMagic, to_le<4>(kBundleVersion), to_le<4>(uint64_t(bundle.party)),
                            to_le<8>(data.size()), random_aead_nonce()};
  const AeadTag tag = aes256gcm_seal(key, header.nonce, bytes_of(header), data);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(path, std::string("cannot create: ") + std::strerror(errno));
  out.write(reinterpret_cast<const char*>(&header), sizeof header);
  out.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size()));
  out.write(reinterpret_cast<const char*>(tag.data()), std::streamsize(tag.size()));
  out.close();
  if (!out) fail(path, "write failed (disk full?)");
}

ShareBundle read_share_bundle(const std::string& path, const AeadKey& key, int expected_party) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) fail(path, "cannot read its size: " + ec.message());
  BundleHeader header{};
  if (size < sizeof header + sizeof(AeadTag) || !in.read(reinterpret_cast<char*>(&header), sizeof header))
    fail(path, "is " + std::to_string(size) + " bytes, too short for a bundle (truncated?)");
  if (header.magic != kBundleMagic) fail(path, "is not a veil share bundle (wrong magic)");
  if (from_le(header.version_le) != kBundleVersion)
    fail(path, "has format version " + std::to_string(from_le(header.version_le)) + ", this build reads version " +
                   std::to_string(kBundleVersion) + ": re-share the model with this veil version");
  if (from_le(header.party_le) != uint64_t(expected_party))
    fail(path, "is party " + std::to_string(from_le(header.party_le)) + "'s bundle, but this is party " +
                   std::to_string(expected_party) + ": pass party-" + std::to_string(expected_party) + ".bundle");
  const uint64_t length = from_le(header.length_le);
  const uint64_t expected = sizeof header + length + sizeof(AeadTag);
  if (length > size || size != expected)
    fail(path, "is " + std::to_string(size) + " bytes but its header announces " + std::to_string(expected) + " (" +
                   (size < expected ? "truncated" : "extra bytes after the end") + ")");
  std::vector<uint8_t> data(length);
  AeadTag tag;
  if (!in.read(reinterpret_cast<char*>(data.data()), std::streamsize(length)) ||
      !in.read(reinterpret_cast<char*>(tag.data()), std::streamsize(tag.size())))
    fail(path, "read failed");
  if (!aes256gcm_open(key, header.nonce, bytes_of(header), data, tag))
    fail(path, "authentication failed: wrong key for this bundle, or the bundle was modified");
  try {
    return bundle_of(model::SafeTensors(path, std::move(data)), expected_party, path);
  } catch (const model::SafetensorsError& e) {
    fail(path, std::string("the decrypted contents are malformed: ") + e.what());
  }
}

void write_bundle_key(const std::string& path, const AeadKey& key) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    throw BundleError("cannot write key file " + path + ": " + std::strerror(errno) +
                      (errno == EEXIST ? " (refusing to replace a key: remove it first, or pass --key-dir)" : ""));
  ::fchmod(fd, 0600);  // whatever the umask
  const std::string text = hex(key) + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size());
  ::close(fd);
  if (!ok) throw BundleError("cannot write key file " + path);
}

AeadKey read_bundle_key(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw BundleError("cannot open key file " + path + ": " + std::strerror(errno));
  std::string text;
  in >> text;
  AeadKey key{};
  auto digit = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; };
  bool ok = text.size() == 2 * key.size();
  for (size_t i = 0; ok && i < key.size(); ++i) {
    const int hi = digit(text[2 * i]), lo = digit(text[2 * i + 1]);
    ok = hi >= 0 && lo >= 0;
    key[i] = uint8_t(hi * 16 + lo);
  }
  if (!ok) throw BundleError("key file " + path + " does not hold a 256-bit key as 64 hexadecimal digits");
  return key;
}

}  // namespace veil::nn
