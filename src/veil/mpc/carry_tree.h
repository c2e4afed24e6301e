// The most significant bit of a replicated arithmetic sharing, by a carry tree on bit planes.
//
// Only the top bit of x0 + x1 + x2 (mod 2^ℓ) is wanted, not the whole sum that a2b builds: a
// carry-save layer turns the three components into two addends s and m (one AND per bit), and
// the top bit is s_(ℓ−1) ⊕ m_(ℓ−2) ⊕ (the carry into bit ℓ−1 of s + 2m). That carry is the root of
// a log-depth tree over (generate, propagate) pairs of bits 1..ℓ−2, whose node count halves at
// every level. The bits are kept bit-sliced: plane j is bit j of every element, packed 64 elements
// to a word, so each AND round sends exactly the surviving bits, ⌈n/64⌉ words per plane.
// (Same circuit idea as the comparison of SecureML/ABY3's "msb extraction"; the packing per level
// is what makes it cheap: about 4ℓ AND bits per element instead of (2·log2 k + 1)·k for a2b.)
#pragma once
#include <vector>

#include "veil/mpc/context.h"
#include "veil/mpc/cost.h"
#include "veil/mpc/share.h"

namespace veil::mpc {

// Bit ℓ−1 of (c0 + c1 + c2) mod 2^ℓ, as a boolean sharing in bit 0 of each word, where this
// party's two components of element e are s0[e], s1[e] (the low ℓ bits count, 2 ≤ ℓ ≤ 64).
// Exact. Rounds: 1 + (ℓ > 2 ? 1 + ceil(log2(ℓ − 2)) : 0): 7 for ℓ = 32, 8 for ℓ = 64.
// Bytes: each party sends ⌈n/64⌉·8 bytes per AND plane, (ℓ − 1) + (ℓ − 2) + tree planes.
BShare<uint64_t> msb_of_sum(Context& ctx, const std::vector<uint64_t>& s0, const std::vector<uint64_t>& s1, int ell,
                            const Shape& shape);
Cost cost_msb_of_sum(int64_t n, int ell);

// Bit-plane layout helpers (local). planes[j·W + w] holds bit j of elements 64w .. 64w + 63.
std::vector<uint64_t> to_planes(const std::vector<uint64_t>& v, int nplanes);
// Bit 0 of each of n words from one plane of W = ⌈n/64⌉ words.
std::vector<uint64_t> from_plane(const uint64_t* plane, size_t n);

}  // namespace veil::mpc
