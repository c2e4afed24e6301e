// Secure top-k as one-hot rows, in a constant number of rounds: the selection kernel of MPCache's
// dynamic KV selection (nn/mpcache.h), batched over many rows (all heads of a layer in one call).
#pragma once
#include <cstdint>

#include "veil/mpc/context.h"
#include "veil/mpc/cost.h"
#include "veil/mpc/share.h"

namespace veil::mpc {

// x (R, N) FM64 values -> (R, k, N) arithmetic integer 0/1: block r, row j is the one-hot of the
// element of rank j in row r of x (rank 0 = the largest; equal values rank by lower index first).
// Nothing is opened.
//
// Algorithm (rank by all pairwise comparisons, then a one-hot of the ranks):
//   1. x' = ⌊x / 2^drop⌋ + e (trunc_a, e ∈ {0, 1}): the comparisons read x at resolution 2^drop,
//      and x' is one fixed value, so all comparisons below agree with one total order;
//   2. for every pair i < j of a row, b_ij = [x'_i < x'_j] on the low ell bits of x'_i − x'_j
//      (exact while |x'_i − x'_j| < 2^(ell−1)): one carry-tree msb for all R·N(N−1)/2 pairs;
//   3. rank_i = Σ_(j>i) b_ij + Σ_(j<i) (1 − b_ji), by bit injection into Z_2^32 (the ranks are a
//      permutation of 0..N−1; bit2a_dealt, mpc/bit_inject.h);
//   4. u_(j,i) = [rank_i ≤ j] for j < k (a msb on a few bits), injected into Z_2^64; the one-hot
//      row j is u_j − u_(j−1), locally.
// Requires |x| < 2^(drop + ell − 2). Exact up to the resolution 2^drop (values closer than that
// may rank either way, consistently).
// Rounds: trunc_a (drop > 0) + msb(ell) + 2 + msb(ceil(log2(N + k + 1)) + 1) + 2: 20 for drop 10,
// ell 24, N ≤ 64. Bytes: cost_topk_onehot; per row about N²/2 comparisons and k·N injections.
AShare<uint64_t> topk_onehot(Context& ctx, const AShare<uint64_t>& x, int64_t k, int drop, int ell);
Cost cost_topk_onehot(int64_t rows, int64_t n, int64_t k, int drop, int ell);

// The plaintext twin on decoded values (tests): x (R·N) -> (R·k·N) 0/1, same tie rule.
std::vector<uint64_t> topk_onehot_plain(const std::vector<double>& x, int64_t rows, int64_t n, int64_t k);

}  // namespace veil::mpc
