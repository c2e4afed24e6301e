#include "veil/model/gpt2_pretokenizer.h"

#include <gtest/gtest.h>

#include "veil/model/tokenizer_error.h"

namespace veil::model {
namespace {

using Pieces = std::vector<std::string_view>;

TEST(Gpt2Pretokenizer, SplitsWordsWithTheirLeadingSpace) {
  const Gpt2Pretokenizer p;
  EXPECT_EQ(p.split("Hello world"), (Pieces{"Hello", " world"}));
  EXPECT_EQ(p.split("Hello, world!"), (Pieces{"Hello", ",", " world", "!"}));
  EXPECT_EQ(p.split(""), Pieces{});
}

TEST(Gpt2Pretokenizer, SplitsLowercaseContractions) {
  const Gpt2Pretokenizer p;
  EXPECT_EQ(p.split("I'm"), (Pieces{"I", "'m"}));
  EXPECT_EQ(p.split("don't we'll they're you've he'd it's"),
            (Pieces{"don", "'t", " we", "'ll", " they", "'re", " you", "'ve", " he", "'d", " it", "'s"}));
  EXPECT_EQ(p.split("DON'T"), (Pieces{"DON", "'", "T"}));  // the pattern is case-sensitive
}

TEST(Gpt2Pretokenizer, KeepsTheLastSpaceOfARunForTheNextWord) {
  const Gpt2Pretokenizer p;
  EXPECT_EQ(p.split("a  \n\n  b\t c"), (Pieces{"a", "  \n\n ", " b", "\t", " c"}));
  EXPECT_EQ(p.split("   "), (Pieces{"   "}));
  EXPECT_EQ(p.split("x   "), (Pieces{"x", "   "}));
}

TEST(Gpt2Pretokenizer, UsesUnicodeLetterAndNumberClasses) {
  const Gpt2Pretokenizer p;
  EXPECT_EQ(p.split("naïve café — 東京 🙂"),
            (Pieces{"na\xC3\xAFve", " caf\xC3\xA9", " \xE2\x80\x94", " \xE6\x9D\xB1\xE4\xBA\xAC",
                    " \xF0\x9F\x99\x82"}));
  EXPECT_EQ(p.split("2024 is 12345th"), (Pieces{"2024", " is", " 12345", "th"}));
  EXPECT_EQ(p.split("x\xD9\xA3y"), (Pieces{"x", "\xD9\xA3", "y"}));  // Arabic-Indic digit three
  EXPECT_EQ(p.split("\xC2\xA0word"), (Pieces{"\xC2\xA0", "word"}));   // no-break space is \s
}

TEST(Gpt2Pretokenizer, RejectsInvalidUtf8WithItsOffset) {
  const Gpt2Pretokenizer p;
  try {
    p.split("ok \xFF bad");
    FAIL() << "invalid UTF-8 accepted";
  } catch (const TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find("not valid UTF-8 at byte 3"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace veil::model
