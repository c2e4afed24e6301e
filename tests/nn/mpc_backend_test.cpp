// The MPC backend against the plaintext backend on the same tiny random GPT-2: the same graph
// code (nn/gpt2.h) on secret shares must give the same logits within fixed-point error and
// the same greedy tokens, and no party thread sees the prompt.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <thread>

#include "nn_test_util.h"
#include "veil/core/fixed_point.h"
#include "veil/mpc/io.h"
#include "veil/mpc/runtime.h"
#include "veil/nn/checkpoint.h"
#include "veil/nn/gpt2.h"
#include "veil/nn/mpc_backend.h"
#include "veil/nn/plain_backend.h"

namespace veil::nn {
namespace {

const std::string kModel = std::string(VEIL_SOURCE_DIR) + "/models/tiny-random-gpt2";

// Runs the MPC model: the client thread shares `prompt` (ids, or one-hot rows), the parties compute
// the last token's logits and hand their shares to the client, who reconstructs and decodes them.
// `embedding_bytes` receives the parties' traffic in the embedding.
std::vector<double> mpc_last_logits(const Gpt2Checkpoint& ck, const std::vector<int32_t>& prompt,
                                    TokenInput input = TokenInput::secret_ids, uint64_t* embedding_bytes = nullptr) {
  Prg owner_prg(random_seed());
  const int frac = mpc::Config{}.frac_bits<uint64_t>();
  auto shares = deal_weights(ck.weights, frac, owner_prg);
  mpc::ClientPort port;
  std::vector<uint64_t> ids(prompt.begin(), prompt.end());
  if (input == TokenInput::client_onehot) {
    ids.assign(prompt.size() * size_t(ck.config.vocab_size), 0);
    for (size_t t = 0; t < prompt.size(); ++t) ids[t * size_t(ck.config.vocab_size) + size_t(prompt[t])] = 1;
  }
  port.send_input(ids);
  std::vector<uint64_t> out;
  std::thread client([&] { out = port.receive_output(); });
  try {
    mpc::PartyTraffic traffic = mpc::run_parties([&](mpc::Context& ctx) {
      MpcBackend be(ctx, shares[size_t(ctx.id())], port, input);
      Gpt2<MpcBackend> model(be, ck.config);
      auto cache = model.new_cache();
      std::vector<int32_t> public_length(prompt.size(), 0);  // the party knows only T
      be.reveal_to_client(model.next_logits(be.input_tokens(public_length), cache));
    });
    if (embedding_bytes) {
      *embedding_bytes = 0;
      for (const auto& tags : traffic.by_tag) *embedding_bytes += tags.count("embedding") ? tags.at("embedding").bytes : 0;
    }
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

class MpcBackendTest : public ::testing::TestWithParam<TokenInput> {};

TEST_P(MpcBackendTest, Gpt2LogitsMatchPlaintext) {
  if (!std::filesystem::exists(kModel)) GTEST_SKIP() << kModel << " is absent";
  Gpt2Checkpoint ck = load_gpt2_checkpoint(kModel);
  const std::vector<int32_t> prompt = {5, 17, 42, 99, 3, 250, 7, 64};
  PlainBackend plain(ck.weights);
  Gpt2<PlainBackend> ref(plain, ck.config);
  auto cache = ref.new_cache();
  veil::Tensor<float> want = ref.next_logits(plain.input_tokens(prompt), cache);
  uint64_t embedding_bytes = 0;
  std::vector<double> got = mpc_last_logits(ck, prompt, GetParam(), &embedding_bytes);
  // The client's one-hot rows leave only matmul_aa's re-share: T·C elements per party.
  const uint64_t reshare = 3 * prompt.size() * uint64_t(ck.config.n_embd) * 8;
  if (GetParam() == TokenInput::client_onehot) EXPECT_EQ(embedding_bytes, reshare);
  else EXPECT_GT(embedding_bytes, reshare);
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

INSTANTIATE_TEST_SUITE_P(TokenInputs, MpcBackendTest,
                         ::testing::Values(TokenInput::secret_ids, TokenInput::client_onehot),
                         [](const auto& info) { return info.param == TokenInput::secret_ids ? "SecretIds" : "ClientOneHot"; });

// softmax(scores)·v with more keys than v has columns: normalised after the product, (e·v)·r,
// within the softmax's error of a double reference, causal and not, and cheaper than normalising
// the N probabilities first (the same inputs through softmax then matmul, in the same run).
TEST(MpcBackendAttend, NormalisesAfterTheProductWithinTheSoftmaxErrorAndSendsLess) {
  const int64_t heads = 2, tq = 3, tk = 80, d = 8;
  const int f = mpc::Config{}.frac_bits<uint64_t>();
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> us(-6.0, 6.0), uv(-2.0, 2.0);
  std::vector<double> s(size_t(heads * tq * tk)), v(size_t(heads * tk * d));
  for (double& x : s) x = us(rng);
  for (double& x : v) x = uv(rng);
  for (bool causal : {false, true}) {
    std::vector<double> fused, plain;
    mpc::ClientPort port;
    const mpc::PartyTraffic traffic = mpc::run_parties([&](mpc::Context& ctx) {
      MpcBackend be(ctx, MpcBackend::WeightShares{}, port, TokenInput::secret_ids);
      auto share = [&](const std::vector<double>& xs, Shape shape) {
        veil::Tensor<uint64_t> t(shape);
        for (size_t i = 0; i < xs.size(); ++i) t[i] = fxp_encode<uint64_t>(xs[i], f);
        return mpc::share_input(ctx, 0, t, shape);
      };
      const auto ss = share(s, {heads, tq, tk}), vv = share(v, {heads, tk, d});
      mpc::AShare<uint64_t> y1, y2;
      {
        net::Link::Scope scope(ctx.link(), "fused");
        y1 = be.attend(ss, vv, causal);
      }
      {
        net::Link::Scope scope(ctx.link(), "plain");
        y2 = be.matmul(be.softmax(ss, causal), vv);
      }
      const auto o1 = fxp_decode<uint64_t>(mpc::reveal_all(ctx, y1).data, f);
      const auto o2 = fxp_decode<uint64_t>(mpc::reveal_all(ctx, y2).data, f);
      if (ctx.id() == 0) fused = o1, plain = o2;
    });
    ASSERT_EQ(fused.size(), size_t(heads * tq * d));
    ASSERT_EQ(plain.size(), fused.size());
    const std::vector<double> want = test::softmax_times_v(s, v, heads, tq, tk, d, causal);
    EXPECT_LT(test::max_abs_diff(fused, want), 1e-4) << "causal " << causal;
    EXPECT_LT(test::max_abs_diff(plain, want), 1e-4) << "causal " << causal;
    for (int p = 0; p < 3; ++p) {
      const uint64_t a = traffic.by_tag[size_t(p)].at("fused").bytes, b = traffic.by_tag[size_t(p)].at("plain").bytes;
      EXPECT_LT(a, b) << "party " << p;
    }
  }
}

}  // namespace
}  // namespace veil::nn
