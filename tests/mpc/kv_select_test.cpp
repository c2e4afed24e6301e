// The kernels of MPCache's KV selection against their plaintext twins and declared costs:
// topk_onehot (secure top-k as one-hot rows), any_at_least (static-eviction votes),
// shuffle_rows and compact_rows_reveal_count (the count-only eviction).
#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "mpc/kernel_harness.h"
#include "veil/core/fixed_point.h"
#include "veil/mpc/any_at_least.h"
#include "veil/mpc/bit_inject.h"
#include "veil/mpc/shuffle.h"
#include "veil/mpc/topk_onehot.h"

namespace veil::mpc {
namespace {

using testing::run_kernel;

constexpr int kF = 18;

Tensor<uint64_t> encode(const std::vector<double>& v, Shape shape) {
  Tensor<uint64_t> t(std::move(shape));
  for (size_t i = 0; i < v.size(); ++i) t.data[i] = fxp_encode<uint64_t>(v[i], kF);
  return t;
}

TEST(TopkOnehot, MatchesThePlaintextTwinOnDistinctValues) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> nd(0, 20);
  const int64_t rows = 6, n = 23, k = 9;
  std::vector<double> x(size_t(rows * n));
  for (auto& v : x) v = nd(rng);
  auto [got, m] = run_kernel<uint64_t>({encode(x, {rows, n})}, [&](Context& ctx, std::vector<AShare<uint64_t>>& in) {
    return topk_onehot(ctx, in[0], k, 10, 24);
  });
  EXPECT_EQ(got, topk_onehot_plain(x, rows, n, k));
  const Cost c = cost_topk_onehot(rows, n, k, 24);
  EXPECT_EQ(m.rounds, c.rounds);
  EXPECT_EQ(m.bytes_total, c.bytes_total);
  EXPECT_LE(m.bytes_max, c.bytes_max);
}

// Equal values are within the resolution: either may be picked, but the picked values are the
// k largest, each slot holds exactly one element, and the slots follow the positions.
TEST(TopkOnehot, EqualValuesFillTheRestAndEveryRowIsOneHot) {
  const int64_t rows = 2, n = 8;
  const std::vector<double> x = {1, 3, 3, -2, 3, 0, 1, 7,  // ties of 3 and of 1
                                 0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t k : {1, 2, 3, 5, 7, 8}) {
    auto [got, m] = run_kernel<uint64_t>({encode(x, {rows, n})}, [&](Context& ctx, std::vector<AShare<uint64_t>>& in) {
      return topk_onehot(ctx, in[0], k, 10, 24);
    });
    const std::vector<uint64_t> want = topk_onehot_plain(x, rows, n, k);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<double> picked, expected;
      int64_t last = -1;
      for (int64_t j = 0; j < k; ++j) {
        int64_t ones = 0;
        for (int64_t i = 0; i < n; ++i) {
          const size_t at = size_t((r * k + j) * n + i);
          if (got[at] == 1) {
            picked.push_back(x[size_t(r * n + i)]), ++ones;
            EXPECT_GT(i, last);
            last = i;
          }
          if (want[at] == 1) expected.push_back(x[size_t(r * n + i)]);
          EXPECT_LE(got[at], 1u);
        }
        EXPECT_EQ(ones, 1) << "k = " << k << ", row " << r << ", slot " << j;
      }
      std::sort(picked.begin(), picked.end()), std::sort(expected.begin(), expected.end());
      EXPECT_EQ(picked, expected) << "k = " << k << ", row " << r;
    }
    testing::expect_cost(m, cost_topk_onehot(rows, n, k, 24));
  }
}

TEST(TopkOnehot, SlotsFollowPositionsAndTheCostIsDeclaredAtMpCacheShapes) {
  // 2048 context, budget 20%: 63 coarse clusters keep 32, then 64 fine candidates keep 23.
  std::mt19937_64 rng(11);
  std::normal_distribution<double> nd(0, 400);
  for (auto [n, k] : {std::pair<int64_t, int64_t>{63, 32}, {64, 23}}) {
    const int64_t rows = 3;
    std::vector<double> x(size_t(rows * n));
    for (auto& v : x) v = nd(rng);
    auto [got, m] = run_kernel<uint64_t>({encode(x, {rows, n})}, [&](Context& ctx, std::vector<AShare<uint64_t>>& in) {
      return topk_onehot(ctx, in[0], k, 12, 20);
    });
    const std::vector<uint64_t> want = topk_onehot_plain(x, rows, n, k);
    EXPECT_EQ(got, want) << n << " choose " << k;
    for (int64_t r = 0; r < rows; ++r) {  // slot j holds an element at position ≥ j, increasing
      int64_t last = -1;
      for (int64_t j = 0; j < k; ++j)
        for (int64_t i = 0; i < n; ++i)
          if (want[size_t((r * k + j) * n + i)]) {
            EXPECT_GT(i, last);
            last = i;
          }
    }
    testing::expect_cost(m, cost_topk_onehot(rows, n, k, 20));
  }
  // Pairwise comparisons dominate; the one-hot costs k·(N − k) tests, not k·N.
  const Cost c = cost_topk_onehot(12, 63, 32, 20);
  EXPECT_EQ(c.rounds, 21);
  EXPECT_LT(c.bytes_total, 12 * 110'000);
}

// The window's edges: with drop d and ell bits, differences below 2^d·(2^(ell−1) − 3) rank
// exactly, and values closer than 3·2^d may rank either way but always as one total order.
TEST(TopkOnehot, ExactAcrossTheWholeWindowAndConsistentBelowItsResolution) {
  const int drop = 12, ell = 12;  // on kF = 18: resolution 3·2^−6, differences below 2^−6·2045
  const double unit = std::ldexp(1.0, drop - kF), span = unit * ((1 << (ell - 1)) - 3) * 0.999;
  const std::vector<double> wide = {0, span, -0.0, span / 2, span - 4 * unit, 2 * unit};  // extremes
  auto [got, m] = run_kernel<uint64_t>({encode(wide, {1, 6})}, [&](Context& ctx, std::vector<AShare<uint64_t>>& in) {
    return topk_onehot(ctx, in[0], 3, drop, ell);
  });
  EXPECT_EQ(got, topk_onehot_plain(wide, 1, 6, 3));
  // Eight values within one resolution step: any 4 of them, each picked once.
  std::vector<double> close(8);
  for (size_t i = 0; i < close.size(); ++i) close[i] = 5 + unit * double(i % 3) * 0.9;
  auto [sel, m2] = run_kernel<uint64_t>({encode(close, {1, 8})}, [&](Context& ctx, std::vector<AShare<uint64_t>>& in) {
    return topk_onehot(ctx, in[0], 4, drop, ell);
  });
  std::vector<uint64_t> picked(8, 0);
  for (int64_t j = 0; j < 4; ++j)
    for (int64_t i = 0; i < 8; ++i) picked[size_t(i)] += sel[size_t(j * 8 + i)];
  EXPECT_EQ(std::count(picked.begin(), picked.end(), 1u), 4);
  EXPECT_EQ(std::count(picked.begin(), picked.end(), 0u), 4);
}

TEST(Bit2aDealt, InjectsBitsExactly) {
  for (int64_t n : {1, 2, 3, 100, 1001}) {
    std::vector<uint64_t> bits(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) bits[size_t(i)] = uint64_t((i * 7 + i / 3) % 2);
    Tensor<uint64_t> x({n});
    for (int64_t i = 0; i < n; ++i) x.data[size_t(i)] = bits[size_t(i)] ? uint64_t(-5) : uint64_t(5);
    auto [got, m] = run_kernel<uint64_t>({x}, [&](Context& ctx, std::vector<AShare<uint64_t>>& in) {
      return bit2a_dealt(ctx, msb_a(ctx, in[0]));  // [x < 0] as a boolean bit, injected
    });
    EXPECT_EQ(got, bits) << n;
  }
}

TEST(Bit2aDealt, CostsWhatItDeclares) {
  const int64_t n = 301;
  Tensor<uint64_t> x({n});
  for (int64_t i = 0; i < n; ++i) x.data[size_t(i)] = uint64_t(i % 3 ? -1 : 1);
  std::array<net::Traffic, 3> traffic;
  std::vector<uint64_t> got;
  run_parties([&](Context& ctx) {
    const AShare<uint64_t> a = share_input(ctx, 0, x, x.shape);
    const BShare<uint64_t> b = msb_a(ctx, a);
    sync_parties(ctx);
    const net::Traffic before = ctx.link().total();
    const AShare<uint64_t> y = bit2a_dealt(ctx, b);
    traffic[size_t(ctx.id())] = ctx.link().total() - before;
    const Tensor<uint64_t> r = reveal_all(ctx, y);
    if (ctx.id() == 0) got = r.data;
  });
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(got[size_t(i)], uint64_t(i % 3 ? 1 : 0));
  testing::Measured m;
  for (const auto& d : traffic) {
    m.rounds = std::max<int64_t>(m.rounds, int64_t(d.rounds));
    m.bytes_max = std::max<int64_t>(m.bytes_max, int64_t(d.bytes));
    m.bytes_total += int64_t(d.bytes);
  }
  testing::expect_cost(m, cost_bit2a_dealt<uint64_t>(n));
}

TEST(AnyAtLeast, FlagsColumnsWithARowAtTheThreshold) {
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> u(0, 0.01);
  const int64_t w = 7, t = 150;  // 150 columns: three packed words, the last partial
  std::vector<double> x(size_t(w * t));
  for (auto& v : x) v = u(rng);
  const double thr = 0.0095;
  const std::vector<int64_t> forced = {0, 149};
  auto [got, m] = run_kernel<uint64_t>({encode(x, {w, t})}, [&](Context& ctx, std::vector<AShare<uint64_t>>& in) {
    return any_at_least(ctx, in[0], fxp_encode<uint64_t>(thr, kF), 32, forced);
  });
  std::vector<uint64_t> want(size_t(t), 0);
  for (int64_t i = 0; i < w; ++i)
    for (int64_t j = 0; j < t; ++j)
      if (fxp_encode<uint64_t>(x[size_t(i * t + j)], kF) >= fxp_encode<uint64_t>(thr, kF)) want[size_t(j)] = 1;
  for (int64_t j : forced) want[size_t(j)] = 1;
  EXPECT_EQ(got, want);
  const Cost c = cost_any_at_least(w, t, 32);
  EXPECT_EQ(m.rounds, c.rounds);
  EXPECT_EQ(m.bytes_total, c.bytes_total);
}

TEST(ShuffleRows, PermutesWholeRowsAndCostsWhatItDeclares) {
  const int64_t rows = 40, cols = 3;
  Tensor<uint64_t> x({rows, cols});
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) x.data[size_t(r * cols + c)] = uint64_t(r * 100 + c);
  auto [got, m] = run_kernel<uint64_t>({x}, [&](Context& ctx, std::vector<AShare<uint64_t>>& in) {
    return shuffle_rows(ctx, in[0]);
  });
  std::vector<int64_t> seen;
  for (int64_t r = 0; r < rows; ++r) {
    const uint64_t first = got[size_t(r * cols)];
    for (int64_t c = 0; c < cols; ++c) EXPECT_EQ(got[size_t(r * cols + c)], first + uint64_t(c));
    seen.push_back(int64_t(first / 100));
  }
  std::vector<int64_t> sorted = seen;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(sorted[size_t(r)], r);
  EXPECT_NE(seen, sorted) << "40 rows came back in their order: not shuffled";
  testing::expect_cost(m, cost_shuffle_rows<uint64_t>(rows, cols));
}

TEST(CompactRows, KeepsTheFlaggedRowsInOrderAndOpensOnlyTheCount) {
  const int64_t t = 33, c = 4;
  std::vector<int64_t> keep = {0, 1, 5, 6, 7, 20, 31};
  Tensor<uint64_t> flags({t}), x({t, c});
  for (int64_t r : keep) flags.data[size_t(r)] = 1;
  for (int64_t r = 0; r < t; ++r)
    for (int64_t j = 0; j < c; ++j) x.data[size_t(r * c + j)] = uint64_t(1000 * r + j);
  std::vector<uint64_t> got;
  std::array<net::Traffic, 3> traffic;
  run_parties([&](Context& ctx) {
    AShare<uint64_t> f = share_input(ctx, 0, flags, flags.shape), xs = share_input(ctx, 1, x, x.shape);
    sync_parties(ctx);
    const net::Traffic before = ctx.link().total();
    std::vector<AShare<uint64_t>> out = compact_rows_reveal_count(ctx, f, {xs});
    traffic[size_t(ctx.id())] = ctx.link().total() - before;
    EXPECT_EQ(out.at(0).shape, (Shape{int64_t(keep.size()), c}));
    Tensor<uint64_t> r = reveal_all(ctx, out.at(0));
    if (ctx.id() == 0) got = r.data;
  });
  std::vector<uint64_t> want;
  for (int64_t r : keep)
    for (int64_t j = 0; j < c; ++j) want.push_back(uint64_t(1000 * r + j));
  EXPECT_EQ(got, want);
  const Cost cost = cost_compact_rows_reveal_count(t, c);
  int64_t total = 0, rounds = 0;
  for (const auto& d : traffic) total += int64_t(d.bytes), rounds = std::max<int64_t>(rounds, int64_t(d.rounds));
  EXPECT_EQ(total, cost.bytes_total);
  EXPECT_EQ(rounds, cost.rounds);
}

}  // namespace
}  // namespace veil::mpc
