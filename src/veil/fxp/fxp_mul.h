// Fixed-point products: a real v is held as the ring element round(v · 2^F), F =
// ctx.config().frac_bits<T>() (18 on FM64, 8 on FM32). A product of two such encodings carries
// 2F fraction bits and is brought back to F by one secure truncation.
#pragma once
#include <vector>

#include "veil/mpc/context.h"
#include "veil/mpc/cost.h"
#include "veil/mpc/share.h"

namespace veil::fxp {

using mpc::AShare;
using mpc::Context;

template <class T> int frac_bits(const Context& ctx) { return ctx.config().frac_bits<T>(); }

// z ≈ x · y (fixed point): mul_aa_trunc by F (mpc/dealt.h: the product and truncation fused).
// Range: |x · y| < 2^(k−2−2F) (FM64: 2^26, FM32: 2^14). Error: z = ⌊x·y·2^F⌋/2^F + e·2^−F with
// e ∈ {0, 1}, so |z − x·y| < 2^−F. Cost: 3 rounds; FM64 40.25 bytes per element over all parties.
template <class T> AShare<T> mul_ff(Context& ctx, const AShare<T>& x, const AShare<T>& y);
template <class T> mpc::Cost cost_mul_ff(int64_t n);

// z ≈ x² (fixed point). Same range, error and cost as mul_ff(x, x).
template <class T> AShare<T> square_f(Context& ctx, const AShare<T>& x);

// z ≈ c · x for a public real c (one c, or one per element), encoded with `cbits` fraction bits
// (default F) and truncated by cbits: a wider cbits makes c more exact (|c| error 2^−cbits−1).
// Range: |x · c| · 2^(F+cbits) < 2^(k−2). Error: |z − x·c̃| < 2^−F, c̃ = c as encoded.
// Cost: 2 rounds (trunc_a); each party sends 2n elements.
template <class T> AShare<T> mul_fp(Context& ctx, const AShare<T>& x, double c, int cbits = -1);
template <class T> AShare<T> mul_fp(Context& ctx, const AShare<T>& x, const std::vector<double>& c, int cbits = -1);

// x + c for a public real c (one, or one per element). Local.
template <class T> AShare<T> add_fp(Context& ctx, const AShare<T>& x, double c);

}  // namespace veil::fxp
