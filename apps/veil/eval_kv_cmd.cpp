// `veil eval-kv`: accuracy of KV-cache policies on the plaintext backend — held-out perplexity
// over long text and passkey retrieval, for every policy and budget asked, in one markdown table
// (docs/BENCHMARKS.md "KV-cache policies: accuracy", scripts/update-docs kv-accuracy).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "veil/commands.h"
#include "veil/kv_flags.h"
#include "veil/model/bpe_tokenizer.h"
#include "veil/nn/checkpoint.h"
#include "veil/nn/kv_eval.h"

namespace veil::app {

namespace {

struct EvalKvArgs {
  std::string model, text, samples, json_path;
  bool heldout = false;
  std::string policies = "full,streaming,h2o,snapkv,quest,mpcache";
  std::string budgets = "0.05,0.1,0.2,0.5";
  int64_t context = 1024, prefill = 512, windows = 0, max_samples = 0;
  KvFlags kv;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) out.push_back(part);
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Tokenized line by line, as tools/train_gpt2.py builds its held-out stream.
std::vector<int32_t> tokenize_lines(const model::BpeTokenizer& tok, const std::string& text) {
  std::vector<int32_t> ids;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    nl = nl == std::string::npos ? text.size() : nl + 1;
    const std::vector<int32_t> line = tok.encode(text.substr(at, nl - at));
    ids.insert(ids.end(), line.begin(), line.end());
    at = nl;
  }
  return ids;
}

struct Row {
  std::string policy;
  double budget = 1;
  double ppl = 0;
  double retrieval = -1;
  nn::StaticKept kept;  // over the perplexity prefills and the retrieval prompts
  double seconds = 0;
};

void run_eval_kv(const EvalKvArgs& a) {
  const model::BpeTokenizer tok = model::BpeTokenizer::load_dir(a.model);
  nn::Gpt2Checkpoint ck = nn::load_gpt2_checkpoint(a.model);
  const nn::KvPolicyConfig base = [&] {
    KvFlags f = a.kv;
    f.policy = "full";
    return f.resolve();
  }();
  std::vector<int32_t> ids;
  if (!a.text.empty()) {
    const std::string corpus = read_file(a.text);
    ids = tokenize_lines(tok, a.heldout ? nn::heldout_text(corpus) : corpus);
  }
  std::vector<nn::RetrievalSample> samples;
  if (!a.samples.empty()) samples = nn::read_retrieval_samples(a.samples);
  if (a.max_samples > 0 && int64_t(samples.size()) > a.max_samples) samples.resize(size_t(a.max_samples));
  if (ids.empty() && samples.empty()) throw std::invalid_argument("eval-kv: give --text, --samples or both");
  nn::PlainBackend be(std::move(ck.weights));
  nn::Gpt2<nn::PlainBackend> model(be, ck.config);

  std::vector<std::pair<std::string, double>> runs{{"full", 1.0}};
  for (const std::string& p : split(a.policies)) {
    nn::parse_kv_policy(p);  // a bad name fails before any work
    if (p == "full") continue;
    for (const std::string& b : split(a.budgets)) runs.emplace_back(p, std::stod(b));
  }
  std::vector<Row> rows;
  for (const auto& [policy, budget] : runs) {
    nn::KvPolicyConfig c = base;
    c.kind = nn::parse_kv_policy(policy);
    c.budget = budget;
    nn::validate(c);
    const auto start = std::chrono::steady_clock::now();
    Row r{policy, budget};
    if (!ids.empty()) {
      const nn::KvPerplexity p = nn::kv_perplexity(be, model, ids, a.context, a.prefill, c, a.windows);
      r.ppl = p.perplexity(), r.kept = p.kept;
    }
    if (!samples.empty()) r.retrieval = nn::kv_retrieval_accuracy(be, model, samples, c, &r.kept);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "eval-kv: %-9s budget %.2f  ppl %.3f  retrieval %.3f  static kept %.3f  (%.1f s)\n",
                 policy.c_str(), budget, r.ppl, r.retrieval, r.kept.fraction(), r.seconds);
    rows.push_back(r);
  }

  const double full_ppl = rows.front().ppl;
  const int64_t windows = ids.empty() ? 0
                                      : (a.windows > 0 ? std::min<int64_t>(a.windows, int64_t(ids.size()) / a.context)
                                                       : int64_t(ids.size()) / a.context);
  std::printf("Perplexity: %lld windows of %lld held-out tokens, the first %lld prefilled, the other %lld decoded one "
              "by one through the policy's cache and scored. Retrieval: %zu passkey samples, exact match. Settings "
              "other than the budget: %s.\n\n",
              (long long)windows, (long long)a.context, (long long)a.prefill, (long long)(a.context - a.prefill),
              samples.size(), nn::describe([&] {
                nn::KvPolicyConfig c = base;
                c.kind = nn::KvPolicyKind::mpcache;
                return c;
              }()).c_str());
  std::printf("| policy | budget | perplexity | vs full | retrieval | kept by static eviction |\n|---|---:|---:|---:|---:|---:|\n");
  nlohmann::json out = nlohmann::json::array();
  for (const Row& r : rows) {
    const bool full = r.policy == "full";
    char ppl[32] = "—", delta[32] = "—", ret[32] = "—", budget[16] = "—", kept[16] = "—";
    if (r.ppl > 0) std::snprintf(ppl, sizeof ppl, "%.3f", r.ppl);
    if (r.ppl > 0 && !full) std::snprintf(delta, sizeof delta, "%+.2f%%", 100.0 * (r.ppl / full_ppl - 1));
    if (r.retrieval >= 0) std::snprintf(ret, sizeof ret, "%.3f", r.retrieval);
    if (!full) std::snprintf(budget, sizeof budget, "%.0f%%", 100 * r.budget);
    if (r.kept.fraction() >= 0) std::snprintf(kept, sizeof kept, "%.1f%%", 100 * r.kept.fraction());
    std::printf("| %s | %s | %s | %s | %s | %s |\n", r.policy.c_str(), budget, ppl, delta, ret, kept);
    nn::KvPolicyConfig c = base;
    c.kind = nn::parse_kv_policy(r.policy);
    c.budget = r.budget;
    out.push_back({{"kv", nn::to_json(c)}, {"perplexity", r.ppl}, {"retrieval", r.retrieval},
                   {"static_kept", r.kept.fraction()}, {"seconds", r.seconds}});
  }
  if (!a.json_path.empty()) {
    std::ofstream f(a.json_path);
    if (!f) throw std::runtime_error("cannot write " + a.json_path);
    f << nlohmann::json{{"model", a.model}, {"context", a.context}, {"prefill", a.prefill}, {"windows", windows},
                        {"samples", samples.size()}, {"rows", out}}
             .dump(2)
      << "\n";
  }
}

}  // namespace

void register_eval_kv(CLI::App& app) {
  auto a = std::make_shared<EvalKvArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval-kv", "Accuracy of KV-cache policies on the plaintext backend: held-out perplexity with the cache of each "
                 "policy (prefill then token-by-token decoding) and passkey retrieval, for each policy and budget; "
                 "prints a markdown table (docs/BENCHMARKS.md). Progress goes to stderr.");
  cmd->add_option("--model", a->model, "Model folder (config.json, model.safetensors, vocab.json, merges.txt)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--text", a->text, "UTF-8 text for perplexity, tokenized line by line")->check(CLI::ExistingFile);
  cmd->add_flag("--heldout", a->heldout,
                "Score only the held-out split of --text: its last 10% of characters from the next line start "
                "(tools/train_gpt2.py split_corpus)");
  cmd->add_option("--samples", a->samples,
                  "Passkey retrieval samples, JSONL of tools/train_gpt2.py --make-retrieval-samples")
      ->check(CLI::ExistingFile);
  cmd->add_option("--max-samples", a->max_samples, "Use the first N samples (0: all)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--policies", a->policies, "Comma-separated policies (full always runs: the reference)")
      ->capture_default_str();
  cmd->add_option("--budgets", a->budgets, "Comma-separated budgets for every policy but full")->capture_default_str();
  cmd->add_option("--context", a->context, "Perplexity window in tokens")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--prefill", a->prefill, "Tokens of each window prefilled at once (the rest is decoded)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--windows", a->windows, "Score the first N windows (0: every whole window)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--json", a->json_path, "Also write the rows, with every setting, as JSON to this file");
  add_kv_flags(cmd, a->kv, false);
  cmd->callback([a] { run_eval_kv(*a); });
}

}  // namespace veil::app
