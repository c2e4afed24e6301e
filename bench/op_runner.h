// Times one MPC operation on three in-process parties: median wall time over runs, traffic of
// the busiest party and rounds, from the link's counters.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "veil/mpc/runtime.h"

namespace veil::bench {

struct OpResult {
  std::string op, shape, ring;
  double wall_median_s = 0, wall_min_s = 0, wall_max_s = 0;
  int64_t bytes_max = 0, bytes_total = 0, rounds = 0;
};

// `setup` runs once per run (untimed) and returns a closure that runs the op (timed).
using OpSetup = std::function<std::function<void()>(mpc::Context&)>;

OpResult run_op(const std::string& op, const std::string& shape, const std::string& ring,
                const OpSetup& setup, int runs);

double median(std::vector<double> v);

}  // namespace veil::bench
