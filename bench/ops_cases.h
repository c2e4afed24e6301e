// The operations `veil bench ops` measures, with their shapes.
#pragma once
#include <vector>

#include "op_runner.h"

namespace veil::bench {

struct OpCase {
  std::string op, shape, ring;
  OpSetup setup;
};

// quick: shapes scaled down so the whole table runs in seconds (used by `make run`).
std::vector<OpCase> mpc_op_cases(bool quick);
std::vector<OpCase> fxp_op_cases(bool quick);

}  // namespace veil::bench
