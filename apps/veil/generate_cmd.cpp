// `veil generate`: GPT-2 text generation from a Hugging Face model folder: in the clear, with the
// three parties as threads of this process, or as the client of three `veil party --serve`.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "veil/commands.h"
#include "veil/kv_flags.h"
#include "veil/model/bpe_tokenizer.h"
#include "veil/net/endpoint.h"
#include "veil/nn/checkpoint.h"
#include "veil/nn/ditto_backend.h"
#include "veil/nn/ditto_generate.h"
#include "veil/nn/generate.h"
#include "veil/nn/plain_backend.h"
#include "veil/nn/plan_sim.h"
#include "veil/nn/private_generate.h"
#include "veil/nn/remote_generate.h"

namespace veil::app {

namespace {

struct GenerateArgs {
  std::string model;
  std::string prompt;
  std::string backend = "mpc";
  std::string precision;  // empty: float (plaintext) or the FM64 backend (mpc)
  nn::GenerateOptions opt;
  bool ignore_eos = false;
  bool json = false;
  std::string parties;  // the client of three served parties when set
  net::TlsFiles tls;
  int timeout_ms = 60000;
  std::string session_token;  // the gateway's, sent to the parties before the request
  KvFlags kv;  // resolved into opt.kv by run_generate
};

// Bytes that are not valid UTF-8 (a character cut between tokens) become U+FFFD in JSON.
std::string json_text(const nlohmann::json& j) { return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace); }

std::string token_json(const model::BpeTokenizer& tok, int32_t id) {
  return nlohmann::json(tok.decode(std::vector<int32_t>{id})).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Prints a private run (in process or served): only the client saw the tokens.
void print_private(const GenerateArgs& a, const model::BpeTokenizer& tok, const std::vector<int32_t>& prompt,
                   const std::vector<nn::PrivateToken>& out) {
  std::vector<int32_t> ids;
  nlohmann::json steps = nlohmann::json::array();
  double total = 0;
  int64_t bytes = 0, client_bytes = 0;
  for (const nn::PrivateToken& t : out) {
    steps.push_back({{"token", t.id}, {"ms", t.seconds * 1e3}, {"bytes_all_parties", t.bytes_total},
                     {"bytes_busiest_party", t.bytes_max}, {"rounds", t.rounds},
                     {"client_bytes_sent", t.client_bytes_sent}, {"client_bytes_received", t.client_bytes_received}});
    total += t.seconds, bytes += t.bytes_total, client_bytes += t.client_bytes_sent + t.client_bytes_received;
    if (!a.ignore_eos && t.id == tok.end_of_text_id()) break;  // the client cuts at <|endoftext|>
    ids.push_back(t.id);
  }
  const std::string text = tok.decode(ids);
  if (a.json) {
    nlohmann::json j = {{"model", a.model}, {"backend", a.backend}, {"prompt", a.prompt},
                        {"prompt_tokens", prompt}, {"tokens", ids}, {"text", text},
                        {"steps", steps}, {"total_ms", total * 1e3}, {"bytes_all_parties", bytes},
                        {"client_bytes", client_bytes}, {"kv", nn::to_json(a.opt.kv)}};
    if (!a.parties.empty()) j["parties"] = a.parties;
    if (!a.precision.empty()) j["precision"] = a.precision;
    std::printf("%s\n", json_text(j).c_str());
  } else {
    std::printf("%s%s\n", a.prompt.c_str(), text.c_str());
    std::fprintf(stderr, "veil generate: %zu tokens in %.1f s, %.1f MB sent between the parties, %.1f MB between the client and the parties\n",
                 ids.size(), total, double(bytes) / 1e6, double(client_bytes) / 1e6);
  }
}

nn::ProgressFn progress(const model::BpeTokenizer& tok) {
  return [&tok](int64_t, int32_t id, double s) {
    std::fprintf(stderr, "  token %4d  %9.1f ms  %s\n", id, s * 1e3, token_json(tok, id).c_str());
  };
}

// The plan of --precision for the model folder `dir`, announced on stderr.
nn::PrecisionPlan plan_for(const GenerateArgs& a, const std::string& dir) {
  nn::ResolvedPlan r = nn::resolve_precision(a.precision, dir);
  std::fprintf(stderr, "veil generate: precision plan %s\n", r.source.c_str());
  if (!r.note.empty()) std::fprintf(stderr, "veil generate: note: %s\n", r.note.c_str());
  return std::move(r.plan);
}

// Three parties as threads of this process plus the client; only the client sees tokens. With
// --precision the parties run the mixed-precision backend under the plan.
void run_private(const GenerateArgs& a, const model::BpeTokenizer& tok, const nn::Gpt2Checkpoint& ck,
                 const std::vector<int32_t>& prompt) {
  if (a.precision.empty()) {
    std::fprintf(stderr, "veil generate: %zu prompt tokens, backend mpc (3 parties in this process, FM64), KV policy %s\n",
                 prompt.size(), nn::describe(a.opt.kv).c_str());
    return print_private(a, tok, prompt, nn::generate_private(ck, prompt, a.opt, progress(tok)));
  }
  if (a.opt.kv.kind != nn::KvPolicyKind::full)
    throw std::invalid_argument("--precision runs with the full KV cache; drop --kv-policy");
  const nn::PrecisionPlan plan = plan_for(a, a.model);
  std::fprintf(stderr, "veil generate: %zu prompt tokens, backend mpc (3 parties in this process, plan %s)\n",
               prompt.size(), plan.name.c_str());
  print_private(a, tok, prompt, nn::generate_private(ck, prompt, a.opt, plan, progress(tok)));
}

// The plaintext simulation of a plan (nn/plan_sim.h): what the MPC run computes, rounded to
// nearest where it truncates.
std::vector<nn::GeneratedToken> generate_simulated(const GenerateArgs& a, nn::Gpt2Checkpoint& ck,
                                                   const std::vector<int32_t>& prompt, const nn::GenerateOptions& opt,
                                                   const std::function<void(const nn::GeneratedToken&)>& on_token) {
  nn::PrecisionPlan plan = plan_for(a, a.model);
  std::vector<std::string> names;
  for (const auto& [name, _] : ck.weights) names.push_back(name);
  nn::check_plan_for_model(plan, names, ck.config.n_layer);
  const int out_frac = nn::mpc_config_for(plan).frac_bits_fm64;
  nn::PlanSimBackend be(ck.weights, std::move(plan), out_frac);
  nn::Gpt2<nn::PlanSimBackend> gpt2(be, ck.config);
  auto out = nn::generate(be, gpt2, prompt, opt, on_token);
  if (be.range_violations() > 0)
    std::fprintf(stderr, "veil generate: warning: %lld values left the range the MPC casts work in (first: %s); the MPC "
                         "run would be wrong there\n", (long long)be.range_violations(), be.first_violation().c_str());
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The client of three `veil party --serve`: the model folder holds only the tokenizer and config.
void run_remote(const GenerateArgs& a) {
  if (a.tls.ca.empty() || a.tls.cert.empty() || a.tls.key.empty())
    throw std::invalid_argument("--parties needs --ca, --cert and --key (the client certificate from `veil certs`: "
                                "client.pem, client.key, ca.pem)");
  if (a.backend != "mpc") throw std::invalid_argument("--parties runs the MPC backend; drop --backend " + a.backend);
  std::signal(SIGPIPE, SIG_IGN);  // a party that vanished is an I/O error, not a signal
  const model::BpeTokenizer tok = model::BpeTokenizer::load_dir(a.model);
  const std::string config_path = a.model + "/config.json";
  const std::string config_text = read_text(config_path);
  const model::Gpt2Config config = model::parse_gpt2_config(nlohmann::json::parse(config_text), config_path);
  if (tok.vocab_size() > config.vocab_size)
    throw std::runtime_error("the tokenizer of " + a.model + " has " + std::to_string(tok.vocab_size()) +
                             " tokens but the model's vocab_size is " + std::to_string(config.vocab_size));
  const std::vector<int32_t> prompt = tok.encode(a.prompt);
  nn::RemoteParties parties;
  parties.endpoints = net::parse_peers(a.parties);
  parties.tls = a.tls;
  parties.timeout = std::chrono::milliseconds(a.timeout_ms);
  parties.session_token = a.session_token;
  if (!a.precision.empty()) {
    if (a.opt.kv.kind != nn::KvPolicyKind::full)
      throw std::invalid_argument("--precision runs with the full KV cache; drop --kv-policy");
    parties.plan = plan_for(a, a.model);  // the client folder's plan.json, written by `veil share-model --precision`
  }
  std::fprintf(stderr, "veil generate: %zu prompt tokens, backend mpc (parties %s, TLS 1.3), KV policy %s\n",
               prompt.size(), a.parties.c_str(), nn::describe(a.opt.kv).c_str());
  print_private(a, tok, prompt, nn::generate_remote(parties, config_text, prompt, a.opt, progress(tok)));
}

void run_generate(const GenerateArgs& args) {
  if (args.prompt.empty()) throw std::invalid_argument("--prompt is empty: give the text to continue");
  GenerateArgs a = args;
  a.opt.kv = a.kv.resolve();  // bad --kv-* flags fail before anything loads
  if (a.opt.sampling.top_k > 0 && a.opt.sampling.temperature == 0)
    throw std::invalid_argument("--top-k needs --temperature > 0: greedy decoding (temperature 0, the default) always "
                                "takes the most likely token");
  const nn::KvPolicyKind k = a.opt.kv.kind;
  if ((a.backend == "mpc" || !a.parties.empty()) &&
      (k == nn::KvPolicyKind::h2o || k == nn::KvPolicyKind::snapkv || k == nn::KvPolicyKind::quest ||
       k == nn::KvPolicyKind::topk))
    throw std::invalid_argument(std::string("--kv-policy ") + nn::kv_policy_name(k) +
                                " is a plaintext baseline (its choices would be opened under MPC): use --backend "
                                "plaintext, or mpcache / streaming with MPC");
  if (!a.parties.empty()) return run_remote(a);
  if (!a.tls.ca.empty() || !a.tls.cert.empty() || !a.tls.key.empty() || !a.session_token.empty())
    throw std::invalid_argument("--ca, --cert, --key and --session-token are for --parties (the client of served parties)");
  const model::BpeTokenizer tok = model::BpeTokenizer::load_dir(a.model);
  nn::Gpt2Checkpoint ck = nn::load_gpt2_checkpoint(a.model);
  if (tok.vocab_size() > ck.config.vocab_size)
    throw std::runtime_error("the tokenizer of " + a.model + " has " + std::to_string(tok.vocab_size()) +
                             " tokens but the model's vocab_size is " + std::to_string(ck.config.vocab_size));
  const std::vector<int32_t> prompt = tok.encode(a.prompt);
  if (a.backend == "mpc") return run_private(a, tok, ck, prompt);

  nn::GenerateOptions opt = a.opt;
  if (!a.ignore_eos) opt.stop_token = tok.end_of_text_id();
  std::fprintf(stderr, "veil generate: %zu prompt tokens, backend %s, KV policy %s\n", prompt.size(), a.backend.c_str(),
               nn::describe(opt.kv).c_str());
  const std::function<void(const nn::GeneratedToken&)> on_token = [&](const nn::GeneratedToken& t) {
    std::fprintf(stderr, "  token %4d  %8.2f ms  %s\n", t.id, t.seconds * 1e3, token_json(tok, t.id).c_str());
  };
  std::vector<nn::GeneratedToken> out;
  if (!a.precision.empty()) {
    if (opt.kv.kind != nn::KvPolicyKind::full)
      throw std::invalid_argument("--precision runs with the full KV cache; drop --kv-policy");
    out = generate_simulated(a, ck, prompt, opt, on_token);
  } else {
    nn::PlainBackend be(std::move(ck.weights));
    nn::Gpt2<nn::PlainBackend> gpt2(be, ck.config);
    out = nn::generate(be, gpt2, prompt, opt, on_token);
  }

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
                              {"per_token_ms", ms},      {"total_ms", total * 1e3},
                              {"kv", nn::to_json(opt.kv)}};
    nlohmann::json report = j;
    if (!a.precision.empty()) report["precision"] = a.precision;
    std::printf("%s\n", json_text(report).c_str());
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
                  "With --parties, be the client of three `veil party --serve`: the prompt and the tokens stay "
                  "secret-shared and only this process reconstructs them. Progress per token goes to stderr.");
  cmd->add_option("--model", a->model,
                  "Model folder; with --parties the client folder of `veil share-model` (config.json, vocab.json, "
                  "merges.txt: no weights)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--prompt", a->prompt, "Prompt text (UTF-8)")->required();
  cmd->add_option("--max-new-tokens", a->opt.max_new_tokens, "How many tokens to generate at most")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--backend", a->backend,
                  "plaintext: float32 in the clear (the reference); mpc: three-party secret sharing (the parties are threads "
                  "of this process unless --parties names them)")
      ->check(CLI::IsMember({"plaintext", "mpc"}))
      ->capture_default_str();
  cmd->add_option("--precision", a->precision,
                  "Precision plan (docs/DITTO.md): fp64 (every op on Z_2^64 with 18 fraction bits), ditto (linear "
                  "layers, embedding, residual stream and Quad GeLU on Z_2^32 with 8; attention, softmax and "
                  "LayerNorm on Z_2^64 with 18) or a plan JSON file. A built-in name uses the model folder's "
                  "plan.json (with its calibrated weight scales) when that plan has the same formats, as for a "
                  "model distilled by tools/distill.py. mpc: the parties run the mixed-precision backend under the "
                  "plan; plaintext: its simulation (the same arithmetic, rounded to nearest). Unset: float32 "
                  "(plaintext) or the Z_2^64 backend (mpc, what fp64 computes)");
  cmd->add_option("--temperature", a->opt.sampling.temperature,
                  "0: greedy decoding; > 0: sample from softmax(logits / temperature)")
      ->check(non_negative)
      ->capture_default_str();
  cmd->add_option("--top-k", a->opt.sampling.top_k, "Sample among the k most likely tokens (0: all)")
      ->check(non_negative)
      ->capture_default_str();
  cmd->add_option("--seed", a->opt.sampling.seed, "Seed of the client's sampling RNG")->check(non_negative)->capture_default_str();
  cmd->add_flag("--ignore-eos", a->ignore_eos, "Keep generating after <|endoftext|>");
  cmd->add_flag("--json", a->json,
                "Print JSON: prompt_tokens, tokens, text, total_ms and per_token_ms (plaintext) or steps (mpc: per "
                "token ms, bytes between the parties, rounds, client bytes sent and received); the first step "
                "includes the prefill");
  cmd->add_option("--parties", a->parties,
                  "host:port,host:port,host:port: the --client-listen addresses of parties 0, 1 and 2 (`veil party "
                  "--serve`); this process becomes their client over TLS 1.3")
      ->check(parsed_by(net::parse_peers));
  cmd->add_option("--ca", a->tls.ca, "With --parties: the CA certificate of the deployment (ca.pem from `veil certs`)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--cert", a->tls.cert, "With --parties: the client certificate (client.pem, CN veil-client)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--key", a->tls.key, "With --parties: the client's private key (client.key)")->check(CLI::ExistingFile);
  cmd->add_option("--timeout-ms", a->timeout_ms,
                  "With --parties: longest wait to reach the parties and have the session accepted, and for each "
                  "step's outputs")
      ->check(CLI::Range(1, 86400000))
      ->capture_default_str();
  cmd->add_option("--session-token", a->session_token,
                  "With --parties: the session token the gateway returned (POST /v1/sessions), sent to each party "
                  "before the request; parties started with --session-key refuse a session without a valid one");
  add_kv_flags(cmd, a->kv);
  cmd->callback([a] { run_generate(*a); });
}

}  // namespace veil::app
