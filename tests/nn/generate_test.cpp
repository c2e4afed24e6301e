// Greedy decoding and client-side sampling.
#include "nn_test_util.h"
#include "veil/nn/generate.h"
#include "veil/nn/plain_backend.h"

namespace veil::nn {
namespace {

TEST(SampleToken, GreedyTopOneAndSeeds) {
  const std::vector<float> logits = {0.1f, 2.0f, -1.0f, 2.0f, 1.5f};
  std::mt19937_64 rng(1);
  EXPECT_EQ(sample_token(logits, {}, rng), 1);  // greedy: first of the tied maxima
  EXPECT_EQ(sample_token(logits, {.temperature = 5.0, .top_k = 1}, rng), 1);

  // top-k 2 only ever draws the two best; a seed repeats its draws.
  std::vector<int32_t> first, second;
  for (auto* draws : {&first, &second}) {
    std::mt19937_64 r(42);
    for (int i = 0; i < 200; ++i) draws->push_back(sample_token(logits, {.temperature = 1.0, .top_k = 2}, r));
  }
  EXPECT_EQ(first, second);
  EXPECT_TRUE(std::all_of(first.begin(), first.end(), [](int32_t t) { return t == 1 || t == 3; }));
  EXPECT_TRUE(std::count(first.begin(), first.end(), 3) > 50);  // equal logits, about half each

  EXPECT_THROW(sample_token(logits, {.temperature = -1.0}, rng), std::invalid_argument);
}

TEST(Generate, GreedyFollowsTheArgmaxOfFullRecomputation) {
  Gpt2Checkpoint ck = load_gpt2_checkpoint(test::gpt2_fixture());
  PlainBackend be(std::move(ck.weights));
  Gpt2<PlainBackend> gpt2(be, ck.config);
  std::vector<int32_t> seq = {5, 17, 42};
  const auto out = generate(be, gpt2, seq, {.max_new_tokens = 8});
  ASSERT_EQ(out.size(), 8u);
  for (const GeneratedToken& t : out) {
    auto cache = gpt2.new_cache();
    EXPECT_EQ(t.id, be.argmax(gpt2.next_logits(seq, cache)).at(0));
    seq.push_back(t.id);
  }
}

TEST(Generate, SamplingIsSeededAndStopsAtTheStopToken) {
  Gpt2Checkpoint ck = load_gpt2_checkpoint(test::gpt2_fixture());
  PlainBackend be(std::move(ck.weights));
  Gpt2<PlainBackend> gpt2(be, ck.config);
  const GenerateOptions opt{.max_new_tokens = 10, .sampling = {.temperature = 1.0, .top_k = 20, .seed = 9}};
  const auto a = generate(be, gpt2, {1, 2}, opt);
  const auto b = generate(be, gpt2, {1, 2}, opt);
  ASSERT_EQ(a.size(), 10u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].id, b[i].id);

  GenerateOptions stop = opt;
  stop.stop_token = a[3].id;
  const auto c = generate(be, gpt2, {1, 2}, stop);
  EXPECT_LE(c.size(), 4u);
  EXPECT_EQ(c.back().id, a[3].id);

  EXPECT_THROW(generate(be, gpt2, {1, 2}, {.max_new_tokens = ck.config.n_positions}), std::invalid_argument);
}

}  // namespace
}  // namespace veil::nn
