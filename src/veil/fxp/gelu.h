// GeLU activation: an even polynomial between two thresholds, the identity above and zero below.
#pragma once
#include "veil/mpc/context.h"
#include "veil/mpc/share.h"

namespace veil::fxp {

using mpc::AShare;
using mpc::Context;

// y ≈ GeLU(x) = x·Φ(x).
//
// Algorithm (PUMA's piecewise scheme, arXiv:2307.12533, with two pieces instead of three):
//   0                                   x < −T
//   x/2 + Σ_{j≤4} c_j·x^(2j)            −T ≤ x ≤ T
//   x                                   x > T,           T = 3.15.
// GeLU(x) − x/2 = (x/2)·erf(x/√2) is even and smooth, so one polynomial in u = x² covers both
// signs; c_j is its minimax fit on [0, T + 1/32] (error 2.7e−3), and T balances it against the
// identity/zero tails (T·Φ(−T) = 2.6e−3). PUMA's three pieces (a cubic on [−4, −1.95), a sextic
// on [−1.95, 3]) need three comparisons and reach 1.4e−2.
// Comparisons: [x < −T] and [x > T] as boolean bits in one call (FM64: the 32-bit window of x
// at 6 fraction bits, mpc/narrow.h: inputs within 1/64 of ±T may take the neighbouring piece,
// which agrees there within the error below; FM32: exact msb_a).
// Polynomial (FM64): u = x²/2^F and w = u²/2^F by mul_aa_trunc, then q = c0 + c1·u + w·(c2 + c3·u +
// c4·w) with one untruncated product, everything at scale S = 2F + Fc (Fc = 23). FM32 (8 fraction
// bits) lacks the room for that product: u, u², u³, u⁴ are truncated powers and q is summed at
// F + 19 bits.
// Selection: one mac_ba (mpc/dealt.h) computes mid·(x/2 + q)/2^(S−F) + hi·x with mid =
// ¬(lo ⊕ hi): the truncation and both bit products in three rounds. Out-of-range powers may wrap;
// the zero bit removes them exactly.
// Input: FM64 |x| < 2^24 (the window's range); FM32 any x with x ± T not wrapping.
// Error model: approximation 2.7e−3 (max over all reals, vs the exact erf GeLU); fixed point adds
// ≈ 1e−5 on FM64 and ≈ 1e−2 on FM32. Measured (tests/fxp/activation_test.cpp, [−8, 8] plus far
// values): max abs error 3.0e−3 on FM64, 6.3e−3 on FM32 (PUMA's pieces here: 8.5e−3, 1.2e−2).
// Rounds: comparison 7, powers 3 + 3 (+ 3 on FM32), the product 1 (FM64), selection 3: 17 on FM64,
// 19 on FM32. Bytes (FM64, all parties): about 256 per element (PUMA's three pieces here: 1068).
template <class T> AShare<T> f_gelu(Context& ctx, const AShare<T>& x);

}  // namespace veil::fxp
