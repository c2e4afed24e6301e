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
// Up (32 → 64): needs the wrap count of the shares. Ditto's protocol (secretflow/spu ditto_icml24,
// aby3 conversion) opens x + r and corrects with r's top bit; upcast_a instead computes the wrap
// count from the components' top bits with one dealer-assisted AND (cheaper: no opening, and only
// the wrap's bits that reach the result are sent), the dealer role rotated over thirds of the
// elements as in mpc/dealt.h; derivation in ring_cast.cpp. upcast_trunc_a fuses a truncation.
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
// Protocol (per element; D deals, A = D + 1 and B = D + 2, the dealer role rotating over thirds of
// the elements; derivation in ring_cast.cpp): the sum of the three FM32 components, offset by
// 2^30, lacks only its wrap count W ∈ {0, 1, 2} over the integers; A knows one carry and one top
// bit a, B and D know the other top bit b, and the last carry is a ∨ b for values in range. One
// AND of a and b with D's help (A → B a masked bit, D → B one word), then A and B exchange their
// parts of −W re-shared with PRG masks. Only W modulo 2^(32 − shift) reaches y, so each word has
// ℓ = 32 − shift bits; the low halves of the components are the FM32 components themselves.
// Range: x ∈ [−2^30, 2^30) (signed view of the FM32 value); outside it W may be off by one (an
// error of ±2^32·2^shift, with probability up to 1/2).
// Error: exact in range.
// Cost: 2 rounds; all parties together send 3ℓ + 1 bits per element (ℓ = 32 − shift: 12.1 bytes
// for shift 0, 8.4 for shift 10, none for shift 32): round 1 A → B the masked bit and a word and
// D → B a word, round 2 B → A a word. (Ditto's code: 3 rounds, 3·32 + 64 bits; this kernel's
// previous form, an opening of x + r with D's shares of r's top bit and carry: 24 bytes.)
// shift ∈ [0, 32] (|x|·2^shift < 2^63).
AShare<uint64_t> upcast_a(Context& ctx, const AShare<uint32_t>& x, int shift = 0);
Cost cost_upcast_a(int64_t n, int shift = 0);

// y ≈ x / 2^d on FM64, from x on FM32: the up-cast with a truncation fused, at the up-cast's
// traffic (one trunc_a on FM32 and its 2 rounds saved). The exact wrap count makes the integer sum
// of the components known, so each component is floored locally (as in downcast_local_a, without
// that cast's failure-free range restriction mattering: nothing wraps).
// Range: x + 2^(d−1) ∈ [−2^30, 2^30) (signed view), as upcast_a.
// Error: y = ⌊x/2^d + 1/2⌋ + 1 − e, e ∈ {0, 1, 2} the carries of the dropped bits: within one ulp
// of the rounding, |y − x/2^d| ≤ 1.5 ulps; unbiased over the sharing's randomness as d grows
// (tests/mpc/ring_cast_test.cpp measures a mean error below 0.005 ulp for d ≥ 8; +0.75 for d = 1).
// Cost: upcast_a's with ℓ = 32 + d: 2 rounds, 3(32 + d) + 1 bits per element over all parties
// (d = 8: 15.1 bytes; trunc_a on FM32 then upcast_a: 16.25 + 12.1 bytes, 4 rounds).
// d ∈ [1, 30].
AShare<uint64_t> upcast_trunc_a(Context& ctx, const AShare<uint32_t>& x, int d);
Cost cost_upcast_trunc_a(int64_t n, int d);

}  // namespace veil::mpc
