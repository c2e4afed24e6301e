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
  // The caller has already subtracted each row's maximum (or a value within a few units of it):
  // x ≤ 0, so the max tree is skipped (DittoBackend takes the maximum on FM32, where its scores
  // are), and masked entries are already very negative. The input range of f_exp applies to x.
  bool max_subtracted = false;
  // |x − max| < 2^range_bits in value, masked entries included (f_exp's clip window on FM64).
  // The default fits the FM64 input range below; DittoBackend passes its tighter FM32 one.
  int range_bits = 24;
};

// softmax(x) = e · r, unnormalised: e = exp(x − max) (..., N) (masked entries exactly 0) and
// r = 1/Σe (...) per row, both at the context's fraction bits. For a caller that applies r after
// a product with fewer elements per row than e: attention's (e·v)·r when N exceeds v's width.
template <class T> struct SoftmaxParts {
  AShare<T> e, r;
};

// y = softmax(x) along the last axis, x (..., N) fixed point.
// Algorithm (PUMA, arXiv:2307.12533): m = max_last(x) (on FM64 with 32-bit window comparisons at
// 1/64 resolution: m may fall short of the true maximum by a few 1/64, which exp absorbs and the
// normalisation cancels); e = f_exp(x − m) (entries below −14 become 0); s = Σ e (local);
// r = f_reciprocal(s) once per row (s ∈ [1, N]); y = e · r, one broadcast mul_ff.
// Input: FM64 |x| < 2^22 (the window comparisons' range); FM32 |x| < 2^(k−4−F).
// Error model: each output is e·r with e within a few ulp of e^(x−m) and r within 1 ulp + 1.2e−5
// relative of 1/Σe, plus 1 ulp from the product: a few ulp.
// Measured (tests/fxp/softmax_test.cpp), rows of 128 logits in [−20, 20]: see the test's line.
// Rounds: max_last (7·9 = 63 on FM64 for N = 128) + f_exp (26) + f_reciprocal (33) + 3 = 125.
template <class T> AShare<T> f_softmax(Context& ctx, const AShare<T>& x, SoftmaxOptions opt = {});

// x (..., Tq, Tk) with the entries a causal mask hides replaced by a very negative public value
// (−2^(k−4) on FM32, −2^40 on FM64): what f_softmax does first with `causal`. Local.
template <class T> AShare<T> mask_causal(Context& ctx, const AShare<T>& x);

// f_softmax before its last product (y = e · r): the same algorithm, error and rounds less that
// product's round (and, with max_subtracted, less the max tree's).
template <class T> SoftmaxParts<T> f_softmax_parts(Context& ctx, const AShare<T>& x, SoftmaxOptions opt = {});

// (e·v)·r is formed at up to this many fraction bits before its last truncation, so on FM64 the
// outputs need |y|·2^44 < 2^62, i.e. |y| < 2^18 (y is a convex combination of v's rows).
inline constexpr int kNormaliseProductBits = 44;

// The softmax normalised after its product with v (attention's (e·v)·r): ev (..., T, D) = e·v
// untruncated at f_ev fraction bits, r (..., T) = 1/Σe at f_r (f_softmax_parts). ev is first
// truncated so that the product with r is formed at ≤ kNormaliseProductBits, then one fused
// product and truncation gives y at f_out. FM64 (the bound above). Rounds: 3, plus a trunc_a's
// when ev is truncated first.
AShare<uint64_t> f_normalise_product(Context& ctx, AShare<uint64_t> ev, int f_ev, const AShare<uint64_t>& r, int f_r,
                                     int f_out);

}  // namespace veil::fxp
