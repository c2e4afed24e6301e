// Evaluation: every method on the same configuration orders (one per seed) and the same
// market replays (one per scenario and seed), summarised as a markdown table.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "veil/tune/curves.h"
#include "veil/tune/market.h"
#include "veil/tune/sim.h"

namespace veil::tune {

struct EvalOptions {
  int seeds = 20;
  int first_seed = 1;                // seeds first_seed .. first_seed + seeds - 1
  std::vector<size_t> scenarios;     // empty: all of the market's
  std::vector<Method> methods;       // empty: all
  double epoch_minutes = 10;
  SimOptions sim;                    // method is overridden
};

struct EvalRun {
  Method method;
  size_t scenario;
  int seed;
  SimResult result;
};

// The configuration order of a seed: a seeded permutation of the recorded configs.
std::vector<size_t> config_order(size_t configs, int seed);

std::vector<EvalRun> run_eval(const Market& market, const CurveSet& curves, const EvalOptions& opt);

// Markdown: one table per billing rule's run set, a row per method (means over all
// seeds and scenarios) and a row per method and scenario.
std::string eval_markdown(const Market& market, const CurveSet& curves, const EvalOptions& opt,
                          const std::vector<EvalRun>& runs);

}  // namespace veil::tune
