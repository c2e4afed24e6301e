// `veil classify`: sequence classification with a Hugging Face BertForSequenceClassification
// folder, in the clear or with the three parties as threads of this process, where only the
// client (this command's main thread) reconstructs the logits.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "veil/commands.h"
#include "veil/model/wordpiece_tokenizer.h"
#include "veil/nn/checkpoint.h"
#include "veil/nn/classify.h"

namespace veil::app {

namespace {

struct ClassifyArgs {
  std::string model;
  std::string text, text_pair;
  std::string ids, token_types;  // comma-separated integers
  std::string backend = "mpc";
  bool truncate = false;
  bool json = false;
  // Which of the optional inputs were given (set after parsing).
  bool has_text = false, has_pair = false, has_ids = false, has_types = false;
};

// The model's input: token ids and types, and the tokens' strings when they came from text.
struct Input {
  std::vector<int32_t> ids, token_types;
  std::vector<std::string> tokens;
  int64_t truncated = 0;
};

Input tokenize(const ClassifyArgs& a, const model::BertConfig& config) {
  if (!std::filesystem::is_regular_file(std::filesystem::path(a.model) / "vocab.txt"))
    throw std::invalid_argument("--text needs the model's WordPiece vocabulary, but " + a.model +
                                " has no vocab.txt: add the checkpoint's vocab.txt, or give token ids with --ids");
  const model::WordPieceTokenizer tok = model::WordPieceTokenizer::load_dir(a.model);
  if (tok.vocab_size() > config.vocab_size)
    throw std::runtime_error("the vocab.txt of " + a.model + " has " + std::to_string(tok.vocab_size()) +
                             " tokens but the model's vocab_size is " + std::to_string(config.vocab_size));
  const std::optional<std::string_view> pair = a.has_pair ? std::optional<std::string_view>(a.text_pair) : std::nullopt;
  model::WordPieceEncoding enc = tok.encode(a.text, pair);
  const int64_t max = config.max_position_embeddings;
  if (int64_t(enc.ids.size()) > max) {
    if (!a.truncate)
      throw std::invalid_argument("the text is " + std::to_string(enc.ids.size()) + " tokens long with [CLS] and [SEP], " +
                                  "more than the " + std::to_string(max) + " the model takes (max_position_embeddings): " +
                                  "shorten it, or pass --truncate to cut it");
    enc = tok.encode(a.text, pair, max);
  }
  Input in{std::move(enc.ids), std::move(enc.token_types), {}, enc.truncated};
  for (int32_t id : in.ids) in.tokens.push_back(tok.token(id));
  return in;
}

// "2,17, 45" -> {2, 17, 45}; `flag` names the option in errors.
std::vector<int32_t> parse_list(const std::string& text, const std::string& flag) {
  std::vector<int32_t> out;
  size_t begin = 0;
  for (;;) {
    const size_t end = std::min(text.find(',', begin), text.size());
    std::string item = text.substr(begin, end - begin);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    int32_t v = 0;
    const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (ec == std::errc::result_out_of_range)
      throw std::invalid_argument(flag + ": " + item + " is out of range (ids and token types are 32-bit integers)");
    if (item.empty() || ec != std::errc() || ptr != item.data() + item.size())
      throw std::invalid_argument(flag + ": '" + item + "' is not an integer (give a comma-separated list such as 2,17,3)");
    out.push_back(v);
    if (end == text.size()) return out;
    begin = end + 1;
  }
}

std::string joined(const std::vector<std::string>& tokens) {
  std::string s;
  for (const std::string& t : tokens) s += (s.empty() ? "" : " ") + t;
  return s;
}

std::vector<double> softmax(const std::vector<float>& logits) {
  const double m = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p;
  double z = 0;
  for (float l : logits) z += std::exp(double(l) - m);
  for (float l : logits) p.push_back(std::exp(double(l) - m) / z);
  return p;
}

// Tokens from vocab.txt that are not valid UTF-8 become U+FFFD in JSON.
std::string json_text(const nlohmann::json& j) { return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace); }

void print_result(const ClassifyArgs& a, const model::BertConfig& config, const Input& in,
                  const std::vector<float>& logits, double seconds, const nn::PrivateClassification* mpc) {
  if (logits.size() != config.labels.size())
    throw std::runtime_error("the model gave " + std::to_string(logits.size()) + " logits for " +
                             std::to_string(config.labels.size()) + " labels");
  const size_t best = size_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
  const std::vector<double> p = softmax(logits);
  if (a.json) {
    nlohmann::json j = {{"model", a.model}, {"backend", a.backend}, {"ids", in.ids}, {"token_types", in.token_types},
                        {"logits", logits}, {"probabilities", p}, {"label", config.labels[best]},
                        {"label_id", best}, {"labels", config.labels}, {"total_ms", seconds * 1e3}};
    if (a.has_text) {
      j["text"] = a.text;
      if (a.has_pair) j["text_pair"] = a.text_pair;
      j["tokens"] = in.tokens;
      j["truncated_tokens"] = in.truncated;
    }
    if (mpc) {
      j["bytes_all_parties"] = mpc->bytes_total;
      j["bytes_busiest_party"] = mpc->bytes_max;
      j["rounds"] = mpc->rounds;
      j["client_bytes_sent"] = mpc->client_bytes_sent;
      j["client_bytes_received"] = mpc->client_bytes_received;
    }
    std::printf("%s\n", json_text(j).c_str());
    return;
  }
  std::printf("label: %s\n", config.labels[best].c_str());
  for (size_t i = 0; i < logits.size(); ++i)
    std::printf("  %-20s logit %10.5f  p %.4f\n", config.labels[i].c_str(), double(logits[i]), p[i]);
  if (mpc)
    std::fprintf(stderr, "veil classify: %.2f s, %.2f MB sent between the parties (busiest %.2f MB) in %lld rounds, "
                         "%.3f MB between the client and the parties\n",
                 seconds, double(mpc->bytes_total) / 1e6, double(mpc->bytes_max) / 1e6, (long long)mpc->rounds,
                 double(mpc->client_bytes_sent + mpc->client_bytes_received) / 1e6);
  else
    std::fprintf(stderr, "veil classify: %.1f ms\n", seconds * 1e3);
}

void run_classify(const ClassifyArgs& a) {
  if (!a.has_text && !a.has_ids)
    throw std::invalid_argument("nothing to classify: give --text (tokenized with the model's vocab.txt) or --ids");
  nn::BertCheckpoint ck = nn::load_bert_checkpoint(a.model);
  nn::require_classifier(ck, a.model);
  Input in;
  if (a.has_text) {
    in = tokenize(a, ck.config);
  } else {
    in.ids = parse_list(a.ids, "--ids");
    in.token_types = a.has_types ? parse_list(a.token_types, "--token-types") : std::vector<int32_t>(in.ids.size(), 0);
  }
  nn::check_classify_input(ck.config, in.ids, in.token_types);  // before any party starts
  std::fprintf(stderr, "veil classify: %zu token%s, backend %s%s\n", in.ids.size(), in.ids.size() == 1 ? "" : "s", a.backend.c_str(),
               a.backend == "mpc" ? " (3 parties in this process, FM64; only the client sees the logits)" : "");
  if (!in.tokens.empty()) std::fprintf(stderr, "  tokens: %s\n", joined(in.tokens).c_str());
  if (in.truncated > 0)
    std::fprintf(stderr, "  truncated: %lld tokens cut to fit max_position_embeddings = %lld\n", (long long)in.truncated,
                 (long long)ck.config.max_position_embeddings);
  if (a.backend == "mpc") {
    const nn::PrivateClassification r = nn::classify_private(ck, in.ids, in.token_types);
    return print_result(a, ck.config, in, r.logits, r.seconds, &r);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<float> logits = nn::classify_plain(ck, in.ids, in.token_types);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  print_result(a, ck.config, in, logits, seconds, nullptr);
}

}  // namespace

void register_classify(CLI::App& app) {
  auto a = std::make_shared<ClassifyArgs>();
  CLI::App* cmd = app.add_subcommand(
      "classify", "Classify a text (or a pair of texts) with a BERT model (BertForSequenceClassification folder: "
                  "config.json, model.safetensors, and vocab.txt for --text). Prints the label (config.json id2label) "
                  "and the logits. With the mpc backend the three parties are threads of this process: the client "
                  "secret-shares the tokens and only it reconstructs the logits. Progress goes to stderr.");
  cmd->add_option("--model", a->model, "Model folder")->required()->check(CLI::ExistingDirectory);
  CLI::Option* text = cmd->add_option("--text", a->text, "Text to classify (UTF-8), tokenized with the folder's vocab.txt "
                                                          "and tokenizer_config.json as BertTokenizerFast does");
  CLI::Option* pair = cmd->add_option("--text-pair", a->text_pair,
                                      "Second text of a pair: [CLS] text [SEP] pair [SEP], token types 0 then 1")
                          ->needs(text);
  CLI::Option* ids = cmd->add_option("--ids", a->ids, "Token ids as the model takes them, comma-separated (no [CLS] or "
                                                      "[SEP] added), instead of --text")
                         ->excludes(text);
  CLI::Option* types = cmd->add_option("--token-types", a->token_types,
                                       "With --ids: one token type per id, comma-separated (default: all 0)")
                           ->needs(ids);
  cmd->add_option("--backend", a->backend,
                  "plaintext: float32 in the clear (the reference); mpc: three-party secret sharing, the parties are "
                  "threads of this process")
      ->check(CLI::IsMember({"plaintext", "mpc"}))
      ->capture_default_str();
  cmd->add_flag("--truncate", a->truncate,
                "With --text: cut a text longer than max_position_embeddings tokens (from the end of the longer text "
                "of a pair) instead of failing")
      ->needs(text);
  cmd->add_flag("--json", a->json,
                "Print JSON: ids, token_types, tokens (with --text), logits, probabilities, label, label_id, total_ms, "
                "and with mpc the bytes sent between the parties (all, busiest), rounds, and client bytes sent and "
                "received");
  cmd->callback([a, text, pair, ids, types] {
    a->has_text = text->count() > 0, a->has_pair = pair->count() > 0;
    a->has_ids = ids->count() > 0, a->has_types = types->count() > 0;
    run_classify(*a);
  });
}

}  // namespace veil::app
