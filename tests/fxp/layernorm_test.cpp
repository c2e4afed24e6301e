// f_layernorm against a double LayerNorm, with shared and with public gamma/beta, and f_layernorm_wide.
#include "fxp_harness.h"
#include "veil/fxp/layernorm.h"
#include "veil/mpc/arithmetic.h"
#include "veil/mpc/dealt.h"

namespace veil::fxp {
namespace {

using namespace testing;

template <class T> class FxpLayerNormTest : public ::testing::Test {};
using Rings = ::testing::Types<uint32_t, uint64_t>;
TYPED_TEST_SUITE(FxpLayerNormTest, Rings);

template <class T>
std::vector<double> layernorm_ref(const std::vector<double>& x, int64_t C, const std::vector<double>& g,
                                  const std::vector<double>& b, double eps) {
  std::vector<double> out(x.size());
  for (size_t r = 0; r < x.size() / size_t(C); ++r) {
    double mu = 0, var = 0;
    for (int64_t j = 0; j < C; ++j) mu += quantize<T>(x[r * size_t(C) + size_t(j)]);
    mu /= double(C);
    for (int64_t j = 0; j < C; ++j) var += std::pow(quantize<T>(x[r * size_t(C) + size_t(j)]) - mu, 2);
    var /= double(C);
    for (int64_t j = 0; j < C; ++j) {
      const size_t e = r * size_t(C) + size_t(j);
      out[e] = (quantize<T>(x[e]) - mu) / std::sqrt(var + eps) * quantize<T>(g[size_t(j)]) + quantize<T>(b[size_t(j)]);
    }
  }
  return out;
}

// Rows with variance spread log-uniformly over [vlo, vhi] and a per-row offset.
std::vector<double> rows_with_variance(int64_t rows, int64_t C, double vlo, double vhi, double offset, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd;
  std::vector<double> x;
  for (int64_t r = 0; r < rows; ++r) {
    const double var = std::exp(std::log(vlo) + (std::log(vhi) - std::log(vlo)) * double(r) / double(rows - 1));
    const double mu = offset * nd(rng);
    for (int64_t j = 0; j < C; ++j) x.push_back(mu + std::sqrt(var) * nd(rng));
  }
  return x;
}

TYPED_TEST(FxpLayerNormTest, Rows768SharedAndPublicAffine) {
  using T = TypeParam;
  // FM64: rows of 768, σ² in [1e−2, 1e2]. FM32 (8 fraction bits): rows of 64, σ² in [0.5, 50].
  const bool w = sizeof(T) == 8;
  const int64_t rows = w ? 6 : 12, C = w ? 768 : 64;
  const double tol = w ? 1e-2 : 0.15, eps = 1e-5;
  auto x = rows_with_variance(rows, C, w ? 1e-2 : 0.5, w ? 1e2 : 50, w ? 3.0 : 1.0, 41);
  auto g = uniform(size_t(C), 0.5, 1.5, 42), b = uniform(size_t(C), -0.5, 0.5, 43);
  auto ref = layernorm_ref<T>(x, C, g, b, eps);
  Measured ms, mp;
  auto ys = run_fxp<T>({{x, {rows, C}}, {g, {C}}, {b, {C}}},
                       [eps](Context& ctx, auto& xs) { return f_layernorm(ctx, xs[0], xs[1], xs[2], eps); }, &ms);
  auto yp = run_fxp<T>({{x, {rows, C}}},
                       [&](Context& ctx, auto& xs) { return f_layernorm(ctx, xs[0], g, b, eps); }, &mp);
  // f_layernorm_wide: the same values at 2F fraction bits (decoded at F here, so scaled by 2^F).
  Measured mw;
  auto yw = run_fxp<T>({{x, {rows, C}}, {g, {C}}, {b, {C}}},
                       [eps](Context& ctx, auto& xs) { return f_layernorm_wide(ctx, xs[0], xs[1], xs[2], eps); }, &mw);
  const int F = w ? 18 : 8;
  double es = 0, ep = 0, ew = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    es = std::max(es, std::abs(ys[i] - ref[i]));
    ep = std::max(ep, std::abs(yp[i] - ref[i]));
    ew = std::max(ew, std::abs(std::ldexp(yw[i], -F) - ref[i]));
  }
  EXPECT_LE(es, tol);
  EXPECT_LE(ep, tol);
  EXPECT_LE(ew, tol);
  // The wide form's last product is mul_aa instead of mul_ff: 2 rounds and a truncation fewer.
  EXPECT_EQ(mw.rounds, ms.rounds - 2);
  EXPECT_EQ(ms.bytes_total - mw.bytes_total, mpc::cost_mul_aa_trunc<T>(int64_t(x.size()), F).bytes_total -
                                                 mpc::cost_mul_aa<T>(int64_t(x.size())).bytes_total);
  report("f_layernorm", ring_name<T>(), w ? "6x768 var[1e-2,1e2] shared g,b" : "12x64 var[0.5,50] shared", x.size(), es, 0, ms);
  report("f_layernorm", ring_name<T>(), w ? "6x768 var[1e-2,1e2] public g,b" : "12x64 var[0.5,50] public", x.size(), ep, 0, mp);
  report("f_layernorm_wide", ring_name<T>(), w ? "6x768 var[1e-2,1e2] shared g,b" : "12x64 var[0.5,50] shared", x.size(), ew, 0, mw);
}

}  // namespace
}  // namespace veil::fxp
