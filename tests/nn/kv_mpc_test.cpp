// MPCache under MPC against the plaintext backend, on the trained tiny GPT-2: the same prompt and
// continuation through both; the clusters selected per (layer, head, step) must agree (issue
// target: >= 95%), static eviction must keep the same positions, and the count-only mode must give
// the same outputs as the positions mode.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "veil/core/fixed_point.h"
#include "veil/model/bpe_tokenizer.h"
#include "veil/mpc/runtime.h"
#include "veil/nn/checkpoint.h"
#include "veil/nn/generate.h"
#include "veil/nn/kv_agreement.h"
#include "veil/nn/kv_policy_factory.h"
#include "veil/nn/mpc_backend.h"

namespace veil::nn {
namespace {

const std::string kModel = std::string(VEIL_SOURCE_DIR) + "/models/tiny-gpt2";

// Tokens of English text that ships with the repository (the fixture's README).
std::vector<int32_t> text_tokens(size_t n) {
  std::ifstream in(kModel + "/README.md");
  std::stringstream s;
  s << in.rdbuf();
  std::vector<int32_t> ids = model::BpeTokenizer::load_dir(kModel).encode(s.str());
  if (ids.size() < n) throw std::runtime_error("the README is too short");
  ids.resize(n);
  return ids;
}

KvPolicyConfig mpcache(bool static_eviction, StaticReveal reveal = StaticReveal::positions) {
  KvPolicyConfig c;
  c.kind = KvPolicyKind::mpcache;
  c.budget = 0.3;
  c.static_eviction = static_eviction;
  c.reveal = reveal;
  return c;
}

class KvMpcTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ck_ = new Gpt2Checkpoint(load_gpt2_checkpoint(kModel)); }
  static void TearDownTestSuite() { delete ck_; }
  static Gpt2Checkpoint* ck_;
};
Gpt2Checkpoint* KvMpcTest::ck_ = nullptr;

TEST_F(KvMpcTest, SelectsTheSameClustersAsThePlaintextBackend) {
  const std::vector<int32_t> ids = text_tokens(280);
  const std::vector<int32_t> prompt(ids.begin(), ids.begin() + 272), continuation(ids.begin() + 272, ids.end());
  for (bool st : {false, true}) {
    const KvPolicyConfig kv = mpcache(st);
    const SelectionRun plain = plaintext_selections(*ck_, prompt, continuation, kv);
    const SelectionRun secret = mpc_selections(*ck_, prompt, continuation, kv);
    const Agreement a = compare(plain, secret);
    // 272 prompt rows (static off): 8 coarse clusters after the sink; layers 0, 1, 2 select
    // (3 reuses 2), 4 heads, 8 steps.
    if (!st) EXPECT_EQ(a.selections, 3 * 4 * 8);
    EXPECT_GT(a.selections, 0);
    EXPECT_GE(a.fraction(), 0.95) << "static eviction " << st << ": " << a.equal << " of " << a.selections;
    std::printf("[kv-agreement] static %s: %lld of %lld (layer, head, step) selections equal (%.1f%%); kept sets "
                "equal in %lld of %lld layers\n",
                st ? "on" : "off", (long long)a.equal, (long long)a.selections, 100 * a.fraction(),
                (long long)a.static_equal, (long long)a.static_layers);
    if (st) EXPECT_EQ(a.static_equal, a.static_layers);
  }
}

// The client's greedy tokens of an in-process MPC generation with policy kv.
std::vector<int32_t> mpc_tokens(const Gpt2Checkpoint& ck, const std::vector<int32_t>& prompt, const KvPolicyConfig& kv,
                                int64_t steps) {
  Prg owner(random_seed());
  auto shares = deal_weights(ck.weights, mpc::Config{}.frac_bits<uint64_t>(), owner);
  mpc::ClientPort port;
  port.send_input(std::vector<uint64_t>(prompt.begin(), prompt.end()));
  std::vector<int32_t> out;
  std::thread client([&] {
    try {
      for (int64_t i = 0; i < steps; ++i) out.push_back(int32_t(port.receive_output().at(0)));
    } catch (...) {
    }
  });
  try {
    mpc::run_parties([&](mpc::Context& ctx) {
      MpcBackend be(ctx, shares[size_t(ctx.id())], port, TokenInput::secret_ids);
      Gpt2<MpcBackend> model(be, ck.config);
      GenerateOptions opt;
      opt.max_new_tokens = steps;
      opt.kv = kv;
      generate(be, model, std::vector<int32_t>(prompt.size(), 0), opt);
    });
  } catch (...) {
    port.close();
    client.join();
    throw;
  }
  client.join();
  return out;
}

TEST_F(KvMpcTest, CountOnlyEvictionGeneratesWhatPositionsModeDoes) {
  const std::vector<int32_t> prompt = text_tokens(200);
  const std::vector<int32_t> positions = mpc_tokens(*ck_, prompt, mpcache(true, StaticReveal::positions), 4);
  const std::vector<int32_t> count = mpc_tokens(*ck_, prompt, mpcache(true, StaticReveal::count), 4);
  EXPECT_EQ(positions, count);
  // And the plaintext backend with the same policy.
  PlainBackend be(ck_->weights);
  Gpt2<PlainBackend> model(be, ck_->config);
  GenerateOptions opt;
  opt.max_new_tokens = 4;
  opt.kv = mpcache(true);
  std::vector<int32_t> plain;
  for (const GeneratedToken& t : generate(be, model, prompt, opt)) plain.push_back(t.id);
  EXPECT_EQ(positions, plain);
}

TEST_F(KvMpcTest, PlaintextBaselinesAreRefusedUnderMpc) {
  mpc::ClientPort port;
  EXPECT_THROW(mpc::run_parties([&](mpc::Context& ctx) {
                 KvPolicyConfig c;
                 c.kind = KvPolicyKind::h2o;
                 make_kv_policy<MpcBackend>(c, 2);
               }),
               std::exception);
}

}  // namespace
}  // namespace veil::nn
