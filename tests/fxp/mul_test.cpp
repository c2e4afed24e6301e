// mul_ff, square_f, mul_fp against double products.
#include "fxp_harness.h"
#include "veil/fxp/fxp_mul.h"
#include "veil/mpc/layout.h"

namespace veil::fxp {
namespace {

using namespace testing;

template <class T> class FxpMulTest : public ::testing::Test {};
using Rings = ::testing::Types<uint32_t, uint64_t>;
TYPED_TEST_SUITE(FxpMulTest, Rings);

TYPED_TEST(FxpMulTest, ProductsWithinOneUlp) {
  using T = TypeParam;
  const int F = default_frac_bits<T>();
  const double lim = sizeof(T) == 8 ? 1000.0 : 60.0;  // |x·y| within the stated range
  const size_t n = 2000;
  auto x = uniform(n, -lim, lim, 1), y = uniform(n, -lim, lim, 2);
  const Shape s{int64_t(n)};
  Measured m;
  auto out = run_fxp<T>({{x, s}, {y, s}}, [](Context& ctx, auto& xs) {
    AShare<T> a = mul_ff(ctx, xs[0], xs[1]);
    AShare<T> b = square_f(ctx, xs[0]);
    AShare<T> c = mul_fp(ctx, xs[0], -0.3);
    AShare<T> d = mul_fp(ctx, xs[0], 0.1234567, default_frac_bits<T>() + 8);
    return mpc::concat<T>({&a, &b, &c, &d});
  }, &m);
  const double ulp = std::ldexp(1.0, -F);
  double ea = 0, eb = 0, ec = 0, ed = 0;
  const double c_enc = quantize<T>(-0.3), d_enc = std::ldexp(std::round(std::ldexp(0.1234567, F + 8)), -(F + 8));
  for (size_t i = 0; i < n; ++i) {
    double xq = quantize<T>(x[i]), yq = quantize<T>(y[i]);
    ea = std::max(ea, std::abs(out[i] - xq * yq));
    eb = std::max(eb, std::abs(out[n + i] - xq * xq));
    ec = std::max(ec, std::abs(out[2 * n + i] - xq * c_enc));
    ed = std::max(ed, std::abs(out[3 * n + i] - xq * d_enc));
  }
  EXPECT_LE(ea, ulp);
  EXPECT_LE(eb, ulp);
  EXPECT_LE(ec, ulp);
  EXPECT_LE(ed, ulp);
  report("mul_ff", ring_name<T>(), "+square_f+2 mul_fp (rounds)", n, ea, 0, m);
}

}  // namespace
}  // namespace veil::fxp
