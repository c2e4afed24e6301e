// The kernels of MPCache's KV selection against their plaintext twins and declared costs:
// topk_onehot (secure top-k as one-hot rows), any_at_least (static-eviction votes),
// shuffle_rows and compact_rows_reveal_count (the count-only eviction).
#include <algorithm>
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

TEST(TopkOnehot, MatchesThePlaintextRanksOnDistinctValues) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> nd(0, 20);
  const int64_t rows = 6, n = 23, k = 9;
  std::vector<double> x(size_t(rows * n));
  for (auto& v : x) v = nd(rng);
  auto [got, m] = run_kernel<uint64_t>({encode(x, {rows, n})}, [&](Context& ctx, std::vector<AShare<uint64_t>>& in) {
    return topk_onehot(ctx, in[0], k, 10, 24);
  });
  EXPECT_EQ(got, topk_onehot_plain(x, rows, n, k));
  const Cost c = cost_topk_onehot(rows, n, k, 10, 24);
  EXPECT_EQ(m.rounds, c.rounds);
  EXPECT_EQ(m.bytes_total, c.bytes_total);
  EXPECT_LE(m.bytes_max, c.bytes_max);
}

TEST(TopkOnehot, TiesGoToTheLowerIndexAndEveryRowIsOneHot) {
  const int64_t rows = 2, n = 8, k = 8;
  const std::vector<double> x = {1, 3, 3, -2, 3, 0, 1, 7,  // ties of 3 and of 1
                                 0, 0, 0, 0, 0, 0, 0, 0};
  auto [got, m] = run_kernel<uint64_t>({encode(x, {rows, n})}, [&](Context& ctx, std::vector<AShare<uint64_t>>& in) {
    return topk_onehot(ctx, in[0], k, 10, 24);
  });
  EXPECT_EQ(got, topk_onehot_plain(x, rows, n, k));
  for (int64_t r = 0; r < rows * k; ++r) {
    uint64_t ones = 0;
    for (int64_t i = 0; i < n; ++i) ones += got[size_t(r * n + i)];
    EXPECT_EQ(ones, 1u) << "row " << r;
  }
}

TEST(TopkOnehot, OneElementAndBadK) {
  auto [got, m] = run_kernel<uint64_t>({encode({4.5, -1}, {2, 1})}, [&](Context& ctx, std::vector<AShare<uint64_t>>& in) {
    return topk_onehot(ctx, in[0], 1, 0, 32);
  });
  EXPECT_EQ(got, (std::vector<uint64_t>{1, 1}));
  EXPECT_THROW(run_kernel<uint64_t>({encode({1, 2}, {1, 2})},
                                    [&](Context& ctx, std::vector<AShare<uint64_t>>& in) {
                                      return topk_onehot(ctx, in[0], 3, 0, 32);
                                    }),
               std::exception);
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
