// Ring casts (ring_cast.h): plaintext twins at the edges of each stated range and just inside,
// and the measured traffic against the declared cost.
#include <cmath>
#include <cstdio>

#include "kernel_harness.h"
#include "veil/mpc/ring_cast.h"

namespace veil::mpc {
namespace {

using testing::expect_cost;
using testing::Measured;

// Shares `x` (party 1's input) on ring In, runs `cast`, reveals the result on ring Out; the
// cast's own traffic is measured.
template <class In, class Out>
std::pair<std::vector<Out>, Measured> run_cast(const std::vector<In>& x,
                                               const std::function<AShare<Out>(Context&, const AShare<In>&)>& cast) {
  std::vector<Out> out;
  std::array<net::Traffic, 3> delta;
  const Shape shape{int64_t(x.size())};
  run_parties([&](Context& ctx) {
    AShare<In> xs = share_input(ctx, 1, Tensor<In>(shape, x), shape);
    sync_parties(ctx);
    const net::Traffic before = ctx.link().total();
    AShare<Out> y = cast(ctx, xs);
    delta[size_t(ctx.id())] = ctx.link().total() - before;
    EXPECT_EQ(y.shape, shape);
    Tensor<Out> r = reveal_all(ctx, y);
    if (ctx.id() == 0) out = r.data;
  });
  Measured m;
  for (const auto& d : delta) {
    m.rounds = std::max<int64_t>(m.rounds, int64_t(d.rounds));
    m.bytes_max = std::max<int64_t>(m.bytes_max, int64_t(d.bytes));
    m.bytes_total += int64_t(d.bytes);
  }
  return {out, m};
}

// `edges` repeated `times` times (each copy meets other randomness), then `random` values drawn
// uniformly from [lo, hi].
template <class S>
std::vector<S> edges_and_random(const std::vector<S>& edges, int times, size_t random, S lo, S hi, uint64_t seed) {
  std::vector<S> v;
  for (int t = 0; t < times; ++t) v.insert(v.end(), edges.begin(), edges.end());
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<S> dist(lo, hi);
  for (size_t i = 0; i < random; ++i) v.push_back(dist(rng));
  return v;
}

int64_t floor_shift(int64_t x, int d) { return x >> d; }  // arithmetic shift: ⌊x/2^d⌋

// ---- upcast_a: exact on [−2^30, 2^30)

TEST(RingCastTest, UpcastIsExactAtTheEdgesOfItsRange) {
  const int32_t lim = int32_t(1) << 30;
  const std::vector<int32_t> edges = {-lim, -lim + 1, -lim + 2, -1, 0, 1, lim - 3, lim - 2, lim - 1};
  // 400 copies of each edge: the components' top bits and carries take every combination.
  const std::vector<int32_t> xs = edges_and_random<int32_t>(edges, 400, 5000, -lim, lim - 1, 1);
  std::vector<uint32_t> x(xs.begin(), xs.end());
  for (int shift : {0, 1, 10, 31, 32}) {
    auto [out, m] = run_cast<uint32_t, uint64_t>(x, [shift](Context& ctx, const AShare<uint32_t>& a) {
      return upcast_a(ctx, a, shift);
    });
    ASSERT_EQ(out.size(), x.size());
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_EQ(int64_t(out[i]), int64_t(uint64_t(int64_t(xs[i])) << shift)) << "x " << xs[i] << " shift " << shift << " i " << i;
    expect_cost(m, cost_upcast_a(int64_t(x.size()), shift));
  }
}

TEST(RingCastTest, UpcastCostIsTwoRoundsAndThreeWordsOfTheNeededBitsPerElement) {
  for (int64_t n : {1, 2, 3, 4, 1000, 1001}) {
    std::vector<uint32_t> x(size_t(n), 7);
    for (int shift : {0, 10, 32}) {
      auto [out, m] = run_cast<uint32_t, uint64_t>(x, [shift](Context& ctx, const AShare<uint32_t>& a) {
        return upcast_a(ctx, a, shift);
      });
      for (uint64_t v : out) ASSERT_EQ(v, uint64_t(7) << shift);
      expect_cost(m, cost_upcast_a(n, shift));
      const int ell = 32 - shift;
      EXPECT_EQ(m.rounds, ell > 0 ? 2 : 0);
      // 3ℓ + 1 bits per element, rounded up to whole bytes per message (at most 3 messages a party).
      EXPECT_GE(m.bytes_total * 8, n * (3 * ell + 1) - (ell == 0 ? n : 0));
      EXPECT_LE(m.bytes_total * 8, n * (3 * ell + 1) + 9 * 8);
    }
  }
  EXPECT_EQ(cost_upcast_a(3000, 10).bytes_total, 3000 * 67 / 8);  // 8.4 bytes per element
  auto [out, m] = run_cast<uint32_t, uint64_t>({}, [](Context& ctx, const AShare<uint32_t>& a) { return upcast_a(ctx, a, 0); });
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(m.bytes_total, 0);
}

// ---- upcast_trunc_a: within one ulp of the rounding, unbiased, on x + 2^(d−1) ∈ [−2^30, 2^30)

TEST(RingCastTest, UpcastTruncIsWithinOneUlpOfTheRoundingAtTheEdges) {
  for (int d : {1, 8, 18, 30}) {
    const int64_t half = int64_t(1) << (d - 1), lim = int64_t(1) << 30;
    const int64_t lo = -lim - half, hi = lim - half - 1;  // x + 2^(d−1) ∈ [−2^30, 2^30)
    const std::vector<int64_t> edges = {lo, lo + 1, lo + 2, -1, 0, 1, hi - 2, hi - 1, hi};
    std::vector<int64_t> xs;
    for (int t = 0; t < 300; ++t) xs.insert(xs.end(), edges.begin(), edges.end());
    std::mt19937_64 rng(uint64_t(d) + 17);
    std::uniform_int_distribution<int64_t> dist(lo, hi);
    for (int i = 0; i < 6000; ++i) xs.push_back(dist(rng));
    std::vector<uint32_t> x;
    for (int64_t v : xs) x.push_back(uint32_t(v));
    auto [out, m] = run_cast<uint32_t, uint64_t>(x, [d](Context& ctx, const AShare<uint32_t>& a) { return upcast_trunc_a(ctx, a, d); });
    ASSERT_EQ(out.size(), x.size());
    double bias = 0, worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const int64_t y = int64_t(out[i]);
      const int64_t diff = y - floor_shift(xs[i] + half, d);  // vs round half up
      ASSERT_TRUE(diff >= -1 && diff <= 1) << "d " << d << " x " << xs[i] << " y " << y;
      const double err = double(y) - std::ldexp(double(xs[i]), -d);
      bias += err / double(x.size()), worst = std::max(worst, std::abs(err));
    }
    std::printf("[ring_cast] upcast_trunc_a d=%d: mean error %+.4f ulp, max %.3f\n", d, bias, worst);
    if (d >= 8) EXPECT_LT(std::abs(bias), 0.05);
    EXPECT_LE(worst, 1.5);
    expect_cost(m, cost_upcast_trunc_a(int64_t(x.size()), d));
    EXPECT_EQ(m.rounds, 2);
  }
}

TEST(RingCastTest, UpcastTruncRejectsABadShift) {
  for (int d : {0, 31}) {
    auto bad = [d](Context& ctx, const AShare<uint32_t>& a) { return upcast_trunc_a(ctx, a, d); };
    EXPECT_THROW((run_cast<uint32_t, uint64_t>({1}, bad)), std::runtime_error);
  }
}

TEST(RingCastTest, UpcastOutsideItsRangeCanWrap) {
  // Documented failure mode: 2^31 − 1 (far outside [−2^30, 2^30)) comes out as 2^31 − 1 − 2^32
  // when the components' top bits misread the last carry: about half the time.
  const int32_t big = int32_t((uint32_t(1) << 31) - 1);
  std::vector<uint32_t> x(3000, uint32_t(big));
  auto [out, m] = run_cast<uint32_t, uint64_t>(x, [](Context& ctx, const AShare<uint32_t>& a) { return upcast_a(ctx, a, 0); });
  size_t wrong = 0;
  for (uint64_t v : out) {
    ASSERT_TRUE(int64_t(v) == big || int64_t(v) == int64_t(big) - (int64_t(1) << 32)) << int64_t(v);
    wrong += int64_t(v) != big;
  }
  EXPECT_GT(wrong, 0u);
  EXPECT_LT(wrong, x.size());
}

TEST(RingCastTest, UpcastRejectsABadShift) {
  auto bad_shift = [](Context& ctx, const AShare<uint32_t>& a) { return upcast_a(ctx, a, 33); };
  EXPECT_THROW((run_cast<uint32_t, uint64_t>({1}, bad_shift)), std::runtime_error);
}

// ---- downcast_a (trunc_a then reduce) and downcast_local_a (free)

// FM64 values whose ⌊x/2^d⌋ lies in [lo, hi] (the FM32 output range of the cast).
std::vector<int64_t> downcast_inputs(int d, int64_t lo, int64_t hi, uint64_t seed) {
  std::vector<int64_t> q = {lo, lo + 1, -1, 0, 1, hi - 1, hi};
  std::vector<int64_t> xs;
  for (int t = 0; t < 200; ++t)
    for (int64_t v : q)
      for (int64_t low : {int64_t(0), int64_t(1), (int64_t(1) << d) - 1})  // every fractional edge
        xs.push_back(v * (int64_t(1) << d) + (d > 0 ? low : 0));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> dist(lo * (int64_t(1) << d), hi * (int64_t(1) << d));
  for (int i = 0; i < 4000; ++i) xs.push_back(dist(rng));
  return xs;
}

TEST(RingCastTest, DowncastTruncatesWithinOneUlpAtTheEdges) {
  const int64_t lo = -(int64_t(1) << 31), hi = (int64_t(1) << 31) - 2;  // ⌊x/2^d⌋ + e must fit int32
  for (int d : {0, 10, 18, 30}) {
    const std::vector<int64_t> xs = downcast_inputs(d, lo, hi, uint64_t(d) + 3);
    std::vector<uint64_t> x(xs.begin(), xs.end());
    auto [out, m] = run_cast<uint64_t, uint32_t>(x, [d](Context& ctx, const AShare<uint64_t>& a) { return downcast_a(ctx, a, d); });
    for (size_t i = 0; i < x.size(); ++i) {
      const int64_t diff = int64_t(int32_t(out[i])) - floor_shift(xs[i], d);
      if (d == 0) ASSERT_EQ(diff, 0) << xs[i];
      else ASSERT_TRUE(diff == 0 || diff == 1) << "d " << d << " x " << xs[i] << " diff " << diff;
    }
    expect_cost(m, cost_downcast_a(int64_t(x.size()), d));
  }
}

TEST(RingCastTest, LocalDowncastIsFreeUnbiasedAndWithinOneUlpOfTheRounding) {
  const int64_t lo = -(int64_t(1) << 31) + 1, hi = (int64_t(1) << 31) - 3;
  for (int d : {0, 1, 10, 18, 28, 32}) {
    const std::vector<int64_t> xs = downcast_inputs(d, lo, hi, uint64_t(d) + 11);
    std::vector<uint64_t> x(xs.begin(), xs.end());
    auto [out, m] = run_cast<uint64_t, uint32_t>(x, [d](Context& ctx, const AShare<uint64_t>& a) { return downcast_local_a(ctx, a, d); });
    int64_t counts[3] = {0, 0, 0};
    double bias = 0, worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const int64_t y = int64_t(int32_t(out[i]));
      const int64_t diff = d == 0 ? y - xs[i] : y - floor_shift(xs[i] + (int64_t(1) << (d - 1)), d);  // vs round half up
      if (d == 0) ASSERT_EQ(diff, 0) << xs[i];
      else ASSERT_TRUE(diff >= -1 && diff <= 1) << "d " << d << " x " << xs[i] << " diff " << diff;
      counts[diff + 1]++;
      const double err = double(y) - std::ldexp(double(xs[i]), -d);
      bias += err / double(x.size()), worst = std::max(worst, std::abs(err));
    }
    if (d >= 10) {
      std::printf("[ring_cast] downcast_local_a d=%d: round-1 %lld, round %lld, round+1 %lld of %zu; mean error %+.4f ulp, max %.3f\n",
                  d, (long long)counts[0], (long long)counts[1], (long long)counts[2], x.size(), bias, worst);
      EXPECT_LT(std::abs(bias), 0.05);
      EXPECT_LE(worst, 1.5);
    }
    expect_cost(m, cost_downcast_local_a(int64_t(x.size()), d));
    EXPECT_EQ(m.bytes_total, 0);
    EXPECT_EQ(m.rounds, 0);
  }
}

TEST(RingCastTest, DowncastThenUpcastRoundTrips) {
  // FM64 at 18 fraction bits -> FM32 at 8 (free) -> FM64 at 18 (shift 10 fused): within 2^(10+1).
  std::vector<int64_t> xs;
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int64_t> dist(-(int64_t(1) << 39), int64_t(1) << 39);  // |x| ≤ 2^21 at F = 18
  for (int i = 0; i < 3000; ++i) xs.push_back(dist(rng));
  std::vector<uint64_t> x(xs.begin(), xs.end());
  auto [out, m] = run_cast<uint64_t, uint64_t>(x, [](Context& ctx, const AShare<uint64_t>& a) {
    return upcast_a(ctx, downcast_local_a(ctx, a, 10), 10);
  });
  for (size_t i = 0; i < x.size(); ++i) ASSERT_LE(std::abs(int64_t(out[i]) - xs[i]), int64_t(1) << 11) << xs[i];
  expect_cost(m, cost_upcast_a(int64_t(x.size()), 10));
}

// The fused forms against the kernels they replace (declared costs, which the tests above hold
// to the link's counters).
TEST(RingCastTest, FusedFormsSaveRoundsAndBytes) {
  const int64_t n = 3000;
  auto line = [n](const char* what, const Cost& c) {
    std::printf("[ring_cast] %-52s %2lld rounds, %6.2f B/element busiest party, %6.2f all parties\n", what,
                (long long)c.rounds, double(c.bytes_max) / double(n), double(c.bytes_total) / double(n));
  };
  line("upcast_a shift 10 (shift fused)", cost_upcast_a(n, 10));
  line("downcast_a d=10 (Ditto: trunc_a, then mod 2^32)", cost_downcast_a(n, 10));
  line("downcast_local_a d=10 (truncation fused)", cost_downcast_local_a(n, 10));
  // An FM64 product at 36 fraction bits going to FM32 at 8 (attention output -> linear).
  const Cost trunc_then_down = cost_trunc_a<uint64_t>(n, 18) + cost_downcast_a(n, 10);
  line("FM64/36 -> FM32/8: trunc_a 18, then downcast_a 10", trunc_then_down);
  line("FM64/36 -> FM32/8: downcast_local_a 28", cost_downcast_local_a(n, 28));
  // An FM32 product at 16 fraction bits going to FM64 at 18 (query/key/value -> attention).
  const Cost trunc_then_up = cost_trunc_a<uint32_t>(n, 8) + cost_upcast_a(n, 10);
  line("FM32/16 -> FM64/18: trunc_a 8, then upcast_a shift 10", trunc_then_up);
  line("FM32/16 -> FM64/18: upcast_a shift 2", cost_upcast_a(n, 2));
  EXPECT_LT(cost_upcast_a(n, 2).rounds, trunc_then_up.rounds);
  EXPECT_LT(cost_upcast_a(n, 2).bytes_total, trunc_then_up.bytes_total);
  // An FM32 product at 26 fraction bits going to FM64 at 18 (query/key/value with 18-bit weights).
  const Cost trunc_then_up0 = cost_trunc_a<uint32_t>(n, 8) + cost_upcast_a(n, 0);
  line("FM32/26 -> FM64/18: trunc_a 8, then upcast_a", trunc_then_up0);
  line("FM32/26 -> FM64/18: upcast_trunc_a 8", cost_upcast_trunc_a(n, 8));
  EXPECT_LT(cost_upcast_trunc_a(n, 8).rounds, trunc_then_up0.rounds);
  EXPECT_LT(cost_upcast_trunc_a(n, 8).bytes_total, trunc_then_up0.bytes_total);
  EXPECT_LT(cost_downcast_local_a(n, 28).rounds, trunc_then_down.rounds);
}

}  // namespace
}  // namespace veil::mpc
