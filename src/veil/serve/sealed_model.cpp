#include "veil/serve/sealed_model.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <vector>

#include "veil/core/file_read.h"
#include "veil/model/checkpoint_layout.h"
#include "veil/model/safetensors.h"

namespace veil::serve {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw SealedModelError("sealed model " + path + ": " + what);
}

std::vector<uint8_t> slurp(const std::string& path, const std::string& what) {
  const std::optional<std::string> bytes = read_file(path);
  if (!bytes) throw SealedModelError("cannot read " + what + " " + path);
  return {bytes->begin(), bytes->end()};
}

void put_le(uint8_t* out, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = uint8_t(v >> (8 * i));
}
uint64_t get_le(const uint8_t* in, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t(in[i]) << (8 * i);
  return v;
}

std::span<const uint8_t> header_bytes(const SealedModelHeader& h) { return {reinterpret_cast<const uint8_t*>(&h), sizeof h}; }

}  // namespace

void seal_model(const std::string& dir, const std::string& path, const AeadKey& key) {
  nn::load_gpt2_checkpoint(dir);  // the folder must be a model this build serves
  const std::vector<uint8_t> config = slurp(dir + "/config.json", "config");
  const std::vector<uint8_t> weights = slurp(dir + "/model.safetensors", "weights");
  std::vector<uint8_t> data(8 + config.size() + weights.size());
  put_le(data.data(), config.size(), 8);
  std::memcpy(data.data() + 8, config.data(), config.size());
  std::memcpy(data.data() + 8 + config.size(), weights.data(), weights.size());

  SealedModelHeader h{};
  h.magic = kSealedModelMagic;
  put_le(h.version_le.data(), kSealedModelVersion, 4);
  put_le(h.length_le.data(), data.size(), 8);
  h.nonce = random_aead_nonce();
  const AeadTag tag = aes256gcm_seal(key, h.nonce, header_bytes(h), data);

  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, std::string("cannot create it: ") + std::strerror(errno));
  bool ok = true;
  for (std::span<const uint8_t> part : {header_bytes(h), std::span<const uint8_t>(data), std::span<const uint8_t>(tag)})
    ok = ok && ::write(fd, part.data(), part.size()) == ssize_t(part.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok) {
    std::filesystem::remove(path);
    fail(path, "cannot write it");
  }
}

OpenedModel open_sealed_model(const std::string& path, const AeadKey& key) {
  std::vector<uint8_t> file;
  try {
    file = slurp(path, "sealed model");
  } catch (const SealedModelError&) {
    fail(path, "cannot read it");
  }
  SealedModelHeader h{};
  if (file.size() < sizeof h + sizeof(AeadTag)) fail(path, "too short to be a sealed model (" + std::to_string(file.size()) + " bytes)");
  std::memcpy(&h, file.data(), sizeof h);
  if (h.magic != kSealedModelMagic) fail(path, "not a sealed model (no veil-tsm magic; a share bundle is for `veil party`)");
  const uint64_t version = get_le(h.version_le.data(), 4);
  if (version != kSealedModelVersion)
    fail(path, "version " + std::to_string(version) + ", this build reads version " + std::to_string(kSealedModelVersion));
  const uint64_t length = get_le(h.length_le.data(), 8);
  if (length != file.size() - sizeof h - sizeof(AeadTag))
    fail(path, "its header says " + std::to_string(length) + " bytes of contents, the file holds " +
                   std::to_string(file.size() - sizeof h - sizeof(AeadTag)) + " (cut short or extended)");
  AeadTag tag;
  std::memcpy(tag.data(), file.data() + sizeof h + length, tag.size());
  std::span<uint8_t> data(file.data() + sizeof h, length);
  if (!aes256gcm_open(key, h.nonce, header_bytes(h), data, tag))
    fail(path, "does not open with this key: wrong key, or the file was modified");
  if (length < 8 || get_le(data.data(), 8) > length - 8) fail(path, "the decrypted contents are not a sealed model");
  const size_t config_len = get_le(data.data(), 8);
  OpenedModel m;
  m.config_json.assign(reinterpret_cast<const char*>(data.data() + 8), config_len);
  m.config_sha256 = sha256(m.config_json);
  try {
    m.config = model::parse_gpt2_config(nlohmann::json::parse(m.config_json), path + " (config.json)");
    const model::SafeTensors st(path + " (model.safetensors)",
                                std::vector<uint8_t>(data.begin() + 8 + std::ptrdiff_t(config_len), data.end()));
    for (const auto& [canonical, stored] : model::match_gpt2_checkpoint(st, m.config))
      m.weights.emplace(canonical, st.get_f32(stored));
  } catch (const std::exception& e) {
    fail(path, e.what());
  }
  std::fill(file.begin(), file.end(), 0);
  return m;
}

}  // namespace veil::serve
