// Reciprocal and reciprocal square root of positive fixed-point values, by bit normalisation
// and Newton iteration.
#pragma once
#include "veil/mpc/context.h"
#include "veil/mpc/share.h"

namespace veil::fxp {

using mpc::AShare;
using mpc::Context;

// y ≈ 1/x for x > 0.
//
// Algorithm (the normalise-then-Newton scheme of SecureML/ABY3-era fixed-point libraries, as in
// SPU's f_reciprocal): b = a2b(x); a prefix-OR from the top (log2 k AND rounds; a|b =
// a^b^(a&b)) and h = y ^ (y >> 1) give the one-hot of the highest set bit p; bits2a injects the
// 2F bits that matter in one round. With public per-bit constants, S = Σ h_p 2^(G−p) (G = k−3)
// makes u = x·S / 2^(G+1) ∈ [0.5, 1) exact, and a second constant set gives (16/17)·u in the same
// mul_aa/trunc_a batch, so the initial guess w0 = 48/17 − (32/17)·u (max |1 − u·w0| = 1/17)
// costs no extra round. Two Newton steps w ← w(2 − u·w) at F' = k − 3 − 2F internal fraction
// bits (relative error (1/17)^4 = 1.2e−5); then 1/x = w · 2^(F−p−1), one product with
// R = Σ h_p 2^(2F−1−p) and one truncation.
// Input: x > 0 with any magnitude; for x ≥ 2^F (1/x < 2^−F, below the quantum) the result is 0.
// x ≤ 0 gives garbage.
// Error model: the final truncation puts the result within 1 ulp (2^−F) of w·2^(F−p−1), so:
//   relative error ≤ 1.2e−5 + 2^−F·x; the tests assert ≤ 1e−3 relative where 1/x ≥ 4e−3 and
//   ≤ 2 ulp absolute elsewhere on [1e−2, 1e4] (FM64); ≤ 2e−2 relative or 2 ulp on FM32.
// Rounds: a2b (2 + log2 k) + log2 k + 1 + 3 + 2·6 + 3: 33 on FM64, 31 on FM32. Bytes are dominated
// by bits2a (P0 sends 4·2F elements per input).
// Measured (tests/fxp/reciprocal_test.cpp, FM64, [1e−2, 1e4]): max relative error 7.7e−4 where
// 1/x ≥ 4e−3, max absolute error 1.0e−3 (at x = 1e−2, i.e. 1e−5 relative).
template <class T> AShare<T> f_reciprocal(Context& ctx, const AShare<T>& x);

// y ≈ scale / sqrt(x) for x > 0 (scale a public real, default 1: folding a constant in is free).
//
// Same normalisation, with 3F bits injected; the per-bit constants c_p = scale·sqrt(2^(F−p−1))
// give x^(−1/2) = u^(−1/2)·c_p, both linear combinations drawn from the same injected bits.
// Newton for u^(−1/2) on [0.5, 1): y ← (3y − u·y³)/2 from y0 = 1.786 − 0.808·u (a minimax linear
// fit, max |1 − u·y0²| = 0.045), two steps (|1 − u·y²| ≤ 1.8e−6), each step one batched product
// [y·y, u·y] and one product y²·(u·y).
// Input: x > 0; where scale/sqrt(x) < 2^−F the result may be 0.
// Error model: relative error ≤ 1e−6 + 2^−F/y (1 ulp from the final truncation). Measured on FM64,
// [1e−2, 1e4]: max relative error 3.2e−4 (scale 1, at x = 1e4 where y = 0.01), 1.3e−5 (scale √768).
// Rounds: 33 on FM64, 31 on FM32.
template <class T> AShare<T> f_rsqrt(Context& ctx, const AShare<T>& x, double scale = 1.0);

}  // namespace veil::fxp
