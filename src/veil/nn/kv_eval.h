// Accuracy of a KV policy on the plaintext backend (`veil eval-kv`, docs/BENCHMARKS.md):
//   perplexity over long text: each window of `context` tokens is prefilled with its first
//     `prefill` tokens, then decoded one token at a time (teacher forcing) through the policy's
//     cache; the scored tokens are the window's last context − prefill, each predicted by the
//     decoding step (or the prefill) before it. With the full cache this equals ordinary
//     perplexity over those positions.
//   passkey retrieval (models/tiny-gpt2/README.md): prefill the prompt, then greedy decoding
//     must reproduce the answer tokens exactly (checked step by step with the gold tokens fed
//     back, which is the same test).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "veil/nn/gpt2.h"
#include "veil/nn/kv_policy_config.h"
#include "veil/nn/plain_backend.h"

namespace veil::nn {

// What static eviction kept (mpcache with --kv-static on): rows kept over prompt rows, summed
// over every prefill and layer; fraction() = -1 when nothing was evicted statically.
struct StaticKept {
  int64_t kept = 0, prompt = 0;
  double fraction() const { return prompt > 0 ? double(kept) / double(prompt) : -1; }
};

struct KvPerplexity {
  double nll_sum = 0;  // natural log
  int64_t scored = 0;
  int64_t windows = 0;
  StaticKept kept;
  // topk only: the mean share of the full softmax's probability its choices held (TopKPolicy::
  // mass), -1 for other policies.
  double topk_mass = -1;
  double perplexity() const;
};

// Throws std::invalid_argument when the text holds no whole window or prefill is not in
// [1, context). max_windows = 0: every whole window.
KvPerplexity kv_perplexity(PlainBackend& be, Gpt2<PlainBackend>& model, const std::vector<int32_t>& ids,
                           int64_t context, int64_t prefill, const KvPolicyConfig& kv, int64_t max_windows = 0);

struct RetrievalSample {
  std::vector<int32_t> prompt, answer;
};

// JSONL of tools/train_gpt2.py --make-retrieval-samples (fields prompt_ids and answer_ids).
std::vector<RetrievalSample> read_retrieval_samples(const std::string& path);

// Fraction of samples whose answer the model reproduces exactly.
double kv_retrieval_accuracy(PlainBackend& be, Gpt2<PlainBackend>& model, const std::vector<RetrievalSample>& samples,
                             const KvPolicyConfig& kv, StaticKept* kept = nullptr);

// The held-out split of the fixture's corpus: the last 10% of the characters, from the start of
// the line after the one holding that point (tools/train_gpt2.py split_corpus; bytes count as
// characters, which they are in the ASCII corpus).
std::string heldout_text(const std::string& corpus);

}  // namespace veil::nn
