#include "veil/nn/private_generate.h"

#include <array>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "veil/core/fixed_point.h"
#include "veil/mpc/runtime.h"
#include "veil/nn/mpc_backend.h"

namespace veil::nn {

std::vector<PrivateToken> generate_private(const Gpt2Checkpoint& ck, const std::vector<int32_t>& prompt,
                                           const GenerateOptions& opt, const ProgressFn& on_progress) {
  const mpc::Config cfg;
  const int frac = cfg.frac_bits<uint64_t>();
  Prg owner(random_seed());
  auto shares = deal_weights(ck.weights, frac, owner);  // the model owner's split

  GenerateOptions party_opt = opt;
  party_opt.stop_token.reset();  // parties cannot see tokens: they run every step
  const int64_t steps = opt.max_new_tokens;
  // Traffic of each party after each step, read on the party threads.
  std::array<std::vector<net::Traffic>, 3> after(
      {std::vector<net::Traffic>(size_t(steps)), std::vector<net::Traffic>(size_t(steps)),
       std::vector<net::Traffic>(size_t(steps))});
  std::array<net::Traffic, 3> start{};

  mpc::ClientPort port;
  std::vector<PrivateToken> out;
  std::exception_ptr client_error;
  std::thread client([&] {
    try {
      port.send_input(std::vector<uint64_t>(prompt.begin(), prompt.end()));
      std::mt19937_64 rng(opt.sampling.seed);
      auto t0 = std::chrono::steady_clock::now();
      for (int64_t i = 0; i < steps; ++i) {
        std::vector<uint64_t> opened = port.receive_output();
        int32_t id;
        if (opt.sampling.temperature == 0) {
          id = int32_t(opened.at(0));
        } else {
          std::vector<float> logits(opened.size());
          for (size_t j = 0; j < opened.size(); ++j) logits[j] = float(fxp_decode<uint64_t>(opened[j], frac));
          id = sample_token(logits, opt.sampling, rng);
          if (i + 1 < steps) port.send_input({uint64_t(id)});
        }
        auto now = std::chrono::steady_clock::now();
        out.push_back({id, std::chrono::duration<double>(now - t0).count(), 0, 0, 0});
        t0 = now;
        if (on_progress) on_progress(i, id, out.back().seconds);
      }
    } catch (...) {
      client_error = std::current_exception();
    }
  });
  try {
    mpc::run_parties([&](mpc::Context& ctx) {
      MpcBackend be(ctx, shares[size_t(ctx.id())], port);
      shares[size_t(ctx.id())].clear();
      Gpt2<MpcBackend> model(be, ck.config);
      start[size_t(ctx.id())] = ctx.link().total();
      int64_t step = 0;
      // The party passes only the prompt's length; the ids come from the client.
      generate(be, model, std::vector<int32_t>(prompt.size(), 0), party_opt,
               [&](const GeneratedToken&) { after[size_t(ctx.id())][size_t(step++)] = ctx.link().total(); });
    }, cfg);
  } catch (...) {
    port.close();
    client.join();
    throw;
  }
  client.join();
  if (client_error) std::rethrow_exception(client_error);
  for (int64_t i = 0; i < steps; ++i) {
    PrivateToken& t = out[size_t(i)];
    for (int p = 0; p < 3; ++p) {
      const net::Traffic prev = i == 0 ? start[size_t(p)] : after[size_t(p)][size_t(i - 1)];
      const net::Traffic d = after[size_t(p)][size_t(i)] - prev;
      t.bytes_total += int64_t(d.bytes);
      t.bytes_max = std::max<int64_t>(t.bytes_max, int64_t(d.bytes));
      t.rounds = std::max<int64_t>(t.rounds, int64_t(d.rounds));
    }
  }
  return out;
}

}  // namespace veil::nn
