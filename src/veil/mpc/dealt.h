// Kernels finished on a 2-of-2 sharing with a dealer: one party D deals correlated randomness to
// the other two (A = D + 1, B = D + 2), who hold the value as v = v_A + v_B, finish the kernel
// and re-share the result as a replicated sharing. The elements are split into three chunks and
// every party is the dealer of one, A of one and B of one, so the traffic is balanced.
//
// Semi-honest, honest majority, as the rest of the engine: every message is masked by randomness
// that its receiver does not hold (pairwise PRG streams or D's private coins).
#pragma once
#include <utility>
#include <vector>

#include "veil/mpc/context.h"
#include "veil/mpc/cost.h"
#include "veil/mpc/share.h"

namespace veil::mpc {

// y ≈ (a + Σ_j b_j ⊙ z_j) / 2^d: boolean bits b_j (bit 0 of each word), arithmetic z_j and an
// optional arithmetic addend a (nullptr: none), all of one size; d = 0: no truncation.
//
// Bit times value (the dealer form of ABY3's bit injection): D draws a private coin r per bit,
// sends A and B the bit b ⊕ r masked with the component the receiver lacks (so both learn
// c = b ⊕ r, uniform), and gives them 2-of-2 shares of r and of r·z (it holds z_D + z_A; the
// component z_B known to A and B is multiplied by the shares of r locally). Then
// b·z = c·z + (1 − 2c)·r·z is a local combination on the 2-of-2 sharing.
// Truncation (d > 0): as trunc_a (arithmetic.h), on the 2-of-2 sum.
// Exact for d = 0; for d > 0 the error model of trunc_a, for a + Σ b_j z_j in its range.
// Rounds: 2 (d = 0) or 3. Bytes: see cost_mac_ba; per element, D sends 2 ring elements and 2 bits
// per term, and d > 0 adds trunc_a's traffic.
// `post` terms are added after the truncation (their values are not scaled): y ≈ (a + Σ_j b_j ⊙
// z_j) / 2^d + Σ_i b′_i ⊙ z′_i, at the dealer cost of a term each and no extra round.
template <class T>
using BitTerms = std::vector<std::pair<const BShare<T>*, const AShare<T>*>>;
template <class T>
AShare<T> mac_ba(Context& ctx, const AShare<T>* a, const BitTerms<T>& terms, int d, const BitTerms<T>& post = {});
template <class T> Cost cost_mac_ba(int64_t n, int terms, int d, int post = 0);

// b ⊙ z for a boolean bit b (bit 0) and arithmetic z: mac_ba with one term. Exact.
// Rounds: 2; all parties together send 4 ring elements and 2 bits per element (bit2a then mul_aa:
// 9 elements).
template <class T> AShare<T> mul_ba(Context& ctx, const BShare<T>& b, const AShare<T>& z);
template <class T> Cost cost_mul_ba(int64_t n);

// (x ⊙ y) / 2^d in one kernel: the parties' local cross terms form a 3-out-of-3 sharing; D sends
// its term to B (masked by the PRF zero-sharing) instead of re-sharing the product, and the
// truncation runs on the 2-of-2 sum. Same result and error model as trunc_a(mul_aa(x, y), d).
// Rounds: 3 (as mul_aa then trunc_a); two ring elements per element fewer than mul_aa + trunc_a
// over all parties (FM64, d = 18: 40.25 instead of 56.25 bytes).
template <class T> AShare<T> mul_aa_trunc(Context& ctx, const AShare<T>& x, const AShare<T>& y, int d);
template <class T> Cost cost_mul_aa_trunc(int64_t n, int d);

// z_i = (Σ_{j ∈ run i} x_j ⊙ y_j) / 2^d for consecutive runs of the given lengths (Σ runs = size):
// mul_aa_trunc with each party's local cross terms summed over a run first, so a run costs what
// one product costs there (LayerNorm's Σ(x − μ)² takes one element per row instead of one per
// column). Output shape {runs.size()}. Same error model per output as mul_aa_trunc; d = 0: exact.
// Rounds: 3 (2 for d = 0). Bytes: cost_mul_aa_trunc(runs.size(), d).
template <class T>
AShare<T> dot_runs_aa_trunc(Context& ctx, const AShare<T>& x, const AShare<T>& y, const std::vector<int64_t>& runs, int d);
template <class T> Cost cost_dot_runs_aa_trunc(int64_t runs, int d);

// The engine behind trunc_a, mac_ba and mul_aa_trunc (used by arithmetic.cpp).
template <class T> struct DealtInput {
  const AShare<T>* addend = nullptr;  // replicated summand
  const std::vector<T>* own_term = nullptr;  // this party's 3-out-of-3 additive summand
  std::vector<std::pair<const BShare<T>*, const AShare<T>*>> terms;  // bit ⊙ value summands
  int d = 0;  // truncation bits
  std::vector<std::pair<const BShare<T>*, const AShare<T>*>> post;   // added after the truncation
};
template <class T> AShare<T> dealt_sum(Context& ctx, const DealtInput<T>& in, size_t n, const Shape& shape);
template <class T> Cost cost_dealt_sum(int64_t n, bool own_term, int terms, int d, int post = 0);

}  // namespace veil::mpc
