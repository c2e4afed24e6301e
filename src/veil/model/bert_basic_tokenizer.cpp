#include "veil/model/bert_basic_tokenizer.h"

#include "veil/model/bert_unicode.h"

namespace veil::model {

std::vector<std::u32string> bert_basic_tokenize(std::u32string_view text, const BertTextOptions& opt) {
  const bool strip = opt.strip_accents.value_or(opt.lower_case);
  std::vector<std::u32string> words;
  std::u32string word, stripped, normalized;
  auto end_word = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  for (char32_t c : text) {
    if (c == 0 || c == 0xFFFD || is_bert_control(c)) continue;
    if (is_bert_whitespace(c)) {
      end_word();
      continue;
    }
    stripped.clear(), normalized.clear();
    if (strip) append_stripped(stripped, c);
    else stripped += c;
    if (opt.lower_case) for (char32_t s : stripped) append_lower(normalized, s);
    else normalized = stripped;
    if (opt.split_cjk && is_cjk_ideograph(c)) {  // a compatibility ideograph may have become another
      end_word();
      words.push_back(normalized);
      continue;
    }
    for (char32_t n : normalized) {
      if (is_bert_punctuation(n)) {
        end_word();
        words.emplace_back(1, n);
      } else {
        word += n;
      }
    }
  }
  end_word();
  return words;
}

}  // namespace veil::model
