// Running a private workload on three in-process parties, for `veil bench model` and
// `veil bench kv`: random shares of real weight shapes (communication and rounds do not depend on
// the values), a timed body measured from a barrier, traffic per party and per link tag, and the
// client's token inputs counted by the in-process ClientPort. The modelled LAN/WAN time of a row
// adds the client's upload (one more hop, its bytes to the busiest receiving party) before the
// computation (net_model.h).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "veil/model/checkpoint_layout.h"
#include "veil/model/hf_config.h"
#include "veil/mpc/client_port.h"
#include "veil/mpc/context.h"
#include "veil/nn/mpc_backend.h"

namespace veil::bench {

using Share = nn::MpcBackend::Tensor;

// A consistent replicated sharing of pseudo-random ring elements, drawn without communication.
Share random_share(mpc::Context& ctx, const Shape& shape);
// Random shares of every required tensor of a checkpoint layout.
std::map<std::string, Share> random_weights(mpc::Context& ctx, const model::TensorLayout& layout);

struct WorkloadRow {
  std::string workload;
  double wall_s = 0;
  int64_t bytes_max = 0, bytes_total = 0, rounds = 0;
  int64_t client_bytes = 0, client_bytes_max = 0;  // client -> parties: all, and to the busiest party
  std::map<std::string, std::pair<int64_t, int64_t>> parts;  // tag -> (bytes of all parties, rounds)
  std::map<std::string, std::pair<int64_t, int64_t>> every_tag;  // the same for every tag the body opened
  // Modelled time on the critical path: compute wall + client upload + parties' traffic.
  double lan_s() const;
  double wan_s() const;
};

// Runs `body` (returned by `setup`, which is not timed) on three in-process parties; `tags` are
// the link tags broken out in `parts`. The client's inputs count towards the "embedding" part.
using WorkloadSetup = std::function<std::function<void()>(mpc::Context&, mpc::ClientPort&)>;
WorkloadRow run_workload(const std::string& name, const std::vector<std::string>& tags, const WorkloadSetup& setup);

// GPT2-base: 12 layers (2 with quick), 12 heads, width 768, vocabulary 50257, n_positions 1024.
model::Gpt2Config gpt2_base(bool quick);

// The client's input for t tokens of a vocabulary of v: ids, or one-hot rows.
std::vector<uint64_t> client_tokens(nn::TokenInput input, int64_t t, int64_t v);

std::string gb(int64_t bytes);  // "0.123 GB"

}  // namespace veil::bench
