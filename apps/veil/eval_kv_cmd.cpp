// `veil eval-kv`: accuracy of KV-cache policies on the plaintext backend — held-out perplexity
// over long text and passkey retrieval, for every policy and budget asked, in one markdown table
// (docs/BENCHMARKS.md "KV-cache policies: accuracy", scripts/update-docs kv-accuracy).
#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "veil/commands.h"
#include "veil/core/file_read.h"
#include "veil/kv_flags.h"
#include "veil/model/bpe_tokenizer.h"
#include "veil/nn/checkpoint.h"
#include "veil/nn/kv_agreement.h"
#include "veil/nn/kv_eval.h"

namespace veil::app {

namespace {

struct EvalKvArgs {
  std::string model, text, samples, json_path;
  bool heldout = false;
  std::string policies = "full,streaming,h2o,snapkv,quest,topk,mpcache";
  std::string budgets = "0.05,0.1,0.2,0.5";
  int64_t context = 1024, prefill = 512, windows = 0, max_samples = 0;
  int64_t agreement = 0, agreement_steps = 16;  // MPC-vs-plaintext agreement over this many windows
  double agreement_budget = 0.2;
  KvFlags kv;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) out.push_back(part);
  return out;
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

// `text` as a T, the whole of it; `what` names it in the error.
template <class T>
T number(const std::string& text, const std::string& what) {
  T v{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    throw std::invalid_argument(what + ": '" + text + "' is not " + (std::is_integral_v<T> ? "an integer" : "a number"));
  return v;
}

// "name" or "name/key=value/...": a policy with settings of its own (the --kv-* names without
// the prefix), e.g. mpcache/static=off/share=off.
nn::KvPolicyConfig policy_spec(const std::string& spec, const nn::KvPolicyConfig& base) {
  std::vector<std::string> parts;
  std::stringstream in(spec);
  for (std::string part; std::getline(in, part, '/');) parts.push_back(part);
  nn::KvPolicyConfig c = base;
  c.kind = nn::parse_kv_policy(parts.at(0));
  for (size_t i = 1; i < parts.size(); ++i) {
    const size_t eq = parts[i].find('=');
    if (eq == std::string::npos) throw std::invalid_argument("eval-kv: '" + parts[i] + "' in '" + spec + "' is not key=value");
    const std::string key = parts[i].substr(0, eq), v = parts[i].substr(eq + 1);
    const std::string what = "eval-kv: " + key + " in '" + spec + "'";
    auto on = [&] {
      if (v != "on" && v != "off") throw std::invalid_argument("eval-kv: " + key + " must be on or off in '" + spec + "'");
      return v == "on";
    };
    if (key == "sink") c.sink = number<int64_t>(v, what);
    else if (key == "window") c.window = number<double>(v, what);
    else if (key == "snap_window") c.snap_window = number<int64_t>(v, what);
    else if (key == "pool") c.pool = number<int64_t>(v, what);
    else if (key == "page") c.page = number<int64_t>(v, what);
    else if (key == "static") c.static_eviction = on();
    else if (key == "gamma") c.gamma = number<double>(v, what);
    else if (key == "reveal") c.reveal = nn::parse_static_reveal(v);
    else if (key == "fine") c.fine = number<int64_t>(v, what);
    else if (key == "coarse") c.coarse = number<int64_t>(v, what);
    else if (key == "alpha") c.alpha = number<double>(v, what);
    else if (key == "share") c.share = on();
    else throw std::invalid_argument("eval-kv: unknown setting '" + key + "' in '" + spec + "'");
  }
  return c;
}

struct Row {
  std::string policy;
  double budget = 1;
  double ppl = 0;
  double retrieval = -1;
  nn::StaticKept kept;  // over the perplexity prefills and the retrieval prompts
  double topk_mass = -1;  // topk: mean share of the full softmax's probability its choices held
  double seconds = 0;
};

// MPCache's selection under MPC against the plaintext backend, over held-out windows: the first
// `prefill` tokens as the prompt, then `steps` tokens fed one by one; static eviction off and on.
void run_agreement(const EvalKvArgs& a, const nn::Gpt2Checkpoint& ck, const std::vector<int32_t>& ids,
                   const nn::KvPolicyConfig& base) {
  std::printf("MPC against plaintext, %lld held-out windows: a %lld-token prompt then %lld tokens fed one by one; "
              "budget %.0f%%. A selection is one (layer, head, step) of a layer that selects (not one reusing its "
              "pair's); it agrees when both backends attend to the same fine clusters.\n\n",
              (long long)a.agreement, (long long)a.prefill, (long long)a.agreement_steps, 100 * a.agreement_budget);
  std::printf("| static eviction | selections compared | identical | agreement | layers with identical kept sets | "
              "MPC vote error near γ·H (max, of γ·H) | tokens kept by one backend only | their distance to γ·H (max) |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (bool st : {false, true}) {
    nn::KvPolicyConfig c = base;
    c.kind = nn::KvPolicyKind::mpcache, c.budget = a.agreement_budget, c.static_eviction = st;
    c.reveal = nn::StaticReveal::positions;
    nn::Agreement total;
    for (int64_t w = 0; w < a.agreement; ++w) {
      const size_t begin = size_t(w * a.context);  // run_eval_kv checked that the text holds every window
      const std::vector<int32_t> prompt(ids.begin() + int64_t(begin), ids.begin() + int64_t(begin) + a.prefill);
      const std::vector<int32_t> more(ids.begin() + int64_t(begin) + a.prefill,
                                      ids.begin() + int64_t(begin) + a.prefill + a.agreement_steps);
      const nn::Agreement one = nn::compare(nn::plaintext_selections(ck, prompt, more, c), nn::mpc_selections(ck, prompt, more, c),
                                            c.gamma * double(ck.config.n_head), c.share);
      std::fprintf(stderr, "eval-kv: agreement, static %s, window %lld: %lld of %lld\n", st ? "on" : "off", (long long)w,
                   (long long)one.equal, (long long)one.selections);
      total += one;
    }
    char kept[32] = "—", error[32] = "—", flipped[32] = "—", distance[32] = "—";
    if (st) {
      std::snprintf(kept, sizeof kept, "%lld of %lld", (long long)total.static_equal, (long long)total.static_layers);
      std::snprintf(error, sizeof error, "%.2f%%", 100 * total.vote_error);
      std::snprintf(flipped, sizeof flipped, "%lld", (long long)total.flipped);
      if (total.flipped > 0) std::snprintf(distance, sizeof distance, "%.2f%%", 100 * total.flipped_distance);
    }
    char agreement[16] = "—";  // no selection compared: the prompt leaves no clusters to choose from
    if (total.selections > 0) std::snprintf(agreement, sizeof agreement, "%.1f%%", 100 * total.fraction());
    std::printf("| %s | %lld | %lld | %s | %s | %s | %s | %s |\n", st ? "on (positions)" : "off",
                (long long)total.selections, (long long)total.equal, agreement, kept, error, flipped, distance);
    std::fflush(stdout);
  }
}

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
    const std::string corpus = read_file_or_throw(a.text);
    ids = tokenize_lines(tok, a.heldout ? nn::heldout_text(corpus) : corpus);
  }
  std::vector<nn::RetrievalSample> samples;
  if (!a.samples.empty()) samples = nn::read_retrieval_samples(a.samples);
  if (a.max_samples > 0 && int64_t(samples.size()) > a.max_samples) samples.resize(size_t(a.max_samples));
  if (ids.empty() && samples.empty()) throw std::invalid_argument("eval-kv: give --text, --samples or both");
  if (a.agreement > 0 && ids.empty()) throw std::invalid_argument("eval-kv: --agreement needs --text");
  const nn::Gpt2Checkpoint agreement_ck = a.agreement > 0 ? ck : nn::Gpt2Checkpoint{};
  nn::PlainBackend be(std::move(ck.weights));
  nn::Gpt2<nn::PlainBackend> model(be, ck.config);

  const bool accuracy = a.policies != "none";
  if (!accuracy && a.agreement == 0)
    throw std::invalid_argument("eval-kv: --policies none prints only the agreement table: give --agreement N");
  if (!(a.agreement_budget > 0 && a.agreement_budget <= 1))
    throw std::invalid_argument("eval-kv: --agreement-budget must be in (0, 1], got " + std::to_string(a.agreement_budget));
  if (a.agreement > 0 && size_t((a.agreement - 1) * a.context + a.prefill + a.agreement_steps) > ids.size())
    throw std::invalid_argument("eval-kv: --agreement " + std::to_string(a.agreement) + " needs " +
                                std::to_string((a.agreement - 1) * a.context + a.prefill + a.agreement_steps) +
                                " tokens of --text (windows of --context " + std::to_string(a.context) + "), but it has " +
                                std::to_string(ids.size()));
  std::vector<double> budgets;
  for (const std::string& b : split(a.budgets)) {
    budgets.push_back(number<double>(b, "eval-kv: --budgets"));
    if (!(budgets.back() > 0 && budgets.back() <= 1))
      throw std::invalid_argument("eval-kv: --budgets: " + b + " is not a fraction of the context in (0, 1]");
  }
  std::vector<std::pair<std::string, double>> runs;
  if (accuracy) runs.emplace_back("full", 1.0);
  for (const std::string& p : accuracy ? split(a.policies) : std::vector<std::string>{}) {
    nn::validate(policy_spec(p, base));  // a bad name or setting fails before any work
    if (p == "full") continue;
    for (double b : budgets) runs.emplace_back(p, b);
  }
  std::vector<Row> rows;
  for (const auto& [policy, budget] : runs) {
    nn::KvPolicyConfig c = policy_spec(policy, base);
    c.budget = budget;
    nn::validate(c);
    const auto start = std::chrono::steady_clock::now();
    Row r;
    r.policy = policy, r.budget = budget;
    if (!ids.empty()) {
      const nn::KvPerplexity p = nn::kv_perplexity(be, model, ids, a.context, a.prefill, c, a.windows);
      r.ppl = p.perplexity(), r.kept = p.kept, r.topk_mass = p.topk_mass;
    }
    if (!samples.empty()) r.retrieval = nn::kv_retrieval_accuracy(be, model, samples, c, &r.kept);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "eval-kv: %-9s budget %.2f  ppl %.3f  retrieval %.3f  static kept %.3f  (%.1f s)\n",
                 policy.c_str(), budget, r.ppl, r.retrieval, r.kept.fraction(), r.seconds);
    rows.push_back(r);
  }

  if (!accuracy) {
    if (a.agreement > 0) run_agreement(a, agreement_ck, ids, base);
    return;
  }
  const double full_ppl = rows.front().ppl;
  const int64_t windows = ids.empty() ? 0
                                      : (a.windows > 0 ? std::min<int64_t>(a.windows, int64_t(ids.size()) / a.context)
                                                       : int64_t(ids.size()) / a.context);
  std::string settings;  // every policy's settings but the budget
  for (nn::KvPolicyKind k : {nn::KvPolicyKind::streaming, nn::KvPolicyKind::snapkv, nn::KvPolicyKind::quest,
                             nn::KvPolicyKind::mpcache}) {
    nn::KvPolicyConfig c = base;
    c.kind = k;
    std::string d = nn::describe(c);
    const size_t b = d.find(" budget=");
    if (b != std::string::npos) d.erase(b, d.find(' ', b + 1) == std::string::npos ? std::string::npos : d.find(' ', b + 1) - b);
    settings += (settings.empty() ? "" : "; ") + d;
  }
  std::printf("Perplexity: %lld windows of %lld held-out tokens, the first %lld prefilled, the other %lld decoded one "
              "by one through the policy's cache and scored. Retrieval: %zu passkey samples, exact match. Budget: "
              "the fraction of the context each decoding step attends to. Attention mass (topk rows): the mean, over "
              "every (layer, head, decoding step), of the full softmax's probability held by the budget's "
              "highest-scoring tokens; no choice of as many tokens holds more. Other settings (unless a row names its "
              "own): %s.\n\n",
              (long long)windows, (long long)a.context, (long long)a.prefill, (long long)(a.context - a.prefill),
              samples.size(), settings.c_str());
  std::printf("| policy | budget | perplexity | vs full | retrieval | kept by static eviction | attention mass of the "
              "chosen tokens (topk) |\n|---|---:|---:|---:|---:|---:|---:|\n");
  nlohmann::json out = nlohmann::json::array();
  for (const Row& r : rows) {
    const bool full = r.policy == "full";
    char ppl[32] = "—", delta[32] = "—", ret[32] = "—", budget[16] = "—", kept[16] = "—", mass[16] = "—";
    if (r.ppl > 0) std::snprintf(ppl, sizeof ppl, "%.3f", r.ppl);
    if (r.ppl > 0 && !full) std::snprintf(delta, sizeof delta, "%+.2f%%", 100.0 * (r.ppl / full_ppl - 1));
    if (r.retrieval >= 0) std::snprintf(ret, sizeof ret, "%.3f", r.retrieval);
    if (!full) std::snprintf(budget, sizeof budget, "%.0f%%", 100 * r.budget);
    if (r.kept.fraction() >= 0) std::snprintf(kept, sizeof kept, "%.1f%%", 100 * r.kept.fraction());
    if (r.topk_mass >= 0) std::snprintf(mass, sizeof mass, "%.1f%%", 100 * r.topk_mass);
    std::printf("| %s | %s | %s | %s | %s | %s | %s |\n", r.policy.c_str(), budget, ppl, delta, ret, kept, mass);
    nn::KvPolicyConfig c = policy_spec(r.policy, base);
    c.budget = r.budget;
    out.push_back({{"kv", nn::to_json(c)}, {"perplexity", r.ppl}, {"retrieval", r.retrieval},
                   {"static_kept", r.kept.fraction()}, {"topk_mass", r.topk_mass}, {"seconds", r.seconds}});
  }
  if (a.agreement > 0) {
    std::printf("\n");
    run_agreement(a, agreement_ck, ids, base);
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
  cmd->add_option("--max-samples", a->max_samples, "Use the first N samples (0: all)")
      ->check(non_negative)
      ->capture_default_str();
  cmd->add_option("--policies", a->policies,
                  "Comma-separated policies (full always runs: the reference); a policy may carry settings of its own "
                  "as name/key=value/..., keys as the --kv-* flags without the prefix (mpcache/static=off/share=off); "
                  "none: only the --agreement table")
      ->capture_default_str();
  cmd->add_option("--budgets", a->budgets, "Comma-separated budgets for every policy but full")->capture_default_str();
  cmd->add_option("--context", a->context, "Perplexity window in tokens")->check(positive)->capture_default_str();
  cmd->add_option("--prefill", a->prefill, "Tokens of each window prefilled at once (the rest is decoded)")
      ->check(positive)
      ->capture_default_str();
  cmd->add_option("--windows", a->windows, "Score the first N windows (0: every whole window)")
      ->check(non_negative)
      ->capture_default_str();
  cmd->add_option("--json", a->json_path, "Also write the rows, with every setting, as JSON to this file");
  cmd->add_option("--agreement", a->agreement,
                  "Also run MPCache under MPC (three in-process parties) on the first N windows of --text and report "
                  "how often it selects the same clusters as the plaintext backend (0: skip)")
      ->check(non_negative)
      ->capture_default_str();
  cmd->add_option("--agreement-steps", a->agreement_steps, "Tokens fed after the --prefill prompt in each agreement run")
      ->check(positive)
      ->capture_default_str();
  cmd->add_option("--agreement-budget", a->agreement_budget, "MPCache budget of the agreement runs")->capture_default_str();
  add_kv_flags(cmd, a->kv, false);
  cmd->callback([a] { run_eval_kv(*a); });
}

}  // namespace veil::app
