// Sealed model: a plaintext GPT-2 (config.json and model.safetensors) encrypted at rest for a TEE
// worker (serve/tee_worker.h), which opens it in memory with the key the KMS releases to it once
// its attestation evidence is accepted. Unlike a share bundle (nn/share_bundle.h), it holds the
// whole model in the clear once opened: only a worker inside an enclave or confidential VM should
// hold its key.
//
// File layout (integers little-endian):
//   SealedModelHeader (36 bytes) = magic "veil-tsm" (8) | version u32 (4) | reserved u32 (4, zero)
//                                  | plaintext length u64 (8) | nonce (12)
//   ciphertext (plaintext length bytes)
//   tag (16)
// Encryption: AES-256-GCM under the model key, a fresh random nonce per file, the whole header as
// additional authenticated data. Plaintext: config.json's length u64 | config.json verbatim |
// model.safetensors verbatim. The key file is the share bundles' (64 hex digits, mode 0600:
// nn::write_bundle_key / read_bundle_key). A wrong key, a modified byte anywhere, a file cut short
// or extended fails to open with an error that says which.
#pragma once
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "veil/core/aead.h"
#include "veil/core/digest.h"
#include "veil/model/hf_config.h"
#include "veil/nn/checkpoint.h"

namespace veil::serve {

struct SealedModelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr std::array<uint8_t, 8> kSealedModelMagic = {'v', 'e', 'i', 'l', '-', 't', 's', 'm'};
inline constexpr uint32_t kSealedModelVersion = 1;

struct SealedModelHeader {
  std::array<uint8_t, 8> magic;
  std::array<uint8_t, 4> version_le;
  std::array<uint8_t, 4> reserved;
  std::array<uint8_t, 8> length_le;
  std::array<uint8_t, 12> nonce;
};
static_assert(sizeof(SealedModelHeader) == 36);

// What a TEE worker holds once the file is open.
struct OpenedModel {
  std::string config_json;  // verbatim
  Sha256 config_sha256{};   // of config_json: clients name the model by it
  model::Gpt2Config config;
  nn::Weights weights;  // canonical names (model/checkpoint_layout.h)
};

// Seals the model folder `dir` (config.json, model.safetensors) into `path`, refusing to replace
// an existing file. Throws nn::ModelFolderError / model errors for a bad folder, SealedModelError
// when `path` cannot be written.
void seal_model(const std::string& dir, const std::string& path, const AeadKey& key);

// Opens and checks `path` (the safetensors file against the config). Throws SealedModelError
// naming the file and what is wrong.
OpenedModel open_sealed_model(const std::string& path, const AeadKey& key);

}  // namespace veil::serve
