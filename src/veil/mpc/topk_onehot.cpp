#include "veil/mpc/topk_onehot.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include "veil/mpc/arithmetic.h"
#include "veil/mpc/bit_inject.h"
#include "veil/mpc/carry_tree.h"
#include "veil/mpc/layout.h"
#include "veil/mpc/narrow.h"

namespace veil::mpc {

namespace {

// Bits of the window that holds rank − k ∈ [−k, N − 1 − k] (the mask test).
int mask_bits(int64_t n, int64_t k) { return std::max(2, ceil_log2(std::max(k, n - k)) + 1); }
// Bits of the window that holds p − (j + 1) ∈ [−k, k − 1] (the slot tests).
int slot_bits(int64_t k) { return std::max(2, ceil_log2(k) + 1); }

// [c < 0] for each element of a Z_2^32 sharing, on its low `bits` bits, as arithmetic 0/1 in Z_2^T.
template <class T> AShare<T> negative(Context& ctx, const AShare<uint32_t>& c, int bits) {
  const std::vector<uint64_t> c0(c.s0.begin(), c.s0.end()), c1(c.s1.begin(), c.s1.end());
  const BShare<uint64_t> b = msb_of_sum(ctx, c0, c1, bits, c.shape);
  if constexpr (sizeof(T) == 8) {
    return bit2a_dealt(ctx, b);
  } else {
    BShare<uint32_t> narrow(b.shape, 1);
    for (size_t i = 0; i < b.size(); ++i) narrow.s0[i] = uint32_t(b.s0[i] & 1), narrow.s1[i] = uint32_t(b.s1[i] & 1);
    return bit2a_dealt(ctx, narrow);
  }
}

}  // namespace

AShare<uint64_t> topk_onehot(Context& ctx, const AShare<uint64_t>& x, int64_t k, int drop, int ell) {
  net::Link::Scope scope(ctx.link(), "topk_onehot");
  if (x.shape.size() != 2) throw std::invalid_argument("topk_onehot: expects x (R, N), got " + shape_str(x.shape));
  const int64_t rows = x.shape[0], n = x.shape[1], band = n - k;
  if (k < 1 || k > n)
    throw std::invalid_argument("topk_onehot: k = " + std::to_string(k) + " is not in [1, " + std::to_string(n) + "]");
  if (ell < 2 || ell > 32 || drop < 0 || drop > 32)
    throw std::invalid_argument("topk_onehot: window of " + std::to_string(ell) + " bits at bit " + std::to_string(drop));

  // w_(j,i) inside the band (j < i ≤ j + band), laid out (R, k, band); empty when k = N.
  AShare<uint64_t> w(Shape{rows * k * band});
  if (band > 0) {
    // 1, 2. x' and b_ij = [x'_i < x'_j] for every pair i < j of every row; the ranks.
    const AShare<uint32_t> xw = window32_a(x, drop);
    const int64_t pairs = rows * n * (n - 1) / 2;
    AShare<uint32_t> d(Shape{pairs});
    std::vector<int64_t> ia, ib;
    ia.reserve(size_t(pairs)), ib.reserve(size_t(pairs));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = i + 1; j < n; ++j) {
          const auto a = size_t(r * n + i), b = size_t(r * n + j), p = ia.size();
          d.s0[p] = xw.s0[a] - xw.s0[b], d.s1[p] = xw.s1[a] - xw.s1[b];
          ia.push_back(int64_t(a)), ib.push_back(int64_t(b));
        }
    const AShare<uint32_t> beaten = negative<uint32_t>(ctx, d, ell);  // [x'_i < x'_j]: i loses
    AShare<uint32_t> rank(Shape{rows * n});
    std::vector<uint32_t> minus_k(size_t(rows * n), uint32_t(0) - uint32_t(k));  // rank − k, public part
    for (size_t p = 0; p < ia.size(); ++p) {
      const auto i = size_t(ia[p]), j = size_t(ib[p]);
      rank.s0[i] += beaten.s0[p], rank.s1[i] += beaten.s1[p];
      rank.s0[j] -= beaten.s0[p], rank.s1[j] -= beaten.s1[p];  // 1 − b for j: the 1 is public
      ++minus_k[j];
    }
    // 3. m_i = [rank_i < k]; p_i = Σ_(i'<i) m_i'.
    const AShare<uint32_t> m = negative<uint32_t>(ctx, add_ap(ctx, rank, minus_k), mask_bits(n, k));
    AShare<uint32_t> before(Shape{rows * n});
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 1; i < n; ++i) {
        const auto at = size_t(r * n + i);
        before.s0[at] = before.s0[at - 1] + m.s0[at - 1], before.s1[at] = before.s1[at - 1] + m.s1[at - 1];
      }
    // 4. w_(j,i) = [p_i − (j + 1) < 0] inside the band.
    std::vector<int64_t> src;
    std::vector<uint32_t> minus;
    src.reserve(size_t(rows * k * band)), minus.reserve(size_t(rows * k * band));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < k; ++j)
        for (int64_t i = j + 1; i <= j + band; ++i) src.push_back(r * n + i), minus.push_back(uint32_t(0) - uint32_t(j + 1));
    const AShare<uint32_t> z = add_ap(ctx, gather(before, src, Shape{rows * k * band}), minus);
    w = negative<uint64_t>(ctx, z, slot_bits(k));
  }

  // Row j of the one-hot: w_(j,i) − w_(j,i+1), w public 1 for i ≤ j and 0 beyond the band.
  AShare<uint64_t> onehot(Shape{rows, k, n});
  std::vector<uint64_t> ones(onehot.size(), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < k; ++j) {
      const size_t row = size_t((r * k + j) * n), tests = size_t((r * k + j) * band);
      ones[row + size_t(j)] = 1;  // w_(j,j)
      for (int64_t m = 0; m < band; ++m) {  // w_(j,i), i = j + 1 + m: + at i, − at i − 1
        const size_t t = tests + size_t(m), i = row + size_t(j + 1 + m);
        onehot.s0[i] += w.s0[t], onehot.s1[i] += w.s1[t];
        onehot.s0[i - 1] -= w.s0[t], onehot.s1[i - 1] -= w.s1[t];
      }
    }
  return add_ap(ctx, onehot, ones);
}

Cost cost_topk_onehot(int64_t rows, int64_t n, int64_t k, int ell) {
  const int64_t band = n - k, pairs = rows * n * (n - 1) / 2, tests = rows * k * band;
  if (band == 0) return {};
  return cost_msb_of_sum(pairs, ell) + cost_bit2a_dealt<uint32_t>(pairs) + cost_msb_of_sum(rows * n, mask_bits(n, k)) +
         cost_bit2a_dealt<uint32_t>(rows * n) + cost_msb_of_sum(tests, slot_bits(k)) + cost_bit2a_dealt<uint64_t>(tests);
}

std::vector<uint64_t> topk_onehot_plain(const std::vector<double>& x, int64_t rows, int64_t n, int64_t k) {
  std::vector<uint64_t> out(size_t(rows * k * n), 0);
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t r = 0; r < rows; ++r) {
    std::iota(order.begin(), order.end(), 0);
    const double* v = x.data() + r * n;
    std::stable_sort(order.begin(), order.end(), [v](int64_t a, int64_t b) { return v[a] > v[b]; });
    std::sort(order.begin(), order.begin() + k);  // the k largest, by position
    for (int64_t j = 0; j < k; ++j) out[size_t((r * k + j) * n + order[size_t(j)])] = 1;
  }
  return out;
}

}  // namespace veil::mpc
