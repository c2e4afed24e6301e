// The character classes of BERT's BasicTokenizer (Hugging Face transformers
// models/bert/tokenization_bert.py, and BertNormalizer / BertPreTokenizer of `tokenizers`),
// without ICU: range tables generated from Python's unicodedata by tools/bert_unicode_tables.py
// (model/bert_unicode_tables.h).
//
// The tables cover every assigned code point of the Unicode version they were generated from
// (14.0). Limitations against Python's unicodedata:
//  - unassigned code points (category Cn) count as ordinary characters, not as control
//    characters, so they are kept instead of removed; so are characters assigned after 14.0;
//  - strip_accents applies NFD only as far as it matters once the marks are gone: to each
//    character on its own (no canonical reordering, which moves only marks).
#pragma once
#include <string>

namespace veil::model {

// ' ', \t, \n, \r and the separators Zs, Zl, Zp.
bool is_bert_whitespace(char32_t c);
// Cc, Cf, Co, Cs except \t, \n, \r (which are whitespace).
bool is_bert_control(char32_t c);
// Every non-alphanumeric ASCII character ('$', '+', '^', '`', ... included) and Unicode P*.
bool is_bert_punctuation(char32_t c);
// The CJK Unified Ideographs blocks BERT puts spaces around (not Hangul, Hiragana or Katakana).
bool is_cjk_ideograph(char32_t c);

// Unicode lower case, character by character as Rust's char::to_lowercase (the `tokenizers`
// BertNormalizer): no final-sigma rule, and U+0130 (İ) lowers to "i" + U+0307.
void append_lower(std::u32string& out, char32_t c);
// NFD minus nonspacing marks (Mn), within the limits above; may append nothing (a lone mark).
void append_stripped(std::u32string& out, char32_t c);

}  // namespace veil::model
