// Column flags "some row reaches a threshold": the vote of MPCache's look-once static eviction
// (nn/mpcache.h), where a prompt token is kept when some observation query gives it at least γ.
#pragma once
#include <cstdint>
#include <vector>

#include "veil/mpc/context.h"
#include "veil/mpc/cost.h"
#include "veil/mpc/share.h"

namespace veil::mpc {

// x (W, T) FM64 values, a public threshold (a ring value) -> (T) arithmetic integer 0/1:
// [∃ i: x_it ≥ threshold]; the columns in `forced` are 1 whatever x holds. Nothing is opened.
// Algorithm: one carry-tree msb of x − threshold on its low ell bits for all W·T entries gives
// c_it = [x_it < threshold] (exact while |x − threshold| < 2^(ell−1)); the bits are packed 64 to a
// word and AND-reduced over the W rows (ceil(log2 W) rounds of and_bb on packed words); the flag
// is NOT of the result, injected by bit2a_dealt (mpc/bit_inject.h).
// Rounds: msb(ell) + ceil(log2 W) + 2. Bytes: cost_any_at_least.
AShare<uint64_t> any_at_least(Context& ctx, const AShare<uint64_t>& x, uint64_t threshold, int ell,
                              const std::vector<int64_t>& forced = {});
Cost cost_any_at_least(int64_t w, int64_t t, int ell);

}  // namespace veil::mpc
