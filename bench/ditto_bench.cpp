#include "ditto_bench.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "workload.h"
#include "veil/model/checkpoint_layout.h"
#include "veil/nn/bert.h"
#include "veil/nn/ditto_backend.h"
#include "veil/nn/ditto_generate.h"
#include "veil/nn/gpt2.h"
#include "veil/nn/plan_weights.h"
#include "veil/nn/precision_plan.h"

namespace veil::bench {

namespace {

// Link tags of DittoBackend. Tags nest: "cast" (every change of ring or fraction bits, truncations
// included) is also counted in the op that casts.
const std::vector<std::string> kTags = {"embedding", "linear",   "attention", "softmax", "activation",
                                        "layernorm", "residual", "lm_head",   "argmax",  "cast"};
const std::vector<std::pair<std::string, std::vector<std::string>>> kColumns = {
    {"embedding", {"embedding"}}, {"linear", {"linear"}},       {"attention (q·kᵀ, p·v)", {"attention"}},
    {"softmax", {"softmax"}},     {"GeLU", {"activation"}},     {"LayerNorm", {"layernorm"}},
    {"residual", {"residual"}},   {"lm_head / classifier + argmax", {"lm_head", "argmax"}},
    {"casts (within the ops)", {"cast"}}};

model::BertConfig bert_base(bool quick) {
  model::BertConfig c{};
  c.hidden_size = 768, c.num_hidden_layers = quick ? 2 : 12, c.num_attention_heads = 12, c.intermediate_size = 3072;
  c.max_position_embeddings = 512, c.vocab_size = 30522, c.labels = {"LABEL_0", "LABEL_1"};
  c.architectures = {"BertForSequenceClassification"};
  return c;
}

// The ditto plan's per-tensor scales for random weights of `layout` (the header comment).
nn::PrecisionPlan with_weight_scales(nn::PrecisionPlan plan, const model::TensorLayout& layout) {
  std::mt19937_64 rng(20240507);
  std::normal_distribution<float> init(0.0f, 0.02f);
  for (const auto& [name, t] : layout) {
    if (!t.required) continue;
    bool fm32_matrix = false;
    for (const nn::WeightUse& u : nn::weight_uses(name, true))
      fm32_matrix |= u.matrix && plan.at(u.op, u.layer).ring == Ring::FM32;
    if (!fm32_matrix) continue;
    float m = 0;
    for (int64_t i = 0, n = numel(t.shape); i < n; ++i) m = std::max(m, std::abs(init(rng)));
    int fb = 20;
    while (fb > 0 && std::ldexp(double(m), fb) >= std::ldexp(1.0, plan.weight_bits - 1)) --fb;
    plan.scales[name] = {fb, Ring::FM32};
  }
  return plan;
}

// Random shares of every encoding the plan deals of each tensor of the layout.
nn::PlanWeightShares random_plan_weights(mpc::Context& ctx, const model::TensorLayout& layout,
                                         const nn::PrecisionPlan& plan) {
  nn::PlanWeightShares w;
  const bool tied = !layout.count("lm_head.weight") || !layout.at("lm_head.weight").required;
  for (const auto& [name, t] : layout) {
    if (!t.required) continue;
    for (const nn::WeightEncoding& e : nn::weight_encodings(plan, name, tied)) {
      nn::RingTensor r;
      if (e.ring == Ring::FM32) {
        mpc::AShare<uint32_t> a(t.shape);
        a.s0 = ctx.prg_prev().draw<uint32_t>(a.size());
        a.s1 = ctx.prg_next().draw<uint32_t>(a.size());
        r = nn::RingTensor::of(std::move(a), e.frac_bits);
      } else {
        r = nn::RingTensor::of(random_share(ctx, t.shape), e.frac_bits);
      }
      r.weight = name;
      w[name].push_back(std::move(r));
    }
  }
  return w;
}

WorkloadRow gpt2_row(const model::Gpt2Config& cfg, const nn::PrecisionPlan& plan, const std::string& name) {
  const model::TensorLayout layout = model::gpt2_layout(cfg);
  const int64_t t = 32;
  return run_workload(name, kTags, [&](mpc::Context& ctx, mpc::ClientPort& port) {
    auto be = std::make_shared<nn::DittoBackend>(ctx, random_plan_weights(ctx, layout, plan), plan, port,
                                                 nn::TokenInput::client_onehot);
    auto net = std::make_shared<nn::Gpt2<nn::DittoBackend>>(*be, cfg);
    auto cache = std::make_shared<nn::KvCache<nn::DittoBackend>>(net->new_cache());
    if (ctx.id() == 0) port.send_input(client_tokens(nn::TokenInput::client_onehot, t, cfg.vocab_size), nn::onehot_bits_for(plan));
    return std::function<void()>([be, net, cache, t] {
      const nn::DittoBackend::Tokens ids = be->input_tokens(std::vector<int32_t>(size_t(t), 0));
      be->reveal_tokens(be->argmax(net->next_logits(ids, *cache)));
    });
  });
}

WorkloadRow bert_row(const model::BertConfig& cfg, const nn::PrecisionPlan& plan, const std::string& name) {
  const model::TensorLayout layout = model::bert_layout(cfg);
  const int64_t t = 128;
  return run_workload(name, kTags, [&](mpc::Context& ctx, mpc::ClientPort& port) {
    auto be = std::make_shared<nn::DittoBackend>(ctx, random_plan_weights(ctx, layout, plan), plan, port,
                                                 nn::TokenInput::client_onehot);
    auto net = std::make_shared<nn::Bert<nn::DittoBackend>>(*be, cfg);
    if (ctx.id() == 0) {
      const int bits = nn::onehot_bits_for(plan);  // the client shares one-hot rows on the embedding's ring
      port.send_input(client_tokens(nn::TokenInput::client_onehot, t, cfg.vocab_size), bits);       // ids
      port.send_input(client_tokens(nn::TokenInput::client_onehot, t, cfg.type_vocab_size), bits);  // token types
    }
    return std::function<void()>([be, net, t] {
      const std::vector<int32_t> len(size_t(t), 0);
      const nn::DittoBackend::Tokens ids = be->input_tokens(len), types = be->input_tokens(len);
      be->reveal_to_client(net->classify(ids, types));
    });
  });
}

std::string mb(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", double(bytes) / 1e6);
  return buf;
}

}  // namespace

void run_ditto_bench(const DittoBenchOptions& o) {
  if (o.which != "gpt2" && o.which != "bert" && o.which != "all")
    throw std::invalid_argument("bench ditto: --model must be gpt2, bert or all");
  struct Model {
    std::string name;
    std::function<WorkloadRow(const nn::PrecisionPlan&, const std::string&)> run;
    model::TensorLayout layout;
  };
  std::vector<Model> models;
  const model::Gpt2Config g = gpt2_base(o.quick);
  const model::BertConfig b = bert_base(o.quick);
  const std::string suffix = o.quick ? " shape, 2 layers" : "";
  if (o.which != "bert")
    models.push_back({"GPT2-base" + suffix + ": 32-token prompt + 1 token",
                      [&](const nn::PrecisionPlan& p, const std::string& n) { return gpt2_row(g, p, n); },
                      model::gpt2_layout(g)});
  if (o.which != "gpt2")
    models.push_back({"BERT-base" + suffix + ": 128 tokens",
                      [&](const nn::PrecisionPlan& p, const std::string& n) { return bert_row(b, p, n); },
                      model::bert_layout(b)});

  std::printf("| workload | plan | wall (s) | all parties + client | busiest party | rounds | LAN (s) | WAN (s) |");
  for (const auto& [col, _] : kColumns) std::printf(" %s |", col.c_str());
  std::printf("\n|---|---|---:|---:|---:|---:|---:|---:|");
  for (size_t i = 0; i < kColumns.size(); ++i) std::printf("---:|");
  std::printf("\n");
  nlohmann::json out = nlohmann::json::array();
  std::vector<std::pair<WorkloadRow, WorkloadRow>> pairs;  // (fp64, ditto) per model
  for (const Model& m : models) {
    std::vector<WorkloadRow> rows;
    for (const char* plan_name : {"fp64", "ditto"}) {
      nn::PrecisionPlan plan = nn::builtin_plan(plan_name);
      if (plan.name == "ditto") plan = with_weight_scales(std::move(plan), m.layout);
      std::fprintf(stderr, "bench ditto: %s, plan %s...\n", m.name.c_str(), plan_name);
      WorkloadRow r = m.run(plan, m.name);
      std::printf("| %s | %s | %.2f | %s | %s | %lld | %.2f | %.2f |", r.workload.c_str(), plan_name, r.wall_s,
                  gb(r.bytes_total).c_str(), gb(r.bytes_max).c_str(), static_cast<long long>(r.rounds), r.lan_s(),
                  r.wan_s());
      nlohmann::json parts;
      for (const auto& [col, tags] : kColumns) {
        int64_t bytes = 0, rounds = 0;
        for (const auto& tag : tags) bytes += r.parts[tag].first, rounds += r.parts[tag].second;
        std::printf(" %s / %lld r |", mb(bytes).c_str(), static_cast<long long>(rounds));
        parts[col] = {{"bytes_total", bytes}, {"rounds", rounds}};
      }
      std::printf("\n");
      std::fflush(stdout);
      out.push_back({{"workload", r.workload}, {"plan", plan_name}, {"wall_s", r.wall_s}, {"bytes_total", r.bytes_total},
                     {"bytes_max", r.bytes_max}, {"client_bytes", r.client_bytes}, {"rounds", r.rounds},
                     {"lan_s", r.lan_s()}, {"wan_s", r.wan_s()}, {"parts", parts}});
      rows.push_back(std::move(r));
    }
    pairs.emplace_back(std::move(rows[0]), std::move(rows[1]));
  }

  std::printf("\n| workload | LAN fp64 / ditto (target ≥ 1.6) | WAN fp64 / ditto | bytes fp64 / ditto, all parties "
              "(target ≥ 2) | busiest party | rounds ditto / fp64 | wall fp64 / ditto | targets |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---|\n");
  for (const auto& [f, d] : pairs) {
    const double lan = f.lan_s() / d.lan_s(), comm = double(f.bytes_total) / double(d.bytes_total);
    std::printf("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s |\n", f.workload.c_str(), lan, f.wan_s() / d.wan_s(),
                comm, double(f.bytes_max) / double(d.bytes_max), double(d.rounds) / double(f.rounds), f.wall_s / d.wall_s,
                lan >= 1.6 && comm >= 2.0 ? "met" : (lan >= 1.6 ? "LAN met, bytes not" : (comm >= 2.0 ? "bytes met, LAN not" : "not met")));
  }
  if (o.by_tag)
    for (const auto& [f, d] : pairs) {
      std::printf("\n%s, every link tag (tags nest: a row includes the kernels called inside it):\n\n", f.workload.c_str());
      std::printf("| tag | fp64 bytes | ditto bytes | fp64 rounds | ditto rounds |\n|---|---:|---:|---:|---:|\n");
      std::map<std::string, std::pair<std::pair<int64_t, int64_t>, std::pair<int64_t, int64_t>>> both;
      for (const auto& [tag, v] : f.every_tag) both[tag].first = v;
      for (const auto& [tag, v] : d.every_tag) both[tag].second = v;
      for (const auto& [tag, v] : both) {
        if (v.first.first == 0 && v.second.first == 0) continue;
        std::printf("| %s | %s | %s | %lld | %lld |\n", tag.c_str(), mb(v.first.first).c_str(), mb(v.second.first).c_str(),
                    static_cast<long long>(v.first.second), static_cast<long long>(v.second.second));
      }
    }
  if (!o.json_path.empty()) {
    std::ofstream f(o.json_path);
    if (!f) throw std::runtime_error("cannot write " + o.json_path);
    f << out.dump(2) << "\n";
  }
}

}  // namespace veil::bench
