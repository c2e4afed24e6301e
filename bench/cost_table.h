// The declared-cost table (docs/PROTOCOLS.md), printed from the kernels' own declarations.
#pragma once
#include <cstdint>

namespace veil::bench {
void print_cost_table(int64_t n);
}
