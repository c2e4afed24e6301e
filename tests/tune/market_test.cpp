// Market replay: real AWS spot prices and SkyPilot traces load; billing rules; revocation
// estimation from traces; replay offsets are repeatable.
#include <gtest/gtest.h>

#include <cmath>

#include "tune/tune_test_util.h"
#include "veil/tune/billing.h"
#include "veil/tune/market.h"

using namespace veil::tune;

TEST(TuneBilling, PerSecondHasSixtySecondMinimum) {
  BillingRule r;  // per-second, 60 s minimum
  PriceFn p = PriceFn::constant(3.6);  // one tenth of a cent per second
  EXPECT_NEAR(lease_cost(r, p, 0, 10, false), 0.06, 1e-12);
  EXPECT_NEAR(lease_cost(r, p, 0, 10, true), 0.06, 1e-12);
  EXPECT_NEAR(lease_cost(r, p, 100, 400.2, false), 0.301, 1e-12);  // started seconds are charged
}

TEST(TuneBilling, HourlyRevokedPartialHourIsFree) {
  BillingRule r = parse_billing("hourly");
  PriceFn p = PriceFn::constant(2.0);
  EXPECT_DOUBLE_EQ(lease_cost(r, p, 0, 2.5 * 3600, false), 6.0);  // user stops: 3 started hours
  EXPECT_DOUBLE_EQ(lease_cost(r, p, 0, 2.5 * 3600, true), 4.0);   // provider revokes: last partial hour free
  EXPECT_DOUBLE_EQ(lease_cost(r, p, 0, 0.5 * 3600, true), 0.0);
  EXPECT_DOUBLE_EQ(lease_cost(r, p, 0, 2 * 3600, true), 4.0);
  EXPECT_THROW(parse_billing("monthly"), std::invalid_argument);
}

TEST(TuneBilling, SpotPriceChangesAreFollowed) {
  PriceSeries s{{0, 3600}, {1.0, 3.0}};
  PriceFn p{[&](double t) { return s.at(t); }, [&](double a, double b) { return s.dollars(a, b); }};
  EXPECT_NEAR(lease_cost(BillingRule{}, p, 1800, 5400, false), 0.5 + 1.5, 1e-12);
  EXPECT_DOUBLE_EQ(lease_cost(parse_billing("hourly"), p, 1800, 5500, false), 1.0 + 3.0);
}

TEST(TuneMarket, RevocationRateFromSyntheticTrace) {
  // 10 ticks of 360 s: up 4, down 1, up 4, down 1 -> 2 revocations over 8 held ticks (0.8 h).
  AvailabilityTrace tr("synthetic", 360, {1, 1, 1, 1, 0, 1, 1, 1, 1, 0});
  auto e = estimate_revocation(tr, 0, tr.duration_s());
  EXPECT_EQ(e.revocations, 2);
  EXPECT_NEAR(e.held_hours, 0.8, 1e-12);
  EXPECT_NEAR(e.rate_per_hour, 2.5, 1e-12);
  EXPECT_NEAR(e.availability, 0.8, 1e-12);
  EXPECT_NEAR(e.probability(1.0), 1 - std::exp(-2.5), 1e-12);
  // Next revocation / availability, wrapping around the end.
  EXPECT_NEAR(tr.next_unavailable(10), 4 * 360.0, 1e-5);
  EXPECT_NEAR(tr.next_available(4 * 360.0 + 5), 5 * 360.0, 1e-5);
  EXPECT_DOUBLE_EQ(tr.next_unavailable(9 * 360.0 + 1), 9 * 360.0 + 1);
  EXPECT_NEAR(tr.next_available(9 * 360.0 + 1), 10 * 360.0, 1e-5);
  EXPECT_NEAR(tr.next_unavailable(10 * 360.0 + 7), 14 * 360.0, 1e-5);
  for (double t = 0; t < 30 * 360.0; t += 7.3) {
    double a = tr.next_available(t), u = tr.next_unavailable(t);
    EXPECT_TRUE(tr.available(a)) << t;
    EXPECT_FALSE(tr.available(u)) << t;
  }
  AvailabilityTrace always("always", 60, {1, 1, 1});
  EXPECT_EQ(always.next_unavailable(5), kInf);
  EXPECT_GT(estimate_revocation(always, 0, 180).rate_per_hour, 0);  // never proves zero risk
}

TEST(TuneMarket, LoadsRealAwsSpotPrices) {
  VEIL_REQUIRE_SHARED("spot/aws-prices/eu-west-3a-2020.csv");
  auto prices = load_aws_spot_prices(test::shared_data() + "/spot/aws-prices/eu-west-3a-2020.csv");
  EXPECT_EQ(prices.size(), 16u);
  const auto& c5 = prices.at("c5.2xlarge");
  EXPECT_EQ(c5.t.front(), c5.t.front());
  for (double p : c5.price) {
    EXPECT_GE(p, 0.12);
    EXPECT_LE(p, 0.16);
  }
  EXPECT_GT(c5.span(), 100 * 86400.0);  // Feb to Jul 2020
  EXPECT_DOUBLE_EQ(parse_iso8601("2020-07-31T11:24:57+00:00"), 1596194697.0);
  EXPECT_DOUBLE_EQ(parse_iso8601("2020-07-31T13:24:57+02:00"), 1596194697.0);
}

TEST(TuneMarket, RealTracesGiveDistinctRevocationRates) {
  VEIL_REQUIRE_SHARED("spot/skypilot-traces/preemption/1-node/aws-04-22-2023/us-west-2b_v100_1.json");
  std::string dir = test::shared_data() + "/spot/skypilot-traces/preemption/1-node/aws-04-22-2023/";
  auto a = load_skypilot_trace(dir + "us-west-2b_v100_1.json");
  EXPECT_DOUBLE_EQ(a.gap_s(), 32);
  EXPECT_EQ(a.ticks(), 19961u);
  auto ea = estimate_revocation(a, 0, a.duration_s());
  EXPECT_GT(ea.revocations, 10);
  EXPECT_GT(ea.rate_per_hour, 0.05);
  EXPECT_LT(ea.rate_per_hour, 2.0);
  auto b = load_skypilot_trace(test::shared_data() +
                               "/spot/skypilot-traces/preemption/1-node/gcp-04-30-2023/us-central1-a_c3-88.json");
  EXPECT_LT(estimate_revocation(b, 0, b.duration_s()).rate_per_hour, ea.rate_per_hour);
}

TEST(TuneMarket, MarketFileReplaysRepeatably) {
  VEIL_REQUIRE_SHARED("spot/aws-prices/eu-west-3a-2020.csv");
  Market m = load_market(std::string(VEIL_SOURCE_DIR) + "/data/tune/market-eu-west-3a.json", test::shared_data());
  ASSERT_GE(m.types.size(), 4u);
  ASSERT_GE(m.scenarios.size(), 3u);
  for (size_t i = 0; i < m.types.size(); ++i) {
    // The spot price never exceeds on-demand in this history.
    for (double p : m.spot[i].price) EXPECT_LE(p, m.types[i].on_demand + 1e-9) << m.types[i].name;
  }
  auto r1 = make_replay(m, 0, 7, 86400), r2 = make_replay(m, 0, 7, 86400), r3 = make_replay(m, 0, 8, 86400);
  EXPECT_EQ(r1.trace_offset_s, r2.trace_offset_s);
  EXPECT_EQ(r1.price_offset_s, r2.price_offset_s);
  EXPECT_NE(r1.trace_offset_s, r3.trace_offset_s);
  EXPECT_GE(r1.trace_offset_s, r1.traces[0].duration_s() / 2);
  double t = r1.next_revocation(0, 0);
  if (t < kInf) {
    EXPECT_FALSE(r1.spot_available(0, t));
  }
}
