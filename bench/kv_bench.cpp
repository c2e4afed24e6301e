#include "kv_bench.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "veil/core/fixed_point.h"
#include "veil/mpc/io.h"
#include "veil/nn/gpt2.h"
#include "veil/nn/kv_policy_factory.h"
#include "workload.h"

namespace veil::bench {

namespace {

// Link tags of the table: the attention softmax and MPCache's selection kernels (nn/mpc_backend_kv.cpp).
const std::vector<std::string> kTags = {"softmax", "kv_similarity", "kv_topk", "kv_gather", "kv_summary", "kv_static",
                                        "linear", "argmax"};

// GPT2-base with n_positions = context when the context exceeds GPT2-base's 1024.
model::Gpt2Config shape_for(bool quick, int64_t context) {
  model::Gpt2Config c = gpt2_base(quick);
  c.n_positions = std::max<int64_t>(c.n_positions, context);
  return c;
}

// One decoding step at `context` (context − 1 cached rows of random shares plus the new token)
// with `kv`; the policy's cluster summaries of the cached rows are built before the timed step.
WorkloadRow decode_step(const model::Gpt2Config& cfg, int64_t context, const nn::KvPolicyConfig& kv,
                        const std::string& name) {
  return run_workload(name, kTags, [&cfg, context, kv](mpc::Context& ctx, mpc::ClientPort& port) {
    auto be = std::make_shared<nn::MpcBackend>(ctx, random_weights(ctx, model::gpt2_layout(cfg)), port,
                                               nn::TokenInput::client_onehot);
    auto net = std::make_shared<nn::Gpt2<nn::MpcBackend>>(*be, cfg);
    auto policy = nn::make_kv_policy<nn::MpcBackend>(kv, cfg.n_layer);
    auto cache = std::make_shared<nn::KvCache<nn::MpcBackend>>(net->new_cache(policy));
    const int64_t d = cfg.head_dim(), rows = context - 1;
    for (int64_t l = 0; l < cfg.n_layer; ++l)
      cache->append(*be, l, random_share(ctx, {cfg.n_head, rows, d}), random_share(ctx, {cfg.n_head, rows, d}));
    cache->advance(rows);
    if (policy) policy->end_pass(*be, *cache, rows);  // summaries of the cached clusters (untimed)
    if (ctx.id() == 0) port.send_input(client_tokens(nn::TokenInput::client_onehot, 1, cfg.vocab_size));
    return std::function<void()>([be, net, cache] {
      const Share h = net->hidden(be->input_tokens({0}), *cache);
      be->reveal_tokens(be->argmax(net->logits(h)));
    });
  });
}

// The attention operators alone of one decoding step at `context`, every layer (MPCache's own
// methodology: prefill in plaintext, the decoding operators measured separately): q·kᵀ, softmax
// and p·v over the cached rows with the full cache; with `kv`, the policy's attention (cluster
// scores, top-k, gathers, softmax over the selected rows, scatter, p·v). The cached rows, the new
// token's row and the queries are random shares; the summaries are built in the untimed setup.
WorkloadRow attention_step(const model::Gpt2Config& cfg, int64_t context, const nn::KvPolicyConfig& kv,
                           const std::string& name) {
  return run_workload(name, kTags, [&cfg, context, kv](mpc::Context& ctx, mpc::ClientPort& port) {
    auto be = std::make_shared<nn::MpcBackend>(ctx, nn::MpcBackend::WeightShares{}, port);
    auto policy = nn::make_kv_policy<nn::MpcBackend>(kv, cfg.n_layer);
    auto cache = std::make_shared<nn::KvCache<nn::MpcBackend>>(cfg.n_layer, policy);
    const int64_t d = cfg.head_dim(), rows = context - 1;
    for (int64_t l = 0; l < cfg.n_layer; ++l)
      cache->append(*be, l, random_share(ctx, {cfg.n_head, rows, d}), random_share(ctx, {cfg.n_head, rows, d}));
    cache->advance(rows);
    if (policy) policy->end_pass(*be, *cache, rows);
    auto q = std::make_shared<std::vector<Share>>();
    for (int64_t l = 0; l < cfg.n_layer; ++l) {
      cache->append(*be, l, random_share(ctx, {cfg.n_head, 1, d}), random_share(ctx, {cfg.n_head, 1, d}));
      q->push_back(random_share(ctx, {cfg.n_head, 1, d}));
    }
    const double scale = 1.0 / std::sqrt(double(d));
    return std::function<void()>([be, policy, cache, q, scale] {
      for (int64_t l = 0; l < cache->n_layer(); ++l) {
        const Share& ql = (*q)[size_t(l)];
        if (policy) policy->attend(*be, l, ql, *cache, scale);
        else nn::attend_all(*be, ql, cache->layer(l), scale);
      }
    });
  });
}

// The summaries of one new coarse cluster in every selecting layer (what a step that completes a
// cluster adds, once per `coarse` steps).
WorkloadRow summary_update(const model::Gpt2Config& cfg, const nn::KvPolicyConfig& kv) {
  return run_workload("summary of one coarse cluster", kTags, [&cfg, kv](mpc::Context& ctx, mpc::ClientPort& port) {
    auto be = std::make_shared<nn::MpcBackend>(ctx, nn::MpcBackend::WeightShares{}, port);
    auto policy = nn::make_kv_policy<nn::MpcBackend>(kv, cfg.n_layer);
    auto cache = std::make_shared<nn::KvCache<nn::MpcBackend>>(cfg.n_layer, policy);
    const int64_t d = cfg.head_dim(), rows = kv.fine + kv.coarse;
    for (int64_t l = 0; l < cfg.n_layer; ++l)
      cache->append(*be, l, random_share(ctx, {cfg.n_head, rows, d}), random_share(ctx, {cfg.n_head, rows, d}));
    cache->advance(rows);
    return std::function<void()>([be, cache, policy, rows] { policy->end_pass(*be, *cache, 1); });
  });
}

// Static eviction at the prefill of a `t`-token prompt, every layer group (layers 0 and 1 alone,
// then pairs): votes of the observation window against gamma, the pair's union, then the reveal
// mode's way of keeping the rows. Votes are public values here (their cost does not depend on
// them) set so that about half the tokens are kept.
WorkloadRow static_eviction(const model::Gpt2Config& cfg, int64_t t, const nn::KvPolicyConfig& kv, const std::string& name) {
  return run_workload(name, kTags, [&cfg, t, kv](mpc::Context& ctx, mpc::ClientPort& port) {
    auto be = std::make_shared<nn::MpcBackend>(ctx, nn::MpcBackend::WeightShares{}, port);
    const int64_t w = std::max<int64_t>(1, int64_t(std::ceil(kv.window * double(t))));
    const double threshold = kv.gamma * double(cfg.n_head);
    std::mt19937_64 rng(1);  // the same public votes on every party
    Tensor<uint64_t> votes({w, t});
    for (auto& v : votes.data) v = fxp_encode<uint64_t>(rng() % 2 ? 0.0 : threshold * 1.5, be->frac_bits());
    auto shared = std::make_shared<Share>(mpc::share_public(ctx, votes));
    const int64_t d = cfg.head_dim();
    std::vector<Share> kvs;
    for (int64_t l = 0; l < 2 * cfg.n_layer; ++l) kvs.push_back(random_share(ctx, {cfg.n_head, t, d}));
    auto k = std::make_shared<std::vector<Share>>(std::move(kvs));
    return std::function<void()>([be, shared, k, kv, threshold, &cfg] {
      for (int64_t l = 0; l < cfg.n_layer; ++l) {
        if (nn::selection_leader(l, kv.share) != l) continue;
        const int64_t partner = nn::selection_partner(l, kv.share, cfg.n_layer);
        Share flags = be->kept_flags(*shared, threshold, {});
        std::vector<Share> rows{(*k)[size_t(2 * l)], (*k)[size_t(2 * l + 1)]};
        if (partner >= 0) {
          flags = be->union_flags(flags, be->kept_flags(*shared, threshold, {}));
          rows.push_back((*k)[size_t(2 * partner)]), rows.push_back((*k)[size_t(2 * partner + 1)]);
        }
        if (kv.reveal == nn::StaticReveal::positions) {
          const std::vector<int64_t> kept = be->reveal_kept_rows(flags);
          for (Share& r : rows) r = be->select_rows(r, kept);
        } else {
          rows = be->compact_kept_rows(flags, rows);
        }
      }
    });
  });
}

// The run of median wall time out of `runs` (bytes and rounds are the same in every run).
WorkloadRow median_run(int runs, const std::function<WorkloadRow()>& run) {
  std::vector<WorkloadRow> rows;
  for (int i = 0; i < std::max(1, runs); ++i) {
    rows.push_back(run());
    if (rows.back().bytes_total != rows.front().bytes_total || rows.back().rounds != rows.front().rounds)
      throw std::logic_error("bench kv: " + rows.back().workload + " moved different bytes or rounds in two runs");
  }
  std::sort(rows.begin(), rows.end(), [](const WorkloadRow& a, const WorkloadRow& b) { return a.wall_s < b.wall_s; });
  return rows[rows.size() / 2];
}

// Full cache and MPCache at one context, each the run of median wall time; `step` runs one with a
// policy config and a row name. The MPCache row carries its amortised cluster summaries.
std::pair<WorkloadRow, WorkloadRow> full_and_mpcache(
    int runs, const nn::KvPolicyConfig& kv, int64_t summary_bytes, const std::string& name,
    const std::function<WorkloadRow(const nn::KvPolicyConfig&, const std::string&)>& step) {
  const WorkloadRow f = median_run(runs, [&] { return step({}, name + ", full"); });
  WorkloadRow m = median_run(runs, [&] { return step(kv, name + ", mpcache"); });
  m.bytes_total += summary_bytes / kv.coarse;
  m.parts["kv_summary"] = {summary_bytes / kv.coarse, 0};
  return {f, m};
}

// "LAN× | bytes×" of the full cache over MPCache, or two empty cells for the full cache's row.
std::string ratios(const WorkloadRow& f, const WorkloadRow& m, bool is_full) {
  char buf[64] = " | ";
  if (!is_full) std::snprintf(buf, sizeof buf, "%.2f× | %.2f×", f.lan_s() / m.lan_s(), double(f.bytes_total) / double(m.bytes_total));
  return buf;
}

std::string part(const WorkloadRow& r, const std::string& tag) {
  auto it = r.parts.find(tag);
  const auto [bytes, rounds] = it == r.parts.end() ? std::pair<int64_t, int64_t>{0, 0} : it->second;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f MB / %lld r", double(bytes) / 1e6, static_cast<long long>(rounds));
  return buf;
}

nlohmann::json row_json(const WorkloadRow& r) {
  nlohmann::json parts;
  for (const auto& [tag, v] : r.parts) parts[tag] = {{"bytes_total", v.first}, {"rounds", v.second}};
  return {{"workload", r.workload}, {"wall_s", r.wall_s}, {"bytes_total", r.bytes_total}, {"bytes_max", r.bytes_max},
          {"rounds", r.rounds}, {"lan_s", r.lan_s()}, {"wan_s", r.wan_s()}, {"parts", parts}};
}

}  // namespace

void run_kv_bench(const KvBenchOptions& o) {
  nn::KvPolicyConfig kv = o.kv;
  kv.kind = nn::KvPolicyKind::mpcache;
  nn::validate(kv);
  nlohmann::json out = {{"kv", nn::to_json(kv)}, {"layers", gpt2_base(o.quick).n_layer}};
  const std::string shape = o.quick ? "GPT2-base shape, 2 layers" : "GPT2-base shape";

  // Summary cost, once: it does not depend on the context.
  const WorkloadRow summary = summary_update(shape_for(o.quick, 1024), kv);
  const int64_t summary_bytes = summary.parts.at("kv_summary").first;
  std::printf("Settings: %s; wall time is the median of %d runs. Decode steps attend over the stated context (cached rows are random shares, no "
              "static eviction: every row stays a candidate). Contexts above 1024 use GPT2-base with n_positions "
              "raised to the context (random weights). Cluster summaries are built when a coarse cluster of %lld "
              "rows completes: %.2f MB and %lld rounds for all selecting layers, %.3f MB per step amortised "
              "(included in the mpcache bytes below, not in its wall time or rounds).\n\n",
              nn::describe(kv).c_str(), std::max(1, o.runs), (long long)kv.coarse, double(summary_bytes) / 1e6,
              (long long)summary.parts.at("kv_summary").second, double(summary_bytes) / 1e6 / double(kv.coarse));
  std::printf("| context | policy | wall (s) | all parties | busiest party | rounds | LAN (s) | WAN (s) | softmax | "
              "similarity | top-k | gathering | full ÷ mpcache: LAN | bytes |\n");
  std::printf("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  nlohmann::json steps = nlohmann::json::array();
  for (int64_t c : o.contexts) {
    const model::Gpt2Config cfg = shape_for(o.quick, c);
    const auto [f, m] = full_and_mpcache(o.runs, kv, summary_bytes, shape + ", context " + std::to_string(c),
                                         [&](const nn::KvPolicyConfig& p, const std::string& name) { return decode_step(cfg, c, p, name); });
    for (const WorkloadRow* r : {&f, &m}) {
      const bool is_full = r == &f;
      std::printf("| %lld | %s | %.2f | %s | %s | %lld | %.2f | %.2f | %s | %s | %s | %s | %s |\n", (long long)c,
                  is_full ? "full" : "mpcache", r->wall_s, gb(r->bytes_total).c_str(), gb(r->bytes_max).c_str(),
                  (long long)r->rounds, r->lan_s(), r->wan_s(), part(*r, "softmax").c_str(),
                  is_full ? "—" : part(*r, "kv_similarity").c_str(), is_full ? "—" : part(*r, "kv_topk").c_str(),
                  is_full ? "—" : part(*r, "kv_gather").c_str(), ratios(f, m, is_full).c_str());
      std::fflush(stdout);
      nlohmann::json j = row_json(*r);
      j["context"] = c, j["policy"] = is_full ? "full" : "mpcache";
      steps.push_back(j);
    }
  }
  out["decode_steps"] = steps;

  // The attention operators alone, as MPCache's evaluation measured them.
  std::printf("\nThe attention operators alone of the same decoding step (MPCache's methodology: prefill in "
              "plaintext, decoding operators measured separately), every layer: q·kᵀ, softmax and p·v, and for "
              "MPCache its selection (cluster scores, top-k, one-hot gathers and scatters, and the amortised "
              "summaries, %.3f MB per step). Random shares for the cached rows and the queries.\n\n",
              double(summary_bytes) / 1e6 / double(kv.coarse));
  std::printf("| context | policy | wall (s) | all parties | busiest party | rounds | LAN (s) | WAN (s) | q·kᵀ, p·v | "
              "softmax | selection | full ÷ mpcache: LAN | bytes |\n");
  std::printf("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  nlohmann::json attn = nlohmann::json::array();
  for (int64_t c : o.contexts) {
    const model::Gpt2Config cfg = shape_for(o.quick, c);
    const auto [f, m] = full_and_mpcache(o.runs, kv, summary_bytes, shape + ": attention, context " + std::to_string(c),
                                         [&](const nn::KvPolicyConfig& p, const std::string& name) { return attention_step(cfg, c, p, name); });
    for (const WorkloadRow* r : {&f, &m}) {
      const bool is_full = r == &f;
      int64_t sel_bytes = 0, sel_rounds = 0;
      for (const char* tag : {"kv_similarity", "kv_topk", "kv_gather", "kv_summary"}) {
        auto it = r->parts.find(tag);
        if (it != r->parts.end()) sel_bytes += it->second.first, sel_rounds += it->second.second;
      }
      const auto soft = r->parts.count("softmax") ? r->parts.at("softmax") : std::pair<int64_t, int64_t>{0, 0};
      const int64_t rest_bytes = r->bytes_total - soft.first - sel_bytes, rest_rounds = r->rounds - soft.second - sel_rounds;
      char sel[64] = "—", rest[64];
      if (!is_full) std::snprintf(sel, sizeof sel, "%.2f MB / %lld r", double(sel_bytes) / 1e6, static_cast<long long>(sel_rounds));
      std::snprintf(rest, sizeof rest, "%.2f MB / %lld r", double(rest_bytes) / 1e6, static_cast<long long>(rest_rounds));
      std::printf("| %lld | %s | %.2f | %s | %s | %lld | %.2f | %.2f | %s | %s | %s | %s |\n", (long long)c,
                  is_full ? "full" : "mpcache", r->wall_s, gb(r->bytes_total).c_str(), gb(r->bytes_max).c_str(),
                  (long long)r->rounds, r->lan_s(), r->wan_s(), rest, part(*r, "softmax").c_str(), sel,
                  ratios(f, m, is_full).c_str());
      std::fflush(stdout);
      nlohmann::json j = row_json(*r);
      j["context"] = c, j["policy"] = is_full ? "full" : "mpcache";
      attn.push_back(j);
    }
  }
  out["attention_steps"] = attn;
  out["summary_update"] = row_json(summary);

  if (o.eviction) {
    std::printf("\nStatic eviction at the prefill (every layer group of the model; about half the prompt kept): "
                "what revealing only the count costs over revealing the positions.\n\n");
    std::printf("| prompt tokens | reveal | wall (s) | all parties | busiest party | rounds | LAN (s) | WAN (s) |\n");
    std::printf("|---:|---|---:|---:|---:|---:|---:|---:|\n");
    nlohmann::json ev = nlohmann::json::array();
    for (int64_t t : o.contexts) {
      const model::Gpt2Config cfg = shape_for(o.quick, t);
      for (nn::StaticReveal mode : {nn::StaticReveal::positions, nn::StaticReveal::count}) {
        nn::KvPolicyConfig c = kv;
        c.reveal = mode;
        const WorkloadRow r = median_run(o.runs, [&] {
          return static_eviction(cfg, t, c, std::string("static eviction, ") + nn::static_reveal_name(mode));
        });
        std::printf("| %lld | %s | %.2f | %s | %s | %lld | %.2f | %.2f |\n", (long long)t, nn::static_reveal_name(mode),
                    r.wall_s, gb(r.bytes_total).c_str(), gb(r.bytes_max).c_str(), (long long)r.rounds, r.lan_s(), r.wan_s());
        std::fflush(stdout);
        nlohmann::json j = row_json(r);
        j["prompt_tokens"] = t, j["reveal"] = nn::static_reveal_name(mode);
        ev.push_back(j);
      }
    }
    out["static_eviction"] = ev;
  }
  if (!o.json_path.empty()) {
    std::ofstream f(o.json_path);
    if (!f) throw std::runtime_error("cannot write " + o.json_path);
    f << out.dump(2) << "\n";
  }
}

}  // namespace veil::bench
