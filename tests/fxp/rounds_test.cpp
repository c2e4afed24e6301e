// The round counts stated in the fxp headers, checked against the link's counters.
#include "fxp_harness.h"
#include "veil/fxp/exp.h"
#include "veil/fxp/fxp_mul.h"
#include "veil/fxp/gelu.h"
#include "veil/fxp/layernorm.h"
#include "veil/fxp/max.h"
#include "veil/fxp/reciprocal.h"
#include "veil/fxp/silu.h"
#include "veil/fxp/softmax.h"

namespace veil::fxp {
namespace {

using namespace testing;

template <class T> class FxpRoundsTest : public ::testing::Test {};
using Rings = ::testing::Types<uint32_t, uint64_t>;
TYPED_TEST_SUITE(FxpRoundsTest, Rings);

template <class T> int64_t rounds_of(const Shape& s, double lo, double hi,
                                     const std::function<AShare<T>(Context&, AShare<T>&)>& fn) {
  Measured m;
  run_raw<T>({{uniform(size_t(numel(s)), lo, hi, 1), s}}, [&](Context& ctx, auto& xs) { return fn(ctx, xs[0]); }, &m);
  return m.rounds;
}

TYPED_TEST(FxpRoundsTest, MatchTheHeaders) {
  using T = TypeParam;
  const bool w = sizeof(T) == 8;
  const Shape v{64}, rows{2, 128};
  EXPECT_EQ(rounds_of<T>(v, -3, 3, [](Context& c, AShare<T>& x) { return mul_ff(c, x, x); }), 3);
  EXPECT_EQ(rounds_of<T>(v, -14, 0, [](Context& c, AShare<T>& x) { return f_exp(c, x); }), w ? 26 : 28);
  EXPECT_EQ(rounds_of<T>(v, -8, 8, [](Context& c, AShare<T>& x) { return f_gelu(c, x); }), w ? 17 : 19);
  EXPECT_EQ(rounds_of<T>(v, 0.1, 100, [](Context& c, AShare<T>& x) { return f_reciprocal(c, x); }), w ? 33 : 31);
  EXPECT_EQ(rounds_of<T>(v, 0.1, 100, [](Context& c, AShare<T>& x) { return f_rsqrt(c, x); }), w ? 33 : 31);
  EXPECT_EQ(rounds_of<T>(v, -8, 8, [](Context& c, AShare<T>& x) { return f_sigmoid(c, x); }), w ? 53 : 54);
  EXPECT_EQ(rounds_of<T>(v, -8, 8, [](Context& c, AShare<T>& x) { return f_silu(c, x); }), w ? 56 : 57);
  EXPECT_EQ(rounds_of<T>(rows, -8, 8, [](Context& c, AShare<T>& x) { return max_last(c, x); }), w ? 70 : 63);
  EXPECT_EQ(rounds_of<T>(rows, -8, 8, [](Context& c, AShare<T>& x) { return f_softmax(c, x); }), w ? 125 : 125);
  EXPECT_EQ(rounds_of<T>(rows, -8, 8, [](Context& c, AShare<T>& x) {
              return f_layernorm(c, x, std::vector<double>(128, 1.0), std::vector<double>(128, 0.0), 1e-5);
            }), w ? 41 : 39);
}

}  // namespace
}  // namespace veil::fxp
