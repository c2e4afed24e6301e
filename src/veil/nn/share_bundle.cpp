#include "veil/nn/share_bundle.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "veil/core/digest.h"
#include "veil/model/safetensors.h"

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

std::vector<uint8_t> plaintext_of(const ShareBundle& b, const std::string& path) {
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

ShareBundle bundle_of(model::SafeTensors st, int expected_party, const std::string& path) {
  const auto& meta = st.metadata();
  auto field = [&](const std::string& key) {
    auto it = meta.find(key);
    if (it == meta.end()) fail(path, "the decrypted contents lack the '" + key + "' field");
    return it->second;
  };
  if (field("format") != "veil-share-bundle") fail(path, "the decrypted contents are not a share bundle");
  if (field("ring") != "FM64") fail(path, "holds shares on ring " + field("ring") + ", this build reads FM64");
  if (field("party") != std::to_string(expected_party))
    fail(path, "the decrypted contents belong to party " + field("party") + ", not " + std::to_string(expected_party));
  ShareBundle b;
  b.party = expected_party;
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
