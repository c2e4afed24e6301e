#include "veil/core/digest.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace veil {

Sha256 sha256(std::span<const uint8_t> data) {
  Sha256 out;
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 || len != out.size())
    throw std::runtime_error("SHA-256 failed");
  return out;
}

Sha256 sha256(std::string_view text) {
  return sha256(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

std::string hex(std::span<const uint8_t> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) s += digits[b >> 4], s += digits[b & 15];
  return s;
}

}  // namespace veil
