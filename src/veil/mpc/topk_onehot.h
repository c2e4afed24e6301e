// Secure top-k as one-hot rows, in a constant number of rounds: the selection kernel of MPCache's
// dynamic KV selection (nn/mpcache.h), batched over many rows (all heads of a layer in one call).
#pragma once
#include <cstdint>
#include <vector>

#include "veil/mpc/context.h"
#include "veil/mpc/cost.h"
#include "veil/mpc/share.h"

namespace veil::mpc {

// x (R, N) FM64 values -> (R, k, N) arithmetic integer 0/1: block r holds the k largest elements
// of row r of x (equal values: the lower index wins), one per row of the block, in index order
// (row j = the j-th selected element by position, not by value: the callers need the set and a
// compact layout of it, and position order makes the one-hot banded). Nothing is opened.
//
// Algorithm:
//   1. x' = window32_a(x, drop) = ⌊x / 2^drop⌋ − e, e ∈ {0, 1, 2}, locally (mpc/narrow.h): one
//      fixed value per element, so all comparisons below agree with one total order;
//   2. for every pair i < j of a row, b_ij = [x'_i < x'_j] on the low ell bits of x'_i − x'_j:
//      one carry-tree msb for all R·N(N−1)/2 pairs, injected into Z_2^32 (bit2a_dealt);
//      rank_i = Σ_(j>i) b_ij + Σ_(j<i) (1 − b_ji) (locally; a permutation of 0..N−1);
//   3. the mask m_i = [rank_i < k], injected into Z_2^32; p_i = Σ_(i'<i) m_i' (locally);
//   4. w_(j,i) = [p_i ≤ j] for slot j < k; row j of the one-hot is w_(j,i) − w_(j,i+1) (element i
//      is the j-th selected one when p_i = j and m_i = 1). Since i − (N − k) ≤ p_i ≤ i, w_(j,i) is
//      public outside j < i ≤ j + N − k, so only k·(N − k) of the k·N tests are computed (a msb on
//      a few bits each), injected into Z_2^64. k = N needs no comparison at all (the identity).
// Requires |x_i − x_j| < 2^drop·(2^(ell−1) − 3) within a row. Exact up to the resolution
// 3·2^drop: values closer than that may rank either way, consistently (one total order).
// Rounds: msb(ell) + 2 + 2·(msb(≤ 7 bits) + 2): 21–22 for ell = 20 and N ≤ 64; 0 for k = N.
// Bytes: cost_topk_onehot; per row N(N−1)/2 comparisons, N + k·(N − k) small tests.
AShare<uint64_t> topk_onehot(Context& ctx, const AShare<uint64_t>& x, int64_t k, int drop, int ell);
Cost cost_topk_onehot(int64_t rows, int64_t n, int64_t k, int ell);

// The plaintext twin on decoded values (tests): x (R·N) -> (R·k·N) 0/1, same tie rule and order.
std::vector<uint64_t> topk_onehot_plain(const std::vector<double>& x, int64_t rows, int64_t n, int64_t k);

}  // namespace veil::mpc
