// Holds a private run's greedy tokens to the plaintext simulation of its precision plan
// (nn/plan_sim.h). The MPC truncations are probabilistic (±1 ulp, trunc_a), so two runs, or a run
// and the simulation, may pick different tokens where the two best logits are within that error of
// each other; exact equality would be a flaky test. The check instead feeds the run's own tokens
// to the simulation (teacher forcing) and requires each chosen token's simulated logit to be within
// `tolerance` × max |logit| of the best one: 5%, the bound DittoBackendTest holds MPC logits to.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "veil/nn/checkpoint.h"
#include "veil/nn/ditto_backend.h"
#include "veil/nn/gpt2.h"
#include "veil/nn/plan_sim.h"
#include "veil/nn/precision_plan.h"

namespace veil::nn::test {

struct SimulationAgreement {
  int64_t steps = 0, exact = 0;  // generated tokens, and those that are the simulation's argmax
  double worst_gap = 0;          // largest (best simulated logit − the chosen token's)
  double allowed = 0;            // tolerance × max |logit|
};

inline SimulationAgreement expect_follows_simulation(const std::string& model_dir, const PrecisionPlan& plan,
                                                     const std::vector<int32_t>& prompt, const std::vector<int32_t>& tokens,
                                                     double tolerance = 0.05) {
  SimulationAgreement a;
  if (tokens.empty() || prompt.empty()) {
    ADD_FAILURE() << "no prompt or no tokens to check";
    return a;
  }
  const Gpt2Checkpoint ck = load_gpt2_checkpoint(model_dir);
  PlanSimBackend be(ck.weights, plan, mpc_config_for(plan).frac_bits_fm64);
  Gpt2<PlanSimBackend> model(be, ck.config);
  std::vector<int32_t> ids = prompt;
  ids.insert(ids.end(), tokens.begin(), tokens.end() - 1);
  auto cache = model.new_cache();
  const veil::Tensor<float> logits = be.reveal_to_client(model.logits(model.hidden(be.input_tokens(ids), cache)));  // (T,V)
  const int64_t v = logits.dim(1);
  double max_abs = 0;
  for (float x : logits.data) max_abs = std::max(max_abs, double(std::abs(x)));
  a.allowed = tolerance * max_abs;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const float* row = logits.data.data() + int64_t(prompt.size() - 1 + i) * v;
    const double best = *std::max_element(row, row + v), gap = best - double(row[tokens[i]]);
    a.worst_gap = std::max(a.worst_gap, gap);
    a.exact += gap == 0;
    ++a.steps;
    EXPECT_LE(gap, a.allowed) << "step " << i << ": token " << tokens[i] << " is " << gap
                              << " below the simulation's best logit";
  }
  std::printf("[ditto-check] %lld of %lld tokens are the simulation's argmax; worst gap %.4f (allowed %.4f)\n",
              (long long)a.exact, (long long)a.steps, a.worst_gap, a.allowed);
  return a;
}

}  // namespace veil::nn::test
