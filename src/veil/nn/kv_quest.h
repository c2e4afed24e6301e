// Quest (Tang et al., "Quest: Query-Aware Sparsity for Efficient Long-Context LLM Inference",
// ICML 2024), plaintext only. Nothing is evicted. Keys are grouped in pages of `page` tokens;
// each whole page keeps its per-dimension minimum and maximum, and at each decoding step every
// head bounds a page's attention score by Σ_i max(q_i·max_i, q_i·min_i) and attends to the pages
// with the highest bounds plus the newest (partial) page, within budget_tokens(budget, context).
// The prefill attends to everything.
#pragma once
#include <vector>

#include "veil/nn/kv_head_rows.h"
#include "veil/nn/kv_policy.h"
#include "veil/nn/plain_backend.h"

namespace veil::nn {

class QuestPolicy final : public KvPolicy<PlainBackend> {
 public:
  QuestPolicy(const KvPolicyConfig& c, int64_t n_layer);
  const KvPolicyConfig& config() const override { return config_; }
  PlainBackend::Tensor attend(PlainBackend& be, int64_t l, const PlainBackend::Tensor& q, KvCache<PlainBackend>& cache,
                              double scale) override;

  // The pages each head chose at the last decoding step of layer l (tests).
  const HeadRows& last_pages(int64_t l) const { return layers_.at(size_t(l)).last_pages; }

 private:
  struct Layer {
    int64_t pages = 0;            // whole pages summarised
    std::vector<float> mins, maxs;  // (H, pages, D) each, page-major per head after update
    HeadRows last_pages;
  };
  void summarise(Layer& s, const PlainBackend::Tensor& k, int64_t whole);
  KvPolicyConfig config_;
  std::vector<Layer> layers_;
};

}  // namespace veil::nn
