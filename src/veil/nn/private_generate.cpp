#include "veil/nn/private_generate.h"

#include <thread>

#include "veil/mpc/runtime.h"
#include "veil/nn/mpc_backend.h"

namespace veil::nn {

std::vector<PrivateToken> generate_private(const Gpt2Checkpoint& ck, const std::vector<int32_t>& prompt,
                                           const GenerateOptions& opt, const ProgressFn& on_progress) {
  const mpc::Config cfg;
  Prg owner(random_seed());
  auto shares = deal_weights(ck.weights, cfg.frac_bits<uint64_t>(), owner);  // the model owner's split

  GenerateOptions party_opt = opt;
  party_opt.stop_token.reset();  // parties cannot see tokens: they run every step
  mpc::ClientPort port;
  std::vector<PrivateToken> out;
  std::exception_ptr client_error;
  std::thread client([&] {
    try {
      out = run_generate_client(port, prompt, opt, {TokenInput::client_onehot, ck.config.vocab_size, cfg.frac_bits<uint64_t>()},
                                on_progress);
    } catch (...) {
      client_error = std::current_exception();
      port.close();  // wakes parties waiting for an input that will not come
    }
  });
  try {
    mpc::run_parties([&](mpc::Context& ctx) {
      MpcBackend be(ctx, std::move(shares[size_t(ctx.id())]), port, TokenInput::client_onehot);
      Gpt2<MpcBackend> model(be, ck.config);
      // The party passes only the prompt's length; the ids come from the client.
      generate(be, model, std::vector<int32_t>(prompt.size(), 0), party_opt);
    }, cfg);
  } catch (...) {
    port.close();
    client.join();
    if (client_error) std::rethrow_exception(client_error);  // the root cause
    throw;
  }
  client.join();
  if (client_error) std::rethrow_exception(client_error);
  return out;
}

}  // namespace veil::nn
