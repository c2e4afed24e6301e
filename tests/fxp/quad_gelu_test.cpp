// Quad GeLU (fxp/quad_gelu.h) on both rings: the plaintext twin over the stated range and at its
// edges, and the declared cost.
#include "fxp_harness.h"
#include "veil/fxp/quad_gelu.h"
#include "veil/mpc/dealt.h"

namespace veil::fxp {
namespace {

using testing::Input;
using testing::Measured;

template <class T> class QuadGeluTest : public ::testing::Test {};
using Rings = ::testing::Types<uint32_t, uint64_t>;
TYPED_TEST_SUITE(QuadGeluTest, Rings);

TYPED_TEST(QuadGeluTest, MatchesThePlaintextQuadraticWithinOneUlp) {
  using T = TypeParam;
  const int F = testing::default_frac_bits<T>();
  // The stated range: FM32 (−128, 126), FM64 |x| < 8190; its edges and a sweep inside it.
  const double lo = sizeof(T) == 4 ? -127.9 : -8189.0, hi = sizeof(T) == 4 ? 125.9 : 8189.0;
  std::vector<double> xs = testing::linspace(2001, -8, 8);
  for (double v : testing::uniform(2000, lo, hi, 7)) xs.push_back(v);
  for (double v : {lo, lo + 0.5, -2.0, -1.0, 0.0, 1.0, hi - 0.5, hi}) xs.push_back(v);
  Measured m;
  const std::vector<double> got = testing::run_fxp<T>(
      {Input{xs, {int64_t(xs.size())}}}, [](Context& ctx, auto& in) { return f_quad_gelu(ctx, in[0]); }, &m);
  double max_abs = 0, max_rel = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double x = testing::quantize<T>(xs[i]);
    const double want = 0.125 * x * x + 0.25 * x + 0.5;
    const double err = std::abs(got[i] - want);
    ASSERT_LE(err, std::ldexp(1.0, -F)) << "x " << x << " got " << got[i] << " want " << want;
    ASSERT_LE(std::abs(got[i] - quad_gelu_ref(x, F)), std::ldexp(1.0, -F)) << x;
    max_abs = std::max(max_abs, err), max_rel = std::max(max_rel, err / std::max(1.0, std::abs(want)));
  }
  const auto cost = cost_quad_gelu<T>(int64_t(xs.size()), F);
  EXPECT_EQ(m.rounds, cost.rounds);
  EXPECT_EQ(m.bytes_max, cost.bytes_max);
  EXPECT_EQ(m.bytes_total, cost.bytes_total);
  testing::report("quad_gelu", ring_name<T>(), "[lo, hi] of its range", xs.size(), max_abs, max_rel, m);
}

}  // namespace
}  // namespace veil::fxp
