// GPT-2's reversible map from the 256 byte values to printable Unicode characters, so that a
// BPE vocabulary of byte strings can be stored as text (vocab.json, merges.txt).
// The printable bytes '!'..'~', U+00A1..U+00AC and U+00AE..U+00FF map to the character of the
// same code point; the other 68 bytes map, in increasing order, to U+0100, U+0101, ...
// (so ' ' -> U+0120 'Ġ', '\n' -> U+010A 'Ċ').
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace veil::model {

char32_t byte_to_codepoint(uint8_t byte);

// The UTF-8 text of the characters that stand for `bytes`.
std::string bytes_to_unicode_text(std::string_view bytes);

// Inverse of bytes_to_unicode_text; nullopt when `text` holds a character outside the map.
std::optional<std::string> unicode_text_to_bytes(std::string_view text);

}  // namespace veil::model
