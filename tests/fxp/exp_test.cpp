// f_exp against std::exp on [−14, 0] and its clip below −14.
#include "fxp_harness.h"
#include "veil/fxp/exp.h"
#include "veil/mpc/cost.h"
#include "veil/mpc/narrow.h"

namespace veil::fxp {
namespace {

using namespace testing;

template <class T> class FxpExpTest : public ::testing::Test {};
using Rings = ::testing::Types<uint32_t, uint64_t>;
TYPED_TEST_SUITE(FxpExpTest, Rings);

TYPED_TEST(FxpExpTest, AccurateOnMinus14To0) {
  using T = TypeParam;
  const int F = default_frac_bits<T>();
  const double ulp = std::ldexp(1.0, -F);
  std::vector<double> x = linspace(3000, -14.0, 0.0);
  auto extra = uniform(1000, -14.0, 0.0, 7);
  x.insert(x.end(), extra.begin(), extra.end());
  Measured m;
  auto y = run_fxp<T>({{x, {int64_t(x.size())}}}, [](Context& ctx, auto& xs) { return f_exp(ctx, xs[0]); }, &m);
  double max_abs = 0, max_rel = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double ref = std::exp(quantize<T>(x[i])), err = std::abs(y[i] - ref);
    max_abs = std::max(max_abs, err);
    if (ref >= 4e-3) max_rel = std::max(max_rel, err / ref);
    if (sizeof(T) == 8) {
      if (ref >= 4e-3) {
        EXPECT_LE(err / ref, 1e-3) << "x = " << x[i];
      }
      EXPECT_LE(err, 4 * ulp) << "x = " << x[i];
    } else {
      EXPECT_LE(err, 3 * ulp) << "x = " << x[i];
    }
  }
  report("f_exp", ring_name<T>(), "[-14,0] (rel: e^x>=4e-3)", x.size(), max_abs, max_rel, m);
}

TYPED_TEST(FxpExpTest, ClipsBelowMinus14) {
  using T = TypeParam;
  std::vector<double> x = {-14.01, -15, -20, -100, -1000, sizeof(T) == 8 ? -1e6 : -3e4};
  auto y = run_fxp<T>({{x, {int64_t(x.size())}}}, [](Context& ctx, auto& xs) { return f_exp(ctx, xs[0]); });
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], 0.0) << "x = " << x[i];
}

// A caller's tighter input range (|x| < 2^11) narrows the FM64 clip window: the same values and
// clip across that range, for fewer bytes than the default window.
TEST(FxpExpRange, NarrowClipWindowGivesTheSameValues) {
  using T = uint64_t;
  std::vector<double> x = linspace(2000, -14.0, 0.0);
  for (double v : {-14.01, -15.0, -100.0, -1000.0, -2047.0}) x.push_back(v);
  Measured wide, narrow;
  auto y24 = run_fxp<T>({{x, {int64_t(x.size())}}}, [](Context& ctx, auto& xs) { return f_exp(ctx, xs[0]); }, &wide);
  auto y11 = run_fxp<T>({{x, {int64_t(x.size())}}}, [](Context& ctx, auto& xs) { return f_exp(ctx, xs[0], 11); }, &narrow);
  const double ulp = std::ldexp(1.0, -default_frac_bits<T>());
  for (size_t i = 0; i < x.size(); ++i) {
    const double ref = x[i] < -14 ? 0.0 : std::exp(quantize<T>(x[i]));
    EXPECT_LE(std::abs(y11[i] - ref), 4 * ulp) << "x = " << x[i];
    EXPECT_LE(std::abs(y11[i] - y24[i]), 4 * ulp) << "x = " << x[i];
  }
  // The only difference is the clip test's window: 19 bits instead of 32.
  const int64_t n = int64_t(x.size());
  EXPECT_EQ(wide.bytes_total - narrow.bytes_total,
            mpc::cost_ltz_window_b(n, 32).bytes_total - mpc::cost_ltz_window_b(n, 19).bytes_total);
  EXPECT_LT(narrow.bytes_total, wide.bytes_total);
}

}  // namespace
}  // namespace veil::fxp
