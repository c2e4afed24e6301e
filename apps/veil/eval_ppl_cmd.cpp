// `veil eval-ppl`: perplexity of a GPT-2 model folder on held-out text: in the clear (float32, or
// the plaintext simulation of a precision plan) or with three parties in this process under a plan.
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
#include "veil/nn/ditto_backend.h"
#include "veil/nn/ditto_generate.h"
#include "veil/nn/kv_eval.h"
#include "veil/nn/perplexity.h"
#include "veil/nn/plain_backend.h"
#include "veil/nn/plan_sim.h"

namespace veil::app {

namespace {

struct EvalPplArgs {
  std::string model;
  std::string text;
  int64_t tokens = 4096;
  int64_t context = 0;
  bool heldout = false;
  std::string backend = "plaintext";
  std::string precision;  // empty: float32 (plaintext), fp64 (mpc)
  bool json = false;
};

struct Scored {
  nn::PerplexityResult r;
  nlohmann::json traffic = nlohmann::json::object();  // mpc only
  std::string what;                                    // for the text line
};

Scored score(const EvalPplArgs& a, nn::Gpt2Checkpoint& ck, const std::vector<int32_t>& ids, int64_t context) {
  if (a.backend == "plaintext" && a.precision.empty()) {
    nn::PlainBackend be(std::move(ck.weights));
    nn::Gpt2<nn::PlainBackend> gpt2(be, ck.config);
    return {nn::perplexity(be, gpt2, ids, context), nlohmann::json::object(), "plaintext float32"};
  }
  const nn::ResolvedPlan plan = nn::resolve_precision(a.precision.empty() ? "fp64" : a.precision, a.model);
  std::fprintf(stderr, "veil eval-ppl: precision plan %s\n", plan.source.c_str());
  if (!plan.note.empty()) std::fprintf(stderr, "veil eval-ppl: note: %s\n", plan.note.c_str());
  if (a.backend == "plaintext") {
    std::vector<std::string> names;
    for (const auto& [name, _] : ck.weights) names.push_back(name);
    nn::check_plan_for_model(plan.plan, names, ck.config.n_layer);
    nn::PlanSimBackend be(ck.weights, plan.plan, nn::mpc_config_for(plan.plan).frac_bits_fm64);
    nn::Gpt2<nn::PlanSimBackend> gpt2(be, ck.config);
    Scored s{nn::perplexity(be, gpt2, ids, context), nlohmann::json::object(), "plaintext simulation of plan " + plan.plan.name};
    if (be.range_violations() > 0)
      std::fprintf(stderr, "veil eval-ppl: warning: %lld values left the range the MPC casts work in (first: %s)\n",
                   (long long)be.range_violations(), be.first_violation().c_str());
    return s;
  }
  const auto start = std::chrono::steady_clock::now();
  const nn::PrivatePerplexity p = nn::perplexity_private(
      ck, ids, context, plan.plan, [&](int64_t w, int64_t windows, const nn::PerplexityResult& r) {
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::fprintf(stderr, "  window %lld/%lld  perplexity so far %.4f  %.1f s\n", (long long)(w + 1),
                     (long long)windows, r.perplexity(), s);
      });
  return {p.result,
          {{"windows", p.windows}, {"bytes_all_parties", p.bytes_total}, {"rounds", p.rounds}, {"client_bytes", p.client_bytes}},
          "mpc, 3 parties in this process, plan " + plan.plan.name};
}

void run_eval_ppl(const EvalPplArgs& a) {
  std::ifstream in(a.text, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open the text file " + a.text);
  std::ostringstream text;
  text << in.rdbuf();

  const model::BpeTokenizer tok = model::BpeTokenizer::load_dir(a.model);
  nn::Gpt2Checkpoint ck = nn::load_gpt2_checkpoint(a.model);
  std::vector<int32_t> ids = tok.encode(a.heldout ? nn::heldout_text(text.str()) : text.str());
  if (a.tokens > 0 && int64_t(ids.size()) > a.tokens) ids.resize(size_t(a.tokens));
  if (ids.size() < 2)
    throw std::invalid_argument(
        (a.tokens == 1 ? std::string("--tokens 1 leaves one token")
                       : (a.heldout ? "the held-out split of --text (its last 10%, from a line start)" : "--text " + a.text) +
                             " has " + std::to_string(ids.size()) + " tokens") +
        "; perplexity needs at least 2");
  const int64_t context = a.context > 0 ? a.context : ck.config.n_positions;
  if (context < 2 || context > ck.config.n_positions)
    throw std::invalid_argument("--context " + std::to_string(a.context) + " is outside 2.." +
                                std::to_string(ck.config.n_positions) + " (the model's n_positions; 0 uses it)");

  const auto start = std::chrono::steady_clock::now();
  const Scored s = score(a, ck, ids, context);
  const nn::PerplexityResult& r = s.r;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (a.json) {
    nlohmann::json j = {{"model", a.model},         {"text", a.text},        {"tokens", ids.size()},
                        {"scored_tokens", r.scored}, {"context", context},   {"perplexity", r.perplexity()},
                        {"mean_nll", r.nll_sum / double(r.scored)},          {"seconds", seconds},
                        {"backend", a.backend},      {"heldout", a.heldout}};
    if (!a.precision.empty() || a.backend == "mpc") j["precision"] = a.precision.empty() ? "fp64" : a.precision;
    if (!s.traffic.empty()) j["mpc"] = s.traffic;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("perplexity %.4f over %lld scored tokens (%zu tokens, windows of %lld, %.2f s, %s)\n", r.perplexity(),
                (long long)r.scored, ids.size(), (long long)context, seconds, s.what.c_str());
  }
}

}  // namespace

void register_eval_ppl(CLI::App& app) {
  auto a = std::make_shared<EvalPplArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval-ppl", "Perplexity of a GPT-2 model folder on held-out text: exp of the mean negative log-likelihood of "
                  "each token given the ones before it in non-overlapping windows. In the clear, or (--backend mpc) "
                  "with three parties as threads of this process under a precision plan: the client shares each "
                  "window and scores the logits it reconstructs.");
  cmd->add_option("--model", a->model, "Model folder (config.json, model.safetensors, vocab.json, merges.txt)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--text", a->text, "UTF-8 text file to score")->required()->check(CLI::ExistingFile);
  cmd->add_option("--tokens", a->tokens, "Score the first N tokens of the text (0: all)")
      ->check(non_negative)
      ->capture_default_str();
  cmd->add_option("--context", a->context, "Window length in tokens (0: the model's n_positions)")
      ->check(non_negative)
      ->capture_default_str();
  cmd->add_flag("--heldout", a->heldout,
                "Score only the held-out split of --text: its last 10% of characters from the next line start "
                "(tools/train_gpt2.py split_corpus), before --tokens");
  cmd->add_option("--backend", a->backend,
                  "plaintext: in the clear; mpc: three-party secret sharing (threads of this process) under "
                  "--precision")
      ->check(CLI::IsMember({"plaintext", "mpc"}))
      ->capture_default_str();
  cmd->add_option("--precision", a->precision,
                  "Precision plan: fp64, ditto or a plan JSON file (as `veil generate --precision`: a built-in name "
                  "uses the model folder's plan.json with its calibrated scales when the formats agree). plaintext: "
                  "the plan's simulation (nn/plan_sim.h) instead of float32; mpc: the plan the parties run (default "
                  "fp64)");
  cmd->add_flag("--json", a->json,
                "Print JSON: tokens, scored_tokens, context, perplexity, mean_nll, seconds, backend, precision, and "
                "for mpc the windows and traffic (bytes between the parties, rounds, client bytes)");
  cmd->callback([a] { run_eval_ppl(*a); });
}

}  // namespace veil::app
