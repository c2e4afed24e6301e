// Fixed-point operations (fxp/) measured by `veil bench ops`.
#include "ops_cases.h"

namespace veil::bench {

std::vector<OpCase> fxp_op_cases(bool quick) { return {}; }

}  // namespace veil::bench
