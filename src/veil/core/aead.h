// Authenticated encryption: AES-256-GCM through OpenSSL EVP (AES-NI where present), in place.
// Used to seal what must stay confidential at rest (a party's share bundle, nn/share_bundle.h).
// A (key, nonce) pair must never encrypt two messages: callers draw a fresh random nonce for
// every message they seal.
#pragma once
#include <array>
#include <cstdint>
#include <span>

namespace veil {

using AeadKey = std::array<uint8_t, 32>;    // AES-256 key
using AeadNonce = std::array<uint8_t, 12>;  // GCM's 96-bit IV
using AeadTag = std::array<uint8_t, 16>;    // full-length GCM tag

AeadKey random_aead_key();      // from the OS (RAND_bytes)
AeadNonce random_aead_nonce();  // from the OS (RAND_bytes)

// Encrypts `data` in place and returns the tag, which authenticates `aad` and the ciphertext.
AeadTag aes256gcm_seal(const AeadKey& key, const AeadNonce& nonce, std::span<const uint8_t> aad,
                       std::span<uint8_t> data);

// Decrypts `data` in place. Returns false, and leaves `data` unspecified, when the tag does not
// verify: a wrong key, or a modified nonce, aad, ciphertext or tag. The caller must not use
// `data` then.
[[nodiscard]] bool aes256gcm_open(const AeadKey& key, const AeadNonce& nonce, std::span<const uint8_t> aad,
                                  std::span<uint8_t> data, const AeadTag& tag);

}  // namespace veil
