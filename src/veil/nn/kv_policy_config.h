// The settings of a KV-cache policy (nn/kv_policy.h), as `veil generate --kv-*` flags, benchmark
// records and the served session's request carry them. Every knob has one name used everywhere:
// the CLI flag is `--kv-<name>` (underscores become dashes) and the JSON key is <name>.
//
// Budget: the number of cached tokens a decoding step attends to, as a fraction of the context
// seen so far (every token, kept or evicted): a step at context t attends to at most
// budget_tokens(budget, t) = ceil(budget · t) tokens (the new one included). Eviction policies
// (streaming, h2o, snapkv) hold that many; query-aware ones (quest, topk, mpcache) keep more and attend
// to that many.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace veil::nn {

enum class KvPolicyKind {
  full,       // no eviction (the reference)
  streaming,  // StreamingLLM: attention sinks + recent window
  h2o,        // H2O: accumulated-attention heavy hitters + recent window
  snapkv,     // SnapKV: observation-window voting with pooling, at prefill
  quest,      // Quest: query-aware page selection by the per-page min/max upper bound
  mpcache,    // MPCache: look-once static eviction + hierarchical query-aware cluster selection
  topk,       // exact top-k by q·k per head and step, a plaintext reference (last: the
              // session request carries the number, nn/session_request.h)
};

// What MPCache's static eviction opens to the parties (the client learns nothing either way).
enum class StaticReveal {
  positions,  // the kept positions of each layer (pair): local row selection afterwards
  count,      // only how many are kept: an oblivious compaction (secret shuffle) moves the rows
};

struct KvPolicyConfig {
  KvPolicyKind kind = KvPolicyKind::full;
  double budget = 0.2;   // fraction of the context attended per decoding step, in (0, 1]
  int64_t sink = 4;      // streaming: attention-sink tokens always kept
  double window = 0.2;   // mpcache: observation window, fraction of the prompt (its last queries)
  int64_t snap_window = 32;  // snapkv: observation window in tokens (SnapKV's default)
  int64_t pool = 7;      // snapkv: max-pooling width over token votes (odd)
  int64_t page = 16;     // quest: tokens per page
  // mpcache
  double gamma = 1e-3;          // static eviction: keep a token whose head-averaged attention reaches gamma
  bool static_eviction = true;  // false: no static eviction (dynamic selection only)
  StaticReveal reveal = StaticReveal::positions;
  int64_t fine = 16;     // tokens per fine cluster (the sink cluster is one fine cluster)
  int64_t coarse = 32;   // tokens per coarse cluster (a multiple of fine, at least 2 fine clusters)
  double alpha = 0.6;    // cluster score Σ q_i·(α·max_i + (1 − α)·min_i)
  bool share = true;     // layers (2,3), (4,5), ... reuse the even layer's selection (and keep set)
};

// ceil(budget · context), at least 1 and at most context.
int64_t budget_tokens(double budget, int64_t context);

const char* kv_policy_name(KvPolicyKind k);
// Throws std::invalid_argument listing the valid names.
KvPolicyKind parse_kv_policy(const std::string& name);
const char* static_reveal_name(StaticReveal r);
StaticReveal parse_static_reveal(const std::string& name);
std::vector<std::string> kv_policy_names();

// Throws std::invalid_argument saying which setting is out of range and what is allowed.
void validate(const KvPolicyConfig& c);

// Every knob, for benchmark records and --json output.
nlohmann::json to_json(const KvPolicyConfig& c);
// The knobs that matter for the policy, as "mpcache budget=0.2 gamma=0.001 ...".
std::string describe(const KvPolicyConfig& c);

}  // namespace veil::nn
