// The client's side of private generation, over any mpc::ClientEnd: in process (generate_private)
// or over TLS to three `veil party --serve` processes (generate_remote). The client shares the
// prompt, reconstructs each step's output — the greedy token, or the last logits, from which it
// samples with its own seeded RNG — and shares the next token back when the parties need it.
// The parties run nn::generate on the MPC backend with the same options (stop token unset: they
// run every step; the client cuts at the stop token).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "veil/mpc/client_channel.h"
#include "veil/nn/generate.h"
#include "veil/nn/mpc_backend.h"

namespace veil::nn {

struct PrivateToken {
  int32_t id;                     // as reconstructed by the client
  double seconds;                 // wall time of the step, seen by the client
  int64_t bytes_total = 0;        // bytes sent by all parties to each other during the step
  int64_t bytes_max = 0;          // bytes sent by the busiest party during the step
  int64_t rounds = 0;             // rounds of the step
  int64_t client_bytes_sent = 0;  // client -> parties during the step (inputs)
  int64_t client_bytes_received = 0;  // parties -> client during the step (outputs)
};

// on_progress(step, id, seconds) is called on the client as each token arrives.
using ProgressFn = std::function<void(int64_t step, int32_t id, double seconds)>;

// How the client feeds tokens in: the parties' MpcBackend must use the same TokenInput. With
// client_onehot the client sends one-hot rows of width `vocab` (the model's vocab_size).
struct ClientInput {
  TokenInput mode = TokenInput::client_onehot;
  int64_t vocab = 0;
  int frac_bits = 18;   // decodes sampled logits
  int onehot_bits = 64;  // 32: one-hot rows shared modulo 2^32 (an FM32 embedding reads no more)
};

// Runs all opt.max_new_tokens steps against `end`. Throws std::invalid_argument for a prompt
// token outside the vocabulary.
std::vector<PrivateToken> run_generate_client(mpc::ClientEnd& end, const std::vector<int32_t>& prompt,
                                              const GenerateOptions& opt, const ClientInput& input,
                                              const ProgressFn& on_progress = {});

}  // namespace veil::nn
