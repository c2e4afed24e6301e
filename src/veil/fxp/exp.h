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
// Algorithm: e^x = (e^t)^(2^s) with t = x/2^s, a free reinterpretation of x's encoding.
//   FM64 (s = 3, t ∈ [−1.75, 0]): e^t = q(τ), τ = t + 0.875, q of degree 6 fitted for the final
//   absolute error (relative error 9e−8 near t = 0, ≤ 1.9e−6 for x ≥ −5.76), by Paterson–Stockmeyer: τ² and τ³ by mul_aa_trunc,
//   q = A(τ, τ²) + τ³·B(τ, τ², τ³) with one untruncated product and one trunc_a; the scales (τ at
//   21 bits, τ² at 21, τ³ at 18, B at 42, q at 60) keep every coefficient to ≥ 20 bits inside the
//   64-bit ring.
//   FM32 (s = 4, t ∈ [−0.875, 0]): degree-4 minimax from truncated powers at 14 bits.
// The base's truncation is one mac_ba (mpc/dealt.h) that multiplies it by the keep bit
// ¬[x < −14] in the same kernel (a clipped base is 0, and so are its squares); then s squarings
// by mul_aa_trunc, the last truncating to F. (Selecting after the last squaring instead costs an
// untruncated square plus the mac_ba: 16 bytes per element more on FM64.)
// The clip test is a 32-bit window of x + 14 at 6 fraction bits on FM64 (inputs within 1/64 of
// −14 may come out either way: both answers are within 1e−6 of e^−14) and exact msb_a on FM32.
// PUMA's (1 + x/2^n)^(2^n) has relative error ≈ x²/2^(n+1) (0.4 at x = −14 for n = 8), too coarse.
// Error model (measured by tests/fxp/exp_test.cpp, worst case of the truncation ±1 ulp):
//   FM64 (F = 18): relative error ≤ 1e−3 where e^x ≥ 4e−3 (x ≥ −5.5) and absolute error
//   ≤ 4·2^−18 everywhere on [−14, 0]. A relative bound of 1e−3 cannot hold below e^x ≈ 2^−18/1e−3
//   since the output quantum is 2^−18; the final truncation alone is worth 1 ulp = 3.8e−6.
//   FM32 (F = 8): absolute error ≤ 3·2^−8 on [−14, 0].
//   Measured: FM64 max relative 8.5e−4 (e^x ≥ 4e−3), max absolute 5.0e−6 (1.3 ulp; the Taylor
//   design this replaces: 8.2e−4, 3.7e−6); FM32 max absolute 4.2e−3 (1.1 ulp).
// Input: x ≤ 0, slightly positive values (≤ 0.1) are fine; FM64 |x| < 2^24 (the window's range),
// values below −14 give exactly 0.
// Rounds: FM64 7 (clip) + 3 + 3 + 1 + 3 + 3·3 = 26; FM32 7 + 3·2 + 3 + 4·3 = 28.
// range_bits (FM64): |x| < 2^range_bits, 24 at most; the clip test's window then has
// range_bits + 8 bits (32 for the default): a caller that knows a tighter range pays less.
template <class T> AShare<T> f_exp(Context& ctx, const AShare<T>& x, int range_bits = 24);

}  // namespace veil::fxp
