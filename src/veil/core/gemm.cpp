#include "veil/core/gemm.h"

#include <algorithm>

namespace veil {

namespace {
// Walks C (M,N) in cache blocks — column blocks of 512, depth blocks of kc, row blocks of 64 —
// calling step(i, p, j0, jn) for every row i and depth p of a block: "row i of C, columns
// [j0, j0 + jn), gets the contribution of depth p".
template <class Step>
void for_blocks(int64_t m, int64_t k, int64_t n, int64_t kc, Step&& step) {
  constexpr int64_t mc = 64;
  // A few rows of C stay in cache whole: then B is streamed once, row after row.
  const int64_t nc = m <= 4 ? n : 512;
  for (int64_t j0 = 0; j0 < n; j0 += nc) {
    const int64_t jn = std::min(nc, n - j0);
    for (int64_t p0 = 0; p0 < k; p0 += kc) {
      const int64_t pk = std::min(kc, k - p0);
      for (int64_t i0 = 0; i0 < m; i0 += mc)
        for (int64_t i = i0; i < std::min(m, i0 + mc); ++i)
          for (int64_t p = p0; p < p0 + pk; ++p) step(i, p, j0, jn);
    }
  }
}
}  // namespace

template <class T>
void gemm_acc(const T* a, const T* b, T* c, int64_t m, int64_t k, int64_t n) {
  for_blocks(m, k, n, 256, [=](int64_t i, int64_t p, int64_t j0, int64_t jn) {
    const T av = a[i * k + p];
    T* __restrict crow = c + i * n + j0;
    const T* __restrict brow = b + p * n + j0;
    for (int64_t j = 0; j < jn; ++j) crow[j] += av * brow[j];
  });
}

template <class T>
void gemm2_acc(const T* a1, const T* b1, const T* a2, const T* b2, T* c, int64_t m, int64_t k, int64_t n) {
  for_blocks(m, k, n, 128, [=](int64_t i, int64_t p, int64_t j0, int64_t jn) {
    const T u = a1[i * k + p], v = a2[i * k + p];
    T* __restrict crow = c + i * n + j0;
    const T* __restrict r1 = b1 + p * n + j0;
    const T* __restrict r2 = b2 + p * n + j0;
    for (int64_t j = 0; j < jn; ++j) crow[j] += u * r1[j] + v * r2[j];
  });
}

template <class T>
void gemm2_nt_acc(const T* a1, const T* b1, const T* a2, const T* b2, T* c, int64_t m, int64_t k, int64_t n) {
  constexpr int64_t jb = 64;  // rows of B kept hot across the rows of A
  for (int64_t j0 = 0; j0 < n; j0 += jb) {
    const int64_t j1 = std::min(n, j0 + jb);
    for (int64_t i = 0; i < m; ++i) {
      const T* __restrict x1 = a1 + i * k;
      const T* __restrict x2 = a2 + i * k;
      for (int64_t j = j0; j < j1; ++j) {
        const T* __restrict y1 = b1 + j * k;
        const T* __restrict y2 = b2 + j * k;
        T acc = 0;
        for (int64_t p = 0; p < k; ++p) acc += x1[p] * y1[p] + x2[p] * y2[p];
        c[i * n + j] += acc;
      }
    }
  }
}

template <class T>
void gemm_naive(const T* a, const T* b, T* c, int64_t m, int64_t k, int64_t n) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      T acc = 0;
      for (int64_t p = 0; p < k; ++p) acc += a[i * k + p] * b[p * n + j];
      c[i * n + j] += acc;
    }
}

template void gemm_acc<uint32_t>(const uint32_t*, const uint32_t*, uint32_t*, int64_t, int64_t, int64_t);
template void gemm_acc<uint64_t>(const uint64_t*, const uint64_t*, uint64_t*, int64_t, int64_t, int64_t);
template void gemm2_acc<uint32_t>(const uint32_t*, const uint32_t*, const uint32_t*, const uint32_t*, uint32_t*, int64_t, int64_t, int64_t);
template void gemm2_acc<uint64_t>(const uint64_t*, const uint64_t*, const uint64_t*, const uint64_t*, uint64_t*, int64_t, int64_t, int64_t);
template void gemm2_nt_acc<uint32_t>(const uint32_t*, const uint32_t*, const uint32_t*, const uint32_t*, uint32_t*, int64_t, int64_t, int64_t);
template void gemm2_nt_acc<uint64_t>(const uint64_t*, const uint64_t*, const uint64_t*, const uint64_t*, uint64_t*, int64_t, int64_t, int64_t);
template void gemm_naive<uint32_t>(const uint32_t*, const uint32_t*, uint32_t*, int64_t, int64_t, int64_t);
template void gemm_naive<uint64_t>(const uint64_t*, const uint64_t*, uint64_t*, int64_t, int64_t, int64_t);

}  // namespace veil
