// Softmax along the last axis.
#pragma once
#include "veil/mpc/context.h"
#include "veil/mpc/share.h"

namespace veil::fxp {

using mpc::AShare;
using mpc::Context;

struct SoftmaxOptions {
  // Causal mask for attention scores (..., Tq, Tk): entry (i, j) is masked when
  // j > i + (Tk − Tq) (the queries are the last Tq positions), and its output is exactly 0.
  // The mask is public, so it costs nothing: masked inputs are replaced by a very negative
  // public value before the max, and exp clips them to 0.
  bool causal = false;
};

// y = softmax(x) along the last axis, x (..., N) fixed point.
// Algorithm (PUMA, arXiv:2307.12533): m = max_last(x); e = f_exp(x − m) (every input ≤ 0, entries
// below −14 become 0); s = Σ e (local); r = f_reciprocal(s) once per row (s ∈ [1, N]); y = e · r,
// one broadcast mul_ff.
// Input: |x| < 2^(k−4−F) (FM64: 2^42). Error model: each output is e·r with e within 4 ulp of
// e^(x−m) and r within 1 ulp + 1.2e−5 relative of 1/Σe, plus 1 ulp from the product: a few ulp.
// Measured (tests/fxp/softmax_test.cpp), rows of 128 logits in [−20, 20]: max abs error 5.8e−6
// on FM64 (target 2e−3), 4.6e−3 on FM32.
// Rounds: max_last (ceil(log2 N)·(ltz_a + 1)) + f_exp + f_reciprocal + 3: 136 for N = 128 on FM64.
template <class T> AShare<T> f_softmax(Context& ctx, const AShare<T>& x, SoftmaxOptions opt = {});

}  // namespace veil::fxp
