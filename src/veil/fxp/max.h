// Maximum, argmax and top-k along the last axis by comparison trees.
#pragma once
#include <utility>

#include "veil/mpc/context.h"
#include "veil/mpc/share.h"

namespace veil::fxp {

using mpc::AShare;
using mpc::Context;

// Row maxima of x (..., N) -> (...). Works on any ring values (fixed point or integer).
// Algorithm: a log-depth tournament (as in SPU's hal::max tree reduction): at each level all
// pairs of all rows are compared with ONE comparison on a − b (msb_a, mpc/carry_tree.h, a boolean
// bit c), and the winner a + c·(b − a) comes from ONE mac_ba (mpc/dealt.h: the bit multiplies the
// difference without being injected first); an odd element is carried to the next level.
// Exact when no difference wraps (|a − b| < 2^(k−1)). Ties keep the lower index.
// fuzzy_bits > 0: the comparisons read a window of a − b above its low fuzzy_bits bits
// (mpc/narrow.h; FM64: 32 bits of it, FM32: the other 32 − fuzzy_bits, fuzzy_bits ≤ 30): pairs
// closer than 2^fuzzy_bits may pick either, so the result is within (levels)·2^fuzzy_bits of the
// maximum; differences must stay below 2^(fuzzy_bits + 30) on FM64, 2^30 on FM32.
// Rounds: ceil(log2 N)·(msb 7 or 8 + 2): 63 for N = 128 on FM64 with fuzzy_bits, 70 exact.
template <class T> AShare<T> max_last(Context& ctx, const AShare<T>& x, int fuzzy_bits = 0);

// (values, indices) of the row maxima; the index is an arithmetic share of an integer (not fixed
// point). Same tree, the value and index selections share one mul_aa per level. Ties keep the
// lower index. Rounds: as max_last (exact); bytes per level: msb_a on m pairs + a 2m-element mac_ba.
template <class T> std::pair<AShare<T>, AShare<T>> argmax_last(Context& ctx, const AShare<T>& x);

// (values (..., k), indices (..., k)) of the k largest entries of each row, in descending order.
// Algorithm: k passes; each runs the max tree (values only), then turns the tree's comparison
// bits into the one-hot of the winner top-down (one mul_aa per level: a child's flag is its
// parent's flag times c or 1 − c), reads the index as Σ_j j·onehot_j (local) and knocks the
// winner out with x ← x − onehot·(x − L), L a very negative public value (one mul_aa). This
// avoids an equality test per element (eq_ap costs 2 + log2 k rounds and ~log2 k words per
// element); the one-hot costs N products per row.
// Input: ring values with |x| < 2^(k−3) (L = −2^(k−3) as a ring value, so x − L does not wrap).
// Exact.
// The comparison bits are injected (bit2a) once, since the one-hot pass reuses them.
// Rounds: k·ceil(log2 N)·(msb_a + 1 + 1 + 1) + k − 1: 267 for k = 4, N = 37 on FM64.
template <class T> std::pair<AShare<T>, AShare<T>> topk_last(Context& ctx, const AShare<T>& x, int k);

}  // namespace veil::fxp
