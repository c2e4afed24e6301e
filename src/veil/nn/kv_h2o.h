// H2O (Zhang et al., "H2O: Heavy-Hitter Oracle for Efficient Generative Inference of Large
// Language Models", NeurIPS 2023), plaintext only. Each head keeps the tokens that received the
// most attention so far (accumulated over every query since the prompt) and the most recent ones,
// half of the budget each; after each pass a head keeps budget_tokens(budget, context) − 1 rows
// so that the next step, with its new token, stays within the budget. The prefill attends to
// everything. Under MPC the accumulated scores would have to be opened to rank them: not offered.
#pragma once
#include <vector>

#include "veil/nn/kv_head_rows.h"
#include "veil/nn/kv_policy.h"
#include "veil/nn/plain_backend.h"

namespace veil::nn {

class H2oPolicy final : public KvPolicy<PlainBackend> {
 public:
  H2oPolicy(const KvPolicyConfig& c, int64_t n_layer);
  const KvPolicyConfig& config() const override { return config_; }
  PlainBackend::Tensor attend(PlainBackend& be, int64_t l, const PlainBackend::Tensor& q, KvCache<PlainBackend>& cache,
                              double scale) override;
  void end_pass(PlainBackend& be, KvCache<PlainBackend>& cache, int64_t t) override;

  // The rows each head of layer l still attends to (tests).
  const HeadRows& rows(int64_t l) const { return layers_.at(size_t(l)).alive; }

 private:
  struct Layer {
    HeadRows alive;                         // per head: rows it still attends to
    std::vector<std::vector<double>> acc;   // per head, per row: attention received so far
  };
  KvPolicyConfig config_;
  std::vector<Layer> layers_;
};

}  // namespace veil::nn
