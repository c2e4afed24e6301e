// UTF-8 to code points and back, strictly: overlong forms, surrogates and values past U+10FFFF
// are errors, as in Python's str.decode("utf-8").
#pragma once
#include <string>
#include <string_view>

namespace veil::model {

// Throws TokenizerError naming `what` and the byte offset of the first malformed sequence.
std::u32string decode_utf8(std::string_view text, const std::string& what);

void append_utf8(std::string& out, char32_t cp);
std::string encode_utf8(std::u32string_view text);

}  // namespace veil::model
