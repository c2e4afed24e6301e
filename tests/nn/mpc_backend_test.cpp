// The MPC backend against the plaintext backend on the same tiny random GPT-2: the same graph
// code (nn/gpt2.h) on secret shares must give the same logits within fixed-point error and
// the same greedy tokens, and no party thread sees the prompt.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <thread>

#include "veil/core/fixed_point.h"
#include "veil/mpc/runtime.h"
#include "veil/nn/checkpoint.h"
#include "veil/nn/gpt2.h"
#include "veil/nn/mpc_backend.h"
#include "veil/nn/plain_backend.h"

namespace veil::nn {
namespace {

const std::string kModel = std::string(VEIL_SOURCE_DIR) + "/models/tiny-random-gpt2";

// Runs the MPC model: the client thread shares `prompt`, the parties compute the last token's
// logits and hand their shares to the client, who reconstructs and decodes them.
std::vector<double> mpc_last_logits(const Gpt2Checkpoint& ck, const std::vector<int32_t>& prompt) {
  Prg owner_prg(random_seed());
  const int frac = mpc::Config{}.frac_bits<uint64_t>();
  auto shares = deal_weights(ck.weights, frac, owner_prg);
  mpc::ClientPort port;
  std::vector<uint64_t> ids(prompt.begin(), prompt.end());
  port.send_input(ids);
  std::vector<uint64_t> out;
  std::thread client([&] { out = port.receive_output(); });
  try {
    mpc::run_parties([&](mpc::Context& ctx) {
      MpcBackend be(ctx, shares[size_t(ctx.id())], port);
      Gpt2<MpcBackend> model(be, ck.config);
      auto cache = model.new_cache();
      std::vector<int32_t> public_length(prompt.size(), 0);  // the party knows only T
      be.reveal_to_client(model.next_logits(be.input_tokens(public_length), cache));
    });
  } catch (...) {
    port.close();
    client.join();
    throw;
  }
  client.join();
  std::vector<double> logits(out.size());
  for (size_t i = 0; i < out.size(); ++i) logits[i] = fxp_decode<uint64_t>(out[i], frac);
  return logits;
}

TEST(MpcBackend, Gpt2LogitsMatchPlaintext) {
  if (!std::filesystem::exists(kModel)) GTEST_SKIP() << kModel << " is absent";
  Gpt2Checkpoint ck = load_gpt2_checkpoint(kModel);
  const std::vector<int32_t> prompt = {5, 17, 42, 99, 3, 250, 7, 64};
  PlainBackend plain(ck.weights);
  Gpt2<PlainBackend> ref(plain, ck.config);
  auto cache = ref.new_cache();
  veil::Tensor<float> want = ref.next_logits(plain.input_tokens(prompt), cache);
  std::vector<double> got = mpc_last_logits(ck, prompt);
  ASSERT_EQ(got.size(), want.size());
  double max_err = 0, mean_err = 0;
  size_t arg_got = 0, arg_want = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double e = std::abs(got[i] - double(want.data[i]));
    max_err = std::max(max_err, e), mean_err += e / double(got.size());
    if (got[i] > got[arg_got]) arg_got = i;
    if (want.data[i] > want.data[arg_want]) arg_want = i;
  }
  double scale = 0;
  for (float w : want.data) scale = std::max(scale, double(std::abs(w)));
  std::printf("[mpc-vs-plain] tiny-random-gpt2 last-token logits: max abs err %.3e, mean %.3e, max abs logit %.3f\n", max_err, mean_err, scale);
  // Fixed-point error (F = 18) plus PUMA's GeLU and exp approximations, through two layers:
  // within 1% of the logit range, and the same top-1 token.
  EXPECT_LT(max_err, 0.01 * scale);
  EXPECT_EQ(arg_got, arg_want);
}

}  // namespace
}  // namespace veil::nn
