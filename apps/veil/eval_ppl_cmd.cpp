// `veil eval-ppl`: perplexity of a GPT-2 model folder on held-out text (plaintext backend).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "veil/commands.h"
#include "veil/model/bpe_tokenizer.h"
#include "veil/nn/checkpoint.h"
#include "veil/nn/perplexity.h"
#include "veil/nn/plain_backend.h"

namespace veil::app {

namespace {

struct EvalPplArgs {
  std::string model;
  std::string text;
  int64_t tokens = 4096;
  int64_t context = 0;
  bool json = false;
};

void run_eval_ppl(const EvalPplArgs& a) {
  std::ifstream in(a.text, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open the text file " + a.text);
  std::ostringstream text;
  text << in.rdbuf();

  const model::BpeTokenizer tok = model::BpeTokenizer::load_dir(a.model);
  nn::Gpt2Checkpoint ck = nn::load_gpt2_checkpoint(a.model);
  std::vector<int32_t> ids = tok.encode(text.str());
  if (a.tokens > 0 && int64_t(ids.size()) > a.tokens) ids.resize(size_t(a.tokens));
  const int64_t context = a.context > 0 ? a.context : ck.config.n_positions;
  nn::PlainBackend be(std::move(ck.weights));
  nn::Gpt2<nn::PlainBackend> gpt2(be, ck.config);

  const auto start = std::chrono::steady_clock::now();
  const nn::PerplexityResult r = nn::perplexity(be, gpt2, ids, context);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (a.json) {
    const nlohmann::json j = {{"model", a.model},         {"text", a.text},        {"tokens", ids.size()},
                              {"scored_tokens", r.scored}, {"context", context},   {"perplexity", r.perplexity()},
                              {"mean_nll", r.nll_sum / double(r.scored)},          {"seconds", seconds}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("perplexity %.4f over %lld scored tokens (%zu tokens, windows of %lld, %.2f s, plaintext)\n",
                r.perplexity(), (long long)r.scored, ids.size(), (long long)context, seconds);
  }
}

}  // namespace

void register_eval_ppl(CLI::App& app) {
  auto a = std::make_shared<EvalPplArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval-ppl", "Perplexity of a GPT-2 model folder on held-out text, on the plaintext backend: exp of the mean "
                  "negative log-likelihood of each token given the ones before it in non-overlapping windows.");
  cmd->add_option("--model", a->model, "Model folder (config.json, model.safetensors, vocab.json, merges.txt)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--text", a->text, "UTF-8 text file to score")->required()->check(CLI::ExistingFile);
  cmd->add_option("--tokens", a->tokens, "Score the first N tokens of the text (0: all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--context", a->context, "Window length in tokens (0: the model's n_positions)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "Print JSON: tokens, scored_tokens, context, perplexity, mean_nll, seconds");
  cmd->callback([a] { run_eval_ppl(*a); });
}

}  // namespace veil::app
