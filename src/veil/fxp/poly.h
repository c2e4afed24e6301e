// Powers of a fixed-point share, the building block of the polynomial approximations.
#pragma once
#include <vector>

#include "veil/mpc/context.h"
#include "veil/mpc/share.h"

namespace veil::fxp {

using mpc::AShare;
using mpc::Context;

// out[j] ≈ t^j for j = 1..deg (out[0] is unused/empty), t held with `fbits` fraction bits.
// Level l computes every power in (2^(l−1), 2^l] as t^(2^(l−1)) · t^(j − 2^(l−1)) in one batched
// mul_aa_trunc by fbits: ceil(log2 deg) levels, 3 rounds each.
// Range: every |t^j| · 2^(2·fbits) < 2^(k−2). Error: each level adds < 2^−fbits to a power.
// Cost per level with m powers: 3 rounds; cost_mul_aa_trunc(m·n, fbits).
template <class T> std::vector<AShare<T>> powers(Context& ctx, const AShare<T>& t, int deg, int fbits);

}  // namespace veil::fxp
