// GPT-2 byte-level BPE tokenizer, token for token the same as Hugging Face's GPT2Tokenizer
// (add_prefix_space=False) on the gpt2 vocab.json and merges.txt.
//
// vocab.json   {"<token>": id, ...}: each token is the byte_unicode text of a byte string;
//              ids are 0..size-1, each once. The special token <|endoftext|> is the last id.
// merges.txt   "#version: ..." first line, then one merge "<left> <right>" per line, highest
//              priority first; both sides and their concatenation are vocab tokens.
//
// encode: the text is split at occurrences of <|endoftext|> (encoded as its id, as
// GPT2Tokenizer does with added tokens); each other part goes through the GPT-2
// pre-tokenizer, and each piece's bytes start as single-byte tokens that are merged pairwise,
// lowest merge rank first, until no listed merge applies.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "veil/model/gpt2_pretokenizer.h"
#include "veil/model/tokenizer_error.h"

namespace veil::model {

class BpeTokenizer {
 public:
  // Throws TokenizerError naming the file and line or token of the first problem.
  static BpeTokenizer load(const std::string& vocab_path, const std::string& merges_path);
  // vocab.json and merges.txt in `dir`.
  static BpeTokenizer load_dir(const std::string& dir);

  BpeTokenizer(BpeTokenizer&&) noexcept;
  BpeTokenizer& operator=(BpeTokenizer&&) noexcept;
  ~BpeTokenizer();

  std::vector<int32_t> encode(std::string_view text) const;  // text: UTF-8
  // The exact bytes the ids stand for. Hugging Face's decode then turns bytes that are not
  // valid UTF-8 (a character cut between ids) into U+FFFD; this does not.
  std::string decode(std::span<const int32_t> ids) const;

  int32_t vocab_size() const { return int32_t(token_bytes_.size()); }
  std::optional<int32_t> end_of_text_id() const { return end_of_text_; }

 private:
  struct Merge {
    int32_t rank;
    int32_t result;  // id of the merged token
  };
  struct Cache;  // piece -> ids, shared by const encode calls

  BpeTokenizer();
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;
  std::vector<int32_t> merge_piece(std::string_view piece) const;

  std::vector<std::string> token_bytes_;  // id -> the bytes it stands for
  std::array<int32_t, 256> byte_token_{};  // byte -> id of its single-byte token
  std::unordered_map<uint64_t, Merge> merges_;  // (left id << 32 | right id) -> merge
  std::optional<int32_t> end_of_text_;
  Gpt2Pretokenizer pretokenizer_;
  std::unique_ptr<Cache> cache_;
};

}  // namespace veil::model
