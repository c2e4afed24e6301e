// Boolean kernels and conversions on both rings: plaintext twin and declared cost.
#include "kernel_harness.h"

namespace veil::mpc {
namespace {

using testing::expect_cost;
using testing::random_ring;
using testing::run_kernel;

template <class T> class BooleanTest : public ::testing::Test {};
using Rings = ::testing::Types<uint32_t, uint64_t>;
TYPED_TEST_SUITE(BooleanTest, Rings);

// Values with edge cases mixed in: 0, ±1, the extremes of the signed range.
template <class T> std::vector<T> edge_values(size_t n, uint64_t seed) {
  using S = signed_t<T>;
  auto v = random_ring<T>(n, seed);
  const T edges[] = {0, 1, T(S(-1)), T(std::numeric_limits<S>::min()), T(std::numeric_limits<S>::max()), 2, T(S(-2))};
  for (size_t i = 0; i < std::size(edges) && i < n; ++i) v[i] = edges[i];
  return v;
}

TYPED_TEST(BooleanTest, A2BThenB2AIsIdentity) {
  using T = TypeParam;
  const int64_t n = 1000;
  auto x = edge_values<T>(size_t(n), 21);
  std::vector<T> bits;
  auto [out, m] = run_kernel<T>({Tensor<T>({n}, x)}, [&](Context& ctx, auto& xs) {
    BShare<T> b = a2b(ctx, xs[0]);
    Tensor<T> opened = reveal_all_b(ctx, b);
    if (ctx.id() == 0) bits = opened.data;
    return xs[0];
  });
  EXPECT_EQ(bits, x);  // the boolean sharing holds the same bits
  auto [out3, m3] = run_kernel<T>({Tensor<T>({n}, x)}, [](Context& ctx, auto& xs) {
    BShare<T> b = a2b(ctx, xs[0]);
    return AShare<T>(xs[0]);
  });
  expect_cost(m3, cost_a2b<T>(n));
  auto [back, m4] = run_kernel<T>({Tensor<T>({n}, x)}, [](Context& ctx, auto& xs) {
    return b2a(ctx, a2b(ctx, xs[0]));
  });
  EXPECT_EQ(back, x);
  expect_cost(m4, cost_a2b<T>(n) + cost_b2a<T>(n, int(sizeof(T) * 8)));
}

TYPED_TEST(BooleanTest, AndXorNotMatchPlaintext) {
  using T = TypeParam;
  const int64_t n = 999;
  auto x = random_ring<T>(size_t(n), 22), y = random_ring<T>(size_t(n), 23);
  std::vector<T> got_and, got_mix;
  testing::Measured m_and;
  run_kernel<T>({Tensor<T>({n}, x), Tensor<T>({n}, y)}, [&](Context& ctx, auto& xs) {
    BShare<T> bx = a2b(ctx, xs[0]), by = a2b(ctx, xs[1]);
    net::Traffic before = ctx.link().total();
    BShare<T> z = and_bb(ctx, bx, by);
    net::Traffic d = ctx.link().total() - before;
    EXPECT_EQ(int64_t(d.bytes), cost_and_bb<T>(n).bytes_max);
    BShare<T> mix = not_b(ctx, xor_bp(ctx, xor_bb(shr_b(bx, 3), shl_b(and_bp(by, T(0xF0F0)), 1)), T(5)));
    Tensor<T> oz = reveal_all_b(ctx, z), om = reveal_all_b(ctx, mix);
    if (ctx.id() == 0) got_and = oz.data, got_mix = om.data;
    return xs[0];
  });
  for (size_t i = 0; i < size_t(n); ++i) {
    EXPECT_EQ(got_and[i], T(x[i] & y[i]));
    EXPECT_EQ(got_mix[i], T(~((x[i] >> 3) ^ T((y[i] & T(0xF0F0)) << 1) ^ T(5))));
  }
}

TYPED_TEST(BooleanTest, Bit2AMatchesPlaintext) {
  using T = TypeParam;
  const int64_t n = 1234;
  auto x = random_ring<T>(size_t(n), 24);
  testing::Measured m{};
  // Measure bit2a alone on a boolean sharing obtained from a2b.
  std::array<net::Traffic, 3> d;
  std::vector<T> got;
  run_parties([&](Context& ctx) {
    AShare<T> a = share_input(ctx, 0, Tensor<T>({n}, x), {n});
    BShare<T> b = a2b(ctx, a);
    sync_parties(ctx);
    net::Traffic before = ctx.link().total();
    AShare<T> r = bit2a(ctx, b);
    d[size_t(ctx.id())] = ctx.link().total() - before;
    Tensor<T> o = reveal_all(ctx, r);
    if (ctx.id() == 0) got = o.data;
  });
  for (size_t i = 0; i < size_t(n); ++i) ASSERT_EQ(got[i], T(x[i] & 1));
  for (auto& t : d) m.rounds = std::max<int64_t>(m.rounds, int64_t(t.rounds)), m.bytes_max = std::max<int64_t>(m.bytes_max, int64_t(t.bytes)), m.bytes_total += int64_t(t.bytes);
  expect_cost(m, cost_bit2a<T>(n));
}

TYPED_TEST(BooleanTest, LessThanZeroMatchesPlaintextAndRoundBound) {
  using T = TypeParam;
  using S = signed_t<T>;
  const int64_t n = 3000;
  auto x = edge_values<T>(size_t(n), 25);
  auto [out, m] = run_kernel<T>({Tensor<T>({n}, x)}, [](Context& ctx, auto& xs) { return ltz_a(ctx, xs[0]); });
  for (size_t i = 0; i < size_t(n); ++i) ASSERT_EQ(out[i], T(S(x[i]) < 0)) << S(x[i]);
  expect_cost(m, cost_ltz_a<T>(n));
  if (sizeof(T) == 8) EXPECT_LE(m.rounds, 6 + 3);  // issue target: log2(64) + 3
}

TYPED_TEST(BooleanTest, MsbMatchesPlaintext) {
  using T = TypeParam;
  const int64_t n = 500;
  auto x = edge_values<T>(size_t(n), 26);
  std::vector<T> got;
  auto [out, m] = run_kernel<T>({Tensor<T>({n}, x)}, [&](Context& ctx, auto& xs) {
    Tensor<T> o = reveal_all_b(ctx, msb_a(ctx, xs[0]));
    if (ctx.id() == 0) got = o.data;
    return xs[0];
  });
  for (size_t i = 0; i < size_t(n); ++i) EXPECT_EQ(got[i], T(x[i] >> (sizeof(T) * 8 - 1)));
}

TYPED_TEST(BooleanTest, LessThanMatchesPlaintext) {
  using T = TypeParam;
  using S = signed_t<T>;
  const int64_t n = 2000;
  auto x = random_ring<T>(size_t(n), 27), y = random_ring<T>(size_t(n), 28);
  for (size_t i = 0; i < size_t(n); ++i) x[i] = T(S(x[i]) >> 2), y[i] = T(S(y[i]) >> 2);  // no wrap
  x[0] = y[0];
  auto [out, m] = run_kernel<T>({Tensor<T>({n}, x), Tensor<T>({n}, y)},
                                [](Context& ctx, auto& xs) { return lt_aa(ctx, xs[0], xs[1]); });
  for (size_t i = 0; i < size_t(n); ++i) ASSERT_EQ(out[i], T(S(x[i]) < S(y[i])));
  expect_cost(m, cost_lt_aa<T>(n));
}

TYPED_TEST(BooleanTest, EqualityMatchesPlaintext) {
  using T = TypeParam;
  const int64_t n = 2000;
  auto x = random_ring<T>(size_t(n), 29), y = random_ring<T>(size_t(n), 30);
  for (size_t i = 0; i < size_t(n); i += 3) y[i] = x[i];
  for (size_t i = 1; i < size_t(n); i += 7) y[i] = x[i] ^ (T(1) << (i % (sizeof(T) * 8)));  // one bit off
  auto [out, m] = run_kernel<T>({Tensor<T>({n}, x), Tensor<T>({n}, y)},
                                [](Context& ctx, auto& xs) { return eq_aa(ctx, xs[0], xs[1]); });
  for (size_t i = 0; i < size_t(n); ++i) ASSERT_EQ(out[i], T(x[i] == y[i])) << i;
  expect_cost(m, cost_eq_aa<T>(n));
  std::vector<T> c(static_cast<size_t>(n));
  for (size_t i = 0; i < size_t(n); ++i) c[i] = i % 2 ? x[i] : x[i] + 1;
  auto [out2, m2] = run_kernel<T>({Tensor<T>({n}, x)}, [&](Context& ctx, auto& xs) { return eq_ap(ctx, xs[0], c); });
  for (size_t i = 0; i < size_t(n); ++i) ASSERT_EQ(out2[i], T(i % 2));
  expect_cost(m2, cost_eq_aa<T>(n));
}

TYPED_TEST(BooleanTest, SelectMatchesPlaintext) {
  using T = TypeParam;
  const int64_t n = 1500;
  auto b = random_ring<T>(size_t(n), 31, T(1)), x = random_ring<T>(size_t(n), 32), y = random_ring<T>(size_t(n), 33);
  auto [out, m] = run_kernel<T>({Tensor<T>({n}, b), Tensor<T>({n}, x), Tensor<T>({n}, y)},
                                [](Context& ctx, auto& xs) { return select_a(ctx, xs[0], xs[1], xs[2]); });
  for (size_t i = 0; i < size_t(n); ++i) ASSERT_EQ(out[i], b[i] ? x[i] : y[i]);
  expect_cost(m, cost_select_a<T>(n));
}

}  // namespace
}  // namespace veil::mpc
