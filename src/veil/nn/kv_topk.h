// Exact top-k selection, plaintext only. Nothing is evicted; at each decoding step every head
// attends to the budget_tokens(budget, context) cached tokens with the highest exact scores q·k
// (ties to the earlier token): the highest-probability tokens, so no choice of as many holds more
// of the full softmax's probability, which mass() reports (eval-kv's "attention mass" column: how
// spread a model's attention is, whatever the policy). Quest and MPCache rank page or cluster
// summaries instead; this policy reads every key, which under MPC would open the scores' order, so
// it is a reference for the accuracy table, not a policy to serve. (Holding the most mass is not
// the same as the best perplexity: on the tiny fixture Quest's contiguous pages do better at low
// budgets, docs/BENCHMARKS.md.) The prefill attends to everything.
#pragma once
#include "veil/nn/kv_head_rows.h"
#include "veil/nn/kv_policy.h"
#include "veil/nn/plain_backend.h"

namespace veil::nn {

class TopKPolicy final : public KvPolicy<PlainBackend> {
 public:
  explicit TopKPolicy(const KvPolicyConfig& c);
  const KvPolicyConfig& config() const override { return config_; }
  PlainBackend::Tensor attend(PlainBackend& be, int64_t l, const PlainBackend::Tensor& q, KvCache<PlainBackend>& cache,
                              double scale) override;

  // The rows each head attended to at the last decoding step (tests).
  const HeadRows& last_rows() const { return last_rows_; }
  // The share of the full softmax's probability the chosen rows hold, summed over every (layer,
  // head, decoding step) that chose, and the number of those: no set of as many rows holds more,
  // so 1 − mass() / choices() bounds from below, on average, what any selection of this budget
  // leaves out (eval-kv's "attention mass" column).
  double mass() const { return mass_; }
  int64_t choices() const { return choices_; }

 private:
  KvPolicyConfig config_;
  HeadRows last_rows_;
  double mass_ = 0;
  int64_t choices_ = 0;
};

}  // namespace veil::nn
