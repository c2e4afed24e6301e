// The balancer on simulated groups: time is a number the test advances.
#include "veil/serve/balancer.h"

#include <gtest/gtest.h>

namespace veil::serve {
namespace {

BalancerOptions opts(Policy p, double slo = 2.0, int max_queue = 8, int late_queue = 1) {
  BalancerOptions o;
  o.policy = p;
  o.slo_seconds = slo;
  o.headroom = 1;
  o.max_queue = max_queue;
  o.late_queue = late_queue;
  return o;
}

TEST(Balancer, SloPlacesWhereThePredictedCompletionIsEarliest) {
  Balancer b(opts(Policy::slo, 10));
  b.add_group(0), b.add_group(1);
  const Placement a = b.place(3.0, 0);  // both idle: the first
  ASSERT_TRUE(a.placed);
  EXPECT_EQ(a.group, 0);
  EXPECT_TRUE(b.try_start(a.ticket, 0));
  const Placement c = b.place(1.0, 0);  // group 0 busy for 3 s: group 1
  EXPECT_EQ(c.group, 1);
  EXPECT_DOUBLE_EQ(c.predicted_seconds, 1.0);
  const Placement d = b.place(1.0, 0);  // group 1 has 1 s of backlog, group 0 3 s
  EXPECT_EQ(d.group, 1);
  EXPECT_DOUBLE_EQ(d.predicted_seconds, 2.0);
  const Placement e = b.place(1.0, 2.5);  // at 2.5 s group 0 has 0.5 s left, group 1 2 s
  EXPECT_EQ(e.group, 0);
  EXPECT_DOUBLE_EQ(e.predicted_seconds, 1.5);
}

TEST(Balancer, SloLearnsAGroupsSpeed) {
  Balancer b(opts(Policy::slo, 100));
  b.add_group(0), b.add_group(1);
  const Placement a = b.place(1.0, 0);
  ASSERT_EQ(a.group, 0);
  ASSERT_TRUE(b.try_start(a.ticket, 0));
  b.finish(a.ticket, 5.0);  // group 0 took 5x the prediction: its first observation sets the scale
  EXPECT_DOUBLE_EQ(b.snapshot(1)[0].scale, 5.0);
  const Placement again = b.place(1.0, 1, 1);
  ASSERT_TRUE(b.try_start(again.ticket, 1));
  b.finish(again.ticket, 3.0);  // then an average: 0.7·5 + 0.3·3 = 4.4
  EXPECT_DOUBLE_EQ(b.snapshot(2)[0].scale, 4.4);
  const Placement c = b.place(1.0, 1);
  EXPECT_EQ(c.group, 1);  // both idle: the faster one
}

TEST(Balancer, SloQueuesLateRequestsUpToTheBoundThenRefusesWithRetryAfter) {
  Balancer b(opts(Policy::slo, 2.0, 8, 1));
  b.add_group(0);
  const Placement a = b.place(1.5, 0);
  ASSERT_TRUE(a.placed);
  EXPECT_FALSE(a.late);
  ASSERT_TRUE(b.try_start(a.ticket, 0));
  const Placement late = b.place(1.5, 0);  // 3 s > SLO: queued (late_queue 1)
  ASSERT_TRUE(late.placed);
  EXPECT_TRUE(late.late);
  const Placement refused = b.place(1.5, 0);  // 4.5 s, one late already waiting
  EXPECT_FALSE(refused.placed);
  EXPECT_DOUBLE_EQ(refused.retry_after_seconds, 2.5);
  EXPECT_NE(refused.reason.find("SLO"), std::string::npos) << refused.reason;
  EXPECT_EQ(b.waiting(), 1);
  EXPECT_EQ(b.running(), 1);
  // A retry of a failed request skips the bounds.
  EXPECT_TRUE(b.place(1.5, 0, std::nullopt, true).placed);
}

TEST(Balancer, SloKeepsHeadroomBelowTheSlo) {
  BalancerOptions o = opts(Policy::slo, 2.0, 8, 0);
  o.headroom = 0.5;
  Balancer b(o);
  b.add_group(0);
  EXPECT_TRUE(b.place(1.0, 0).placed);  // 1 s: within half the SLO
  const Placement r = b.place(0.5, 0);  // 1.5 s: within the SLO, not within the headroom
  EXPECT_FALSE(r.placed);
  EXPECT_DOUBLE_EQ(r.retry_after_seconds, 1.0);
  EXPECT_NE(r.reason.find("1000 ms with headroom"), std::string::npos) << r.reason;
}

TEST(Balancer, ARunningRequestPastItsPredictionStillCounts) {
  Balancer b(opts(Policy::slo, 100));
  b.add_group(0);
  const Placement a = b.place(2.0, 0);
  ASSERT_TRUE(b.try_start(a.ticket, 0));
  EXPECT_DOUBLE_EQ(b.backlog_seconds(1.0), 1.0);
  EXPECT_DOUBLE_EQ(b.backlog_seconds(5.0), 0.2);  // overran: a tenth of its prediction is left
}

TEST(Balancer, OtherPoliciesQueueUpToMaxQueue) {
  for (Policy p : {Policy::round_robin, Policy::least_connections}) {
    Balancer b(opts(p, 0.1, 3));
    b.add_group(0), b.add_group(1);
    int placed = 0;
    for (int i = 0; i < 10; ++i) placed += b.place(1.0, 0).placed;
    EXPECT_EQ(placed, 3) << policy_name(p);  // nothing runs yet: three waiting is the bound
    const Placement r = b.place(1.0, 0);
    EXPECT_FALSE(r.placed);
    EXPECT_NE(r.reason.find("queue is full"), std::string::npos);
  }
}

TEST(Balancer, RoundRobinTakesTurnsAndLeastConnectionsTheEmptiest) {
  Balancer rr(opts(Policy::round_robin, 100, 100));
  rr.add_group(0), rr.add_group(1), rr.add_group(2);
  std::vector<int> got;
  for (int i = 0; i < 6; ++i) got.push_back(rr.place(1.0, 0).group);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 0, 1, 2}));

  Balancer lc(opts(Policy::least_connections, 100, 100));
  lc.add_group(0), lc.add_group(1);
  const Placement a = lc.place(50.0, 0), b = lc.place(0.1, 0), c = lc.place(0.1, 0);
  EXPECT_EQ(a.group, 0);
  EXPECT_EQ(b.group, 1);
  EXPECT_EQ(c.group, 0);  // a tie: the first, although its request is 50 s long (slo would not)
  lc.finish(b.ticket, 0.1);
  EXPECT_EQ(lc.place(0.1, 0).group, 1);
}

TEST(Balancer, AGroupRunsOneRequestAtATimeInOrder) {
  Balancer b(opts(Policy::slo, 100));
  b.add_group(0);
  const Placement a = b.place(1, 0), c = b.place(1, 0);
  EXPECT_FALSE(b.try_start(c.ticket, 0));
  EXPECT_TRUE(b.try_start(a.ticket, 0));
  EXPECT_FALSE(b.try_start(c.ticket, 0));
  b.finish(a.ticket, 1);
  b.set_healthy(0, false);  // the group failed with a: c must not start there
  EXPECT_FALSE(b.try_start(c.ticket, 1));
  b.set_healthy(0, true);
  EXPECT_TRUE(b.try_start(c.ticket, 1));
}

TEST(Balancer, SkipsUnhealthyExcludedAndDrainingGroups) {
  Balancer b(opts(Policy::slo, 100));
  b.add_group(0), b.add_group(1), b.add_group(2);
  b.set_healthy(0, false);
  b.drain_group(2);
  EXPECT_EQ(b.place(1, 0).group, 1);
  const Placement none = b.place(1, 0, 1);
  EXPECT_FALSE(none.placed);
  EXPECT_EQ(none.reason, "no healthy party group");
  EXPECT_EQ(b.healthy_groups(), 1);
  b.set_healthy(0, true);
  EXPECT_EQ(b.place(1, 0, 1).group, 0);
}

TEST(Balancer, ARemovedGroupForgetsItsRequests) {
  Balancer b(opts(Policy::slo, 100));
  b.add_group(0);
  const Placement a = b.place(1, 0);
  b.remove_group(0);
  EXPECT_EQ(b.group_of(a.ticket), -1);
  EXPECT_FALSE(b.try_start(a.ticket, 0));
  b.finish(a.ticket, 1);  // no effect
  EXPECT_EQ(b.waiting(), 0);
}

TEST(Balancer, ParsesPolicies) {
  EXPECT_EQ(parse_policy("round-robin"), Policy::round_robin);
  EXPECT_EQ(policy_name(parse_policy("least-connections")), "least-connections");
  EXPECT_THROW(parse_policy("random"), std::invalid_argument);
}

}  // namespace
}  // namespace veil::serve
