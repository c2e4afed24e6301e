#include "model_bench.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "workload.h"
#include "veil/model/checkpoint_layout.h"
#include "veil/nn/bert.h"
#include "veil/nn/gpt2.h"
#include "veil/nn/mpc_backend.h"

namespace veil::bench {

namespace {

// The breakdown columns: link tags set by the MPC backend and by the workloads below.
const std::vector<std::string> kParts = {"linear", "lm_head", "softmax", "activation", "layernorm", "embedding", "argmax"};

using Row = WorkloadRow;

Row run_workload(const std::string& name, const WorkloadSetup& setup) { return bench::run_workload(name, kParts, setup); }

model::BertConfig bert_base(bool quick) {
  model::BertConfig c{};
  c.hidden_size = 768, c.num_hidden_layers = quick ? 2 : 12, c.num_attention_heads = 12, c.intermediate_size = 3072;
  c.max_position_embeddings = 512, c.vocab_size = 30522, c.labels = {"LABEL_0", "LABEL_1"};
  c.architectures = {"BertForSequenceClassification"};
  return c;
}

// GPT-2: the prompt of `prompt_len` tokens through the model, the next token chosen by argmax
// inside MPC and handed to the client. With `context` > 0, one decode step instead, over a KV
// cache of `context` positions filled with random shares.
Row gpt2_workload(const model::Gpt2Config& cfg, int64_t prompt_len, int64_t context, const std::string& name,
                  nn::TokenInput input) {
  return run_workload(name, [&cfg, prompt_len, context, input](mpc::Context& ctx, mpc::ClientPort& port) {
    auto be = std::make_shared<nn::MpcBackend>(ctx, random_weights(ctx, model::gpt2_layout(cfg)), port, input);
    auto net = std::make_shared<nn::Gpt2<nn::MpcBackend>>(*be, cfg);
    auto cache = std::make_shared<nn::KvCache<nn::MpcBackend>>(net->new_cache());
    const int64_t d = cfg.head_dim();
    for (int64_t l = 0; l < cfg.n_layer && context > 0; ++l)
      cache->append(*be, l, random_share(ctx, {cfg.n_head, context, d}), random_share(ctx, {cfg.n_head, context, d}));
    if (context > 0) cache->advance(context);
    const int64_t t = context > 0 ? 1 : prompt_len;
    if (ctx.id() == 0) port.send_input(client_tokens(input, t, cfg.vocab_size));  // the client's tokens
    return std::function<void()>([be, net, cache, t] {
      nn::MpcBackend::Tokens ids = be->input_tokens(std::vector<int32_t>(size_t(t), 0));
      const Share h = net->hidden(ids, *cache);
      Share logits;
      {
        net::Link::Scope scope(be->context().link(), "lm_head");
        logits = net->logits(be->slice_rows(h, h.shape[0] - 1, 1));
      }
      be->reveal_tokens(be->argmax(logits));
    });
  });
}

Row bert_workload(const model::BertConfig& cfg, int64_t tokens, const std::string& name, nn::TokenInput input) {
  return run_workload(name, [&cfg, tokens, input](mpc::Context& ctx, mpc::ClientPort& port) {
    auto be = std::make_shared<nn::MpcBackend>(ctx, random_weights(ctx, model::bert_layout(cfg)), port, input);
    auto net = std::make_shared<nn::Bert<nn::MpcBackend>>(*be, cfg);
    if (ctx.id() == 0) {
      port.send_input(client_tokens(input, tokens, cfg.vocab_size));       // ids
      port.send_input(client_tokens(input, tokens, cfg.type_vocab_size));  // token types
    }
    return std::function<void()>([be, net, tokens] {
      std::vector<int32_t> len(size_t(tokens), 0);
      nn::MpcBackend::Tokens ids = be->input_tokens(len), types = be->input_tokens(len);
      be->reveal_to_client(net->classify(ids, types));
    });
  });
}

}  // namespace

void run_model_bench(const ModelBenchOptions& o) {
  std::vector<std::function<Row()>> jobs;
  const auto g = gpt2_base(o.quick);
  const auto b = bert_base(o.quick);
  const std::string gname = o.quick ? "GPT2-base shape, 2 layers" : "GPT2-base";
  const std::string bname = o.quick ? "BERT-base shape, 2 layers" : "BERT-base";
  if (o.token_input != "onehot" && o.token_input != "ids")
    throw std::invalid_argument("bench model: --token-input must be onehot or ids");
  const nn::TokenInput input = o.token_input == "ids" ? nn::TokenInput::secret_ids : nn::TokenInput::client_onehot;
  if (o.which == "gpt2" || o.which == "all") {
    jobs.push_back([&] { return gpt2_workload(g, 32, 0, gname + ": 32-token prompt + 1 token", input); });
    // The new token attends over `c` positions: c − 1 cached plus itself.
    for (int64_t c : {int64_t(128), int64_t(512), int64_t(1024)})
      jobs.push_back(
          [&, c] { return gpt2_workload(g, 0, c - 1, gname + ": 1 decode step at context " + std::to_string(c), input); });
  }
  if (o.which == "bert" || o.which == "all")
    jobs.push_back([&] { return bert_workload(b, 128, bname + ": 128 tokens", input); });
  if (jobs.empty()) throw std::invalid_argument("bench model: --model must be gpt2, bert or all");

  std::printf("| workload | wall (s) | all parties + client | busiest party | client → parties | rounds | LAN (s) | WAN (s) |");
  for (const auto& p : kParts) std::printf(" %s |", p.c_str());
  std::printf("\n|---|---:|---:|---:|---:|---:|---:|---:|");
  for (size_t i = 0; i < kParts.size(); ++i) std::printf("---:|");
  std::printf("\n");
  nlohmann::json out = nlohmann::json::array();
  for (auto& job : jobs) {
    Row r = job();
    const double lan = r.lan_s(), wan = r.wan_s();  // the client's upload precedes the computation
    std::printf("| %s | %.2f | %s | %s | %s | %lld | %.2f | %.2f |", r.workload.c_str(), r.wall_s, gb(r.bytes_total).c_str(),
                gb(r.bytes_max).c_str(), gb(r.client_bytes).c_str(), static_cast<long long>(r.rounds), lan, wan);
    nlohmann::json parts;
    for (const auto& p : kParts) {
      auto [bytes, rounds] = r.parts[p];
      std::printf(" %s / %lld r |", gb(bytes).c_str(), static_cast<long long>(rounds));
      parts[p] = {{"bytes_total", bytes}, {"rounds", rounds}};
    }
    std::printf("\n");
    std::fflush(stdout);
    out.push_back({{"workload", r.workload}, {"wall_s", r.wall_s}, {"bytes_total", r.bytes_total}, {"bytes_max", r.bytes_max},
                   {"client_bytes", r.client_bytes}, {"client_bytes_max", r.client_bytes_max}, {"token_input", o.token_input},
                   {"rounds", r.rounds}, {"lan_s", lan}, {"wan_s", wan}, {"parts", parts}});
  }
  if (!o.json_path.empty()) {
    std::ofstream f(o.json_path);
    if (!f) throw std::runtime_error("cannot write " + o.json_path);
    f << out.dump(2) << "\n";
  }
}

}  // namespace veil::bench
