// BERT's BasicTokenizer: the words that WordPiece (model/wordpiece_tokenizer.h) then splits.
// Follows BertNormalizer + BertPreTokenizer of Hugging Face `tokenizers` (what
// BertTokenizerFast and AutoTokenizer run), which tokenization_bert.py's BasicTokenizer matches
// except that the latter also NFC-composes the text first:
//   1. drop U+0000, U+FFFD and control characters; every whitespace character becomes a space;
//   2. (split_cjk) every CJK ideograph becomes a word of its own;
//   3. (strip_accents, by default when lower_case) NFD, then drop the nonspacing marks (Mn);
//   4. (lower_case) lower-case every character;
//   5. split at whitespace, and around every punctuation character (each one a word).
// Character classes and their limits without ICU: model/bert_unicode.h. No NFC: a cased model
// given decomposed text ("e" + U+0301) sees the mark where Python's tokenizer would compose "é".
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace veil::model {

struct BertTextOptions {
  bool lower_case = true;              // tokenizer_config.json do_lower_case
  std::optional<bool> strip_accents;   // strip_accents; unset: as lower_case
  bool split_cjk = true;               // tokenize_chinese_chars
};

std::vector<std::u32string> bert_basic_tokenize(std::u32string_view text, const BertTextOptions& opt);

}  // namespace veil::model
