#include "veil/model/bpe_tokenizer.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "veil/model/byte_unicode.h"
#include "veil/core/file_read.h"

namespace veil::model {
namespace {

constexpr std::string_view end_of_text_token = "<|endoftext|>";
constexpr size_t max_cached_pieces = size_t{1} << 16;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw TokenizerError("tokenizer file " + path + ": " + what);
}

std::string read_or_fail(const std::string& path) {
  std::optional<std::string> text = read_file(path);
  if (!text) fail(path, std::string("cannot open: ") + std::strerror(errno));
  return std::move(*text);
}

uint64_t pair_key(int32_t left, int32_t right) {
  return uint64_t(uint32_t(left)) << 32 | uint32_t(right);
}

}  // namespace

struct BpeTokenizer::Cache {
  std::mutex mutex;
  std::unordered_map<std::string, std::vector<int32_t>> pieces;
};

BpeTokenizer::BpeTokenizer() : cache_(std::make_unique<Cache>()) {}
BpeTokenizer::BpeTokenizer(BpeTokenizer&&) noexcept = default;
BpeTokenizer& BpeTokenizer::operator=(BpeTokenizer&&) noexcept = default;
BpeTokenizer::~BpeTokenizer() = default;

BpeTokenizer BpeTokenizer::load(const std::string& vocab_path, const std::string& merges_path) {
  BpeTokenizer t;

  nlohmann::json vocab;
  try {
    vocab = nlohmann::json::parse(read_or_fail(vocab_path));
  } catch (const nlohmann::json::parse_error& e) {
    fail(vocab_path, std::string("not valid JSON: ") + e.what());
  }
  if (!vocab.is_object() || vocab.empty())
    fail(vocab_path, "must be a non-empty JSON object mapping tokens to ids");
  std::unordered_map<std::string, int32_t> id_of;  // vocab.json token text -> id
  t.token_bytes_.resize(vocab.size());
  std::vector<bool> seen(vocab.size(), false);
  for (const auto& [token, id_json] : vocab.items()) {
    if (!id_json.is_number_integer() || id_json.get<int64_t>() < 0 ||
        id_json.get<int64_t>() >= int64_t(vocab.size()))
      fail(vocab_path, "id of '" + token + "' must be an integer in 0.." +
                           std::to_string(vocab.size() - 1) + ", got " + id_json.dump());
    const auto id = id_json.get<int32_t>();
    if (seen[size_t(id)]) fail(vocab_path, "id " + std::to_string(id) + " is used twice");
    seen[size_t(id)] = true;
    const auto bytes = unicode_text_to_bytes(token);
    if (!bytes)
      fail(vocab_path, "token '" + token + "' (id " + std::to_string(id) +
                           ") has a character outside GPT-2's byte alphabet");
    t.token_bytes_[size_t(id)] = *bytes;
    id_of.emplace(token, id);
    if (token == end_of_text_token) t.end_of_text_ = id;
  }
  for (unsigned b = 0; b < 256; ++b) {
    const std::string text = bytes_to_unicode_text(std::string(1, char(b)));
    const auto it = id_of.find(text);
    if (it == id_of.end())
      fail(vocab_path, "lacks the single-byte token '" + text + "' (byte " + std::to_string(b) + ")");
    t.byte_token_[b] = it->second;
  }

  std::istringstream merges(read_or_fail(merges_path));
  std::string line;
  for (int line_no = 1; std::getline(merges, line); ++line_no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_no == 1 && line.starts_with("#version"))) continue;
    const size_t space = line.find(' ');
    const std::string where = "line " + std::to_string(line_no) + ": ";
    if (space == 0 || space == std::string::npos || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string::npos)
      fail(merges_path, where + "expected '<left> <right>', got '" + line + "'");
    const std::string left = line.substr(0, space);
    const std::string right = line.substr(space + 1);
    int32_t ids[3];
    const std::string parts[3] = {left, right, left + right};
    for (int i = 0; i < 3; ++i) {
      const auto it = id_of.find(parts[i]);
      if (it == id_of.end()) fail(merges_path, where + "token '" + parts[i] + "' is not in vocab.json");
      ids[i] = it->second;
    }
    const auto rank = int32_t(t.merges_.size());
    if (!t.merges_.emplace(pair_key(ids[0], ids[1]), Merge{rank, ids[2]}).second)
      fail(merges_path, where + "repeats an earlier merge");
  }
  return t;
}

BpeTokenizer BpeTokenizer::load_dir(const std::string& dir) {
  const std::filesystem::path d(dir);
  return load((d / "vocab.json").string(), (d / "merges.txt").string());
}

std::vector<int32_t> BpeTokenizer::merge_piece(std::string_view piece) const {
  std::vector<int32_t> ids;  // start from single bytes
  for (char c : piece) ids.push_back(byte_token_[uint8_t(c)]);
  while (ids.size() > 1) {
    const Merge* best = nullptr;
    uint64_t best_key = 0;
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      const uint64_t key = pair_key(ids[i], ids[i + 1]);
      const auto it = merges_.find(key);
      if (it != merges_.end() && (!best || it->second.rank < best->rank)) {
        best = &it->second;
        best_key = key;
      }
    }
    if (!best) break;
    // Merge every occurrence of the best pair, left to right.
    std::vector<int32_t> merged;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i + 1 < ids.size() && pair_key(ids[i], ids[i + 1]) == best_key) {
        merged.push_back(best->result);
        ++i;
      } else {
        merged.push_back(ids[i]);
      }
    }
    ids = std::move(merged);
  }
  return ids;
}

void BpeTokenizer::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  {
    std::lock_guard lock(cache_->mutex);
    if (const auto it = cache_->pieces.find(std::string(piece)); it != cache_->pieces.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids = merge_piece(piece);  // outside the lock: other threads go on
  out.insert(out.end(), ids.begin(), ids.end());
  std::lock_guard lock(cache_->mutex);
  if (cache_->pieces.size() >= max_cached_pieces) cache_->pieces.clear();
  cache_->pieces.emplace(std::string(piece), std::move(ids));
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  while (!text.empty()) {
    const size_t special = end_of_text_ ? text.find(end_of_text_token) : std::string_view::npos;
    for (std::string_view piece : pretokenizer_.split(text.substr(0, special)))
      encode_piece(piece, ids);
    if (special == std::string_view::npos) break;
    ids.push_back(*end_of_text_);
    text.remove_prefix(special + end_of_text_token.size());
  }
  return ids;
}

std::string BpeTokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size())
      throw TokenizerError("decode: token id " + std::to_string(id) + " is outside the vocabulary 0.." +
                           std::to_string(vocab_size() - 1));
    out += token_bytes_[size_t(id)];
  }
  return out;
}

}  // namespace veil::model
