#include "veil/core/aead.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

namespace veil {

namespace {

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

template <size_t N> std::array<uint8_t, N> random_bytes() {
  std::array<uint8_t, N> b;
  if (RAND_bytes(b.data(), int(N)) != 1) throw std::runtime_error("RAND_bytes failed");
  return b;
}

// EVP takes int lengths: feed at most 1 GiB at a time.
template <class Update> void in_chunks(std::span<uint8_t> data, Update update) {
  for (size_t done = 0; done < data.size();) {
    const int chunk = int(std::min<size_t>(data.size() - done, size_t(1) << 30));
    int outl = 0;
    if (update(data.data() + done, &outl, chunk) != 1 || outl != chunk)
      throw std::runtime_error("AES-256-GCM: update failed");
    done += size_t(chunk);
  }
}

CipherCtx init(const AeadKey& key, const AeadNonce& nonce, bool encrypt) {
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  auto op = encrypt ? EVP_EncryptInit_ex : EVP_DecryptInit_ex;
  if (!ctx || op(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, int(nonce.size()), nullptr) != 1 ||
      op(ctx.get(), nullptr, nullptr, key.data(), nonce.data()) != 1)
    throw std::runtime_error("AES-256-GCM: cannot initialise");
  return ctx;
}

void add_aad(EVP_CIPHER_CTX* ctx, std::span<const uint8_t> aad, bool encrypt) {
  int outl = 0;
  if (aad.empty()) return;
  auto update = encrypt ? EVP_EncryptUpdate : EVP_DecryptUpdate;
  if (update(ctx, nullptr, &outl, aad.data(), int(aad.size())) != 1)
    throw std::runtime_error("AES-256-GCM: cannot add authenticated data");
}

}  // namespace

AeadKey random_aead_key() { return random_bytes<32>(); }
AeadNonce random_aead_nonce() { return random_bytes<12>(); }

AeadTag aes256gcm_seal(const AeadKey& key, const AeadNonce& nonce, std::span<const uint8_t> aad,
                       std::span<uint8_t> data) {
  CipherCtx ctx = init(key, nonce, true);
  add_aad(ctx.get(), aad, true);
  in_chunks(data, [&](uint8_t* p, int* outl, int n) { return EVP_EncryptUpdate(ctx.get(), p, outl, p, n); });
  int outl = 0;
  uint8_t none[16];
  AeadTag tag;
  if (EVP_EncryptFinal_ex(ctx.get(), none, &outl) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, int(tag.size()), tag.data()) != 1)
    throw std::runtime_error("AES-256-GCM: cannot finish encryption");
  return tag;
}

bool aes256gcm_open(const AeadKey& key, const AeadNonce& nonce, std::span<const uint8_t> aad,
                    std::span<uint8_t> data, const AeadTag& tag) {
  CipherCtx ctx = init(key, nonce, false);
  add_aad(ctx.get(), aad, false);
  in_chunks(data, [&](uint8_t* p, int* outl, int n) { return EVP_DecryptUpdate(ctx.get(), p, outl, p, n); });
  AeadTag expected = tag;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, int(expected.size()), expected.data()) != 1)
    throw std::runtime_error("AES-256-GCM: cannot set the tag");
  int outl = 0;
  uint8_t none[16];
  return EVP_DecryptFinal_ex(ctx.get(), none, &outl) == 1;
}

}  // namespace veil
