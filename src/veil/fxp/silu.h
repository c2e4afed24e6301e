// SiLU (swish) activation and the logistic sigmoid.
#pragma once
#include "veil/mpc/context.h"
#include "veil/mpc/share.h"

namespace veil::fxp {

using mpc::AShare;
using mpc::Context;

// y ≈ sigmoid(x) = 1 / (1 + e^−x).
//
// Algorithm: s = [x < 0] (ltz_a); |x| = x − 2·s·x (one integer product); e = f_exp(−|x|) ∈ (0, 1];
// r = 1/(1 + e) by Newton on [1, 2] (init 24/17 − (8/17)·v, two steps, relative error 1.2e−5;
// no normalisation needed since the range is known); sigmoid = r · (1 + s·(e − 1)), i.e. r for
// x ≥ 0 and e·r for x < 0, which keeps every intermediate in [0, 2] (no cancellation).
// Input: any x (|x| < 2^(k−3−F)). Error model: |error| ≤ ~5e−5 on FM64 (e^−|x| ≤ 4 ulp absolute,
// one truncation of the product), ≤ ~3·2^−8 on FM32.
// Measured: max abs error 1.8e−5 (FM64), 7.1e−3 (FM32) on [−16, 16] plus ±200.
// Rounds: ltz_a + 1 + f_exp + 2 + 12 + 3: 53 on FM64, 54 on FM32.
template <class T> AShare<T> f_sigmoid(Context& ctx, const AShare<T>& x);

// y ≈ SiLU(x) = x · sigmoid(x) (SiLU/swish, Ramachandran et al. 2017; used by LLaMA-family MLPs).
// One mul_ff after f_sigmoid. Error model: |error| ≤ |x|·ε_sigmoid + 2^−F. Measured
// (tests/fxp/activation_test.cpp, [−16, 16] plus ±200): max |error|/max(1, |x|) 1.9e−5 on FM64,
// 6.6e−3 on FM32. Rounds: f_sigmoid + 3 (56 on FM64).
template <class T> AShare<T> f_silu(Context& ctx, const AShare<T>& x);

}  // namespace veil::fxp
