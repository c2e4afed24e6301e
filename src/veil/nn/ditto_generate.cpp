#include "veil/nn/ditto_generate.h"

#include <algorithm>
#include <exception>
#include <thread>

#include "veil/core/fixed_point.h"
#include "veil/mpc/client_port.h"
#include "veil/mpc/runtime.h"
#include "veil/nn/ditto_backend.h"
#include "veil/nn/plan_weights.h"

namespace veil::nn {

ClientInput client_input_for(const PrecisionPlan& plan, int64_t vocab) {
  return {TokenInput::client_onehot, vocab, mpc_config_for(plan).frac_bits_fm64, onehot_bits_for(plan)};
}

int onehot_bits_for(const PrecisionPlan& plan) { return plan.ops[size_t(PlanOp::embedding)].ring == Ring::FM32 ? 32 : 64; }

namespace {

// The model owner's dealing of `ck` for `plan`, after checking that the plan fits the model and
// the MPC kernels; `cfg` gets the parties' configuration.
std::array<PlanWeightShares, 3> deal_for(const Gpt2Checkpoint& ck, const PrecisionPlan& plan, mpc::Config& cfg) {
  std::vector<std::string> names;
  for (const auto& [name, _] : ck.weights) names.push_back(name);
  check_plan_for_model(plan, names, ck.config.n_layer);
  cfg = mpc_config_for(plan);
  check_plan_for_mpc(plan, cfg);
  Prg owner(random_seed());
  return deal_plan_weights(ck.weights, plan, owner);  // the model owner's split
}

}  // namespace

std::vector<PrivateToken> generate_private(const Gpt2Checkpoint& ck, const std::vector<int32_t>& prompt,
                                           const GenerateOptions& opt, const PrecisionPlan& plan,
                                           const ProgressFn& on_progress) {
  mpc::Config cfg;
  auto shares = deal_for(ck, plan, cfg);

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

PrivatePerplexity perplexity_private(const Gpt2Checkpoint& ck, const std::vector<int32_t>& ids, int64_t context,
                                     const PrecisionPlan& plan,
                                     const std::function<void(int64_t, int64_t, const PerplexityResult&)>& on_window) {
  const std::vector<std::vector<int32_t>> windows = perplexity_windows(ids, context, ck.config.n_positions);
  const int64_t vocab = ck.config.vocab_size;
  for (int32_t id : ids)
    if (id < 0 || id >= vocab)
      throw std::invalid_argument("perplexity: token " + std::to_string(id) + " is outside the vocabulary of " +
                                  std::to_string(vocab));
  mpc::Config cfg;
  auto shares = deal_for(ck, plan, cfg);

  mpc::ClientPort port;
  PrivatePerplexity out;
  out.windows = int64_t(windows.size());
  std::exception_ptr client_error;
  std::thread client([&] {
    try {
      for (size_t w = 0; w < windows.size(); ++w) {
        const std::vector<int32_t>& window = windows[w];
        std::vector<uint64_t> rows(window.size() * size_t(vocab), 0);
        for (size_t t = 0; t < window.size(); ++t) rows[t * size_t(vocab) + size_t(window[t])] = 1;
        port.send_input(rows, onehot_bits_for(plan));
        const std::vector<uint64_t> opened = port.receive_output();
        if (opened.size() != window.size() * size_t(vocab))
          throw std::runtime_error("client: the parties opened " + std::to_string(opened.size()) + " logits for a window of " +
                                   std::to_string(window.size()) + " tokens");
        veil::Tensor<float> logits(Shape{int64_t(window.size()), vocab});
        for (size_t i = 0; i < opened.size(); ++i) logits.data[i] = float(fxp_decode<uint64_t>(opened[i], cfg.frac_bits_fm64));
        score_window(logits, window, out.result);
        if (on_window) on_window(int64_t(w), out.windows, out.result);
      }
    } catch (...) {
      client_error = std::current_exception();
      port.close();
    }
  });
  try {
    mpc::run_parties([&](mpc::Context& ctx) {
      DittoBackend be(ctx, std::move(shares[size_t(ctx.id())]), plan, port, TokenInput::client_onehot);
      Gpt2<DittoBackend> model(be, ck.config);
      for (const std::vector<int32_t>& window : windows) {  // the party knows only each window's length
        auto cache = model.new_cache();
        be.reveal_to_client(model.logits(model.hidden(be.input_tokens(std::vector<int32_t>(window.size(), 0)), cache)));
      }
    }, cfg);
  } catch (...) {
    port.close();
    client.join();
    if (client_error) std::rethrow_exception(client_error);
    throw;
  }
  client.join();
  if (client_error) std::rethrow_exception(client_error);
  for (const net::Traffic& t : port.party_traffic()) {
    out.bytes_total += int64_t(t.bytes);
    out.rounds = std::max<int64_t>(out.rounds, int64_t(t.rounds));
  }
  const mpc::ClientTraffic c = port.traffic();
  out.client_bytes = int64_t(c.bytes_sent + c.bytes_received);
  return out;
}

}  // namespace veil::nn
