// Secret shuffles of rows, and the oblivious compaction built on them: the count-only mode of
// MPCache's static eviction (nn/mpcache.h), where the parties learn how many prompt tokens a layer
// keeps but not which.
#pragma once
#include <cstdint>
#include <vector>

#include "veil/mpc/context.h"
#include "veil/mpc/cost.h"
#include "veil/mpc/share.h"

namespace veil::mpc {

// The rows of x (R, C) in an order that no single party knows (a fresh uniform permutation).
// Three passes; in pass a the pair (a, a + 1) draws a permutation from the seed it shares, turns
// the sharing into its two-party sum (a: x_a + x_(a+1), a + 1: x_(a+2)), both permute, and re-share
// to three parties: the new components of the third party come from the seeds it shares with
// each of them, so a and a + 1 each send the other R·C masked elements and the third party sends
// nothing. Each party misses one of the three permutations. Semi-honest, as the rest of the engine.
// Cost: 3 rounds; each party sends 2·R·C elements.
template <class T> AShare<T> shuffle_rows(Context& ctx, const AShare<T>& x);
template <class T> Cost cost_shuffle_rows(int64_t rows, int64_t cols);

// REVEAL (to the parties): the number m of ones of flags (T) — and nothing about where they are.
// flags are arithmetic integers 0/1; each xs[i] is (T, C_i). Returns each xs[i]'s flagged rows
// (m, C_i), in their original order.
// Algorithm: every row gets its destination (the prefix count of flags for a kept row, m plus
// the count of dropped rows before it for a dropped one: a permutation of 0..T−1), by one mul_aa;
// m is opened; the rows and their destinations are shuffled together (shuffle_rows), and the
// shuffled destinations are opened — a uniformly random permutation, independent of the flags —
// so each party moves the rows locally and keeps the first m.
// Cost: mul_aa(T) + reveal_all(1) + shuffle_rows(T, 1 + Σ C_i) + reveal_all(T): 6 rounds.
std::vector<AShare<uint64_t>> compact_rows_reveal_count(Context& ctx, const AShare<uint64_t>& flags,
                                                        const std::vector<AShare<uint64_t>>& xs);
Cost cost_compact_rows_reveal_count(int64_t t, int64_t cols);

}  // namespace veil::mpc
