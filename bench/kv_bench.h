// `veil bench kv`: MPCache against the full KV cache on the MPC backend, GPT2-base shape with
// random weights: one decoding step at several contexts (wall, bytes, rounds, modelled LAN/WAN,
// and the cost of the selection itself: similarity, top-k, gathering, cluster summaries), and the
// prefill-time static eviction in its two reveal modes (positions, count only).
#pragma once
#include <string>
#include <vector>

#include "veil/nn/kv_policy_config.h"

namespace veil::bench {

struct KvBenchOptions {
  bool quick = false;                           // 2 layers instead of 12
  std::vector<int64_t> contexts = {512, 1024, 2048};
  nn::KvPolicyConfig kv;                        // the mpcache settings (budget 0.2 by default)
  bool eviction = true;                         // also the static-eviction table
  int runs = 3;                                 // each row: the run of median wall time
  std::string json_path;
};

void run_kv_bench(const KvBenchOptions& o);

}  // namespace veil::bench
