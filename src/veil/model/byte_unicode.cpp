#include "veil/model/byte_unicode.h"

#include <array>

namespace veil::model {
namespace {

constexpr bool maps_to_itself(unsigned b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct ByteMap {
  std::array<char32_t, 256> to_codepoint{};
  std::array<int, 512> to_byte{};  // every mapped code point is below 256 + 256; -1: unmapped

  constexpr ByteMap() {
    to_byte.fill(-1);
    char32_t next = 256;
    for (unsigned b = 0; b < 256; ++b) {
      to_codepoint[b] = maps_to_itself(b) ? char32_t(b) : next++;
      to_byte[to_codepoint[b]] = int(b);
    }
  }
};

constexpr ByteMap byte_map;

}  // namespace

char32_t byte_to_codepoint(uint8_t byte) { return byte_map.to_codepoint[byte]; }

std::string bytes_to_unicode_text(std::string_view bytes) {
  std::string out;
  out.reserve(2 * bytes.size());
  for (char c : bytes) {
    const char32_t cp = byte_to_codepoint(uint8_t(c));
    if (cp < 0x80) {
      out += char(cp);
    } else {  // every mapped code point is below 0x800: two UTF-8 bytes
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    }
  }
  return out;
}

std::optional<std::string> unicode_text_to_bytes(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto lead = uint8_t(text[i]);
    char32_t cp = lead;
    if (lead >= 0x80) {  // only two-byte sequences encode mapped characters
      if ((lead & 0xE0) != 0xC0 || i + 1 >= text.size() || (uint8_t(text[i + 1]) & 0xC0) != 0x80)
        return std::nullopt;
      cp = char32_t(lead & 0x1F) << 6 | (uint8_t(text[++i]) & 0x3F);
      if (cp < 0x80) return std::nullopt;  // overlong encoding
    }
    if (cp >= byte_map.to_byte.size() || byte_map.to_byte[cp] < 0) return std::nullopt;
    out += char(byte_map.to_byte[cp]);
  }
  return out;
}

}  // namespace veil::model
