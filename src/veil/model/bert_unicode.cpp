#include "veil/model/bert_unicode.h"

#include <algorithm>

#include "veil/model/bert_unicode_tables.h"

namespace veil::model {

namespace {

using bert_tables::Range;

template <size_t N>
bool in_ranges(const std::array<Range, N>& table, char32_t c) {
  auto it = std::upper_bound(table.begin(), table.end(), c, [](char32_t v, const Range& r) { return v < r.first; });
  return it != table.begin() && c <= std::prev(it)->last;
}

// Hangul syllables decompose algorithmically (Unicode 3.12) into conjoining jamo, none of them Mn.
constexpr char32_t kHangulFirst = 0xAC00, kHangulLast = 0xD7A3;

void append_hangul_jamo(std::u32string& out, char32_t c) {
  const char32_t s = c - kHangulFirst;
  out += char32_t(0x1100 + s / (21 * 28));       // leading consonant
  out += char32_t(0x1161 + (s % (21 * 28)) / 28);  // vowel
  if (s % 28 != 0) out += char32_t(0x11A7 + s % 28);  // trailing consonant
}

}  // namespace

bool is_bert_whitespace(char32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || in_ranges(bert_tables::kWhitespace, c);
}

bool is_bert_control(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  return in_ranges(bert_tables::kControl, c);
}

bool is_bert_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  return in_ranges(bert_tables::kPunctuation, c);
}

bool is_cjk_ideograph(char32_t c) {
  // The list of tokenization_bert.py's _is_chinese_char.
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

void append_lower(std::u32string& out, char32_t c) {
  if (c < 0x80) {
    out += c >= 'A' && c <= 'Z' ? char32_t(c + 32) : c;
    return;
  }
  if (c == 0x0130) {  // the one lower case of more than one character
    out += U"i\u0307";
    return;
  }
  const auto& runs = bert_tables::kLower;
  auto it = std::upper_bound(runs.begin(), runs.end(), c,
                             [](char32_t v, const bert_tables::LowerRun& r) { return v < r.first; });
  if (it != runs.begin()) {
    const auto& r = *std::prev(it);
    if (c <= r.last && (c - r.first) % char32_t(r.stride) == 0) {
      out += char32_t(int64_t(c) + r.delta);
      return;
    }
  }
  out += c;
}

void append_stripped(std::u32string& out, char32_t c) {
  if (c < 0xC0) {  // nothing below U+00C0 decomposes
    out += c;
    return;
  }
  if (c >= kHangulFirst && c <= kHangulLast) return append_hangul_jamo(out, c);
  if (in_ranges(bert_tables::kNonspacingMark, c)) return;
  const auto& base = bert_tables::kBase;
  auto it = std::lower_bound(base.begin(), base.end(), c, [](const bert_tables::Base& b, char32_t v) { return b.cp < v; });
  if (it != base.end() && it->cp == c) {
    out += it->base;
    return;
  }
  const auto& longer = bert_tables::kBaseLong;
  auto jt = std::lower_bound(longer.begin(), longer.end(), c,
                             [](const bert_tables::BaseLong& b, char32_t v) { return b.cp < v; });
  if (jt == longer.end() || jt->cp != c) {
    out += c;
    return;
  }
  for (char32_t b : jt->base)
    if (b != 0) out += b;
}

}  // namespace veil::model
