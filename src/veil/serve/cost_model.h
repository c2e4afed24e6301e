// The gateway's prediction of what a generation request costs a party group, derived from the
// engine's declared costs (mpc/cost.h): the link counters of a run equal them, so a profile
// measured once per model by running the engine in process at a few shapes gives
//   prefill (prompt of n tokens, first token):  bytes, rounds ≈ a + b·n + c·n²
//   each later step at context length t:        bytes, rounds ≈ d + e·t
// fitted by least squares, and the seconds of the in-process run fitted as
//   seconds ≈ bytes / bytes_per_second + rounds · round_seconds
// (the speed of a group whose links are loopback memory). A group's own speed scales that
// prediction (Balancer learns the scale from the sessions it serves). A profile holds one
// precision plan and one KV-cache policy, as the run it was measured from: the gateway holds one
// profile per (precision, kv_policy) it serves and predicts a request with the profile of the
// request's pair (gateway.h).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "veil/nn/kv_policy_config.h"

namespace veil::serve {

struct RequestShape {
  int64_t prompt_tokens = 0;
  int64_t new_tokens = 0;
};

struct Cost {
  double bytes = 0;   // sent between the parties, all three together
  double rounds = 0;  // communication rounds
};

// One measured step of an in-process run: the prefill (step 0, context = prompt tokens) or a
// decode step at context length `context`.
struct StepSample {
  int64_t context = 0;
  bool prefill = false;
  double bytes = 0, rounds = 0, seconds = 0;
};

struct CostProfile {
  std::string model;                      // the model folder's name (informative)
  std::string config_sha256;              // of its config.json
  // The precision the profile was measured with: "fm64" (the FM64 backend without a plan, what
  // `veil generate` runs without --precision) or a precision plan's name ("fp64", "ditto", a plan
  // file's name).
  std::string precision = "fm64";
  std::string kv_policy = "full";         // the KV-cache policy (nn::describe: "streaming budget=0.2 sink=4")
  nn::KvPolicyConfig kv;                  // its settings ("kv" in the JSON; absent: full)
  std::array<double, 3> prefill_bytes{};  // a, b, c
  std::array<double, 3> prefill_rounds{};
  std::array<double, 2> decode_bytes{};   // d, e
  std::array<double, 2> decode_rounds{};
  double bytes_per_second = 1e9;          // of the profiling run (in process)
  double round_seconds = 0;

  Cost predict(const RequestShape& r) const;
  // Predicted seconds of `r` on a group as fast as the profiling run.
  double seconds(const RequestShape& r) const;
  double seconds(const Cost& c) const { return c.bytes / bytes_per_second + c.rounds * round_seconds; }

  nlohmann::json to_json() const;
  // Throws std::runtime_error naming `where` for a profile with missing or bad fields.
  static CostProfile from_json(const nlohmann::json& j, const std::string& where);
};

// Runs the engine in process (the three parties as threads, nn/private_generate.h) on the model
// folder at prompts of 4, 12, 24 and 40 tokens with 4 new tokens each, and fits a profile of it.
// `precision`: "fm64" (no plan) or a --precision argument (fp64, ditto, PLAN.json) resolved with
// nn::resolve_precision against the folder, run by nn::generate_private under the plan (ditto
// backend). `kv`: the KV-cache policy of the runs (full, streaming or mpcache: what the engine runs
// under MPC; a precision plan runs with the full cache only). Throws std::invalid_argument for a
// policy or precision the engine does not run, nn::PlanError for a plan that does not fit.
CostProfile measure_profile(const std::string& model_dir, const std::string& precision = "fm64",
                            const nn::KvPolicyConfig& kv = {});

// Fits the profile's coefficients and speed from samples of at least three different prompt
// lengths and two different decode contexts; throws std::invalid_argument otherwise.
void fit_profile(CostProfile& p, const std::vector<StepSample>& samples);

}  // namespace veil::serve
