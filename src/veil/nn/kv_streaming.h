// StreamingLLM (Xiao et al., "Efficient Streaming Language Models with Attention Sinks", ICLR
// 2024): keep the first `sink` tokens (attention sinks) and the most recent ones, evicting the
// middle. The prefill attends to everything; after each pass the cache shrinks so that the next
// step, with its new token, attends to at most budget_tokens(budget, context) rows.
// The kept rows depend only on public counts, so the policy runs on any backend and reveals
// nothing.
#pragma once
#include <algorithm>
#include <numeric>
#include <vector>

#include "veil/nn/kv_policy.h"

namespace veil::nn {

// Rows to keep out of `rows`: the first `sink` and the last keep − sink (all when rows ≤ keep).
inline std::vector<int64_t> sink_and_recent_rows(int64_t rows, int64_t keep, int64_t sink) {
  std::vector<int64_t> out;
  if (rows <= keep) {
    out.resize(size_t(rows));
    std::iota(out.begin(), out.end(), 0);
    return out;
  }
  const int64_t s = std::min(sink, keep);
  for (int64_t i = 0; i < s; ++i) out.push_back(i);
  for (int64_t i = rows - (keep - s); i < rows; ++i) out.push_back(i);
  return out;
}

template <Backend B>
class StreamingPolicy final : public KvPolicy<B> {
 public:
  explicit StreamingPolicy(const KvPolicyConfig& c) : config_(c) { validate(c); }
  const KvPolicyConfig& config() const override { return config_; }

  typename B::Tensor attend(B& be, int64_t l, const typename B::Tensor& q, KvCache<B>& cache, double scale) override {
    return attend_all(be, q, cache.layer(l), scale);
  }

  void end_pass(B& be, KvCache<B>& cache, int64_t) override {
    // The next step attends to the kept rows plus its own token.
    const int64_t keep = budget_tokens(config_.budget, cache.next_position() + 1) - 1;
    for (int64_t l = 0; l < cache.n_layer(); ++l) {
      const int64_t rows = int64_t(cache.layer(l).positions.size());
      if (rows > keep) cache.retain(be, l, sink_and_recent_rows(rows, keep, config_.sink));
    }
  }

 private:
  KvPolicyConfig config_;
};

}  // namespace veil::nn
