// f_reciprocal and f_rsqrt against double references over several decades.
#include "fxp_harness.h"
#include "veil/fxp/reciprocal.h"

namespace veil::fxp {
namespace {

using namespace testing;

template <class T> class FxpReciprocalTest : public ::testing::Test {};
using Rings = ::testing::Types<uint32_t, uint64_t>;
TYPED_TEST_SUITE(FxpReciprocalTest, Rings);

// Log-uniform samples on [lo, hi].
std::vector<double> log_uniform(size_t n, double lo, double hi, uint64_t seed) {
  auto u = uniform(n, std::log(lo), std::log(hi), seed);
  for (auto& v : u) v = std::exp(v);
  return u;
}

TYPED_TEST(FxpReciprocalTest, ReciprocalOverDecades) {
  using T = TypeParam;
  const int F = default_frac_bits<T>();
  const double ulp = std::ldexp(1.0, -F);
  // FM64: [1e−2, 1e4]; FM32 (8 fraction bits, ±2^23): [0.1, 1e3].
  const double lo = sizeof(T) == 8 ? 1e-2 : 0.1, hi = sizeof(T) == 8 ? 1e4 : 1e3;
  const double rel_tol = sizeof(T) == 8 ? 1e-3 : 2e-2;
  auto x = log_uniform(3000, lo, hi, 11);
  x.push_back(lo), x.push_back(hi), x.push_back(1.0), x.push_back(0.5), x.push_back(2.0);
  Measured m;
  auto y = run_fxp<T>({{x, {int64_t(x.size())}}}, [](Context& ctx, auto& xs) { return f_reciprocal(ctx, xs[0]); }, &m);
  double max_abs = 0, max_rel = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double ref = 1.0 / quantize<T>(x[i]), err = std::abs(y[i] - ref);
    max_abs = std::max(max_abs, err);
    if (ref >= 4e-3) max_rel = std::max(max_rel, err / ref);
    EXPECT_LE(err, std::max(rel_tol * ref, 2 * ulp)) << "x = " << x[i];
  }
  report("f_reciprocal", ring_name<T>(), sizeof(T) == 8 ? "[1e-2,1e4] (rel: 1/x>=4e-3)" : "[0.1,1e3]", x.size(), max_abs,
         max_rel, m);
}

TYPED_TEST(FxpReciprocalTest, RsqrtOverDecades) {
  using T = TypeParam;
  const int F = default_frac_bits<T>();
  const double ulp = std::ldexp(1.0, -F);
  const double lo = sizeof(T) == 8 ? 1e-2 : 0.1, hi = sizeof(T) == 8 ? 1e4 : 1e3;
  const double rel_tol = sizeof(T) == 8 ? 1e-3 : 2e-2;
  auto x = log_uniform(3000, lo, hi, 12);
  x.push_back(lo), x.push_back(hi), x.push_back(1.0), x.push_back(0.5), x.push_back(2.0);
  for (double scale : {1.0, std::sqrt(768.0)}) {
    Measured m;
    auto y = run_fxp<T>({{x, {int64_t(x.size())}}},
                        [scale](Context& ctx, auto& xs) { return f_rsqrt(ctx, xs[0], scale); }, &m);
    double max_abs = 0, max_rel = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double ref = scale / std::sqrt(quantize<T>(x[i])), err = std::abs(y[i] - ref);
      max_abs = std::max(max_abs, err);
      max_rel = std::max(max_rel, err / ref);
      EXPECT_LE(err, std::max(rel_tol * ref, 2 * ulp)) << "x = " << x[i] << " scale " << scale;
    }
    report(scale == 1.0 ? "f_rsqrt" : "f_rsqrt(s=27.7)", ring_name<T>(), sizeof(T) == 8 ? "[1e-2,1e4]" : "[0.1,1e3]",
           x.size(), max_abs, max_rel, m);
  }
}

}  // namespace
}  // namespace veil::fxp
