// Window comparisons (FM64 values on 32 bits or fewer, FM32 values on fewer): plaintext twin and
// declared cost.
#include "kernel_harness.h"
#include "veil/mpc/narrow.h"

namespace veil::mpc {
namespace {

using testing::expect_cost;
using testing::random_ring;
using testing::run_kernel;
using testing::run_kernel_b;

TEST(Narrow, LtzVia32MatchesPlaintextAwayFromZero) {
  const int64_t n = 5000;
  const int drop = 12;
  auto x = random_ring<uint64_t>(size_t(n), 41);
  for (auto& v : x) v = uint64_t(int64_t(v) >> (64 - 30 - drop));  // |x| < 2^(29 + drop)
  x[0] = uint64_t(int64_t(1) << (29 + drop)), x[1] = uint64_t(-(int64_t(1) << (29 + drop)));
  auto [out, m] = run_kernel<uint64_t>({Tensor<uint64_t>({n}, x)},
                                       [&](Context& ctx, auto& xs) { return ltz_a_via32(ctx, xs[0], drop); });
  for (size_t i = 0; i < size_t(n); ++i) {
    if (std::abs(int64_t(x[i])) <= (int64_t(1) << drop)) continue;  // the stated fuzzy band
    ASSERT_EQ(out[i], uint64_t(int64_t(x[i]) < 0)) << int64_t(x[i]);
  }
  expect_cost(m, cost_ltz_a_via32(n, drop));
}

TEST(Narrow, LtzVia32WithoutTruncationIsExactBelow2To31) {
  const int64_t n = 4000;
  auto x = random_ring<uint64_t>(size_t(n), 43);
  for (auto& v : x) v = uint64_t(int64_t(v) >> 33);  // |x| < 2^30
  x[0] = 0, x[1] = uint64_t(-1), x[2] = 1;
  auto [out, m] = run_kernel<uint64_t>({Tensor<uint64_t>({n}, x)},
                                       [](Context& ctx, auto& xs) { return ltz_a_via32(ctx, xs[0], 0); });
  for (size_t i = 0; i < size_t(n); ++i) ASSERT_EQ(out[i], uint64_t(int64_t(x[i]) < 0)) << int64_t(x[i]);
  expect_cost(m, cost_ltz_a_via32(n, 0));
}

// The window comparison: [x < 0] from bits [drop, drop + ell) of the components, outside the band
// [−2^drop, 2^drop), for values across the stated range.
TEST(Narrow, LtzWindowMatchesPlaintextOutsideTheBand) {
  for (auto [drop, ell] : std::vector<std::pair<int, int>>{{0, 64}, {0, 20}, {12, 32}, {12, 20}, {30, 34}, {6, 2}}) {
    const int64_t n = 3000;
    auto x = random_ring<uint64_t>(size_t(n), 44 + uint64_t(drop));
    const int top = drop + ell - 2;  // |x| < 2^(drop + ell − 2)
    for (auto& v : x) v = uint64_t(int64_t(v) >> (64 - top - 1));
    x[0] = 0, x[1] = uint64_t(-1), x[2] = uint64_t(int64_t(1) << drop), x[3] = uint64_t(-(int64_t(1) << drop) - 1);
    auto [got, m] = run_kernel_b<uint64_t>({Tensor<uint64_t>({n}, x)},
                                           [&](Context& ctx, auto& xs) { return ltz_window_b(ctx, xs[0], drop, ell); });
    for (size_t i = 0; i < size_t(n); ++i) {
      const int64_t v = int64_t(x[i]);
      if (drop > 0 && v >= -(int64_t(1) << drop) && v < (int64_t(1) << drop)) continue;  // the band
      ASSERT_EQ(got[i] & 1, uint64_t(v < 0)) << "drop " << drop << " ell " << ell << " x " << v;
    }
    expect_cost(m, cost_ltz_window_b(n, ell));
  }
}

// The FM32 window: bits [drop, 32) of the components, outside the band, up to the range's edges.
TEST(Narrow, LtzWindowOnFm32MatchesPlaintextOutsideTheBand) {
  for (int drop : {1, 6, 13, 30}) {
    const int64_t n = 3000;
    auto x = random_ring<uint32_t>(size_t(n), 77 + uint64_t(drop));
    for (auto& v : x) v = uint32_t(int32_t(v) >> 1);  // |x| < 2^30
    x[0] = 0, x[1] = uint32_t(-1), x[2] = uint32_t(1) << drop, x[3] = uint32_t(-(int32_t(1) << drop) - 1);
    x[4] = uint32_t((int64_t(1) << 31) - (int64_t(1) << drop) - 1);       // the stated range's edges
    x[5] = uint32_t(int32_t(-(int64_t(1) << 31) + (int64_t(1) << (drop + 1)) + 1));
    auto [got, m] = run_kernel_b<uint32_t>({Tensor<uint32_t>({n}, x)},
                                           [&](Context& ctx, auto& xs) { return ltz_window_b(ctx, xs[0], drop); });
    for (size_t i = 0; i < size_t(n); ++i) {
      const int64_t v = int32_t(x[i]);
      if (v >= -(int64_t(1) << drop) && v < (int64_t(1) << drop)) continue;  // the band
      ASSERT_EQ(got[i] & 1, uint32_t(v < 0)) << "drop " << drop << " x " << v;
    }
    expect_cost(m, cost_ltz_window32_b(n, drop));
  }
}

TEST(Narrow, EqVia32MatchesPlaintext) {
  const int64_t n = 3000;
  auto x = random_ring<uint64_t>(size_t(n), 42, (uint64_t(1) << 16) - 1);
  std::vector<uint64_t> c(static_cast<size_t>(n));
  for (size_t i = 0; i < c.size(); ++i) c[i] = i % 3 ? x[i] : (x[i] + 1) & 0xFFFF;
  auto [out, m] = run_kernel<uint64_t>({Tensor<uint64_t>({n}, x)},
                                       [&](Context& ctx, auto& xs) { return eq_ap_via32(ctx, xs[0], c); });
  for (size_t i = 0; i < size_t(n); ++i) ASSERT_EQ(out[i], uint64_t(i % 3 != 0));
  expect_cost(m, cost_eq_ap_via32(n));
}

}  // namespace
}  // namespace veil::mpc
