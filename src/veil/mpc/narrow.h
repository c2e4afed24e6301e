// Comparisons of FM64 values computed on 32 bits (and of FM32 values on fewer). Reducing each share component modulo 2^32
// is a ring homomorphism Z_2^64 → Z_2^32, so the low 32 bits of a sharing are a sharing of the
// low 32 bits of the value, locally; a boolean result bit widens to 64-bit words locally, and
// bit2a injects it into Z_2^64.
//
// Dropping low bits is free too: with components X_i ∈ [0, 2^64), Σ ⌊X_i/2^d⌋ = ⌊x/2^d⌋ − e +
// w·2^(64−d) with e ∈ {0, 1, 2} (the carries of the dropped bits) and w ∈ {0, 1, 2} (the wraps),
// so bits [d, d + ℓ) of the components share ⌊x/2^d⌋ − e modulo 2^ℓ, without communication and
// without the failure probability of a local truncation in the full ring (the wraps fall outside
// the window). A comparison that tolerates a band of width 2^(d+1) around its threshold costs a
// circuit on ℓ bits instead of a truncation and a circuit.
#pragma once
#include "veil/mpc/context.h"
#include "veil/mpc/cost.h"
#include "veil/mpc/share.h"

namespace veil::mpc {

// Local: the low 32 bits of each component (x mod 2^32).
AShare<uint32_t> low32_a(const AShare<uint64_t>& x);
// Local: a boolean sharing in 32-bit words zero-extended to 64-bit words.
BShare<uint64_t> widen_b(const BShare<uint32_t>& b);

// Local: bits [drop, drop + 32) of each component: a sharing of ⌊x/2^drop⌋ − e, e ∈ {0, 1, 2},
// in Z_2^32 (low32_a(x) = window32_a(x, 0), exact).
AShare<uint32_t> window32_a(const AShare<uint64_t>& x, int drop);

// Top bit of the ℓ-bit window at `drop` of x + 2^drop·[drop > 0], as a boolean bit (bit 0):
// [x < 0] for x in (−2^(drop+ℓ−1) + 2^(drop+1), 2^(drop+ℓ−1) − 2^drop) outside the band
// [−2^drop, 2^drop), where it may come out either way. Exact for drop = 0 (x ∈ [−2^(ℓ−1), 2^(ℓ−1))).
// Cost: cost_msb_of_sum(n, ℓ) (7 rounds for ℓ = 32).
BShare<uint64_t> ltz_window_b(Context& ctx, const AShare<uint64_t>& x, int drop, int ell);
Cost cost_ltz_window_b(int64_t n, int ell);

// The same on FM32, the window being the top 32 − drop bits: [x < 0] for x in
// (−2^31 + 2^(drop+1), 2^31 − 2^drop) outside the band [−2^drop, 2^drop). drop ∈ [1, 30].
// Cost: cost_msb_of_sum(n, 32 − drop).
BShare<uint32_t> ltz_window_b(Context& ctx, const AShare<uint32_t>& x, int drop);
Cost cost_ltz_window32_b(int64_t n, int drop);

// [x < 0] for FM64 x, as arithmetic 0/1 on FM64: ltz_window_b with ℓ = 32, then bit2a. Valid for
// |x| < 2^(30 + drop); x within 2^drop of 0 may come out either way.
AShare<uint64_t> ltz_a_via32(Context& ctx, const AShare<uint64_t>& x, int drop);
Cost cost_ltz_a_via32(int64_t n, int drop);

// [x == c] for FM64 integers x, c in [−2^31, 2^31) (token ids), compared on Z_2^32, injected into
// Z_2^64. Exact in that range. Cost below.
AShare<uint64_t> eq_ap_via32(Context& ctx, const AShare<uint64_t>& x, const std::vector<uint64_t>& c);
Cost cost_eq_ap_via32(int64_t n);

}  // namespace veil::mpc
