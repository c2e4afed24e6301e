#include "veil/attest/ecdsa.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/x509.h>

#include <array>

namespace veil::attest {

PublicKey p256_public_key(std::span<const uint8_t, 64> xy) {
  // SubjectPublicKeyInfo for id-ecPublicKey / prime256v1 with an uncompressed point (04 || x || y).
  static constexpr std::array<uint8_t, 27> prefix = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                                     0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                                     0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};
  std::array<uint8_t, prefix.size() + 64> spki;
  std::copy(prefix.begin(), prefix.end(), spki.begin());
  std::copy(xy.begin(), xy.end(), spki.begin() + prefix.size());
  const unsigned char* p = spki.data();
  return PublicKey(d2i_PUBKEY(nullptr, &p, long(spki.size())));
}

bool ecdsa_p256_verify(EVP_PKEY* key, std::span<const uint8_t> message, std::span<const uint8_t, 64> sig_rs) {
  if (!key) return false;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(sig_rs.data(), 32, nullptr);
  BIGNUM* s = BN_bin2bn(sig_rs.data() + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return false;
  }
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (der_len <= 0) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
                  EVP_DigestVerify(ctx, der, size_t(der_len), message.data(), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  return ok;
}

}  // namespace veil::attest
