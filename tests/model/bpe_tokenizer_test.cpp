#include "veil/model/bpe_tokenizer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "veil/model/byte_unicode.h"

namespace veil::model {
namespace {

namespace fs = std::filesystem;
using Ids = std::vector<int32_t>;

const std::string gpt2_dir = VEIL_SOURCE_DIR "/../shared/data/gpt2-tokenizer";

// The real GPT-2 vocabulary, loaded once.
class Gpt2TokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (fs::exists(gpt2_dir + "/vocab.json") && fs::exists(gpt2_dir + "/merges.txt"))
      tokenizer_ = std::make_unique<BpeTokenizer>(BpeTokenizer::load_dir(gpt2_dir));
  }
  static void TearDownTestSuite() { tokenizer_.reset(); }
  void SetUp() override {
    if (!tokenizer_)
      GTEST_SKIP() << "GPT-2 tokenizer files not found in " << gpt2_dir
                   << ": put there the vocab.json and merges.txt of Hugging Face's gpt2 model";
  }

  static Ids encode(std::string_view s) { return tokenizer_->encode(s); }
  static std::string round_trip(std::string_view s) { return tokenizer_->decode(encode(s)); }

  static std::unique_ptr<BpeTokenizer> tokenizer_;
};
std::unique_ptr<BpeTokenizer> Gpt2TokenizerTest::tokenizer_;

TEST_F(Gpt2TokenizerTest, LoadsTheFullVocabulary) {
  EXPECT_EQ(tokenizer_->vocab_size(), 50257);
  EXPECT_EQ(tokenizer_->end_of_text_id(), 50256);
}

TEST_F(Gpt2TokenizerTest, EncodesKnownTexts) {
  EXPECT_EQ(encode("Hello world"), (Ids{15496, 995}));
  EXPECT_EQ(encode(" Hello"), (Ids{18435}));
  EXPECT_EQ(encode("Hello, world!"), (Ids{15496, 11, 995, 0}));
  EXPECT_EQ(encode("I'm"), (Ids{40, 1101}));
  EXPECT_EQ(encode("don't"), (Ids{9099, 470}));
  EXPECT_EQ(encode(""), Ids{});
}

TEST_F(Gpt2TokenizerTest, EncodesASpaceRunAsSingleSpaces) {
  // merges.txt has no "Ġ Ġ" line, so a run of spaces stays one token per space.
  std::ifstream merges(gpt2_dir + "/merges.txt");
  std::string line;
  while (std::getline(merges, line)) ASSERT_NE(line, "\xC4\xA0 \xC4\xA0") << "merges.txt merges two spaces";
  const Ids space = encode(" ");
  ASSERT_EQ(space.size(), 1u);
  EXPECT_EQ(tokenizer_->decode(space), " ");
  EXPECT_EQ(encode("   "), (Ids{space[0], space[0], space[0]}));
}

TEST_F(Gpt2TokenizerTest, EncodesEndOfTextAsOneToken) {
  EXPECT_EQ(encode("<|endoftext|>"), Ids{50256});
  Ids expected = encode("a");
  expected.push_back(50256);
  const Ids b = encode(" b");
  expected.insert(expected.end(), b.begin(), b.end());
  expected.push_back(50256);
  EXPECT_EQ(encode("a<|endoftext|> b<|endoftext|>"), expected);
  EXPECT_EQ(tokenizer_->decode(Ids{50256}), "<|endoftext|>");
}

TEST_F(Gpt2TokenizerTest, DecodeInvertsEncode) {
  for (const char* text : {
           "naïve café — 東京 🙂",
           "a  \n\n  b\t c",
           "I'm sure they'll say it's what we'd've done, don't you?",
           "DON'T SHOUT",
           "3.14159 + 2,718 = 5.85 (approx) in 2024; 0xFF",
           "Ünïcödé ǅ ﬁ Ωμέγα кириллица العربية हिन्दी 한국어 🇫🇷👍🏽",
           "   leading and trailing   ",
           "\r\n\t\v\f",
           "tab\tseparated\tvalues\n",
       }) {
    EXPECT_EQ(round_trip(text), text) << text;
  }
}

TEST_F(Gpt2TokenizerTest, EncodesEachPieceLikeTheWholeText) {
  // The pre-tokenizer never joins across a word that starts with a letter after a space, so
  // encoding "x" + " y" piecewise gives the same ids as encoding "x y".
  Ids joined = encode("Machine");
  const Ids rest = encode(" learning");
  joined.insert(joined.end(), rest.begin(), rest.end());
  EXPECT_EQ(encode("Machine learning"), joined);
  EXPECT_EQ(encode("Machine learning"), encode("Machine learning"));  // second call hits the cache
}

TEST_F(Gpt2TokenizerTest, RoundTripsShakespeare) {
  std::ifstream in(VEIL_SOURCE_DIR "/../shared/data/text/tinyshakespeare.txt");
  if (!in) GTEST_SKIP() << "../shared/data/text/tinyshakespeare.txt not found";
  std::string text(20000, '\0');
  in.read(text.data(), std::streamsize(text.size()));
  text.resize(size_t(in.gcount()));
  const Ids ids = encode(text);
  EXPECT_LT(ids.size(), text.size() / 2) << "BPE should compress English text";
  EXPECT_EQ(tokenizer_->decode(ids), text);
}

TEST_F(Gpt2TokenizerTest, RejectsIdsOutsideTheVocabulary) {
  EXPECT_THROW(tokenizer_->decode(Ids{50257}), TokenizerError);
  EXPECT_THROW(tokenizer_->decode(Ids{-1}), TokenizerError);
  EXPECT_THROW(encode("bad \xC3"), TokenizerError);
}

// A toy vocabulary: ids 0..255 are the single bytes, then the merged tokens.
class ToyTokenizerTest : public ::testing::Test {
 protected:
  ToyTokenizerTest()
      : dir_(fs::temp_directory_path() /
             ("veil_bpe_" + std::to_string(getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    fs::create_directories(dir_);
  }
  ~ToyTokenizerTest() override { fs::remove_all(dir_); }

  static nlohmann::json byte_vocab() {
    nlohmann::json v = nlohmann::json::object();
    for (unsigned b = 0; b < 256; ++b) v[bytes_to_unicode_text(std::string(1, char(b)))] = b;
    return v;
  }

  // Writes the files and loads them; returns the error message, or "" after a good load.
  std::string load_error(const std::string& vocab, const std::string& merges) {
    write("vocab.json", vocab);
    write("merges.txt", merges);
    try {
      tokenizer_ = std::make_unique<BpeTokenizer>(BpeTokenizer::load_dir(dir_.string()));
    } catch (const TokenizerError& e) {
      return e.what();
    }
    return "";
  }

  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }

  fs::path dir_;
  std::unique_ptr<BpeTokenizer> tokenizer_;
};

TEST_F(ToyTokenizerTest, MergesLowestRankFirst) {
  nlohmann::json v = byte_vocab();
  v["bc"] = 256;
  v["ab"] = 257;
  v["abc"] = 258;
  ASSERT_EQ(load_error(v.dump(), "#version: 0.2\nb c\na b\nab c\n"), "");
  // a b c a b: "b c" (rank 0) first, then "a b" (rank 1); "a bc" is no merge.
  EXPECT_EQ(tokenizer_->encode("abcab"), (Ids{'a', 256, 257}));
  // a b c: with "b c" applied first, "ab c" never gets its chance.
  EXPECT_EQ(tokenizer_->encode("abc"), (Ids{'a', 256}));
  EXPECT_EQ(tokenizer_->encode("ab ab"), (Ids{257, ' ', 257}));  // no merge joins 'Ġ' and "ab"
  EXPECT_EQ(tokenizer_->decode(Ids{'a', 256, 257}), "abcab");
  EXPECT_FALSE(tokenizer_->end_of_text_id().has_value());
}

TEST_F(ToyTokenizerTest, RejectsBadFilesNamingFileAndProblem) {
  const std::string vocab = (dir_ / "vocab.json").string();
  const std::string merges = (dir_ / "merges.txt").string();
  nlohmann::json with_ab = byte_vocab();
  with_ab["ab"] = 256;
  nlohmann::json space = byte_vocab();
  space[" "] = 256;
  nlohmann::json missing_byte = byte_vocab();
  missing_byte.erase("a");
  missing_byte["xy"] = 'a';  // keeps the ids dense
  nlohmann::json duplicate = byte_vocab();
  duplicate["ab"] = 5;
  nlohmann::json out_of_range = byte_vocab();
  out_of_range["ab"] = 900;
  nlohmann::json not_int = byte_vocab();
  not_int["ab"] = "256";

  struct Case {
    const char* what;
    std::string vocab_text, merges_text, file, expected;
  };
  const std::vector<Case> cases = {
      {"vocab not JSON", "{\"a\": ", "", vocab, "not valid JSON"},
      {"vocab array", "[1, 2]", "", vocab, "must be a non-empty JSON object"},
      {"id not integer", not_int.dump(), "", vocab, "id of 'ab' must be an integer in 0..256, got \"256\""},
      {"id out of range", out_of_range.dump(), "", vocab, "id of 'ab' must be an integer in 0..256, got 900"},
      {"duplicate id", duplicate.dump(), "", vocab, "id 5 is used twice"},
      {"raw space", space.dump(), "", vocab, "token ' ' (id 256) has a character outside GPT-2's byte alphabet"},
      {"missing byte", missing_byte.dump(), "", vocab, "lacks the single-byte token 'a' (byte 97)"},
      {"three parts", with_ab.dump(), "#version: 0.2\na b c\n", merges, "line 2: expected '<left> <right>', got 'a b c'"},
      {"one part", with_ab.dump(), "ab\n", merges, "line 1: expected '<left> <right>', got 'ab'"},
      {"leading space", with_ab.dump(), " ab\n", merges, "line 1: expected '<left> <right>'"},
      {"unknown part", with_ab.dump(), "a b\nab xyz\n", merges, "line 2: token 'xyz' is not in vocab.json"},
      {"unknown result", with_ab.dump(), "b a\n", merges, "line 1: token 'ba' is not in vocab.json"},
      {"repeated", with_ab.dump(), "a b\na b\n", merges, "line 2: repeats an earlier merge"},
  };
  for (const Case& c : cases) {
    const std::string message = load_error(c.vocab_text, c.merges_text);
    EXPECT_NE(message.find(c.expected), std::string::npos)
        << c.what << ": got '" << message << "', expected '" << c.expected << "'";
    EXPECT_NE(message.find(c.file), std::string::npos) << c.what << ": " << message;
  }
  fs::remove(dir_ / "merges.txt");
  EXPECT_THROW(BpeTokenizer::load_dir(dir_.string()), TokenizerError);
}

TEST_F(ToyTokenizerTest, AcceptsWindowsLineEndingsAndNoVersionLine) {
  nlohmann::json v = byte_vocab();
  v["ab"] = 256;
  ASSERT_EQ(load_error(v.dump(), "a b\r\n"), "");
  EXPECT_EQ(tokenizer_->encode("ab"), Ids{256});
}

}  // namespace
}  // namespace veil::model
