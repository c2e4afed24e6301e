#include "veil/model/byte_unicode.h"

#include <gtest/gtest.h>

#include <set>

namespace veil::model {
namespace {

TEST(ByteUnicode, MapsPrintableBytesToThemselvesAndOthersAbove255) {
  EXPECT_EQ(byte_to_codepoint('A'), U'A');
  EXPECT_EQ(byte_to_codepoint('!'), U'!');
  EXPECT_EQ(byte_to_codepoint(0xA1), U'\u00A1');
  EXPECT_EQ(byte_to_codepoint(0x00), U'\u0100');
  EXPECT_EQ(byte_to_codepoint('\n'), U'\u010A');  // 'Ċ'
  EXPECT_EQ(byte_to_codepoint(' '), U'\u0120');   // 'Ġ'
  EXPECT_EQ(byte_to_codepoint(0x7F), U'\u0121');
  EXPECT_EQ(byte_to_codepoint(0xAD), U'\u0143');  // the last unprintable byte: 256 + 67
  std::set<char32_t> seen;
  for (unsigned b = 0; b < 256; ++b) seen.insert(byte_to_codepoint(uint8_t(b)));
  EXPECT_EQ(seen.size(), 256u);
}

TEST(ByteUnicode, TextRoundTripsEveryByte) {
  std::string all;
  for (unsigned b = 0; b < 256; ++b) all += char(b);
  const std::string text = bytes_to_unicode_text(all);
  EXPECT_EQ(bytes_to_unicode_text(" hi\n"), "\xC4\xA0hi\xC4\x8A");  // "Ġhi" "Ċ"
  EXPECT_EQ(unicode_text_to_bytes(text), all);
}

TEST(ByteUnicode, RejectsCharactersOutsideTheMap) {
  EXPECT_EQ(unicode_text_to_bytes(" "), std::nullopt);             // space is stored as 'Ġ'
  EXPECT_EQ(unicode_text_to_bytes("\xE2\x82\xAC"), std::nullopt);  // '€'
  EXPECT_EQ(unicode_text_to_bytes("\xC5\x90"), std::nullopt);      // U+0150, past the map
  EXPECT_EQ(unicode_text_to_bytes("\xC1\xA1"), std::nullopt);      // overlong 'a'
  EXPECT_EQ(unicode_text_to_bytes("\xC4"), std::nullopt);          // truncated
}

}  // namespace
}  // namespace veil::model
