// Private generation with the three parties as threads of this process: the model owner deals
// weight shares, the client shares the prompt through a ClientPort, each party runs the same
// GPT-2 graph on the MPC backend, and only the client reconstructs the tokens (greedy) or the
// last logits (sampling, after which it shares its sampled token back). The client feeds tokens
// as one-hot rows (TokenInput::client_onehot). The client's side is run_generate_client
// (nn/generate_client.h), the same as over the network.
#pragma once
#include <vector>

#include "veil/nn/checkpoint.h"
#include "veil/nn/generate.h"
#include "veil/nn/generate_client.h"

namespace veil::nn {

// Runs all max_new_tokens steps (every party runs the same number of steps; stop tokens are
// applied by the caller on the client side). The returned records add each step's traffic.
std::vector<PrivateToken> generate_private(const Gpt2Checkpoint& ck, const std::vector<int32_t>& prompt,
                                           const GenerateOptions& opt, const ProgressFn& on_progress = {});

}  // namespace veil::nn
