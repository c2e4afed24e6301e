#include "model_bench.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "net_model.h"
#include "veil/model/checkpoint_layout.h"
#include "veil/mpc/io.h"
#include "veil/mpc/runtime.h"
#include "veil/nn/bert.h"
#include "veil/nn/gpt2.h"
#include "veil/nn/mpc_backend.h"

namespace veil::bench {

namespace {

using Share = nn::MpcBackend::Tensor;

// A consistent replicated sharing of pseudo-random ring elements, drawn without communication.
Share random_share(mpc::Context& ctx, const Shape& shape) {
  Share a(shape);
  a.s0 = ctx.prg_prev().draw<uint64_t>(a.size());
  a.s1 = ctx.prg_next().draw<uint64_t>(a.size());
  return a;
}

std::map<std::string, Share> random_weights(mpc::Context& ctx, const model::TensorLayout& layout) {
  std::map<std::string, Share> w;
  for (const auto& [name, t] : layout)
    if (t.required) w.emplace(name, random_share(ctx, t.shape));
  return w;
}

// The breakdown columns: link tags set by the MPC backend and by the workloads below.
const std::vector<std::string> kParts = {"linear", "lm_head", "softmax", "activation", "layernorm", "embedding", "argmax"};

struct Row {
  std::string workload;
  double wall_s = 0;
  int64_t bytes_max = 0, bytes_total = 0, rounds = 0;
  int64_t client_bytes = 0, client_bytes_max = 0;  // client -> parties: all, and to the busiest party
  std::map<std::string, std::pair<int64_t, int64_t>> parts;  // tag -> (bytes of all parties, rounds)
};

// Runs `body` on three in-process parties after an untimed `setup`; the timed part is measured
// from a barrier to the end of `body`.
Row run_workload(const std::string& name, const std::function<std::function<void()>(mpc::Context&, mpc::ClientPort&)>& setup) {
  Row row{name};
  mpc::ClientPort port;
  std::array<double, 3> wall{};
  std::array<net::Traffic, 3> traffic{};
  std::array<std::map<std::string, net::Traffic>, 3> tags_before, tags_after;
  mpc::run_parties([&](mpc::Context& ctx) {
    std::function<void()> body = setup(ctx, port);
    mpc::sync_parties(ctx);
    tags_before[size_t(ctx.id())] = ctx.link().by_tag();
    net::Traffic before = ctx.link().total();
    auto t0 = std::chrono::steady_clock::now();
    body();
    wall[size_t(ctx.id())] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    traffic[size_t(ctx.id())] = ctx.link().total() - before;
    tags_after[size_t(ctx.id())] = ctx.link().by_tag();
  });
  row.wall_s = *std::max_element(wall.begin(), wall.end());
  for (int p = 0; p < 3; ++p) {
    row.bytes_max = std::max<int64_t>(row.bytes_max, int64_t(traffic[size_t(p)].bytes));
    row.bytes_total += int64_t(traffic[size_t(p)].bytes);
    row.rounds = std::max<int64_t>(row.rounds, int64_t(traffic[size_t(p)].rounds));
    for (const auto& tag : kParts) {
      net::Traffic a = tags_after[size_t(p)][tag], b = tags_before[size_t(p)][tag];
      auto& [bytes, rounds] = row.parts[tag];
      bytes += int64_t(a.bytes - b.bytes);
      rounds = std::max<int64_t>(rounds, int64_t(a.rounds - b.rounds));
    }
  }
  // The client's inputs (token ids or one-hot rows) feed only the embeddings.
  const mpc::ClientTraffic client = port.traffic();
  row.client_bytes = int64_t(client.bytes_sent);
  row.client_bytes_max = int64_t(*std::max_element(client.sent_to.begin(), client.sent_to.end()));
  row.bytes_total += row.client_bytes;
  row.parts["embedding"].first += row.client_bytes;
  return row;
}

model::Gpt2Config gpt2_base(bool quick) {
  model::Gpt2Config c{};
  c.n_layer = quick ? 2 : 12, c.n_head = 12, c.n_embd = 768, c.n_positions = 1024, c.vocab_size = 50257;
  c.n_inner = 3072;
  return c;
}

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
// The client's input for t tokens of a vocabulary of v: ids, or one-hot rows.
std::vector<uint64_t> client_tokens(nn::TokenInput input, int64_t t, int64_t v) {
  if (input == nn::TokenInput::secret_ids) return std::vector<uint64_t>(size_t(t), 0);
  std::vector<uint64_t> rows(size_t(t * v), 0);
  for (int64_t i = 0; i < t; ++i) rows[size_t(i * v)] = 1;
  return rows;
}

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

std::string gb(int64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f GB", double(b) / 1e9);
  return buf;
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
    // The client's upload precedes the computation: one more hop, and its bytes to the busiest
    // receiving party on the critical path.
    const int64_t path_bytes = r.bytes_max + r.client_bytes_max, path_rounds = r.rounds + (r.client_bytes > 0);
    double lan = kLan.time(r.wall_s, path_bytes, path_rounds), wan = kWan.time(r.wall_s, path_bytes, path_rounds);
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
