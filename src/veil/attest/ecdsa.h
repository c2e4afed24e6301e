// ECDSA P-256 / SHA-256 signature checks in the raw encodings DCAP uses: signatures as r||s (32 bytes
// each, big-endian), public keys as the point x||y. OpenSSL EVP underneath.
#pragma once
#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <span>

namespace veil::attest {

struct EvpPkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PublicKey = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

// The P-256 public key with point x||y; null if the point is not on the curve.
PublicKey p256_public_key(std::span<const uint8_t, 64> xy);

// True if `sig_rs` (r||s) is a valid ECDSA signature over SHA-256(`message`) by `key`.
bool ecdsa_p256_verify(EVP_PKEY* key, std::span<const uint8_t> message, std::span<const uint8_t, 64> sig_rs);

}  // namespace veil::attest
