// f_softmax against a double softmax, with and without the causal mask.
#include "fxp_harness.h"
#include "veil/fxp/softmax.h"

namespace veil::fxp {
namespace {

using namespace testing;

template <class T> class FxpSoftmaxTest : public ::testing::Test {};
using Rings = ::testing::Types<uint32_t, uint64_t>;
TYPED_TEST_SUITE(FxpSoftmaxTest, Rings);

// Softmax of each row of (rows, n) on the quantized inputs; masked entries (mask false) are 0.
template <class T>
std::vector<double> softmax_ref(const std::vector<double>& x, int64_t rows, int64_t n, const std::vector<bool>& keep) {
  std::vector<double> out(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double mx = -1e300, s = 0;
    for (int64_t j = 0; j < n; ++j)
      if (keep[size_t(r * n + j)]) mx = std::max(mx, quantize<T>(x[size_t(r * n + j)]));
    for (int64_t j = 0; j < n; ++j) {
      const size_t e = size_t(r * n + j);
      out[e] = keep[e] ? std::exp(quantize<T>(x[e]) - mx) : 0;
      s += out[e];
    }
    for (int64_t j = 0; j < n; ++j) out[size_t(r * n + j)] /= s;
  }
  return out;
}

TYPED_TEST(FxpSoftmaxTest, Rows128) {
  using T = TypeParam;
  const int64_t rows = 24, n = 128;
  const double tol = sizeof(T) == 8 ? 2e-3 : 2e-2;
  auto x = uniform(size_t(rows * n), -20, 20, 31);
  Measured m;
  auto y = run_fxp<T>({{x, {rows, n}}}, [](Context& ctx, auto& xs) { return f_softmax(ctx, xs[0]); }, &m);
  auto ref = softmax_ref<T>(x, rows, n, std::vector<bool>(x.size(), true));
  double max_abs = 0;
  for (size_t i = 0; i < x.size(); ++i) max_abs = std::max(max_abs, std::abs(y[i] - ref[i]));
  EXPECT_LE(max_abs, tol);
  report("f_softmax", ring_name<T>(), "24 rows x 128 in [-20,20]", x.size(), max_abs, 0, m);
}

TYPED_TEST(FxpSoftmaxTest, CausalMaskZeroesTheFuture) {
  using T = TypeParam;
  const int64_t heads = 2, tq = 6, tk = 9;  // the 6 queries are the last 6 of 9 positions
  const double tol = sizeof(T) == 8 ? 2e-3 : 2e-2;
  auto x = uniform(size_t(heads * tq * tk), -8, 8, 32);
  std::vector<bool> keep(x.size());
  for (size_t e = 0; e < x.size(); ++e) {
    const int64_t j = int64_t(e) % tk, i = (int64_t(e) / tk) % tq;
    keep[e] = j <= i + (tk - tq);
    if (!keep[e]) x[e] = 1e3;  // the mask must win even against large scores
  }
  Measured m;
  auto y = run_fxp<T>({{x, {heads, tq, tk}}},
                      [](Context& ctx, auto& xs) { return f_softmax(ctx, xs[0], {.causal = true}); }, &m);
  auto ref = softmax_ref<T>(x, heads * tq, tk, keep);
  double max_abs = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!keep[i]) {
      EXPECT_EQ(y[i], 0.0) << "masked entry " << i;
    }
    max_abs = std::max(max_abs, std::abs(y[i] - ref[i]));
  }
  EXPECT_LE(max_abs, tol);
  report("f_softmax(causal)", ring_name<T>(), "2x6x9 in [-8,8]", x.size(), max_abs, 0, m);
}

}  // namespace
}  // namespace veil::fxp
