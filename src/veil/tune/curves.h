// Recorded learning curves: `veil tune record` runs real trials once and writes them here;
// the replay executor serves them back so a whole tuning experiment takes seconds.
//
// File format (CSV, RFC 4180 quoting):
//   # veil-tune-curves v1
//   # metric=val_loss direction=minimize epochs=15
//   # <free-form provenance lines>
//   config,epoch,metric,seconds,params
//   0,1,2.60144,1.109,"{""batch_size"":64,""lr"":0.003}"
// `seconds` is the measured wall time of that epoch on the recording machine. A config
// whose curve stops before `epochs` failed there (its error is in a `# failed <config>
// <message>` line) and fails again at the same epoch when replayed.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace veil::tune {

struct Curve {
  nlohmann::json params;
  std::vector<double> metric;   // metric[e-1] = value after epoch e
  std::vector<double> seconds;
  std::string failure;          // empty when the run completed
};

struct CurveSet {
  std::string metric = "val_loss";
  bool minimize = true;
  int epochs = 0;
  std::vector<std::string> provenance;
  std::vector<Curve> curves;
};

void write_curves(const std::string& path, const CurveSet& set);
CurveSet read_curves(const std::string& path);  // throws std::runtime_error with file:line

// Splits one CSV line into fields (double-quoted fields, "" escapes).
std::vector<std::string> split_csv_line(const std::string& line);

}  // namespace veil::tune
