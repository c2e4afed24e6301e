// GeLU activation, PUMA's piecewise polynomial.
#pragma once
#include "veil/mpc/context.h"
#include "veil/mpc/share.h"

namespace veil::fxp {

using mpc::AShare;
using mpc::Context;

// y ≈ GeLU(x) = x·Φ(x).
//
// Algorithm (PUMA, arXiv:2307.12533, §GeLU):
//   0                                                               x < −4
//   −0.011034·x³ − 0.118076·x² − 0.422266·x − 0.505403               −4 ≤ x < −1.95
//   0.0018067·x⁶ − 0.0376882·x⁴ + 0.3603293·x² + 0.5·x + 0.0085263   −1.95 ≤ x ≤ 2.8
//   x                                                               x > 2.8
// with one change: PUMA switches to x at 3, where its sextic is 0.0199 above the exact GeLU
// (the error grows from 0.0085 at 2.9); switching at 2.8 bounds the whole approximation by
// 0.0085 (the sextic's constant term at x = 0), |x − GeLU(x)| ≤ 0.0071 for x > 2.8.
// The three comparisons are one comparison call on the concatenation [x + 4, x + 1.95, 2.8 − x]
// (on FM64: x truncated once to 6 fraction bits, then ltz_a_via32 on 32 bits, so inputs within
// 1/64 of a boundary may take the neighbouring piece, which agrees there within the error
// below); the powers
// x², x³, x⁴, x⁶ take three batched product levels; both polynomials are summed with
// coefficients at a wider precision Fc (FM64: 40, FM32: 19) so that the small x⁶ coefficient
// keeps its digits; the segment indicators (integer 0/1) multiply the untruncated polynomials
// and x in one mul_aa, and one trunc_a by Fc finishes. Powers computed outside their segment may
// overflow; the indicator zeroes them exactly.
// Input: any x (x ± 4 must not wrap); out-of-segment polynomial values are zeroed exactly.
// Error model: the approximation itself is within 0.0086 of the exact erf GeLU on all reals
// (PUMA reports < 0.01403 with the switch at 3); fixed point adds ≈ 1e−5 on FM64 and ≈ 1e−2 on
// FM32 (x⁴, x⁶ from 8-bit powers). Measured (tests/fxp/activation_test.cpp, [−8, 8] plus far
// values): max abs error 8.5e−3 on FM64, 1.2e−2 on FM32.
// Rounds: comparison + 3·3 + 1 + 2, the comparison being trunc_a + ltz_a_via32 on FM64
// (2 + 2 + 5 + 1) and ltz_a on FM32 (3 + 5): 22 on FM64, 20 on FM32.
template <class T> AShare<T> f_gelu(Context& ctx, const AShare<T>& x);

}  // namespace veil::fxp
