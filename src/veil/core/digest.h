// SHA-256 (OpenSSL EVP): fingerprints that parties compare, e.g. a session request
// (nn/session_request.h) or a model's config.json.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace veil {

using Sha256 = std::array<uint8_t, 32>;

Sha256 sha256(std::span<const uint8_t> data);
Sha256 sha256(std::string_view text);
std::string hex(std::span<const uint8_t> bytes);  // lower-case, two digits per byte

}  // namespace veil
