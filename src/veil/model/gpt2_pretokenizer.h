// GPT-2's pre-tokenizer: splits UTF-8 text into the chunks that BPE encodes one at a time,
// with the regular expression of the original encoder.py
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// evaluated by PCRE2 in UTF mode with Unicode properties (PCRE2_UTF | PCRE2_UCP), which
// supplies the Unicode letter, number and space classes.
#pragma once
#include <memory>
#include <string_view>
#include <vector>

struct pcre2_real_code_8;  // pcre2_code in <pcre2.h>, kept out of this header

namespace veil::model {

class Gpt2Pretokenizer {
 public:
  Gpt2Pretokenizer();

  // The successive non-overlapping matches of the pattern; they cover `text` exactly.
  // Throws TokenizerError when `text` is not valid UTF-8.
  std::vector<std::string_view> split(std::string_view text) const;

 private:
  struct Free {
    void operator()(pcre2_real_code_8* code) const;
  };
  std::unique_ptr<pcre2_real_code_8, Free> code_;
};

}  // namespace veil::model
