// Quad: the quadratic that stands in for GeLU in MPC-friendly transformers.
#pragma once
#include "veil/mpc/context.h"
#include "veil/mpc/cost.h"
#include "veil/mpc/share.h"

namespace veil::fxp {

using mpc::AShare;
using mpc::Context;

// y = 0.125·x² + 0.25·x + 0.5 (fixed point with F fraction bits; F < 0: the context's F for T).
// Not an approximation of GeLU: MPCFormer (Li et al., ICLR 2023) and Ditto (Wu et al., ICML 2024)
// distil the network to it.
// Algorithm: (x² + 2x + 4)/8 = x·(x + 2)/8 + 1/2. With X = x·2^F: one mul_aa_trunc (mpc/dealt.h)
// of X and X + 2^(F+1) (a public addend: local) by F + 3 bits, then 2^(F−1) added (local).
// Range: |x² + 2x|·2^(2F) < 2^(k−2) (FM32, F = 8: x ∈ (−128, 126); FM64, F = 18: |x| < 8190).
// Error: y = ⌊X(X + 2^(F+1))/2^(F+3)⌋/2^F + e·2^−F + 1/2, e ∈ {0, 1}: |y − quad(x)| < 2^−F for x
// on the 2^−F grid.
// Cost: cost_mul_aa_trunc(n, F + 3): 3 rounds.
template <class T> AShare<T> f_quad_gelu(Context& ctx, const AShare<T>& x, int frac_bits = -1);
template <class T> mpc::Cost cost_quad_gelu(int64_t n, int frac_bits);

// The plaintext twin on the 2^−F grid: round(quad(x)·2^F)/2^F.
double quad_gelu_ref(double x, int frac_bits);

}  // namespace veil::fxp
