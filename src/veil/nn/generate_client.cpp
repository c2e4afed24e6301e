#include "veil/nn/generate_client.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "veil/core/fixed_point.h"

namespace veil::nn {

std::vector<PrivateToken> run_generate_client(mpc::ClientEnd& end, const std::vector<int32_t>& prompt,
                                              const GenerateOptions& opt, int frac_bits,
                                              const ProgressFn& on_progress) {
  const int64_t steps = opt.max_new_tokens;
  const bool greedy = opt.sampling.temperature == 0;
  std::mt19937_64 rng(opt.sampling.seed);
  std::vector<PrivateToken> out;
  std::array<net::Traffic, 3> before{};
  mpc::ClientTraffic client_before = end.traffic();
  auto t0 = std::chrono::steady_clock::now();
  end.send_input(std::vector<uint64_t>(prompt.begin(), prompt.end()));
  for (int64_t i = 0; i < steps; ++i) {
    const std::vector<uint64_t> opened = end.receive_output();
    int32_t id;
    if (greedy) {
      if (opened.size() != 1) throw std::runtime_error("client: the parties opened " + std::to_string(opened.size()) + " values where one token was due");
      id = int32_t(opened[0]);
    } else {
      std::vector<float> logits(opened.size());
      for (size_t j = 0; j < opened.size(); ++j) logits[j] = float(fxp_decode<uint64_t>(opened[j], frac_bits));
      id = sample_token(logits, opt.sampling, rng);
      if (i + 1 < steps) end.send_input({uint64_t(id)});
    }
    const auto now = std::chrono::steady_clock::now();
    PrivateToken t{id, std::chrono::duration<double>(now - t0).count()};
    const std::array<net::Traffic, 3> after = end.party_traffic();
    for (int p = 0; p < 3; ++p) {
      const net::Traffic d = after[size_t(p)] - before[size_t(p)];
      t.bytes_total += int64_t(d.bytes);
      t.bytes_max = std::max<int64_t>(t.bytes_max, int64_t(d.bytes));
      t.rounds = std::max<int64_t>(t.rounds, int64_t(d.rounds));
    }
    const mpc::ClientTraffic client_after = end.traffic();
    t.client_bytes_sent = int64_t(client_after.bytes_sent - client_before.bytes_sent);
    t.client_bytes_received = int64_t(client_after.bytes_received - client_before.bytes_received);
    before = after, client_before = client_after, t0 = now;
    out.push_back(t);
    if (on_progress) on_progress(i, id, t.seconds);
  }
  return out;
}

}  // namespace veil::nn
