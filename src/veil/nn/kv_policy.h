// A KV-cache policy: what a layer's attention looks at and what the cache keeps. GPT-2's
// attention (nn/gpt2.h) hands every layer's queries to the policy of its cache, after the new keys
// and values were appended; the policy returns the attention output. It may evict rows (the
// eviction policies), attend to a query-dependent subset (quest, topk, mpcache), or both.
//
// The policies (settings in nn/kv_policy_config.h, construction in nn/kv_policy_factory.h):
//   streaming  nn/kv_streaming.h   any backend; evicts by public positions only (reveals nothing)
//   h2o        nn/kv_h2o.h         plaintext
//   snapkv     nn/kv_snapkv.h      plaintext
//   quest      nn/kv_quest.h       plaintext
//   topk       nn/kv_topk.h        plaintext (exact top-k by q·k, a reference only)
//   mpcache    nn/mpcache.h        any backend with the KvBackend operations (plaintext and MPC)
// `full` is no policy at all: the cache keeps everything and attention is attend_all below.
#pragma once
#include <cmath>
#include <cstdint>

#include "veil/nn/backend.h"
#include "veil/nn/kv_cache.h"
#include "veil/nn/kv_policy_config.h"

namespace veil::nn {

template <Backend B>
class KvPolicy {
 public:
  using Tensor = typename B::Tensor;
  virtual ~KvPolicy() = default;

  // Layer l's attention for the T new tokens: q (H,T,D); their keys and values are the last T rows
  // of cache.layer(l) (appended already). `scale` multiplies q·kᵀ (1: none). -> (H,T,D).
  // cache.next_position() is still the position of the first new token.
  virtual Tensor attend(B& be, int64_t l, const Tensor& q, KvCache<B>& cache, double scale) = 0;

  // After a forward pass over t tokens, every layer done; cache.next_position() counts them.
  virtual void end_pass(B& be, KvCache<B>& cache, int64_t t) {}

  virtual const KvPolicyConfig& config() const = 0;
};

// softmax(q·kᵀ·scale, causal)·v over every cached row: q (H,T,D), k and v (H,Tk,D) -> (H,T,D).
// The queries are the last T of the Tk keys.
template <Backend B>
typename B::Tensor attend_rows(B& be, const typename B::Tensor& q, const typename B::Tensor& k,
                               const typename B::Tensor& v, double scale) {
  typename B::Tensor scores = be.matmul_nt(q, k);  // (H,T,Tk)
  if (scale != 1.0) scores = be.scale(scores, scale);
  return softmax_matmul(be, scores, v, true);
}

template <Backend B>
typename B::Tensor attend_all(B& be, const typename B::Tensor& q, const KvLayer<B>& kv, double scale) {
  return attend_rows(be, q, kv.k, kv.v, scale);
}

// The probabilities as well: (softmax (H,T,Tk), output (H,T,D)).
template <Backend B>
std::pair<typename B::Tensor, typename B::Tensor> attend_rows_with_probs(B& be, const typename B::Tensor& q,
                                                                       const typename B::Tensor& k,
                                                                       const typename B::Tensor& v, double scale) {
  typename B::Tensor scores = be.matmul_nt(q, k);
  if (scale != 1.0) scores = be.scale(scores, scale);
  typename B::Tensor p = be.softmax(scores, true);
  typename B::Tensor y = be.matmul(p, v);
  return {std::move(p), std::move(y)};
}

}  // namespace veil::nn
