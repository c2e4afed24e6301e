// f_gelu, f_sigmoid and f_silu against their exact double definitions.
#include "fxp_harness.h"
#include "veil/fxp/gelu.h"
#include "veil/fxp/silu.h"

namespace veil::fxp {
namespace {

using namespace testing;

template <class T> class FxpActivationTest : public ::testing::Test {};
using Rings = ::testing::Types<uint32_t, uint64_t>;
TYPED_TEST_SUITE(FxpActivationTest, Rings);

double gelu_ref(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }
double sigmoid_ref(double x) { return 1 / (1 + std::exp(-x)); }

std::vector<double> grid(double lo, double hi, uint64_t seed) {
  auto x = linspace(2001, lo, hi);
  auto r = uniform(1000, lo, hi, seed);
  x.insert(x.end(), r.begin(), r.end());
  for (double b : {-4.0, -3.15, -1.95, 2.8, 3.0, 3.15})
    x.push_back(b), x.push_back(std::nextafter(b, -1e9)), x.push_back(b + 1e-3), x.push_back(b - 1e-2), x.push_back(b + 1e-2);
  return x;
}

TYPED_TEST(FxpActivationTest, GeluPiecewise) {
  using T = TypeParam;
  const double tol = sizeof(T) == 8 ? 0.005 : 0.012;  // target 0.015 (FM64)
  auto x = grid(-8, 8, 21);
  x.push_back(-100), x.push_back(100), x.push_back(sizeof(T) == 8 ? 1e6 : 1e4), x.push_back(sizeof(T) == 8 ? -1e6 : -1e4);
  Measured m;
  auto y = run_fxp<T>({{x, {int64_t(x.size())}}}, [](Context& ctx, auto& xs) { return f_gelu(ctx, xs[0]); }, &m);
  double max_abs = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double err = std::abs(y[i] - gelu_ref(quantize<T>(x[i])));
    max_abs = std::max(max_abs, err);
    EXPECT_LE(err, tol) << "x = " << x[i];
  }
  report("f_gelu", ring_name<T>(), "[-8,8] + far", x.size(), max_abs, 0, m);
}

TYPED_TEST(FxpActivationTest, SigmoidAndSilu) {
  using T = TypeParam;
  const double ulp = std::ldexp(1.0, -default_frac_bits<T>());
  const double lim = 16;
  auto x = grid(-lim, lim, 22);
  x.push_back(-200), x.push_back(200), x.push_back(0);
  Measured ms, mu;
  auto sg = run_fxp<T>({{x, {int64_t(x.size())}}}, [](Context& ctx, auto& xs) { return f_sigmoid(ctx, xs[0]); }, &ms);
  auto si = run_fxp<T>({{x, {int64_t(x.size())}}}, [](Context& ctx, auto& xs) { return f_silu(ctx, xs[0]); }, &mu);
  double es = 0, eu = 0, eu_rel = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double xq = quantize<T>(x[i]);
    const double e1 = std::abs(sg[i] - sigmoid_ref(xq)), e2 = std::abs(si[i] - xq * sigmoid_ref(xq));
    es = std::max(es, e1);
    eu = std::max(eu, e2);
    eu_rel = std::max(eu_rel, e2 / std::max(1.0, std::abs(xq)));
    // Stated: sigmoid within 5e−5 (FM64) / 3 ulp (FM32); SiLU within that times max(1, |x|) + 1 ulp.
    const double ts = sizeof(T) == 8 ? 5e-5 : 3 * ulp;
    EXPECT_LE(e1, ts) << "x = " << x[i];
    EXPECT_LE(e2, ts * std::max(1.0, std::abs(xq)) + ulp) << "x = " << x[i];
  }
  report("f_sigmoid", ring_name<T>(), "[-16,16] + far", x.size(), es, 0, ms);
  report("f_silu", ring_name<T>(), "[-16,16] + far (rel=/max(1,|x|))", x.size(), eu, eu_rel, mu);
}

}  // namespace
}  // namespace veil::fxp
