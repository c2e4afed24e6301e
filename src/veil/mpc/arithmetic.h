// Arithmetic kernels on replicated shares over Z_2^k (ABY3, Mohassel & Rindal, CCS 2018).
// Local kernels cost nothing; the others declare their cost next to them.
#pragma once
#include "veil/mpc/context.h"
#include "veil/mpc/cost.h"
#include "veil/mpc/share.h"

namespace veil::mpc {

// ---- local (no communication) ----
template <class T> AShare<T> add_aa(const AShare<T>& x, const AShare<T>& y);
template <class T> AShare<T> sub_aa(const AShare<T>& x, const AShare<T>& y);
template <class T> AShare<T> neg_a(const AShare<T>& x);
template <class T> AShare<T> add_ap(Context& ctx, const AShare<T>& x, const std::vector<T>& c);  // c: n or 1 element
template <class T> AShare<T> mul_ap(const AShare<T>& x, const std::vector<T>& c);  // ring product, c: n or 1 element
template <class T> AShare<T> shl_a(const AShare<T>& x, int bits);                 // x · 2^bits

// z = x ⊙ y (ring product, no truncation). 1 round; each party sends n elements.
template <class T> AShare<T> mul_aa(Context& ctx, const AShare<T>& x, const AShare<T>& y);
template <class T> Cost cost_mul_aa(int64_t n);

// Z = X · Y, X (M,K), Y (K,N) -> (M,N); or batched X (B,M,K), Y (B,K,N) -> (B,M,N).
// Each party does two local ring GEMMs, then one round; each party sends M·N (·B) elements.
template <class T> AShare<T> matmul_aa(Context& ctx, const AShare<T>& x, const AShare<T>& y);
template <class T> Cost cost_matmul_aa(int64_t outputs);

// Z = X · Yᵀ with Y stored transposed: X (M,K), Y (N,K) -> (M,N); or batched (B,M,K), (B,N,K).
// For [out, in] weights and tied embedding heads. Same cost as matmul_aa.
template <class T> AShare<T> matmul_aa_nt(Context& ctx, const AShare<T>& x, const AShare<T>& y);

// y ≈ x / 2^d (arithmetic shift), for x in [−2^(k−2) + 2^(d+1), 2^(k−2)).
// Protocol: the one-helper truncation of Dalskov, Escudero & Keller (USENIX Sec 2021; SPU's aby3
// TruncAPr), lightened. Per chunk of elements a dealer D draws r = r_A + r_B from the PRG
// streams it shares with A and B, with the low d bits of r_A and r_B zero; A and B hold x as
// x_A + x_B (free from the replicated sharing) and open to each other only the top k − d bits
// of their shares of c = x + 2^(k−2) + r (uniform: the top bits of r mask them). The wrap past
// 2^(k−1) is corrected with r's top bit and the carry of r_A + r_B into it, of which D sends B
// 2-of-2 shares modulo 2^(d+1), the only bits that reach the result; ⌊r/2^d⌋ splits exactly
// into local parts. The result is re-shared with PRG masks. Derivation in dealt.cpp.
// Error model: y = ⌊x/2^d⌋ + e, e ∈ {0, 1} (the carry of the unopened low bits), no probabilistic
// failure in range.
// Cost: 2 rounds; all parties together send 2·(d + 1) + 2·(k − d) + 2k bits per element
// (FM64, d = 18: 32.25 bytes; whole ring elements everywhere would be 48).
template <class T> AShare<T> trunc_a(Context& ctx, const AShare<T>& x, int d);
template <class T> Cost cost_trunc_a(int64_t n, int d = RingTraits<ring_of<T>::value>::default_frac_bits);

}  // namespace veil::mpc
