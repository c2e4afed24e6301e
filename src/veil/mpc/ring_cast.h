// Casts of arithmetic sharings between Z_2^64 (FM64) and Z_2^32 (FM32), for mixed-precision
// inference (Ditto, Wu et al., ICML 2024, arXiv:2405.05525: linear layers on FM32 with 8 fraction
// bits, softmax and LayerNorm on FM64 with 18). Values are two's-complement fixed point; a cast
// may also move the binary point (the fraction-bit shift is fused into the cast).
//
// Down (64 → 32): reducing each share component modulo 2^32 is a ring homomorphism, so the low
// 32 bits of a sharing share the low 32 bits of the value. A truncation by d bits before it can be
// the secure trunc_a (Ditto's protocol, downcast_a) or free (downcast_local_a): with components
// X_i ∈ [0, 2^64), Σ ⌊X_i/2^d⌋ = ⌊x/2^d⌋ − e + w·2^(64−d), e ∈ {0, 1, 2} (carries of the dropped
// bits), w ∈ {0, 1, 2} (wraps), and the wrap term vanishes modulo 2^32 when d ≤ 32 — the
// local truncation's failure mode lies outside the smaller ring.
//
// Up (32 → 64): needs the wrap of the shares. upcast_a is Ditto's dealer protocol
// (secretflow/spu ditto_icml24, aby3 conversion) with the dealer role rotated over thirds of the
// elements, as in mpc/dealt.h, and a lighter re-share; derivation in ring_cast.cpp.
#pragma once
#include <cstdint>

#include "veil/mpc/context.h"
#include "veil/mpc/cost.h"
#include "veil/mpc/share.h"

namespace veil::mpc {

// y ≈ x / 2^d on FM32, from x on FM64 (Ditto's down-cast): trunc_a(x, d), then each share
// component reduced modulo 2^32 (local).
// Range: ⌊x/2^d⌋ ∈ [−2^31, 2^31 − 1) (the result must fit the signed 32-bit ring; trunc_a's own
// range [−2^62 + 2^(d+1), 2^62) is wider for d ≤ 30). d ∈ [0, 62].
// Error: y = ⌊x/2^d⌋ + e, e ∈ {0, 1} (trunc_a's); exact for d = 0.
// Cost: cost_trunc_a<uint64_t>(n, d): 2 rounds, (2(d + 1) + 2(64 − d) + 128)/8 bytes per element
// over all parties (d = 10: 32.25).
AShare<uint32_t> downcast_a(Context& ctx, const AShare<uint64_t>& x, int d);
Cost cost_downcast_a(int64_t n, int d);

// y ≈ x / 2^d on FM32, from x on FM64, without communication (the truncation fused into the
// reduction): bits [d, d + 32) of each component of x + 2^(d−1), plus 1, for d > 0; the low 32
// bits of x for d = 0. d ∈ [0, 32].
// Range: round(x/2^d) ∈ [−2^31 + 1, 2^31 − 2]; any x on FM64 otherwise (no failure probability).
// Error: y = ⌊x/2^d + 1/2⌋ + 1 − e, e ∈ {0, 1, 2} the carry of the dropped bits: |y − x/2^d| ≤ 1.5
// (in output ulps), and unbiased: over the sharing's randomness E[e] = 3/2 − frac(x/2^d + 1/2),
// so E[y] = x/2^d. Exact for d = 0.
// Cost: none (0 rounds, 0 bytes).
AShare<uint32_t> downcast_local_a(Context& ctx, const AShare<uint64_t>& x, int d);
inline Cost cost_downcast_local_a(int64_t, int) { return {}; }

// y = x · 2^shift on FM64, from x on FM32 (the up-cast and the fraction-bit shift fused; exact).
// Protocol (per element; D deals, A = D + 1 and B = D + 2 hold x as x_A + x_B, the dealer role
// rotating over thirds of the elements): D draws r = r_A + r_B mod 2^32 from the PRG streams it
// shares with A and B, and sends B 2-of-2 shares (mod 2^32) of r's top bit and of the carry h of
// r_A + r_B past 2^32; A and B open c = x + 2^30 + r mod 2^32 to each other. The wrap of that sum
// is r_msb·(1 − c_msb), so x = c − 2^30 − r + 2^32·(r_msb·(1 − c_msb)) over the integers. The
// result's components are −r_A (held with D), −r_B (with D) and c − 2^30 (A and B) in the low
// half, PRG masks plus 2-of-2 parts in the high half: A and B exchange one 32-bit word each.
// Range: x ∈ [−2^30, 2^30] (signed view of the FM32 value); outside it the wrap bit may be wrong
// (an error of ±2^32, with probability up to 1/2).
// Error: exact in range.
// Cost: 2 rounds; every party sends 8 bytes per element (busiest 8n, all parties 24n bytes):
// phase 1 A → B and B → A 4 bytes each, D → B 8 bytes; phase 2 A ↔ B 4 bytes each.
// (Ditto's code: 3 rounds; a full 64-bit re-share would add 8 bytes per element.)
// shift ∈ [0, 32] (|x|·2^shift < 2^63).
AShare<uint64_t> upcast_a(Context& ctx, const AShare<uint32_t>& x, int shift = 0);
Cost cost_upcast_a(int64_t n);

}  // namespace veil::mpc
