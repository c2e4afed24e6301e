// BERT's WordPiece tokenizer for a Hugging Face model folder, token for token the same as
// BertTokenizerFast within the limits of model/bert_basic_tokenizer.h and model/bert_unicode.h.
//
// vocab.txt              one token per line, UTF-8; the line number (from 0) is the id. A "\r"
//                        before the "\n" is dropped. A token listed twice keeps its last id,
//                        as in Hugging Face's load_vocab.
// tokenizer_config.json  optional. Read: do_lower_case (default true), strip_accents (default:
//                        as do_lower_case), tokenize_chinese_chars (default true), and
//                        unk_token, sep_token, pad_token, cls_token, mask_token (a string or
//                        {"content": string}; defaults [UNK], [SEP], [PAD], [CLS], [MASK]).
//
// encode(a [, b]):
//   1. occurrences of the special tokens in the text are kept whole ("[SEP]" typed in the text
//      is the [SEP] token); the rest goes through the BasicTokenizer;
//   2. each word becomes the longest vocabulary token that starts it, then the longest
//      "##"-prefixed token that continues it, and so on; a word of more than 100 characters, or
//      one with a remainder no token matches, becomes [UNK] as a whole;
//   3. [CLS] a [SEP] with token types 0, or [CLS] a [SEP] b [SEP] with types 0 for [CLS] a [SEP]
//      and 1 for b [SEP];
//   4. with max_length > 0, tokens are cut from the end of the longer of a and b (b on a tie),
//      one at a time, until the encoding fits ("longest_first").
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "veil/model/bert_basic_tokenizer.h"
#include "veil/model/tokenizer_error.h"

namespace veil::model {

struct WordPieceOptions {
  BertTextOptions text;
  std::string unk_token = "[UNK]", sep_token = "[SEP]", pad_token = "[PAD]", cls_token = "[CLS]",
              mask_token = "[MASK]";
  int64_t max_word_chars = 100;  // max_input_chars_per_word
};

struct WordPieceEncoding {
  std::vector<int32_t> ids;
  std::vector<int32_t> token_types;  // 0 for the first text, 1 for the second
  int64_t truncated = 0;             // tokens cut to fit max_length
};

class WordPieceTokenizer {
 public:
  // Throws TokenizerError naming the file for a missing or empty vocab.txt, a malformed
  // tokenizer_config.json, or [UNK], [CLS] or [SEP] absent from the vocabulary.
  static WordPieceTokenizer load_dir(const std::string& dir);
  // `vocab`: the tokens in id order; `source` names the vocabulary in errors.
  WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options, const std::string& source);

  // The tokens of `text` (UTF-8), without [CLS] and [SEP]. Throws TokenizerError for text that
  // is not valid UTF-8.
  std::vector<std::string> tokenize(std::string_view text) const;
  // Throws TokenizerError when max_length leaves no room for one token of each text.
  WordPieceEncoding encode(std::string_view a, std::optional<std::string_view> b = std::nullopt,
                           int64_t max_length = 0) const;

  int32_t vocab_size() const { return int32_t(tokens_.size()); }
  const std::string& token(int32_t id) const { return tokens_.at(size_t(id)); }
  std::optional<int32_t> find(std::string_view token) const;
  const WordPieceOptions& options() const { return options_; }

 private:
  std::vector<int32_t> ids_of(std::string_view text) const;
  void wordpiece(const std::u32string& word, std::vector<int32_t>& out) const;
  int32_t required(const std::string& token, const std::string& source) const;

  std::vector<std::string> tokens_;  // id -> token
  std::unordered_map<std::string, int32_t> ids_;
  WordPieceOptions options_;
  std::vector<std::pair<std::string, int32_t>> specials_;  // special tokens kept whole, longest first
  int32_t unk_ = 0, cls_ = 0, sep_ = 0;
};

}  // namespace veil::model
