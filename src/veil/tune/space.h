// Search space of a tuning job, read from JSON (docs/TUNING.md has the full format):
//   {"metric": "val_loss", "direction": "minimize", "epochs": 15,
//    "params": {"lr": {"type": "float", "min": 1e-4, "max": 0.1, "scale": "log"},
//               "batch_size": {"type": "categorical", "values": [16, 32, 64]},
//               "warmup": {"type": "int", "min": 0, "max": 3}},
//    "budget": {"money": 20.0, "deadline_hours": 24, "max_trials": 40},
//    "command": "python3 trial.py --params {params} --checkpoint-dir {checkpoint_dir} --epochs {epochs}",
//    "report_timeout_s": 300}
// Every error names the offending field and says what is expected.
#pragma once
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace veil::tune {

enum class ParamType { real, integer, categorical };
enum class Scale { linear, log };

struct Param {
  std::string name;
  ParamType type = ParamType::real;
  Scale scale = Scale::linear;
  double min = 0, max = 1;
  std::vector<nlohmann::json> values;  // categorical only
};

struct Budget {
  double money = std::numeric_limits<double>::infinity();        // dollars
  double deadline_s = std::numeric_limits<double>::infinity();   // simulated seconds from the start
  int max_trials = 40;
};

struct SearchSpace {
  std::string metric = "val_loss";
  bool minimize = true;
  int epochs = 10;
  std::vector<Param> params;
  Budget budget;
  std::string command;               // trial command template; empty for replay-only spaces
  double report_timeout_s = 600;     // a trial silent for this long (real seconds) is killed

  // Samples one configuration (a JSON object name -> value).
  nlohmann::json sample(std::mt19937_64& rng) const;
  // `n` configurations from `seed`: the same seed gives the same list.
  std::vector<nlohmann::json> sample_n(int n, uint64_t seed) const;
  // True when `a` is a better metric value than `b` (NaN is never better).
  bool better(double a, double b) const { return minimize ? a < b : a > b; }
  double worst() const { return minimize ? std::numeric_limits<double>::infinity()
                                         : -std::numeric_limits<double>::infinity(); }
};

// Parses and validates; throws std::invalid_argument naming the bad field.
SearchSpace parse_space(const nlohmann::json& j);
SearchSpace load_space(const std::string& path);

}  // namespace veil::tune
