#include "veil/nn/ditto_generate.h"

#include <exception>
#include <thread>

#include "veil/mpc/client_port.h"
#include "veil/mpc/runtime.h"
#include "veil/nn/ditto_backend.h"
#include "veil/nn/plan_weights.h"

namespace veil::nn {

ClientInput client_input_for(const PrecisionPlan& plan, int64_t vocab) {
  return {TokenInput::client_onehot, vocab, mpc_config_for(plan).frac_bits_fm64};
}

std::vector<PrivateToken> generate_private(const Gpt2Checkpoint& ck, const std::vector<int32_t>& prompt,
                                           const GenerateOptions& opt, const PrecisionPlan& plan,
                                           const ProgressFn& on_progress) {
  std::vector<std::string> names;
  for (const auto& [name, _] : ck.weights) names.push_back(name);
  check_plan_for_model(plan, names, ck.config.n_layer);
  const mpc::Config cfg = mpc_config_for(plan);
  check_plan_for_mpc(plan, cfg);
  Prg owner(random_seed());
  auto shares = deal_plan_weights(ck.weights, plan, owner);  // the model owner's split

  GenerateOptions party_opt = opt;
  party_opt.stop_token.reset();  // parties cannot see tokens: they run every step
  mpc::ClientPort port;
  std::vector<PrivateToken> out;
  std::exception_ptr client_error;
  std::thread client([&] {
    try {
      out = run_generate_client(port, prompt, opt, client_input_for(plan, ck.config.vocab_size), on_progress);
    } catch (...) {
      client_error = std::current_exception();
      port.close();  // wakes parties waiting for an input that will not come
    }
  });
  try {
    mpc::run_parties([&](mpc::Context& ctx) {
      DittoBackend be(ctx, std::move(shares[size_t(ctx.id())]), plan, port, TokenInput::client_onehot);
      Gpt2<DittoBackend> model(be, ck.config);
      generate(be, model, std::vector<int32_t>(prompt.size(), 0), party_opt);  // the party knows only T
    }, cfg);
  } catch (...) {
    port.close();
    client.join();
    if (client_error) std::rethrow_exception(client_error);
    throw;
  }
  client.join();
  if (client_error) std::rethrow_exception(client_error);
  return out;
}

}  // namespace veil::nn
