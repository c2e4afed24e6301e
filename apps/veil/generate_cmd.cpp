// `veil generate`: GPT-2 text generation from a Hugging Face model folder.
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "veil/commands.h"
#include "veil/model/bpe_tokenizer.h"
#include "veil/nn/checkpoint.h"
#include "veil/nn/generate.h"
#include "veil/nn/plain_backend.h"
#include "veil/nn/private_generate.h"

namespace veil::app {

namespace {

struct GenerateArgs {
  std::string model;
  std::string prompt;
  std::string backend = "mpc";
  nn::GenerateOptions opt;
  bool ignore_eos = false;
  bool json = false;
};

// Bytes that are not valid UTF-8 (a character cut between tokens) become U+FFFD in JSON.
std::string json_text(const nlohmann::json& j) { return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace); }

std::string token_json(const model::BpeTokenizer& tok, int32_t id) {
  return nlohmann::json(tok.decode(std::vector<int32_t>{id})).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Three parties as threads of this process plus the client; only the client sees tokens.
void run_private(const GenerateArgs& a, const model::BpeTokenizer& tok, const nn::Gpt2Checkpoint& ck,
                 const std::vector<int32_t>& prompt) {
  std::fprintf(stderr, "veil generate: %zu prompt tokens, backend mpc (3 parties in this process, FM64)\n", prompt.size());
  const auto out = nn::generate_private(ck, prompt, a.opt, [&](int64_t, int32_t id, double s) {
    std::fprintf(stderr, "  token %4d  %9.1f ms  %s\n", id, s * 1e3, token_json(tok, id).c_str());
  });
  std::vector<int32_t> ids;
  nlohmann::json steps = nlohmann::json::array();
  double total = 0;
  int64_t bytes = 0;
  for (const nn::PrivateToken& t : out) {
    steps.push_back({{"token", t.id}, {"ms", t.seconds * 1e3}, {"bytes_all_parties", t.bytes_total},
                     {"bytes_busiest_party", t.bytes_max}, {"rounds", t.rounds}});
    total += t.seconds, bytes += t.bytes_total;
    if (!a.ignore_eos && t.id == tok.end_of_text_id()) break;  // the client cuts at <|endoftext|>
    ids.push_back(t.id);
  }
  const std::string text = tok.decode(ids);
  if (a.json) {
    const nlohmann::json j = {{"model", a.model}, {"backend", a.backend}, {"prompt", a.prompt},
                              {"prompt_tokens", prompt}, {"tokens", ids}, {"text", text},
                              {"steps", steps}, {"total_ms", total * 1e3}, {"bytes_all_parties", bytes}};
    std::printf("%s\n", json_text(j).c_str());
  } else {
    std::printf("%s%s\n", a.prompt.c_str(), text.c_str());
    std::fprintf(stderr, "veil generate: %zu tokens in %.1f s, %.1f MB sent by all parties\n", ids.size(), total,
                 double(bytes) / 1e6);
  }
}

void run_generate(const GenerateArgs& a) {
  const model::BpeTokenizer tok = model::BpeTokenizer::load_dir(a.model);
  nn::Gpt2Checkpoint ck = nn::load_gpt2_checkpoint(a.model);
  if (tok.vocab_size() > ck.config.vocab_size)
    throw std::runtime_error("the tokenizer of " + a.model + " has " + std::to_string(tok.vocab_size()) +
                             " tokens but the model's vocab_size is " + std::to_string(ck.config.vocab_size));
  const std::vector<int32_t> prompt = tok.encode(a.prompt);
  if (a.backend == "mpc") return run_private(a, tok, ck, prompt);
  nn::PlainBackend be(std::move(ck.weights));
  nn::Gpt2<nn::PlainBackend> gpt2(be, ck.config);

  nn::GenerateOptions opt = a.opt;
  if (!a.ignore_eos) opt.stop_token = tok.end_of_text_id();
  std::fprintf(stderr, "veil generate: %zu prompt tokens, backend %s\n", prompt.size(), a.backend.c_str());
  const auto out = nn::generate(be, gpt2, prompt, opt, [&](const nn::GeneratedToken& t) {
    std::fprintf(stderr, "  token %4d  %8.2f ms  %s\n", t.id, t.seconds * 1e3,
                 nlohmann::json(tok.decode(std::vector<int32_t>{t.id})).dump(-1, ' ', false,
                                                                              nlohmann::json::error_handler_t::replace)
                     .c_str());
  });

  std::vector<int32_t> ids;
  std::vector<double> ms;
  double total = 0;
  for (const nn::GeneratedToken& t : out) {
    ids.push_back(t.id);
    ms.push_back(t.seconds * 1e3);
    total += t.seconds;
  }
  const std::string text = tok.decode(ids);
  if (a.json) {
    const nlohmann::json j = {{"model", a.model},       {"backend", a.backend}, {"prompt", a.prompt},
                              {"prompt_tokens", prompt}, {"tokens", ids},        {"text", text},
                              {"per_token_ms", ms},      {"total_ms", total * 1e3}};
    std::printf("%s\n", json_text(j).c_str());
  } else {
    std::printf("%s%s\n", a.prompt.c_str(), text.c_str());
    std::fprintf(stderr, "veil generate: %zu tokens in %.1f ms\n", ids.size(), total * 1e3);
  }
}

}  // namespace

void register_generate(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "generate", "Generate text with a GPT-2 model (GPT2LMHeadModel folder: config.json, model.safetensors, "
                  "vocab.json, merges.txt): prefill the prompt, then decode token by token with a KV cache. "
                  "Progress per token goes to stderr.");
  cmd->add_option("--model", a->model, "Model folder")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--prompt", a->prompt, "Prompt text (UTF-8)")->required();
  cmd->add_option("--max-new-tokens", a->opt.max_new_tokens, "How many tokens to generate at most")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--backend", a->backend,
                  "plaintext: float32 in the clear (the reference); mpc: three-party secret sharing")
      ->check(CLI::IsMember({"plaintext", "mpc"}))
      ->capture_default_str();
  cmd->add_option("--temperature", a->opt.sampling.temperature,
                  "0: greedy decoding; > 0: sample from softmax(logits / temperature)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--top-k", a->opt.sampling.top_k, "Sample among the k most likely tokens (0: all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--seed", a->opt.sampling.seed, "Seed of the client's sampling RNG")->capture_default_str();
  cmd->add_flag("--ignore-eos", a->ignore_eos, "Keep generating after <|endoftext|>");
  cmd->add_flag("--json", a->json,
                "Print JSON: prompt_tokens, tokens, text, per_token_ms (the first includes the prefill), total_ms");
  cmd->callback([a] { run_generate(*a); });
}

}  // namespace veil::app
