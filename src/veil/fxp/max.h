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
// pairs of all rows are compared with ONE ltz_a on a − b, and the winner is a + c·(b − a) in ONE
// mul_aa (c is an integer 0/1: no truncation); an odd element is carried to the next level.
// Exact when no difference wraps (|a − b| < 2^(k−1)). Ties keep the lower index.
// Rounds: ceil(log2 N)·(ltz_a + 1): 70 for N = 128 on FM64.
template <class T> AShare<T> max_last(Context& ctx, const AShare<T>& x);

// (values, indices) of the row maxima; the index is an arithmetic share of an integer (not fixed
// point). Same tree, the value and index selections share one mul_aa per level. Ties keep the
// lower index. Rounds: as max_last; bytes per level: ltz_a on m pairs + 2m products.
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
// Rounds: k·ceil(log2 N)·(ltz_a + 2) + k − 1: 267 for k = 4, N = 37 on FM64.
template <class T> std::pair<AShare<T>, AShare<T>> topk_last(Context& ctx, const AShare<T>& x, int k);

}  // namespace veil::fxp
