#include "veil/serve/cost_model.h"

#include <gtest/gtest.h>

#include "veil/nn/checkpoint.h"
#include "veil/nn/ditto_generate.h"
#include "veil/nn/private_generate.h"

namespace veil::serve {
namespace {

TEST(CostModel, FitsQuadraticPrefillAndLinearDecodeExactly) {
  // bytes = 1000 + 50 n + 2 n², rounds = 300 + n; decode bytes = 400 + 10 t, rounds 90
  std::vector<StepSample> s;
  for (int64_t n : {4, 8, 16, 32}) {
    const double nd = double(n);
    s.push_back({n, true, 1000 + 50 * nd + 2 * nd * nd, 300 + nd, (1000 + 50 * nd + 2 * nd * nd) * 1e-6 + (300 + nd) * 1e-4});
    for (int64_t k = 1; k < 4; ++k) {
      const double t = nd + double(k);
      s.push_back({n + k, false, 400 + 10 * t, 90, (400 + 10 * t) * 1e-6 + 90 * 1e-4});
    }
  }
  CostProfile p;
  fit_profile(p, s);
  EXPECT_NEAR(p.prefill_bytes[0], 1000, 1e-6);
  EXPECT_NEAR(p.prefill_bytes[1], 50, 1e-6);
  EXPECT_NEAR(p.prefill_bytes[2], 2, 1e-6);
  EXPECT_NEAR(p.decode_bytes[1], 10, 1e-6);
  EXPECT_NEAR(p.decode_rounds[0], 90, 1e-6);
  EXPECT_NEAR(p.bytes_per_second, 1e6, 1);
  EXPECT_NEAR(p.round_seconds, 1e-4, 1e-9);
  // A request of 10 prompt tokens and 3 new ones: prefill at 10, decode at 11 and 12.
  const Cost c = p.predict({10, 3});
  EXPECT_NEAR(c.bytes, (1000 + 500 + 200) + (400 + 110) + (400 + 120), 1e-6);
  EXPECT_NEAR(c.rounds, 310 + 180, 1e-6);
  EXPECT_NEAR(p.seconds(RequestShape{10, 3}), c.bytes * 1e-6 + c.rounds * 1e-4, 1e-9);
  EXPECT_EQ(p.predict({10, 0}).bytes, 0);
}

TEST(CostModel, NeedsEnoughShapes) {
  CostProfile p;
  EXPECT_THROW(fit_profile(p, {{4, true, 1, 1, 1}, {8, true, 2, 2, 2}, {9, false, 1, 1, 1}, {10, false, 1, 1, 1}}),
               std::invalid_argument);
}

TEST(CostModel, JsonRoundTripsAndBadProfilesAreRefused) {
  CostProfile p;
  p.model = "tiny", p.config_sha256 = "ab", p.prefill_bytes = {1, 2, 3}, p.decode_rounds = {4, 5};
  p.bytes_per_second = 2e8, p.round_seconds = 1e-5;
  const CostProfile q = CostProfile::from_json(p.to_json(), "test");
  EXPECT_EQ(q.to_json(), p.to_json());
  nlohmann::json bad = p.to_json();
  bad["prefill_bytes"] = {1, 2};
  EXPECT_THROW(CostProfile::from_json(bad, "p.json"), std::runtime_error);
  bad = p.to_json();
  bad["bytes_per_second"] = 0;
  EXPECT_THROW(CostProfile::from_json(bad, "p.json"), std::runtime_error);
}

// The profile of the bundled tiny GPT-2 measured with the engine: its predictions equal the
// link counters of a run at a shape it was not fitted on within 5% (bytes are polynomials of the
// shape; rounds step up with the bit length of the context, which the linear fit smooths).
TEST(CostModel, MeasuredProfileOfTheTinyModelPredictsItsTraffic) {
  const std::string model = std::string(VEIL_SOURCE_DIR) + "/models/tiny-gpt2";
  const CostProfile p = measure_profile(model);
  EXPECT_EQ(p.model, "tiny-gpt2");
  EXPECT_EQ(p.kv_policy, "full");
  EXPECT_GT(p.bytes_per_second, 0);
  // Rounds of a decode step do not depend on the context length much; bytes grow with it.
  EXPECT_GT(p.decode_bytes[1], 0);
  EXPECT_GT(p.predict({30, 6}).bytes, p.predict({8, 6}).bytes);
  EXPECT_GT(p.predict({8, 12}).rounds, p.predict({8, 6}).rounds);
  const nn::Gpt2Checkpoint ck = nn::load_gpt2_checkpoint(model);
  nn::GenerateOptions opt;
  opt.max_new_tokens = 6;
  const std::vector<int32_t> prompt(18, 42);
  double bytes = 0, rounds = 0;
  for (const nn::PrivateToken& t : nn::generate_private(ck, prompt, opt)) bytes += double(t.bytes_total), rounds += double(t.rounds);
  const Cost c = p.predict({18, 6});
  EXPECT_NEAR(c.bytes / bytes, 1.0, 0.05) << c.bytes << " predicted, " << bytes << " measured";
  EXPECT_NEAR(c.rounds / rounds, 1.0, 0.05) << c.rounds << " predicted, " << rounds << " measured";
}

// The distilled tiny model under its Ditto plan (FM32 linear layers) costs fewer bytes than the
// same shapes on the FM64 backend, and its profile predicts a run under the plan within 5%.
TEST(CostModel, DittoProfileCostsLessAndPredictsItsTraffic) {
  const std::string model = std::string(VEIL_SOURCE_DIR) + "/models/tiny-gpt2-ditto";
  const CostProfile fm64 = measure_profile(model);
  const CostProfile fp64 = measure_profile(model, "fp64");  // the same backend as ditto, every op on FM64
  const CostProfile ditto = measure_profile(model, "ditto");
  EXPECT_EQ(fm64.precision, "fm64");
  EXPECT_EQ(fp64.precision, "fp64");
  EXPECT_EQ(ditto.precision, "ditto");
  EXPECT_EQ(ditto.kv_policy, "full");
  for (const RequestShape r : {RequestShape{8, 4}, RequestShape{18, 6}, RequestShape{60, 20}}) {
    EXPECT_LT(ditto.predict(r).bytes, fm64.predict(r).bytes) << r.prompt_tokens << "+" << r.new_tokens;
    EXPECT_LT(ditto.predict(r).bytes, fp64.predict(r).bytes) << r.prompt_tokens << "+" << r.new_tokens;
  }
  const nn::Gpt2Checkpoint ck = nn::load_gpt2_checkpoint(model);
  nn::GenerateOptions opt;
  opt.max_new_tokens = 6;
  const std::vector<int32_t> prompt(18, 42);
  double bytes = 0, rounds = 0;
  for (const nn::PrivateToken& t : nn::generate_private(ck, prompt, opt, nn::resolve_precision("ditto", model).plan))
    bytes += double(t.bytes_total), rounds += double(t.rounds);
  const Cost c = ditto.predict({18, 6});
  EXPECT_NEAR(c.bytes / bytes, 1.0, 0.05) << c.bytes << " predicted, " << bytes << " measured";
  EXPECT_NEAR(c.rounds / rounds, 1.0, 0.05) << c.rounds << " predicted, " << rounds << " measured";
  std::printf("bytes of 18+6 tokens: fm64 %.0f, fp64 %.0f, ditto %.0f predicted, %.0f measured\n",
              fm64.predict({18, 6}).bytes, fp64.predict({18, 6}).bytes, c.bytes, bytes);
  // The profile file keeps both.
  const CostProfile back = CostProfile::from_json(ditto.to_json(), "test");
  EXPECT_EQ(back.precision, "ditto");
  EXPECT_EQ(back.to_json(), ditto.to_json());
}

// A StreamingLLM profile (a decoding step attends to a fifth of the context) predicts decode steps
// that grow more slowly with the context than the full cache's: less at a long context.
TEST(CostModel, KvPolicyProfileDiffersFromFullAtLongContext) {
  const std::string model = std::string(VEIL_SOURCE_DIR) + "/models/tiny-gpt2";
  nn::KvPolicyConfig kv;
  kv.kind = nn::KvPolicyKind::streaming;
  kv.budget = 0.2;
  const CostProfile full = measure_profile(model);
  const CostProfile streaming = measure_profile(model, "fm64", kv);
  EXPECT_EQ(streaming.kv_policy, nn::describe(kv));
  EXPECT_EQ(streaming.kv.kind, nn::KvPolicyKind::streaming);
  EXPECT_LT(streaming.decode_bytes[1], full.decode_bytes[1]);
  const RequestShape long_context{200, 100};
  EXPECT_LT(streaming.predict(long_context).bytes, 0.9 * full.predict(long_context).bytes);
  std::printf("bytes of 200+100 tokens: full %.0f, %s %.0f\n", full.predict(long_context).bytes,
              streaming.kv_policy.c_str(), streaming.predict(long_context).bytes);
  const CostProfile back = CostProfile::from_json(streaming.to_json(), "test");
  EXPECT_EQ(back.kv.kind, nn::KvPolicyKind::streaming);
  EXPECT_EQ(back.to_json(), streaming.to_json());
  // A plan runs with the full cache only; h2o is plaintext only.
  EXPECT_THROW(measure_profile(model, "ditto", kv), std::invalid_argument);
  kv.kind = nn::KvPolicyKind::h2o;
  EXPECT_THROW(measure_profile(model, "fm64", kv), std::invalid_argument);
}

}  // namespace
}  // namespace veil::serve
