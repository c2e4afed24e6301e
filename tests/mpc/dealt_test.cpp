// Dealer-assisted kernels (dealt.h) on both rings: plaintext twin and declared cost.
#include <cstdio>

#include "kernel_harness.h"
#include "veil/mpc/dealt.h"

namespace veil::mpc {
namespace {

using testing::expect_cost;
using testing::random_ring;

template <class T> class DealtTest : public ::testing::Test {};
using Rings = ::testing::Types<uint32_t, uint64_t>;
TYPED_TEST_SUITE(DealtTest, Rings);

// Shares `arith` (party 0 inputs) and `bits` (0/1 values, turned into boolean sharings by a2b
// before measuring), runs `kernel`, reveals its output; the kernel's own traffic is measured.
template <class T>
std::pair<std::vector<T>, testing::Measured> run_with_bits(
    const std::vector<std::vector<T>>& arith, const std::vector<std::vector<T>>& bits,
    const std::function<AShare<T>(Context&, std::vector<AShare<T>>&, std::vector<BShare<T>>&)>& kernel) {
  std::vector<T> out;
  std::array<net::Traffic, 3> delta;
  run_parties([&](Context& ctx) {
    std::vector<AShare<T>> xs;
    std::vector<BShare<T>> bs;
    for (const auto& v : arith) xs.push_back(share_input(ctx, 0, Tensor<T>({int64_t(v.size())}, v), {int64_t(v.size())}));
    for (const auto& v : bits)
      bs.push_back(a2b(ctx, share_input(ctx, 1, Tensor<T>({int64_t(v.size())}, v), {int64_t(v.size())})));
    sync_parties(ctx);
    net::Traffic before = ctx.link().total();
    AShare<T> y = kernel(ctx, xs, bs);
    delta[size_t(ctx.id())] = ctx.link().total() - before;
    Tensor<T> r = reveal_all(ctx, y);
    if (ctx.id() == 0) out = r.data;
  });
  testing::Measured m;
  for (auto& d : delta) {
    m.rounds = std::max<int64_t>(m.rounds, int64_t(d.rounds));
    m.bytes_max = std::max<int64_t>(m.bytes_max, int64_t(d.bytes));
    m.bytes_total += int64_t(d.bytes);
  }
  return {out, m};
}

template <class T> std::vector<T> small_signed(size_t n, uint64_t seed, int bits) {
  auto v = random_ring<T>(n, seed);
  for (auto& x : v) x = T(signed_t<T>(x) >> (int(sizeof(T) * 8) - bits));
  return v;
}

TYPED_TEST(DealtTest, MulBaMatchesPlaintext) {
  using T = TypeParam;
  for (int64_t n : {1, 2, 3, 1000, 1001}) {
    auto b = random_ring<T>(size_t(n), 51, T(1)), z = random_ring<T>(size_t(n), 52);
    auto [out, m] = run_with_bits<T>({z}, {b}, [](Context& ctx, auto& xs, auto& bs) { return mul_ba(ctx, bs[0], xs[0]); });
    for (size_t i = 0; i < size_t(n); ++i) ASSERT_EQ(out[i], T(b[i] * z[i])) << i;
    expect_cost(m, cost_mul_ba<T>(n));
  }
}

TYPED_TEST(DealtTest, MacBaSumsBitProductsWithAnAddend) {
  using T = TypeParam;
  const int64_t n = 2000;
  auto a = random_ring<T>(size_t(n), 53), z1 = random_ring<T>(size_t(n), 54), z2 = random_ring<T>(size_t(n), 55);
  auto b1 = random_ring<T>(size_t(n), 56, T(1)), b2 = random_ring<T>(size_t(n), 57, T(1));
  auto [out, m] = run_with_bits<T>({a, z1, z2}, {b1, b2}, [](Context& ctx, auto& xs, auto& bs) {
    return mac_ba<T>(ctx, &xs[0], {{&bs[0], &xs[1]}, {&bs[1], &xs[2]}}, 0);
  });
  for (size_t i = 0; i < size_t(n); ++i) ASSERT_EQ(out[i], T(a[i] + b1[i] * z1[i] + b2[i] * z2[i])) << i;
  expect_cost(m, cost_mac_ba<T>(n, 2, 0));
  EXPECT_EQ(m.rounds, 2);
}

TYPED_TEST(DealtTest, MacBaTruncatesWithinOneUlp) {
  using T = TypeParam;
  using S = signed_t<T>;
  constexpr int k = int(sizeof(T) * 8);
  const int d = sizeof(T) == 4 ? 8 : 18;
  for (int terms : {0, 1, 2}) {
    const int64_t n = 3001;
    auto a = small_signed<T>(size_t(n), 58, k - 4), z1 = small_signed<T>(size_t(n), 59, k - 4),
         z2 = small_signed<T>(size_t(n), 60, k - 4);
    auto b1 = random_ring<T>(size_t(n), 61, T(1)), b2 = random_ring<T>(size_t(n), 62, T(1));
    auto [out, m] = run_with_bits<T>({a, z1, z2}, {b1, b2}, [terms, d](Context& ctx, auto& xs, auto& bs) {
      std::vector<std::pair<const BShare<T>*, const AShare<T>*>> t;
      for (int j = 0; j < terms; ++j) t.push_back({&bs[size_t(j)], &xs[size_t(j) + 1]});
      return mac_ba<T>(ctx, &xs[0], t, d);
    });
    for (size_t i = 0; i < size_t(n); ++i) {
      T sum = a[i] + (terms > 0 ? T(b1[i] * z1[i]) : T(0)) + (terms > 1 ? T(b2[i] * z2[i]) : T(0));
      S diff = S(out[i] - T(S(sum) >> d));
      ASSERT_TRUE(diff == 0 || diff == 1) << "terms " << terms << " i " << i << " diff " << diff;
    }
    expect_cost(m, cost_mac_ba<T>(n, terms, d));
    EXPECT_EQ(m.rounds, terms > 0 ? 3 : 2);
  }
}

TYPED_TEST(DealtTest, MacBaPostTermsSkipTheTruncation) {
  using T = TypeParam;
  using S = signed_t<T>;
  constexpr int k = int(sizeof(T) * 8);
  const int d = sizeof(T) == 4 ? 8 : 18;
  const int64_t n = 1500;
  auto a = small_signed<T>(size_t(n), 65, k - 4), z1 = small_signed<T>(size_t(n), 66, k - 4), z2 = random_ring<T>(size_t(n), 67);
  auto b1 = random_ring<T>(size_t(n), 68, T(1)), b2 = random_ring<T>(size_t(n), 69, T(1));
  auto [out, m] = run_with_bits<T>({a, z1, z2}, {b1, b2}, [d](Context& ctx, auto& xs, auto& bs) {
    return mac_ba<T>(ctx, &xs[0], {{&bs[0], &xs[1]}}, d, {{&bs[1], &xs[2]}});
  });
  for (size_t i = 0; i < size_t(n); ++i) {
    const T want = T(T(S(T(a[i] + b1[i] * z1[i])) >> d) + b2[i] * z2[i]);
    const S diff = S(out[i] - want);
    ASSERT_TRUE(diff == 0 || diff == 1) << i << " diff " << diff;
  }
  expect_cost(m, cost_mac_ba<T>(n, 1, d, 1));
  EXPECT_EQ(m.rounds, 3);
}

TYPED_TEST(DealtTest, MulAaTruncMatchesMulThenTrunc) {
  using T = TypeParam;
  using S = signed_t<T>;
  constexpr int k = int(sizeof(T) * 8);
  const int d = sizeof(T) == 4 ? 8 : 18;
  const int64_t n = 4001;
  auto x = small_signed<T>(size_t(n), 63, k / 2 - 2), y = small_signed<T>(size_t(n), 64, k / 2 - 2);
  auto [out, m] = run_with_bits<T>({x, y}, {}, [d](Context& ctx, auto& xs, auto&) { return mul_aa_trunc(ctx, xs[0], xs[1], d); });
  for (size_t i = 0; i < size_t(n); ++i) {
    S diff = S(out[i] - T(S(T(x[i] * y[i])) >> d));
    ASSERT_TRUE(diff == 0 || diff == 1) << i << " diff " << diff;
  }
  expect_cost(m, cost_mul_aa_trunc<T>(n, d));
  EXPECT_EQ(m.rounds, 3);
  const Cost separate = cost_mul_aa<T>(n) + cost_trunc_a<T>(n, d), fused = cost_mul_aa_trunc<T>(n, d);
  std::printf("[dealt] %s mul_aa + trunc_a %.2f B/elt, mul_aa_trunc %.2f B/elt (all parties)\n",
              std::string(ring_name<T>()).c_str(), double(separate.bytes_total) / double(n),
              double(fused.bytes_total) / double(n));
  EXPECT_LT(fused.bytes_total, separate.bytes_total);
}

TYPED_TEST(DealtTest, DotRunsSumEachRunBeforeOneTruncation) {
  using T = TypeParam;
  using S = signed_t<T>;
  constexpr int k = int(sizeof(T) * 8);
  // Runs of 1 (mul_aa_trunc), of 7 and of 768 (a LayerNorm row), in one call; d = 0 is exact.
  std::vector<int64_t> runs;
  for (int i = 0; i < 40; ++i) runs.push_back(1);
  for (int i = 0; i < 11; ++i) runs.push_back(7);
  for (int i = 0; i < 3; ++i) runs.push_back(768);
  int64_t n = 0;
  for (int64_t r : runs) n += r;
  auto x = small_signed<T>(size_t(n), 71, k / 2 - 7), y = small_signed<T>(size_t(n), 72, k / 2 - 7);
  for (int d : {0, sizeof(T) == 4 ? 8 : 18}) {
    auto [out, m] = run_with_bits<T>({x, y}, {}, [&runs, d](Context& ctx, auto& xs, auto&) {
      return dot_runs_aa_trunc(ctx, xs[0], xs[1], runs, d);
    });
    ASSERT_EQ(out.size(), runs.size());
    size_t j = 0;
    for (size_t i = 0; i < runs.size(); ++i) {
      T sum = 0;
      for (int64_t t = 0; t < runs[i]; ++t, ++j) sum += T(x[j] * y[j]);
      const S diff = S(out[i] - T(S(sum) >> d));
      if (d == 0) ASSERT_EQ(diff, 0) << i;
      else ASSERT_TRUE(diff == 0 || diff == 1) << i << " diff " << diff;
    }
    expect_cost(m, cost_dot_runs_aa_trunc<T>(int64_t(runs.size()), d));
    EXPECT_EQ(m.rounds, d > 0 ? 3 : 2);
    EXPECT_EQ(cost_dot_runs_aa_trunc<T>(int64_t(runs.size()), d).bytes_total, cost_mul_aa_trunc<T>(int64_t(runs.size()), d).bytes_total);
  }
  auto bad = [](Context& ctx, auto& xs, auto&) { return dot_runs_aa_trunc(ctx, xs[0], xs[1], {2, 2}, 0); };
  EXPECT_THROW((run_with_bits<T>({std::vector<T>(3), std::vector<T>(3)}, {}, bad)), std::runtime_error);
}

}  // namespace
}  // namespace veil::mpc
