#include "veil/nn/generate_client.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "veil/core/fixed_point.h"

namespace veil::nn {

namespace {

// The client's input for `ids`: the ids, or their one-hot rows (T,V) of integer 0/1.
std::vector<uint64_t> token_input(const std::vector<int32_t>& ids, const ClientInput& in) {
  if (in.mode == TokenInput::secret_ids) return {ids.begin(), ids.end()};
  std::vector<uint64_t> rows(ids.size() * size_t(in.vocab), 0);
  for (size_t t = 0; t < ids.size(); ++t) {
    if (ids[t] < 0 || ids[t] >= in.vocab)
      throw std::invalid_argument("client: token " + std::to_string(ids[t]) + " is outside the vocabulary of " +
                                  std::to_string(in.vocab));
    rows[t * size_t(in.vocab) + size_t(ids[t])] = 1;
  }
  return rows;
}

int input_bits(const ClientInput& in) { return in.mode == TokenInput::client_onehot ? in.onehot_bits : 64; }

}  // namespace

std::vector<PrivateToken> run_generate_client(mpc::ClientEnd& end, const std::vector<int32_t>& prompt,
                                              const GenerateOptions& opt, const ClientInput& input,
                                              const ProgressFn& on_progress) {
  const int64_t steps = opt.max_new_tokens;
  const bool greedy = opt.sampling.temperature == 0;
  std::mt19937_64 rng(opt.sampling.seed);
  std::vector<PrivateToken> out;
  std::array<net::Traffic, 3> before{};
  mpc::ClientTraffic client_before = end.traffic();
  auto t0 = std::chrono::steady_clock::now();
  end.send_input(token_input(prompt, input), input_bits(input));
  for (int64_t i = 0; i < steps; ++i) {
    const std::vector<uint64_t> opened = end.receive_output();
    int32_t id;
    if (greedy) {
      if (opened.size() != 1) throw std::runtime_error("client: the parties opened " + std::to_string(opened.size()) + " values where one token was due");
      id = int32_t(opened[0]);
      // The parties embed the argmax they hold, or (client_onehot) the row the client sends.
      if (i + 1 < steps && input.mode == TokenInput::client_onehot) end.send_input(token_input({id}, input), input_bits(input));
    } else {
      std::vector<float> logits(opened.size());
      for (size_t j = 0; j < opened.size(); ++j) logits[j] = float(fxp_decode<uint64_t>(opened[j], input.frac_bits));
      id = sample_token(logits, opt.sampling, rng);
      if (i + 1 < steps) end.send_input(token_input({id}, input), input_bits(input));
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
