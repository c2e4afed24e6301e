// Private generation on the mixed-precision backend: generate_private (nn/private_generate.h) with
// the parties running DittoBackend (nn/ditto_backend.h) under a precision plan. The model owner
// deals each weight on the rings the plan needs (deal_plan_weights), the parties start with the
// plan's mpc::Config (mpc_config_for), and the client is run_generate_client with one-hot token
// input, decoding sampled logits with the plan's FM64 fraction bits.
//
// perplexity_private is `veil eval-ppl --backend mpc --precision ...`: the same parties score
// windows of a text, the client sharing each window's one-hot rows and reconstructing its logits.
//
// `veil generate --precision fp64|ditto|PLAN.json`: resolve_precision(arg, model folder), then this.
#pragma once
#include <functional>
#include <vector>

#include "veil/nn/checkpoint.h"
#include "veil/nn/generate.h"
#include "veil/nn/generate_client.h"
#include "veil/nn/perplexity.h"
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
// The ring the client shares its one-hot rows on under `plan`: 32 when the embedding runs on FM32.
int onehot_bits_for(const PrecisionPlan& plan);

struct PrivatePerplexity {
  PerplexityResult result;  // scored by the client on the logits it reconstructed
  int64_t windows = 0;
  int64_t bytes_total = 0;  // sent by all parties to each other
  int64_t rounds = 0;       // of the busiest party
  int64_t client_bytes = 0;  // client <-> parties, both ways
};

// Perplexity of `ids` over the windows of perplexity_windows(ids, context, n_positions), each a
// fresh prefill on the parties; only the client sees the tokens and the logits (T,V) per window,
// which it decodes with the plan's FM64 fraction bits. on_window(i, windows, result so far) runs on
// the client after each window. Throws PlanError as generate_private, std::invalid_argument for a
// bad context or text.
PrivatePerplexity perplexity_private(const Gpt2Checkpoint& ck, const std::vector<int32_t>& ids, int64_t context,
                                     const PrecisionPlan& plan,
                                     const std::function<void(int64_t, int64_t, const PerplexityResult&)>& on_window = {});

}  // namespace veil::nn
