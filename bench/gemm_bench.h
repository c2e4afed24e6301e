// Local ring GEMM throughput: the blocked kernel against the naive triple loop.
#pragma once

namespace veil::bench {
void print_gemm_table(int runs);
}
