// Local ring GEMM: C (M,N) += A (M,K) · B (K,N), row-major, arithmetic mod 2^k (unsigned wrap).
// Cache-blocked i-k-j loops over a packed panel of B; the inner loop is a contiguous
// multiply-add the compiler vectorises (AVX-512DQ vpmullq for 64-bit lanes where present).
#pragma once
#include <cstdint>

namespace veil {

template <class T>
void gemm_acc(const T* a, const T* b, T* c, int64_t m, int64_t k, int64_t n);

// C += A1 · B1 + A2 · B2 in one pass over C (the two products of a replicated-share matmul).
template <class T>
void gemm2_acc(const T* a1, const T* b1, const T* a2, const T* b2, T* c, int64_t m, int64_t k, int64_t n);

// C (M,N) += A1 (M,K) · B1ᵀ + A2 (M,K) · B2ᵀ with B1, B2 stored (N,K): row-by-row dot
// products, for [out, in] weights and tied embedding heads without transposing them.
template <class T>
void gemm2_nt_acc(const T* a1, const T* b1, const T* a2, const T* b2, T* c, int64_t m, int64_t k, int64_t n);

// The textbook triple loop (i, j, k), kept as the reference the benchmark compares against.
template <class T>
void gemm_naive(const T* a, const T* b, T* c, int64_t m, int64_t k, int64_t n);

}  // namespace veil
