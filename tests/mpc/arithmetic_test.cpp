// Every arithmetic kernel on both rings: result vs its plaintext twin, traffic vs declared cost.
#include "kernel_harness.h"
#include "veil/core/gemm.h"

#include <cstdio>
#include <map>

namespace veil::mpc {
namespace {

using testing::expect_cost;
using testing::random_ring;
using testing::run_kernel;

template <class T> class ArithmeticTest : public ::testing::Test {};
using Rings = ::testing::Types<uint32_t, uint64_t>;
TYPED_TEST_SUITE(ArithmeticTest, Rings);

TYPED_TEST(ArithmeticTest, ShareAndRevealRoundTrip) {
  using T = TypeParam;
  auto x = random_ring<T>(1000, 1);
  auto [out, m] = run_kernel<T>({Tensor<T>({1000}, x)}, [](Context&, auto& xs) { return xs[0]; });
  EXPECT_EQ(out, x);
  EXPECT_EQ(m.rounds, 0);
}

TYPED_TEST(ArithmeticTest, RevealCostsMatchDeclaration) {
  using T = TypeParam;
  const int64_t n = 777;
  auto x = random_ring<T>(size_t(n), 2);
  auto [out, m] = run_kernel<T>({Tensor<T>({n}, x)}, [](Context& ctx, auto& xs) {
    Tensor<T> r = reveal_all(ctx, xs[0]);
    return share_public(ctx, r);
  });
  EXPECT_EQ(out, x);
  expect_cost(m, cost_reveal_all<T>(n));
  auto [out2, m2] = run_kernel<T>({Tensor<T>({n}, x)}, [](Context& ctx, auto& xs) {
    Tensor<T> r = reveal_to(ctx, 2, xs[0]);
    EXPECT_EQ(r.data.empty(), ctx.id() != 2);
    return xs[0];
  });
  expect_cost(m2, cost_reveal_to<T>(n));
  auto [out3, m3] = run_kernel<T>({Tensor<T>({n}, x)}, [n](Context& ctx, auto& xs) {
    return share_input(ctx, 1, Tensor<T>({n}, random_ring<T>(size_t(n), 3)), {n});
  });
  EXPECT_EQ(out3, random_ring<T>(size_t(n), 3));
  expect_cost(m3, cost_share_input<T>(n));
}

TYPED_TEST(ArithmeticTest, LocalOpsMatchPlaintext) {
  using T = TypeParam;
  const size_t n = 500;
  auto x = random_ring<T>(n, 4), y = random_ring<T>(n, 5), c = random_ring<T>(n, 6);
  auto [out, m] = run_kernel<T>({Tensor<T>({int64_t(n)}, x), Tensor<T>({int64_t(n)}, y)},
                                [&](Context& ctx, auto& xs) {
    // ((x + y) − (−x)) · c + c, then · 2^3
    auto z = sub_aa(add_aa(xs[0], xs[1]), neg_a(xs[0]));
    return shl_a(add_ap(ctx, mul_ap(z, c), c), 3);
  });
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(out[i], T((((x[i] + y[i]) + x[i]) * c[i] + c[i]) << 3));
  EXPECT_EQ(m.bytes_total, 0);
}

TYPED_TEST(ArithmeticTest, MulAaMatchesPlaintext) {
  using T = TypeParam;
  const int64_t n = 4096;
  auto x = random_ring<T>(size_t(n), 7), y = random_ring<T>(size_t(n), 8);
  auto [out, m] = run_kernel<T>({Tensor<T>({n}, x), Tensor<T>({n}, y)},
                                [](Context& ctx, auto& xs) { return mul_aa(ctx, xs[0], xs[1]); });
  for (size_t i = 0; i < size_t(n); ++i) ASSERT_EQ(out[i], T(x[i] * y[i]));
  expect_cost(m, cost_mul_aa<T>(n));
}

TYPED_TEST(ArithmeticTest, MatmulAaMatchesPlaintext) {
  using T = TypeParam;
  const int64_t M = 7, K = 33, N = 19;
  auto x = random_ring<T>(size_t(M * K), 9), y = random_ring<T>(size_t(K * N), 10);
  auto [out, m] = run_kernel<T>({Tensor<T>({M, K}, x), Tensor<T>({K, N}, y)},
                                [](Context& ctx, auto& xs) { return matmul_aa(ctx, xs[0], xs[1]); });
  std::vector<T> ref(size_t(M * N));
  gemm_naive(x.data(), y.data(), ref.data(), M, K, N);
  EXPECT_EQ(out, ref);
  expect_cost(m, cost_matmul_aa<T>(M * N));
}

TYPED_TEST(ArithmeticTest, BatchedMatmulMatchesPlaintext) {
  using T = TypeParam;
  const int64_t B = 3, M = 5, K = 8, N = 6;
  auto x = random_ring<T>(size_t(B * M * K), 11), y = random_ring<T>(size_t(B * K * N), 12);
  auto [out, m] = run_kernel<T>({Tensor<T>({B, M, K}, x), Tensor<T>({B, K, N}, y)},
                                [](Context& ctx, auto& xs) { return matmul_aa(ctx, xs[0], xs[1]); });
  std::vector<T> ref(size_t(B * M * N));
  for (int64_t b = 0; b < B; ++b)
    gemm_naive(x.data() + b * M * K, y.data() + b * K * N, ref.data() + b * M * N, M, K, N);
  EXPECT_EQ(out, ref);
  expect_cost(m, cost_matmul_aa<T>(B * M * N));
}

TYPED_TEST(ArithmeticTest, MatmulNtMatchesPlaintext) {
  using T = TypeParam;
  const int64_t B = 2, M = 3, K = 70, N = 130;  // crosses the row block of B
  auto x = random_ring<T>(size_t(B * M * K), 17), y = random_ring<T>(size_t(B * N * K), 18);
  auto [out, m] = run_kernel<T>({Tensor<T>({B, M, K}, x), Tensor<T>({B, N, K}, y)},
                                [](Context& ctx, auto& xs) { return matmul_aa_nt(ctx, xs[0], xs[1]); });
  std::vector<T> ref(size_t(B * M * N));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j)
        for (int64_t p = 0; p < K; ++p) ref[size_t((b * M + i) * N + j)] += x[size_t((b * M + i) * K + p)] * y[size_t((b * N + j) * K + p)];
  EXPECT_EQ(out, ref);
  expect_cost(m, cost_matmul_aa<T>(B * M * N));
}

TYPED_TEST(ArithmeticTest, GemmBlockedEqualsNaive) {
  using T = TypeParam;
  const int64_t M = 70, K = 300, N = 530;  // crosses every block edge
  auto a = random_ring<T>(size_t(M * K), 13), b = random_ring<T>(size_t(K * N), 14);
  std::vector<T> c1(size_t(M * N), 1), c2(size_t(M * N), 1);
  gemm_acc(a.data(), b.data(), c1.data(), M, K, N);
  gemm_naive(a.data(), b.data(), c2.data(), M, K, N);
  EXPECT_EQ(c1, c2);
}

TYPED_TEST(ArithmeticTest, TruncIsWithinOneUlpOverTheWholeRange) {
  using T = TypeParam;
  using S = signed_t<T>;
  constexpr int k = int(sizeof(T) * 8);
  const int64_t n = 20000;
  const int d = sizeof(T) == 4 ? 8 : 18;
  // Values across [−2^(k−2), 2^(k−2)), including both edges.
  std::vector<T> x = random_ring<T>(size_t(n), 15);
  for (auto& v : x) v = T(S(v) >> 2);
  x[0] = T(S(-(S(1) << (k - 2)) + (S(1) << (d + 1)))), x[1] = T((S(1) << (k - 2)) - 1), x[2] = 0, x[3] = T(S(-1));
  auto [out, m] = run_kernel<T>({Tensor<T>({n}, x)}, [d](Context& ctx, auto& xs) { return trunc_a(ctx, xs[0], d); });
  std::map<S, int> seen;
  for (size_t i = 0; i < size_t(n); ++i) {
    S want = S(x[i]) >> d;  // floor division
    S diff = S(out[i] - T(want));
    ASSERT_TRUE(diff == 0 || diff == 1) << "x=" << S(x[i]) << " got " << S(out[i]) << " want " << want;
    ++seen[diff];
  }
  for (auto [e, count] : seen) std::printf("[trunc_a] error %+d ulp: %d of %lld\n", int(e), count, (long long)n);
  expect_cost(m, cost_trunc_a<T>(n));
}

TEST(ClientIo, SplitAndReconstruct) {
  Prg prg(random_seed());
  std::vector<uint64_t> x = random_ring<uint64_t>(100, 16);
  auto pairs = client_split(x, prg);
  EXPECT_EQ(client_reconstruct(pairs), x);
  EXPECT_NE(pairs[0].first, x);  // no share is the secret itself
  pairs[1].second[3] ^= 1;       // inconsistent parties are detected
  EXPECT_THROW(client_reconstruct(pairs), std::runtime_error);
}

TEST(Runtime, PartyErrorIsReportedNotHung) {
  net::LinkOptions opt;
  opt.timeout = std::chrono::milliseconds(2000);
  try {
    run_parties([](Context& ctx) {
      if (ctx.id() == 1) throw std::runtime_error("boom");
      AShare<uint64_t> x(Shape{4});
      mul_aa(ctx, x, x);
    }, {}, opt);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("party 1 failed: boom"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace veil::mpc
