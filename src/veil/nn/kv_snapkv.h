// SnapKV (Li et al., "SnapKV: LLM Knows What You are Looking for Before Generation", 2024),
// plaintext only. At the prefill, each head votes for prompt tokens with the attention of its
// observation window (the last snap_window prompt queries), smooths the votes by max-pooling
// over `pool` neighbouring tokens, and keeps the best-voted tokens plus the window itself within
// budget_tokens(budget, T + 1) − 1 rows. Decoding keeps the selected prompt tokens and the most
// recent rows within the budget of each step.
#pragma once
#include <vector>

#include "veil/nn/kv_head_rows.h"
#include "veil/nn/kv_policy.h"
#include "veil/nn/plain_backend.h"

namespace veil::nn {

class SnapKvPolicy final : public KvPolicy<PlainBackend> {
 public:
  SnapKvPolicy(const KvPolicyConfig& c, int64_t n_layer);
  const KvPolicyConfig& config() const override { return config_; }
  PlainBackend::Tensor attend(PlainBackend& be, int64_t l, const PlainBackend::Tensor& q, KvCache<PlainBackend>& cache,
                              double scale) override;
  void end_pass(PlainBackend& be, KvCache<PlainBackend>& cache, int64_t t) override;

  // The rows each head of layer l still attends to (tests).
  const HeadRows& rows(int64_t l) const { return layers_.at(size_t(l)).alive; }

 private:
  struct Layer {
    HeadRows alive;    // per head: rows it attends to
    HeadRows snapped;  // per head: the prompt rows chosen by the vote (kept for good)
  };
  KvPolicyConfig config_;
  std::vector<Layer> layers_;
};

// Votes (T) smoothed by a centred max-pool of odd width `pool` over the first n entries.
std::vector<double> max_pool(const std::vector<double>& votes, int64_t n, int64_t pool);

}  // namespace veil::nn
