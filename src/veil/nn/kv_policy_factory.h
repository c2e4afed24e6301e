// Builds the KV policy a KvPolicyConfig names, for backend B (nn/kv_policy.h lists them).
// `full` gives no policy (nullptr): the cache keeps everything and GPT-2 attends to all of it.
#pragma once
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "veil/nn/kv_h2o.h"
#include "veil/nn/kv_policy.h"
#include "veil/nn/kv_quest.h"
#include "veil/nn/kv_snapkv.h"
#include "veil/nn/kv_streaming.h"
#include "veil/nn/kv_topk.h"
#include "veil/nn/mpcache.h"
#include "veil/nn/plain_backend.h"

namespace veil::nn {

// Throws std::invalid_argument for a bad setting, or a policy this backend cannot run.
template <Backend B>
std::shared_ptr<KvPolicy<B>> make_kv_policy(const KvPolicyConfig& c, int64_t n_layer) {
  validate(c);
  const std::string name = kv_policy_name(c.kind);
  switch (c.kind) {
    case KvPolicyKind::full:
      return nullptr;
    case KvPolicyKind::streaming:
      return std::make_shared<StreamingPolicy<B>>(c);
    case KvPolicyKind::mpcache:
      if constexpr (KvBackend<B>) return std::make_shared<MpCache<B>>(c, n_layer);
      throw std::invalid_argument("KV policy mpcache needs a backend with the KvBackend operations");
    case KvPolicyKind::h2o:
    case KvPolicyKind::snapkv:
    case KvPolicyKind::quest:
    case KvPolicyKind::topk:
      if constexpr (std::is_same_v<B, PlainBackend>) {
        if (c.kind == KvPolicyKind::h2o) return std::make_shared<H2oPolicy>(c, n_layer);
        if (c.kind == KvPolicyKind::snapkv) return std::make_shared<SnapKvPolicy>(c, n_layer);
        if (c.kind == KvPolicyKind::topk) return std::make_shared<TopKPolicy>(c);
        return std::make_shared<QuestPolicy>(c, n_layer);
      }
      throw std::invalid_argument("KV policy " + name +
                                  " is a plaintext baseline (its choices would have to be opened under MPC): use "
                                  "--backend plaintext, or --kv-policy mpcache or streaming with MPC");
  }
  throw std::invalid_argument("KV policy: unknown kind");
}

}  // namespace veil::nn
