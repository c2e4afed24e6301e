// Bit injection (boolean bit -> arithmetic 0/1) with a dealer: half the traffic of bit2a's
// three-party OT, for the many bits of MPCache's selection (mpc/topk_onehot.h).
#pragma once
#include "veil/mpc/context.h"
#include "veil/mpc/cost.h"
#include "veil/mpc/share.h"

namespace veil::mpc {

// Bit 0 of each word of b -> arithmetic integer 0/1 in Z_2^k. Exact. Nothing is opened.
// Protocol (per chunk; the elements are split in three and every party is the dealer D of one
// chunk, A = D + 1 of one and B = D + 2 of one, as in mpc/dealt.h): D knows u = b_D ⊕ b_A, A and B
// both know b_B, and b = u + b_B − 2·u·b_B = u·(1 − 2b_B) + b_B. D sends B the masked m = u − r,
// r from the seed D shares with A; then y_A = r·(1 − 2b_B) + b_B and y_B = m·(1 − 2b_B) are a
// two-party sharing of b, re-shared to three parties: the new components x_D and x_A come from the
// seeds D shares with B and with A, and A and B exchange y_A − x_A and y_B − x_D to both learn x_B.
// Every message is masked by a seed its receiver lacks.
// Cost: 2 rounds; each party sends n elements (all parties 3n), against about 2n each for bit2a.
template <class T> AShare<T> bit2a_dealt(Context& ctx, const BShare<T>& b);
template <class T> Cost cost_bit2a_dealt(int64_t n);

}  // namespace veil::mpc
