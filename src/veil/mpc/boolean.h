// Boolean replicated shares and conversions (ABY3). Bits are packed in the element word.
#pragma once
#include "veil/mpc/context.h"
#include "veil/mpc/cost.h"
#include "veil/mpc/share.h"

namespace veil::mpc {

// ---- local ----
template <class T> BShare<T> xor_bb(const BShare<T>& x, const BShare<T>& y);
template <class T> BShare<T> xor_bp(Context& ctx, const BShare<T>& x, T c);  // x ^ c (public)
template <class T> BShare<T> not_b(Context& ctx, const BShare<T>& x);        // ~x on nbits
template <class T> BShare<T> shr_b(const BShare<T>& x, int bits);            // logical shift
template <class T> BShare<T> shl_b(const BShare<T>& x, int bits);
template <class T> BShare<T> and_bp(const BShare<T>& x, T mask);             // x & mask (public)

// Flat concatenation of boolean sharings (local).
template <class T> BShare<T> concat_b(const std::vector<const BShare<T>*>& parts);
// Elements [off, off + n) of a boolean sharing, with the given shape (local).
template <class T> BShare<T> slice_b(const BShare<T>& x, size_t off, size_t n, Shape shape);

// z = x & y. 1 round; each party sends n words.
template <class T> BShare<T> and_bb(Context& ctx, const BShare<T>& x, const BShare<T>& y);
template <class T> Cost cost_and_bb(int64_t n);

// Arithmetic → boolean: a carry-save layer turns x0 + x1 + x2 into two addends (1 AND round),
// then a Kogge–Stone parallel-prefix adder (1 + log2 k rounds). Exact.
// Cost: 2 + log2 k rounds; each party sends (2·log2 k + 1)·n words.
template <class T> BShare<T> a2b(Context& ctx, const AShare<T>& x);
template <class T> Cost cost_a2b(int64_t n);

// Boolean bit (bit 0 of each word) → arithmetic 0/1, by three-party OT (ABY3 §5.4 bit
// injection); the OT sender role rotates over three chunks of the elements. Exact.
// Cost: 1 round; each party sends about 2n elements (n + 3·⌈n/3⌉ for the busiest).
template <class T> AShare<T> bit2a(Context& ctx, const BShare<T>& b);
template <class T> Cost cost_bit2a(int64_t n);

// Boolean k-bit word → arithmetic, by injecting each of the nbits bits and summing with weights
// 2^j: Σ_j 2^j·bit2a(b_j). Exact. Cost: cost_bit2a(nbits·n).
template <class T> AShare<T> b2a(Context& ctx, const BShare<T>& b);
template <class T> Cost cost_b2a(int64_t n, int nbits);

// Bits [lo, hi) of x's boolean sharing injected separately: out[j−lo] is the arithmetic 0/1
// sharing of bit j. One round for all of them. Cost: cost_bit2a(n·(hi−lo)).
template <class T> std::vector<AShare<T>> bits2a(Context& ctx, const BShare<T>& b, int lo, int hi);

// Most significant bit (x < 0 in two's complement) as a boolean bit (bit 0). Exact for every x.
// By the carry tree of carry_tree.h (msb_of_sum with ℓ = k), not a full a2b.
// Cost: 1 + 1 + ceil(log2(k − 2)) rounds (7 on FM32, 8 on FM64); about 4k AND bits per element.
template <class T> BShare<T> msb_a(Context& ctx, const AShare<T>& x);
template <class T> Cost cost_msb_a(int64_t n);

// [x < 0] as arithmetic 0/1: msb_a then bit2a. Cost: 3 + log2 k rounds.
template <class T> AShare<T> ltz_a(Context& ctx, const AShare<T>& x);
template <class T> Cost cost_ltz_a(int64_t n);

// [x < y] = ltz(x − y), exact when x − y does not wrap (|x − y| < 2^(k−1)).
template <class T> AShare<T> lt_aa(Context& ctx, const AShare<T>& x, const AShare<T>& y);
template <class T> Cost cost_lt_aa(int64_t n);

// [x == y] as arithmetic 0/1. P0 boolean-shares z0 + z1 (z = x − y), z2 is shared for free;
// z == 0 iff all bits of (z0 + z1) ^ (−z2) are zero: AND-tree over the k bits, then bit2a.
// Exact. Cost: 2 + log2 k rounds.
template <class T> AShare<T> eq_aa(Context& ctx, const AShare<T>& x, const AShare<T>& y);
// [z == 0] as a boolean bit (bit 0), before the injection. Cost: 1 + log2 k rounds.
template <class T> BShare<T> eqz_b(Context& ctx, const AShare<T>& z);
template <class T> Cost cost_eqz_b(int64_t n);
template <class T> AShare<T> eq_ap(Context& ctx, const AShare<T>& x, const std::vector<T>& c);
template <class T> Cost cost_eq_aa(int64_t n);

// select: b ? x : y for arithmetic 0/1 b, as y + b·(x − y). Cost: cost_mul_aa.
template <class T> AShare<T> select_a(Context& ctx, const AShare<T>& b, const AShare<T>& x, const AShare<T>& y);
template <class T> Cost cost_select_a(int64_t n);

}  // namespace veil::mpc
