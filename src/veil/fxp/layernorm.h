// Layer normalisation along the last axis.
#pragma once
#include <vector>

#include "veil/mpc/context.h"
#include "veil/mpc/share.h"

namespace veil::fxp {

using mpc::AShare;
using mpc::Context;

// y = (x − μ) / sqrt(σ² + eps) · gamma + beta along the last axis; x (..., C), gamma and beta (C)
// shared (e.g. model weights held in shares).
// Algorithm (PUMA, arXiv:2307.12533 §LayerNorm: rsqrt then a broadcast product):
//   μ = Σx · round(2^s/C) / 2^s (one trunc_a; s = 30 on FM64, 14 on FM32);
//   xc = x − μ; one dot_runs_aa_trunc (mpc/dealt.h) gives Σxc² (each row's squares summed
//   before the re-share: one element per row) and xc·gamma, each truncated once;
//   r = f_rsqrt(Σxc² + C·eps, scale = sqrt(C)) = 1/sqrt(σ² + eps) (the 1/C folds into the
//   rsqrt's public constants); y = (xc·gamma)·r + beta (one mul_ff).
// Cost per element of x (FM64, shared gamma): 40.25 bytes for [Σxc², xc·gamma] (the earlier
// elementwise mul_aa of both and a trunc_a: 80.5), 40.25 for the mul_ff, plus the per-row mean and
// rsqrt.
// Input (FM64): |μ| < 2^14, C·σ² < 2^25. FM32 is coarse (8 fraction bits): |μ| < 2^8, C·σ² < 2^13.
// Error model: |y − ref| ≲ |y|·2e−5 + |gamma|·2^−F·r + 2^−F. Measured (tests/fxp/layernorm_test.cpp):
// rows of 768 with σ² in [1e−2, 1e2], FM64: max abs error 5.9e−5 (target 1e−2); FM32, rows of 64
// with σ² in [0.5, 50]: 4.7e−2 (r has only 8 fraction bits).
// Rounds: 2 + 3 + f_rsqrt (33) + 3 = 41 on FM64.
template <class T>
AShare<T> f_layernorm(Context& ctx, const AShare<T>& x, const AShare<T>& gamma, const AShare<T>& beta, double eps);

// The same with y left at 2F fraction bits: the last product is mul_aa, untruncated (24 bytes per
// element instead of 40.25 on FM64, and 2 rounds fewer), for a consumer that truncates anyway:
// the mixed-ring backend's free down-cast to FM32 (mpc/ring_cast.h downcast_local_a) folds it
// in. |y|·2^(2F) must stay below 2^(k−2).
template <class T>
AShare<T> f_layernorm_wide(Context& ctx, const AShare<T>& x, const AShare<T>& gamma, const AShare<T>& beta, double eps);

// The same with public gamma and beta (shared as constants: the same kernels).
template <class T>
AShare<T> f_layernorm(Context& ctx, const AShare<T>& x, const std::vector<double>& gamma,
                      const std::vector<double>& beta, double eps);

}  // namespace veil::fxp
