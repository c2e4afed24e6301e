// Private generation with the three parties as threads of this process: the model owner deals
// weight shares, the client shares the prompt through a ClientPort, each party runs the same
// GPT-2 graph on the MPC backend, and only the client reconstructs the tokens (greedy) or the
// last logits (sampling, after which it shares its sampled token back).
#pragma once
#include <functional>
#include <vector>

#include "veil/nn/checkpoint.h"
#include "veil/nn/generate.h"

namespace veil::nn {

struct PrivateToken {
  int32_t id;            // as reconstructed by the client
  double seconds;        // wall time of the step, seen by the client
  int64_t bytes_total;   // bytes sent by all parties during the step
  int64_t bytes_max;     // bytes sent by the busiest party during the step
  int64_t rounds;        // rounds of the step
};

// Runs all max_new_tokens steps (every party runs the same number of steps; stop tokens are
// applied by the caller on the client side). on_progress(step, id, seconds) is called on the
// client as each token arrives; the returned records add each step's traffic.
using ProgressFn = std::function<void(int64_t step, int32_t id, double seconds)>;
std::vector<PrivateToken> generate_private(const Gpt2Checkpoint& ck, const std::vector<int32_t>& prompt,
                                           const GenerateOptions& opt, const ProgressFn& on_progress = {});

}  // namespace veil::nn
