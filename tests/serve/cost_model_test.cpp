#include "veil/serve/cost_model.h"

#include <gtest/gtest.h>

#include "veil/nn/checkpoint.h"
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

}  // namespace
}  // namespace veil::serve
