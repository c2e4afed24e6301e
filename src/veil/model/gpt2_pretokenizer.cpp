#include "veil/model/gpt2_pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <new>
#include <string>

#include "veil/model/tokenizer_error.h"

namespace veil::model {
namespace {

constexpr std::string_view pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof buffer);
  return reinterpret_cast<const char*>(buffer);
}

struct FreeMatchData {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};

}  // namespace

void Gpt2Pretokenizer::Free::operator()(pcre2_real_code_8* code) const { pcre2_code_free(code); }

Gpt2Pretokenizer::Gpt2Pretokenizer() {
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  code_.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                            PCRE2_UTF | PCRE2_UCP, &error, &error_offset, nullptr));
  if (!code_)
    throw TokenizerError("GPT-2 pre-tokenizer pattern does not compile at offset " +
                         std::to_string(error_offset) + ": " + pcre2_message(error));
  pcre2_jit_compile(code_.get(), PCRE2_JIT_COMPLETE);  // optional speed-up; falls back if absent
}

std::vector<std::string_view> Gpt2Pretokenizer::split(std::string_view text) const {
  std::unique_ptr<pcre2_match_data, FreeMatchData> match(
      pcre2_match_data_create_from_pattern(code_.get(), nullptr));
  if (!match) throw std::bad_alloc();
  const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::vector<std::string_view> pieces;
  uint32_t options = 0;  // the first match checks that the whole text is valid UTF-8
  for (size_t offset = 0; offset < text.size(); options = PCRE2_NO_UTF_CHECK) {
    const int rc = pcre2_match(code_.get(), subject, text.size(), offset, options, match.get(), nullptr);
    if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)
      throw TokenizerError("text is not valid UTF-8 at byte " +
                           std::to_string(pcre2_get_startchar(match.get())) + ": " +
                           pcre2_message(rc));
    if (rc < 0) throw TokenizerError("GPT-2 pre-tokenizer failed: " + pcre2_message(rc));
    const PCRE2_SIZE* span = pcre2_get_ovector_pointer(match.get());
    // Every character is a letter, a number, a space or none of these, so each match starts
    // where the previous one ended and is not empty.
    if (span[0] != offset || span[1] <= span[0])
      throw std::logic_error("GPT-2 pre-tokenizer left a gap at byte " + std::to_string(offset));
    pieces.push_back(text.substr(span[0], span[1] - span[0]));
    offset = span[1];
  }
  return pieces;
}

}  // namespace veil::model
