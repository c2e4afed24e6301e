// Private generation on the mixed-precision backend: generate_private (nn/private_generate.h) with
// the parties running DittoBackend (nn/ditto_backend.h) under a precision plan. The model owner
// deals each weight on the rings the plan needs (deal_plan_weights), the parties start with the
// plan's mpc::Config (mpc_config_for), and the client is run_generate_client with one-hot token
// input, decoding sampled logits with the plan's FM64 fraction bits.
//
// For `veil generate --precision fp64|ditto|PLAN.json`: load_precision_plan(arg), then this.
#pragma once
#include <vector>

#include "veil/nn/checkpoint.h"
#include "veil/nn/generate.h"
#include "veil/nn/generate_client.h"
#include "veil/nn/precision_plan.h"

namespace veil::nn {

// Throws PlanError for a plan that does not fit the model (check_plan_for_model) or the MPC
// kernels (check_plan_for_mpc). The returned records carry each step's traffic, as
// generate_private's.
std::vector<PrivateToken> generate_private(const Gpt2Checkpoint& ck, const std::vector<int32_t>& prompt,
                                           const GenerateOptions& opt, const PrecisionPlan& plan,
                                           const ProgressFn& on_progress = {});

// The client's decoding of the parties' outputs under `plan` (ClientInput for run_generate_client;
// also what a client of `veil party --serve` parties running DittoBackend needs).
ClientInput client_input_for(const PrecisionPlan& plan, int64_t vocab);

}  // namespace veil::nn
