#include "veil/core/prg.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>

namespace veil {

Seed random_seed() {
  Seed s;
  if (RAND_bytes(s.data(), int(s.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  return s;
}

struct Prg::Impl {
  EVP_CIPHER_CTX* ctx = nullptr;
  ~Impl() { EVP_CIPHER_CTX_free(ctx); }
};

Prg::Prg(const Seed& seed) : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_CIPHER_CTX_new();
  uint8_t iv[16] = {0};
  if (!impl_->ctx ||
      EVP_EncryptInit_ex(impl_->ctx, EVP_aes_128_ctr(), nullptr, seed.data(), iv) != 1)
    throw std::runtime_error("Prg: cannot initialise AES-128-CTR");
}
Prg::Prg(Prg&&) noexcept = default;
Prg& Prg::operator=(Prg&&) noexcept = default;
Prg::~Prg() = default;

void Prg::fill(void* out, size_t bytes) {
  if (bytes == 0) return;  // out may be null for an empty draw
  // CTR keystream = encryption of zeros, done in place in chunks (EVP takes int lengths).
  auto* p = static_cast<uint8_t*>(out);
  std::memset(p, 0, bytes);
  size_t done = 0;
  while (done < bytes) {
    int chunk = int(std::min<size_t>(bytes - done, size_t(1) << 30));
    int outl = 0;
    if (EVP_EncryptUpdate(impl_->ctx, p + done, &outl, p + done, chunk) != 1 || outl != chunk)
      throw std::runtime_error("Prg: AES-CTR failed");
    done += size_t(chunk);
  }
  drawn_ += bytes;
}

}  // namespace veil
