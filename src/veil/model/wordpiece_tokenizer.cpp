#include "veil/model/wordpiece_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "veil/core/file_read.h"
#include "veil/model/utf8.h"

namespace veil::model {

namespace {

std::string read_or_throw(const std::filesystem::path& path) {
  std::optional<std::string> text = read_file(path.string());
  if (!text) throw TokenizerError("cannot read " + path.string());
  return std::move(*text);
}

// One token per line; a final line without "\n" counts, the empty rest after the last "\n" does not.
std::vector<std::string> parse_vocab(const std::string& text, const std::string& source) {
  std::vector<std::string> tokens;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(begin, end - begin);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    tokens.push_back(std::move(line));
    begin = end + 1;
  }
  if (tokens.empty()) throw TokenizerError(source + " is empty: a WordPiece vocabulary lists one token per line");
  if (tokens.size() > size_t(INT32_MAX)) throw TokenizerError(source + " has more tokens than ids fit in 32 bits");
  return tokens;
}

// tokenizer_config.json: the fields BertTokenizer takes; others are ignored.
void read_config(const std::filesystem::path& path, WordPieceOptions& o) {
  const std::string source = path.string();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_or_throw(path));
  } catch (const nlohmann::json::exception& e) {
    throw TokenizerError(source + " is not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw TokenizerError(source + " must hold a JSON object");
  auto flag = [&](const char* name, bool& out) {
    if (!j.contains(name) || j[name].is_null()) return;
    if (!j[name].is_boolean()) throw TokenizerError(source + ": field '" + name + "' must be true or false, got " + j[name].dump());
    out = j[name].get<bool>();
  };
  auto special = [&](const char* name, std::string& out) {
    if (!j.contains(name) || j[name].is_null()) return;
    const nlohmann::json& v = j[name];
    if (v.is_string()) out = v.get<std::string>();
    else if (v.is_object() && v.contains("content") && v["content"].is_string()) out = v["content"].get<std::string>();
    else throw TokenizerError(source + ": field '" + name + "' must be a string or {\"content\": string}, got " + v.dump());
  };
  flag("do_lower_case", o.text.lower_case);
  if (j.contains("strip_accents") && !j["strip_accents"].is_null()) {
    bool strip = false;
    flag("strip_accents", strip);
    o.text.strip_accents = strip;
  }
  flag("tokenize_chinese_chars", o.text.split_cjk);
  special("unk_token", o.unk_token);
  special("sep_token", o.sep_token);
  special("pad_token", o.pad_token);
  special("cls_token", o.cls_token);
  special("mask_token", o.mask_token);
}

}  // namespace

WordPieceTokenizer WordPieceTokenizer::load_dir(const std::string& dir) {
  const std::filesystem::path d(dir);
  const std::filesystem::path vocab = d / "vocab.txt";
  if (!std::filesystem::is_regular_file(vocab))
    throw TokenizerError("no vocab.txt in " + dir + " (the WordPiece vocabulary of a BERT model: one token per line)");
  WordPieceOptions options;
  const std::filesystem::path config = d / "tokenizer_config.json";
  if (std::filesystem::is_regular_file(config)) read_config(config, options);
  return WordPieceTokenizer(parse_vocab(read_or_throw(vocab), vocab.string()), std::move(options), vocab.string());
}

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options, const std::string& source)
    : tokens_(std::move(vocab)), options_(std::move(options)) {
  if (tokens_.empty()) throw TokenizerError(source + " is empty: a WordPiece vocabulary lists one token per line");
  for (size_t i = 0; i < tokens_.size(); ++i) ids_[tokens_[i]] = int32_t(i);  // the last id of a repeated token
  unk_ = required(options_.unk_token, source);
  cls_ = required(options_.cls_token, source);
  sep_ = required(options_.sep_token, source);
  for (const std::string* s : {&options_.unk_token, &options_.sep_token, &options_.pad_token, &options_.cls_token,
                               &options_.mask_token})
    if (auto id = find(*s); id && !s->empty()) specials_.emplace_back(*s, *id);
  std::sort(specials_.begin(), specials_.end(), [](const auto& x, const auto& y) { return x.first.size() > y.first.size(); });
}

int32_t WordPieceTokenizer::required(const std::string& token, const std::string& source) const {
  auto id = find(token);
  if (!id) throw TokenizerError(source + " has no " + token + " token, which BERT's tokenizer needs");
  return *id;
}

std::optional<int32_t> WordPieceTokenizer::find(std::string_view token) const {
  auto it = ids_.find(std::string(token));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

// Greedy longest match first over the word's characters; the whole word is [UNK] when a
// remainder matches nothing.
void WordPieceTokenizer::wordpiece(const std::u32string& word, std::vector<int32_t>& out) const {
  if (int64_t(word.size()) > options_.max_word_chars) {
    out.push_back(unk_);
    return;
  }
  // UTF-8 of the word with the byte offset of each character (and of the end).
  std::string utf8;
  std::vector<size_t> at;
  for (char32_t c : word) {
    at.push_back(utf8.size());
    append_utf8(utf8, c);
  }
  at.push_back(utf8.size());
  const size_t first = out.size();
  std::string piece;
  for (size_t start = 0; start < word.size();) {
    std::optional<int32_t> match;
    size_t end = word.size();
    for (; end > start; --end) {
      piece.assign(start > 0 ? "##" : "");
      piece.append(utf8, at[start], at[end] - at[start]);
      if ((match = find(piece))) break;
    }
    if (!match) {
      out.resize(first);
      out.push_back(unk_);
      return;
    }
    out.push_back(*match);
    start = end;
  }
}

std::vector<int32_t> WordPieceTokenizer::ids_of(std::string_view text) const {
  decode_utf8(text, "the text");  // the error's byte offset counts from the start of the text
  std::vector<int32_t> out;
  auto plain = [&](std::string_view part) {  // valid UTF-8: parts end at special tokens, which are whole characters
    for (const std::u32string& word : bert_basic_tokenize(decode_utf8(part, "the text"), options_.text))
      wordpiece(word, out);
  };
  size_t done = 0;
  for (size_t i = 0; i < text.size();) {
    auto special = std::find_if(specials_.begin(), specials_.end(),
                                [&](const auto& s) { return text.substr(i).starts_with(s.first); });
    if (special == specials_.end()) {
      ++i;
      continue;
    }
    plain(text.substr(done, i - done));
    out.push_back(special->second);
    i += special->first.size();
    done = i;
  }
  plain(text.substr(done));
  return out;
}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
  std::vector<std::string> out;
  for (int32_t id : ids_of(text)) out.push_back(token(id));
  return out;
}

WordPieceEncoding WordPieceTokenizer::encode(std::string_view a, std::optional<std::string_view> b,
                                             int64_t max_length) const {
  std::vector<int32_t> first = ids_of(a), second;
  if (b) second = ids_of(*b);
  const int64_t specials = b ? 3 : 2;
  WordPieceEncoding enc;
  if (max_length > 0) {
    if (max_length < specials + (b ? 2 : 1))
      throw TokenizerError("cannot truncate to " + std::to_string(max_length) + " tokens: [CLS] and [SEP] leave no room for "
                           "a token of each text");
    while (int64_t(first.size() + second.size()) + specials > max_length) {
      std::vector<int32_t>& cut = b && second.size() >= first.size() ? second : first;
      cut.pop_back();
      ++enc.truncated;
    }
  }
  enc.ids.push_back(cls_);
  enc.ids.insert(enc.ids.end(), first.begin(), first.end());
  enc.ids.push_back(sep_);
  enc.token_types.assign(enc.ids.size(), 0);
  if (b) {
    enc.ids.insert(enc.ids.end(), second.begin(), second.end());
    enc.ids.push_back(sep_);
    enc.token_types.resize(enc.ids.size(), 1);
  }
  return enc;
}

}  // namespace veil::model
