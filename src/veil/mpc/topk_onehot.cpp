#include "veil/mpc/topk_onehot.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include "veil/mpc/arithmetic.h"
#include "veil/mpc/bit_inject.h"
#include "veil/mpc/boolean.h"
#include "veil/mpc/carry_tree.h"
#include "veil/mpc/layout.h"
#include "veil/mpc/narrow.h"

namespace veil::mpc {

namespace {

// Bits of the window that holds rank − (j + 1) ∈ [−k, N − 1].
int rank_bits(int64_t n, int64_t k) { return ceil_log2(n + k + 1) + 1; }

// A boolean bit (bit 0 of 64-bit words) as 32-bit words.
BShare<uint32_t> narrow_bits(const BShare<uint64_t>& b) {
  BShare<uint32_t> out(b.shape, 1);
  for (size_t i = 0; i < b.size(); ++i) out.s0[i] = uint32_t(b.s0[i] & 1), out.s1[i] = uint32_t(b.s1[i] & 1);
  return out;
}

}  // namespace

AShare<uint64_t> topk_onehot(Context& ctx, const AShare<uint64_t>& x, int64_t k, int drop, int ell) {
  net::Link::Scope scope(ctx.link(), "topk_onehot");
  if (x.shape.size() != 2) throw std::invalid_argument("topk_onehot: expects x (R, N), got " + shape_str(x.shape));
  const int64_t rows = x.shape[0], n = x.shape[1];
  if (k < 1 || k > n)
    throw std::invalid_argument("topk_onehot: k = " + std::to_string(k) + " is not in [1, " + std::to_string(n) + "]");
  if (ell < 2 || ell > 64 || drop < 0 || drop > 62)
    throw std::invalid_argument("topk_onehot: window of " + std::to_string(ell) + " bits at bit " + std::to_string(drop));

  // 1. One value per element at resolution 2^drop.
  const AShare<uint64_t> xt = drop > 0 ? trunc_a(ctx, x, drop) : x;

  // 2. b_ij = [x'_i < x'_j] for every pair i < j of every row.
  const int64_t pairs = n * (n - 1) / 2;
  std::vector<int64_t> ia, ib;
  ia.reserve(size_t(rows * pairs)), ib.reserve(size_t(rows * pairs));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = i + 1; j < n; ++j) ia.push_back(r * n + i), ib.push_back(r * n + j);
  const Shape ps{rows * pairs};

  // 3. rank_i: how many elements of its row beat it.
  AShare<uint32_t> rank(Shape{rows * n});
  if (pairs > 0) {
    const AShare<uint64_t> d = sub_aa(gather(xt, ia, ps), gather(xt, ib, ps));
    const AShare<uint32_t> b = bit2a_dealt(ctx, narrow_bits(ltz_window_b(ctx, d, 0, ell)));  // [x'_i < x'_j], 0/1
    std::vector<uint32_t> loser_is_j(size_t(rows * n), 0);  // public part: Σ_(i<j) 1 for element j
    for (size_t p = 0; p < ib.size(); ++p) ++loser_is_j[size_t(ib[p])];
    for (size_t p = 0; p < ia.size(); ++p) {
      const auto i = size_t(ia[p]), j = size_t(ib[p]);
      rank.s0[i] += b.s0[p], rank.s1[i] += b.s1[p];  // i loses to j when b = 1
      rank.s0[j] -= b.s0[p], rank.s1[j] -= b.s1[p];  // j loses to i when b = 0: 1 − b
    }
    rank = add_ap(ctx, rank, loser_is_j);
  }

  // 4. u_(j,i) = [rank_i − (j + 1) < 0], laid out (R, k, N); one-hot rows u_j − u_(j−1).
  std::vector<int64_t> src;
  std::vector<uint32_t> minus;
  src.reserve(size_t(rows * k * n)), minus.reserve(size_t(rows * k * n));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < k; ++j)
      for (int64_t i = 0; i < n; ++i) src.push_back(r * n + i), minus.push_back(uint32_t(0) - uint32_t(j + 1));
  const Shape out_shape{rows, k, n};
  const AShare<uint32_t> z = add_ap(ctx, gather(rank, src, Shape{rows * k * n}), minus);
  std::vector<uint64_t> z0(z.s0.begin(), z.s0.end()), z1(z.s1.begin(), z.s1.end());
  const AShare<uint64_t> u = bit2a_dealt(ctx, msb_of_sum(ctx, z0, z1, rank_bits(n, k), out_shape));
  AShare<uint64_t> onehot = u;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 1; j < k; ++j)
      for (int64_t i = 0; i < n; ++i) {
        const size_t at = size_t((r * k + j) * n + i), before = at - size_t(n);
        onehot.s0[at] -= u.s0[before], onehot.s1[at] -= u.s1[before];
      }
  return onehot;
}

Cost cost_topk_onehot(int64_t rows, int64_t n, int64_t k, int drop, int ell) {
  const int64_t pairs = rows * n * (n - 1) / 2, tests = rows * k * n;
  Cost c;
  if (drop > 0) c = c + cost_trunc_a<uint64_t>(rows * n, drop);
  if (pairs > 0) c = c + cost_ltz_window_b(pairs, ell) + cost_bit2a_dealt<uint32_t>(pairs);
  return c + cost_msb_of_sum(tests, rank_bits(n, k)) + cost_bit2a_dealt<uint64_t>(tests);
}

std::vector<uint64_t> topk_onehot_plain(const std::vector<double>& x, int64_t rows, int64_t n, int64_t k) {
  std::vector<uint64_t> out(size_t(rows * k * n), 0);
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t r = 0; r < rows; ++r) {
    std::iota(order.begin(), order.end(), 0);
    const double* v = x.data() + r * n;
    std::stable_sort(order.begin(), order.end(), [v](int64_t a, int64_t b) { return v[a] > v[b]; });
    for (int64_t j = 0; j < k; ++j) out[size_t((r * k + j) * n + order[size_t(j)])] = 1;
  }
  return out;
}

}  // namespace veil::mpc
