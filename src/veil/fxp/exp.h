// Exponential of non-positive fixed-point values.
#pragma once
#include "veil/mpc/context.h"
#include "veil/mpc/share.h"

namespace veil::fxp {

using mpc::AShare;
using mpc::Context;

// y ≈ e^x for x ≤ 0; y = 0 where x < −14 (PUMA, arXiv:2307.12533: e^−14 < 2^−18 is below the
// FM64 quantum).
//
// Algorithm: the clip indicator [x < −14] comes from one ltz_a; independently, x is moved to a
// wider internal precision F' and scaled, t = x / 2^s (both by one local shift); the base
// e^t ≈ Σ_{j≤d} t^j / j! is a Taylor polynomial (powers in ceil(log2 d) batched levels, one
// truncation for the sum), then s squarings give e^x = (e^t)^(2^s); the last squaring truncates
// straight to F, and the clip is one integer 0/1 product (no truncation). PUMA's
// (1 + x/2^n)^(2^n) has relative error ≈ x²/2^(n+1) (0.4 at x = −14 for n = 8), too coarse.
//   FM64: F' = 26, d = 8, s = 3 (t ∈ [−1.75, 0]; Taylor error ≤ 2^3·|t|^9/9! relative).
//   FM32: F' = 14, d = 4, s = 4.
// Error model (measured by tests/fxp/exp_test.cpp, worst case of the truncation ±1 ulp):
//   FM64 (F = 18): relative error ≤ 1e−3 where e^x ≥ 4e−3 (x ≥ −5.5) and absolute error
//   ≤ 4·2^−18 everywhere on [−14, 0]. A relative bound of 1e−3 cannot hold below e^x ≈ 2^−18/1e−3
//   since the output quantum is 2^−18; the final truncation alone is worth 1 ulp = 3.8e−6.
//   FM32 (F = 8): absolute error ≤ 3·2^−8 on [−14, 0].
//   Measured: FM64 max relative 8.2e−4 (e^x ≥ 4e−3), max absolute 3.7e−6 (0.98 ulp); FM32 max
//   absolute 4.1e−3 (1.04 ulp).
// Input: x ≤ 0 (any magnitude that does not wrap x + 14; values below −14 give exactly 0).
// Rounds: ltz_a (3 + log2 k) + 3·ceil(log2 d) + 2 + 3·s + 1: 30 on FM64, 29 on FM32.
template <class T> AShare<T> f_exp(Context& ctx, const AShare<T>& x);

}  // namespace veil::fxp
