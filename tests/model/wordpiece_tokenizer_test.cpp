// BERT's WordPiece tokenizer on hand-made vocabularies: expected outputs are those of Hugging Face
// BertTokenizer (transformers tests/models/bert/test_tokenization_bert.py and its docstrings).
#include "veil/model/wordpiece_tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "veil/model/bert_unicode.h"
#include "veil/model/utf8.h"

namespace veil::model {
namespace {

namespace fs = std::filesystem;
using Tokens = std::vector<std::string>;

const Tokens kVocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "want", "##want", "##ed", "wa", "un", "runn",
                       "##ing", ",", "!", "?", "hello", "how", "are", "you", "##aff", "##able", "hallo", "hällo",
                       "a", "##a", "博", "推", "ah", "zz", "ελληνικα", "елка", "viet", "test"};

WordPieceTokenizer make(BertTextOptions text = {}, Tokens vocab = kVocab) {
  WordPieceOptions o;
  o.text = text;
  return WordPieceTokenizer(std::move(vocab), o, "test vocabulary");
}

// The words of the BasicTokenizer, as UTF-8.
Tokens basic(std::string_view text, BertTextOptions opt = {}) {
  Tokens out;
  for (const std::u32string& w : bert_basic_tokenize(decode_utf8(text, "test"), opt)) out.push_back(encode_utf8(w));
  return out;
}

// A fresh folder under the system temp dir, removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::mt19937_64 rng(std::random_device{}());
    do path = fs::temp_directory_path() / ("veil-wordpiece-" + std::to_string(rng()));
    while (!fs::create_directory(path));
  }
  ~TempDir() { fs::remove_all(path); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name, std::ios::binary) << text;
  }
};

std::string lines(const Tokens& tokens) {
  std::string s;
  for (const std::string& t : tokens) s += t + "\n";
  return s;
}

TEST(WordPiece, GreedyLongestMatchFirst) {
  const WordPieceTokenizer tok = make();
  EXPECT_EQ(tok.tokenize("unwanted running"), (Tokens{"un", "##want", "##ed", "runn", "##ing"}));
  EXPECT_EQ(tok.tokenize("unaffable"), (Tokens{"un", "##aff", "##able"}));
  // A remainder that nothing matches makes the whole word [UNK], not just the remainder.
  EXPECT_EQ(tok.tokenize("unwantedX running"), (Tokens{"[UNK]", "runn", "##ing"}));
  EXPECT_EQ(tok.tokenize(""), Tokens{});
}

TEST(WordPiece, WordsOfMoreThanAHundredCharactersAreUnknown) {
  const WordPieceTokenizer tok = make();
  const Tokens hundred = tok.tokenize(std::string(100, 'a'));
  ASSERT_EQ(hundred.size(), 100u);
  EXPECT_EQ(hundred.front(), "a");
  EXPECT_EQ(hundred.back(), "##a");
  EXPECT_EQ(tok.tokenize(std::string(101, 'a')), Tokens{"[UNK]"});
  // The limit counts characters, not bytes: 60 two-byte characters are a word of 60.
  std::string long_utf8;
  for (int i = 0; i < 60; ++i) long_utf8 += "ä";
  Tokens vocab = kVocab;
  vocab.insert(vocab.end(), {"ä", "##ä"});
  EXPECT_EQ(make({.lower_case = false}, vocab).tokenize(long_utf8).size(), 60u);
}

TEST(WordPiece, LowerCaseAndPunctuation) {
  const Tokens want = {"hello", "!", "how", "are", "you", "?"};
  EXPECT_EQ(basic(" \tHeLLo!how  \n Are yoU?  "), want);
  EXPECT_EQ(make().tokenize(" \tHeLLo!how  \n Are yoU?  "), want);
  EXPECT_EQ(basic(" \tHeLLo!how  \n Are yoU?  ", {.lower_case = false}), (Tokens{"HeLLo", "!", "how", "Are", "yoU", "?"}));
  // Every non-alphanumeric ASCII character is punctuation, symbols included.
  EXPECT_EQ(basic("a$b+c^d`e|f~g"), (Tokens{"a", "$", "b", "+", "c", "^", "d", "`", "e", "|", "f", "~", "g"}));
  EXPECT_EQ(basic("«quoted»—dash…"), (Tokens{"«", "quoted", "»", "—", "dash", "…"}));
  EXPECT_EQ(basic("don't"), (Tokens{"don", "'", "t"}));
}

TEST(WordPiece, AccentsFollowLowerCaseUnlessSetApart) {
  const std::string text = " \tHäLLo!how  \n Are yoU?  ";
  EXPECT_EQ(basic(text), (Tokens{"hallo", "!", "how", "are", "you", "?"}));
  EXPECT_EQ(basic(text, {.lower_case = true, .strip_accents = false}), (Tokens{"hällo", "!", "how", "are", "you", "?"}));
  EXPECT_EQ(basic(text, {.lower_case = false, .strip_accents = true}), (Tokens{"HaLLo", "!", "how", "Are", "yoU", "?"}));
  EXPECT_EQ(basic(text, {.lower_case = false}), (Tokens{"HäLLo", "!", "how", "Are", "yoU", "?"}));
  EXPECT_EQ(basic("H\u00e9llo"), Tokens{"hello"});
  EXPECT_EQ(basic("He\u0301llo"), Tokens{"hello"});  // already decomposed: the mark is dropped
  EXPECT_EQ(basic("Ελληνικά Ёлка Việt"), (Tokens{"ελληνικα", "елка", "viet"}));
  EXPECT_EQ(make().tokenize("Ελληνικά Ёлка Việt"), (Tokens{"ελληνικα", "елка", "viet"}));
  EXPECT_EQ(basic("İ"), Tokens{"i"});
  EXPECT_EQ(basic("İ", {.lower_case = true, .strip_accents = false}), Tokens{"i\u0307"});
  EXPECT_EQ(basic("ブ"), Tokens{"フ"});  // the voicing mark (U+3099) is Mn too
  // Hangul syllables decompose into conjoining jamo, as NFD does.
  EXPECT_EQ(basic("한"), Tokens{"\u1112\u1161\u11ab"});
  EXPECT_EQ(basic("한", {.lower_case = false}), Tokens{"한"});
}

TEST(WordPiece, CjkIdeographsAreWordsOfTheirOwn) {
  EXPECT_EQ(basic("ah\u535a\u63a8zz"), (Tokens{"ah", "\u535a", "\u63a8", "zz"}));
  EXPECT_EQ(make().tokenize("ah\u535a\u63a8zz"), (Tokens{"ah", "博", "推", "zz"}));
  EXPECT_EQ(basic("ah\u535a\u63a8zz", {.split_cjk = false}), Tokens{"ah\u535a\u63a8zz"});
  EXPECT_EQ(basic("\uf982"), Tokens{"\u5eec"});  // a compatibility ideograph, NFD to the unified one
  EXPECT_EQ(basic("カタカナ"), Tokens{"カタカナ"});  // katakana is not in the CJK ideograph blocks
}

TEST(WordPiece, ControlCharactersAreDroppedAndWhitespaceSplits) {
  const WordPieceTokenizer tok = make();
  EXPECT_EQ(tok.tokenize("Test"), Tokens{"test"});
  EXPECT_EQ(tok.tokenize("\xc2\xad"), Tokens{});  // U+00AD soft hyphen: format (Cf)
  EXPECT_EQ(basic("a\u200bb\x05" "c\xef\xbf\xbd" "d"), Tokens{"abcd"});  // zero-width space, U+0005, U+FFFD
  EXPECT_EQ(basic("a\u00a0b\u3000c\u2028d\re"), (Tokens{"a", "b", "c", "d", "e"}));
}

TEST(WordPiece, CharacterClasses) {
  for (char32_t c : {U' ', U'\t', U'\r', U'\n', U'\u00a0', U'\u2003'}) EXPECT_TRUE(is_bert_whitespace(c)) << int(c);
  for (char32_t c : {U'A', U'-', U'\u200b'}) EXPECT_FALSE(is_bert_whitespace(c)) << int(c);
  for (char32_t c : {U'\x05', U'\x7f', U'\u200d', U'\ue000'}) EXPECT_TRUE(is_bert_control(c)) << int(c);
  for (char32_t c : {U'A', U' ', U'\t', U'\r'}) EXPECT_FALSE(is_bert_control(c)) << int(c);
  for (char32_t c : {U'-', U'$', U'`', U'.', U'\u00bf', U'\u3002', U'\uff01'}) EXPECT_TRUE(is_bert_punctuation(c)) << int(c);
  for (char32_t c : {U'A', U' ', U'\u00b0', U'\u00e9'}) EXPECT_FALSE(is_bert_punctuation(c)) << int(c);
}

TEST(WordPiece, SpecialTokensInTheTextStayWhole) {
  const WordPieceTokenizer tok = make();
  EXPECT_EQ(tok.tokenize("hello[SEP]you [MASK]"), (Tokens{"hello", "[SEP]", "you", "[MASK]"}));
  // Matched as written: lower-case "[sep]" is text.
  EXPECT_EQ(tok.tokenize("[sep]"), (Tokens{"[UNK]", "[UNK]", "[UNK]"}));
}

TEST(WordPiece, SingleTextAndPairEncodings) {
  const WordPieceTokenizer tok = make();
  const WordPieceEncoding one = tok.encode("unwanted running");
  EXPECT_EQ(one.ids, (std::vector<int32_t>{2, 9, 6, 7, 10, 11, 3}));
  EXPECT_EQ(one.token_types, (std::vector<int32_t>(7, 0)));
  const WordPieceEncoding two = tok.encode("hello!", "how are you");
  EXPECT_EQ(two.ids, (std::vector<int32_t>{2, 15, 13, 3, 16, 17, 18, 3}));
  EXPECT_EQ(two.token_types, (std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(two.truncated, 0);
}

TEST(WordPiece, TruncationCutsTheLongerTextFirst) {
  const WordPieceTokenizer tok = make();
  const WordPieceEncoding one = tok.encode("a a a a a a", std::nullopt, 5);
  EXPECT_EQ(one.ids, (std::vector<int32_t>{2, 23, 23, 23, 3}));
  EXPECT_EQ(one.truncated, 3);
  // a: 4 tokens, b: 2, and 7 places leave 4 for the texts: a loses 2.
  const WordPieceEncoding two = tok.encode("hello how are you", "want wa", 7);
  EXPECT_EQ(two.ids, (std::vector<int32_t>{2, 15, 16, 3, 5, 8, 3}));
  EXPECT_EQ(two.token_types, (std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(two.truncated, 2);
  const WordPieceEncoding tie = tok.encode("hello how", "are you", 6);
  EXPECT_EQ(tie.ids, (std::vector<int32_t>{2, 15, 16, 3, 17, 3}));
  EXPECT_THROW(tok.encode("hello", "you", 4), TokenizerError);
  EXPECT_EQ(tok.encode("hello how", std::nullopt, 10).truncated, 0);
}

TEST(WordPiece, InvalidUtf8IsAnError) {
  try {
    make().tokenize("ok \xff");
    ADD_FAILURE() << "invalid UTF-8 must throw";
  } catch (const TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find("byte 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make().tokenize("\xc0\x80"), TokenizerError);      // overlong
  EXPECT_THROW(make().tokenize("\xed\xa0\x80"), TokenizerError);  // surrogate
  EXPECT_THROW(make().tokenize("\xe2\x82"), TokenizerError);      // cut short
}

TEST(WordPiece, LoadsAFolder) {
  TempDir d;
  d.write("vocab.txt", "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nHello\r\nhello\r\nhello");  // CRLF, no final newline
  const WordPieceTokenizer lower = WordPieceTokenizer::load_dir(d.path.string());
  EXPECT_EQ(lower.vocab_size(), 7);
  EXPECT_EQ(lower.find("hello"), 6);  // a repeated token keeps its last id
  EXPECT_EQ(lower.encode("HELLO").ids, (std::vector<int32_t>{2, 6, 3}));
  d.write("tokenizer_config.json", R"({"do_lower_case": false, "strip_accents": null, "model_max_length": 512,
                                      "unk_token": {"content": "[UNK]", "lstrip": false}})");
  const WordPieceTokenizer cased = WordPieceTokenizer::load_dir(d.path.string());
  EXPECT_FALSE(cased.options().text.lower_case);
  EXPECT_EQ(cased.encode("Hello HELLO").ids, (std::vector<int32_t>{2, 4, 1, 3}));
}

TEST(WordPiece, FolderErrorsNameTheProblem) {
  TempDir d;
  auto error_of = [&] {
    try {
      WordPieceTokenizer::load_dir(d.path.string());
    } catch (const TokenizerError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of().find("no vocab.txt in"), std::string::npos) << error_of();
  d.write("vocab.txt", "");
  EXPECT_NE(error_of().find("is empty"), std::string::npos) << error_of();
  d.write("vocab.txt", "[PAD]\n[UNK]\n[SEP]\n");
  EXPECT_NE(error_of().find("has no [CLS] token"), std::string::npos) << error_of();
  d.write("vocab.txt", "[UNK]\n[CLS]\n[SEP]\n");
  d.write("tokenizer_config.json", "{\"do_lower_case\": \"yes\"}");
  EXPECT_NE(error_of().find("'do_lower_case' must be true or false"), std::string::npos) << error_of();
  d.write("tokenizer_config.json", "{not json");
  EXPECT_NE(error_of().find("is not valid JSON"), std::string::npos) << error_of();
}

// The tiny BERT fixture's vocab.txt: vocab_size = 128 entries and BERT's special tokens first.
TEST(WordPiece, TinyRandomBertVocabulary) {
  const WordPieceTokenizer tok = WordPieceTokenizer::load_dir(VEIL_SOURCE_DIR "/models/tiny-random-bert");
  EXPECT_EQ(tok.vocab_size(), 128);
  EXPECT_EQ(tok.find("[PAD]"), 0);
  EXPECT_EQ(tok.find("[UNK]"), 1);
  EXPECT_EQ(tok.find("[CLS]"), 2);
  EXPECT_EQ(tok.find("[SEP]"), 3);
  EXPECT_EQ(tok.find("[MASK]"), 4);
  EXPECT_EQ(tok.tokenize("The movie was GREAT, really!"),
            (Tokens{"the", "movie", "was", "great", ",", "really", "!"}));
  EXPECT_EQ(tok.tokenize("unboring acting"), (Tokens{"un", "##b", "##o", "##r", "##ing", "acting"}));
  EXPECT_EQ(tok.tokenize("café 42"), (Tokens{"c", "##a", "##f", "##e", "[UNK]"}));
}

}  // namespace
}  // namespace veil::model
