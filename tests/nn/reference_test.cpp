// The plaintext backend against the independent float64 reference (tools/reference_logits.py)
// on the random-weight fixtures: max |logit difference| <= 1e-4.
#include <cstdio>

#include "nn_test_util.h"
#include "veil/nn/bert.h"
#include "veil/nn/gpt2.h"
#include "veil/nn/plain_backend.h"

namespace veil::nn {
namespace {

constexpr double tolerance = 1e-4;

TEST(Reference, Gpt2LogitsMatchFloat64) {
  VEIL_SKIP_WITHOUT_TORCH();
  Gpt2Checkpoint ck = load_gpt2_checkpoint(test::gpt2_fixture());
  const auto ids = test::random_ids(ck.config.n_positions, int32_t(ck.config.vocab_size), 1);
  PlainBackend be(std::move(ck.weights));
  Gpt2<PlainBackend> gpt2(be, ck.config);
  auto cache = gpt2.new_cache();
  const Tensor<float> logits = gpt2.logits(gpt2.hidden(ids, cache));  // (T,V), all positions
  const double diff = test::max_abs_diff(logits, test::reference(test::gpt2_fixture(), ids)["logits"]);
  std::printf("GPT-2 tiny-random, %zu tokens: max |logit - float64| = %.3g\n", ids.size(), diff);
  RecordProperty("max_abs_logit_diff", std::to_string(diff));
  EXPECT_LE(diff, tolerance);
}

TEST(Reference, BertLogitsAndHiddenMatchFloat64) {
  VEIL_SKIP_WITHOUT_TORCH();
  BertCheckpoint ck = load_bert_checkpoint(test::bert_fixture());
  const auto ids = test::random_ids(24, int32_t(ck.config.vocab_size), 2);
  std::vector<int32_t> types(ids.size(), 0);
  for (size_t i = ids.size() / 2; i < ids.size(); ++i) types[i] = 1;  // a sentence pair
  PlainBackend be(std::move(ck.weights));
  Bert<PlainBackend> bert(be, ck.config);
  const auto ref = test::reference(test::bert_fixture(), ids, types);
  const double hidden = test::max_abs_diff(bert.encode(ids, types), ref["hidden"]);
  const double logits = test::max_abs_diff(bert.classify(ids, types), ref["logits"]);
  std::printf("BERT tiny-random, %zu tokens: max |hidden - float64| = %.3g, max |logit - float64| = %.3g\n",
              ids.size(), hidden, logits);
  RecordProperty("max_abs_logit_diff", std::to_string(logits));
  EXPECT_LE(hidden, tolerance);
  EXPECT_LE(logits, tolerance);
}

}  // namespace
}  // namespace veil::nn
