// Does MPCache choose the same clusters under MPC as on the plaintext backend? The same prompt and
// the same continuation (fed token by token, teacher forcing) run through both backends with an
// mpcache policy; every selection a layer computes is recorded per (layer, head, step) as the set
// of fine clusters it attends to, and the sets are compared. The MPC run's one-hot rows are
// reconstructed from the three parties' shares by this test harness only (no protocol opening:
// the parties never see them). Static eviction (positions mode) is compared as kept position sets.
#pragma once
#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "veil/nn/checkpoint.h"
#include "veil/nn/kv_policy_config.h"

namespace veil::nn {

// (layer, step, head) -> the fine clusters attended (indices into the layer's fine clusters,
// counting the sink cluster as 0), increasing.
using SelectionLog = std::map<std::tuple<int64_t, int64_t, int64_t>, std::vector<int64_t>>;

// coarse (H,kc,nc) and fine (H,kf,ratio·kc) one-hot rows (fine empty: the coarse stage alone),
// as 0/1 values -> per head, the selected fine clusters.
std::vector<std::vector<int64_t>> selected_fine_clusters(const std::vector<double>& coarse, const Shape& coarse_shape,
                                                         const std::vector<double>& fine, const Shape& fine_shape,
                                                         int64_t ratio);

struct SelectionRun {
  SelectionLog selections;
  std::vector<std::vector<int64_t>> kept;  // per layer: positions kept by static eviction (positions mode)
  // Per layer (static eviction only): each prompt token's largest vote over the observation
  // queries (the head-summed attention that static eviction compares with γ·H).
  std::vector<std::vector<double>> votes;
};

// Plaintext and in-process MPC runs of `prompt` then `continuation` with policy `kv` (mpcache).
SelectionRun plaintext_selections(const Gpt2Checkpoint& ck, const std::vector<int32_t>& prompt,
                                  const std::vector<int32_t>& continuation, const KvPolicyConfig& kv);
SelectionRun mpc_selections(const Gpt2Checkpoint& ck, const std::vector<int32_t>& prompt,
                            const std::vector<int32_t>& continuation, const KvPolicyConfig& kv);

struct Agreement {
  int64_t selections = 0, equal = 0;        // (layer, head, step) compared, and identical
  int64_t static_layers = 0, static_equal = 0;  // layers whose kept sets were compared, identical
  // Static eviction, relative to the threshold γ·H: the largest |v_mpc − v_plain| / γH over the
  // (layer, token) votes near it (v_plain within a factor 2 of γH), and over the tokens one
  // backend keeps and the other evicts, the largest plaintext distance |v_plain / γH − 1| (the
  // closest of the layer pair sharing the kept set).
  double vote_error = 0, flipped_distance = 0;
  int64_t flipped = 0;  // such tokens
  double fraction() const { return selections ? double(equal) / double(selections) : 1.0; }
  Agreement& operator+=(const Agreement& o);
};

// threshold: γ·H of the runs' policy; share: its cross-layer sharing (which layers share kept sets).
Agreement compare(const SelectionRun& plain, const SelectionRun& mpc, double threshold = 0, bool share = false);

}  // namespace veil::nn
