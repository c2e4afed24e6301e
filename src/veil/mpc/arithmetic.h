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

// y ≈ x / 2^d (arithmetic shift), for x in [−2^(k−2), 2^(k−2)).
// Protocol: P2 deals r and the 2-of-2 shares of r's top bit and of ⌊(r mod 2^(k−1)) / 2^d⌋ to
// P0/P1, who open c = x + 2^(k−2) + r between themselves; the wrap is corrected with r's top bit
// (the one-helper truncation of Dalskov, Escudero & Keller, USENIX Sec 2021, as in SPU's aby3
// TruncAPr); the result is re-shared with PRG masks. Error model: y = ⌊x/2^d⌋ + e, e ∈ {0, 1}
// (one unit in the last place), exact outside failure: no probabilistic wrap error in range.
// Cost: 2 rounds; every party sends 2n elements.
template <class T> AShare<T> trunc_a(Context& ctx, const AShare<T>& x, int d);
template <class T> Cost cost_trunc_a(int64_t n);

}  // namespace veil::mpc
