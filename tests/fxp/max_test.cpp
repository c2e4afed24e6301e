// max_last, argmax_last, topk_last and onehot: exact against plaintext.
#include <algorithm>
#include <numeric>

#include "fxp_harness.h"
#include "veil/mpc/layout.h"
#include "veil/fxp/max.h"
#include "veil/fxp/onehot.h"

namespace veil::fxp {
namespace {

using namespace testing;

template <class T> class FxpMaxTest : public ::testing::Test {};
using Rings = ::testing::Types<uint32_t, uint64_t>;
TYPED_TEST_SUITE(FxpMaxTest, Rings);

// rows × n distinct values (a shuffled grid) in [−lim, lim].
std::vector<double> distinct_rows(int64_t rows, int64_t n, double lim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> out;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> v(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) v[size_t(j)] = -lim + 2 * lim * double(j) / double(n) + 0.01 * double(r % 7);
    std::shuffle(v.begin(), v.end(), rng);
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

TYPED_TEST(FxpMaxTest, MaxAndArgmaxExactOnOddAndEvenRows) {
  using T = TypeParam;
  for (int64_t n : {1, 2, 7, 128, 100}) {
    const int64_t rows = 16;
    auto x = distinct_rows(rows, n, 20, uint64_t(n));
    Measured mm, ma;
    auto mx = run_fxp<T>({{x, {rows, n}}}, [](Context& ctx, auto& xs) { return max_last(ctx, xs[0]); }, &mm);
    auto am = run_raw<T>({{x, {rows, n}}}, [](Context& ctx, auto& xs) {
      auto [v, i] = argmax_last(ctx, xs[0]);
      return mpc::concat<T>({&v, &i});
    }, &ma);
    for (int64_t r = 0; r < rows; ++r) {
      auto b = x.begin() + r * n;
      const int64_t arg = std::max_element(b, b + n) - b;
      EXPECT_EQ(mx[size_t(r)], quantize<T>(b[arg])) << "n " << n << " row " << r;
      EXPECT_EQ(fxp_decode<T>(am[size_t(r)], default_frac_bits<T>()), quantize<T>(b[arg]));
      EXPECT_EQ(int64_t(am[size_t(rows + r)]), arg) << "n " << n << " row " << r;
    }
    if (n == 128) {
      report("max_last", ring_name<T>(), "16 rows x 128", size_t(rows * n), 0, 0, mm);
      report("argmax_last", ring_name<T>(), "16 rows x 128", size_t(rows * n), 0, 0, ma);
    }
  }
}

TYPED_TEST(FxpMaxTest, ArgmaxTiesKeepTheFirst) {
  using T = TypeParam;
  std::vector<double> x = {1, 3, 3, 5, 5, 5, 2, 2, -1};
  auto am = run_raw<T>({{x, {3, 3}}}, [](Context& ctx, auto& xs) { return argmax_last(ctx, xs[0]).second; });
  EXPECT_EQ(am, (std::vector<T>{1, 0, 0}));
}

TYPED_TEST(FxpMaxTest, TopkDescending) {
  using T = TypeParam;
  const int64_t rows = 8, n = 37;
  const int k = 4;
  auto x = distinct_rows(rows, n, 50, 5);
  Measured m;
  auto out = run_raw<T>({{x, {rows, n}}}, [](Context& ctx, auto& xs) {
    auto [v, i] = topk_last(ctx, xs[0], k);
    return mpc::concat<T>({&v, &i});
  }, &m);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    auto b = x.begin() + r * n;
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t c) { return b[a] > b[c]; });
    for (int j = 0; j < k; ++j) {
      EXPECT_EQ(fxp_decode<T>(out[size_t(r * k + j)], default_frac_bits<T>()), quantize<T>(b[order[size_t(j)]]));
      EXPECT_EQ(int64_t(out[size_t(rows * k + r * k + j)]), order[size_t(j)]) << "row " << r << " rank " << j;
    }
  }
  report("topk_last(k=4)", ring_name<T>(), "8 rows x 37", size_t(rows * n), 0, 0, m);
}

TYPED_TEST(FxpMaxTest, OnehotExact) {
  using T = TypeParam;
  const int64_t V = 50;
  std::vector<double> idx = {0, 1, 49, 25, 7, 50, -1, 13};  // 50 and −1 are out of range: all zeros
  Measured m;
  auto out = run_raw<T>({{idx, {2, 4}, true}}, [](Context& ctx, auto& xs) { return onehot(ctx, xs[0], V); }, &m);
  ASSERT_EQ(out.size(), idx.size() * size_t(V));
  for (size_t i = 0; i < idx.size(); ++i)
    for (int64_t v = 0; v < V; ++v) EXPECT_EQ(out[i * size_t(V) + size_t(v)], T(int64_t(idx[i]) == v ? 1 : 0));
  report("onehot(V=50)", ring_name<T>(), "8 indices", idx.size(), 0, 0, m);
}

}  // namespace
}  // namespace veil::fxp
