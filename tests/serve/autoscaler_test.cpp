// The autoscaler on a simulated clock.
#include "veil/serve/autoscaler.h"

#include <gtest/gtest.h>

namespace veil::serve {
namespace {

AutoscalerOptions opts() {
  AutoscalerOptions o;
  o.min_groups = 1, o.max_groups = 4;
  o.slo_seconds = 2.0;
  o.target_utilization = 0.5;  // a group may hold 1 s of predicted work
  o.scale_up_window = 3, o.scale_down_window = 10;
  return o;
}

AutoscalerInput at(double t, double backlog, std::optional<double> p99 = std::nullopt, int waiting = 0) {
  AutoscalerInput in;
  in.now = t, in.backlog_seconds = backlog, in.p99 = p99, in.waiting = waiting;
  return in;
}

TEST(Autoscaler, ScalesUpOnlyAfterTheNeedHeldForTheWindow) {
  Autoscaler a(opts());
  EXPECT_EQ(a.tick(at(0, 0.5)), 1);
  EXPECT_EQ(a.tick(at(1, 2.5)), 1);  // needs 3 from now on
  EXPECT_EQ(a.needed(), 3);
  EXPECT_EQ(a.tick(at(2, 2.5)), 1);
  EXPECT_EQ(a.tick(at(3.9, 2.5)), 1);
  EXPECT_EQ(a.tick(at(4, 2.5)), 3);  // 3 s of need: all at once
  ASSERT_EQ(a.decisions().size(), 1u);
  EXPECT_EQ(a.decisions()[0].from, 1);
  EXPECT_EQ(a.decisions()[0].to, 3);
  EXPECT_DOUBLE_EQ(a.decisions()[0].at, 4);
}

TEST(Autoscaler, ABriefSpikeDoesNotScale) {
  Autoscaler a(opts());
  a.tick(at(0, 3.5));
  a.tick(at(2, 0.2));  // gone before the window
  EXPECT_EQ(a.tick(at(5, 0.2)), 1);
  EXPECT_TRUE(a.decisions().empty());
}

TEST(Autoscaler, ScalesDownOneGroupPerWindow) {
  Autoscaler a(opts());
  a.tick(at(0, 3.5));
  ASSERT_EQ(a.tick(at(3, 3.5)), 4);
  EXPECT_EQ(a.tick(at(4, 0)), 4);
  EXPECT_EQ(a.tick(at(13.9, 0)), 4);
  EXPECT_EQ(a.tick(at(14, 0)), 3);
  EXPECT_EQ(a.tick(at(20, 0)), 3);
  EXPECT_EQ(a.tick(at(24, 0)), 2);
  EXPECT_EQ(a.tick(at(34, 0)), 1);
  EXPECT_EQ(a.tick(at(100, 0)), 1);  // min_groups
  EXPECT_EQ(a.decisions().size(), 4u);
}

TEST(Autoscaler, AddsAGroupWhileTheObservedP99MissesTheSloUnderLoad) {
  Autoscaler a(opts());
  a.tick(at(0, 0.5, 3.0, 2));
  EXPECT_EQ(a.needed(), 2);
  EXPECT_EQ(a.tick(at(3, 0.5, 3.0, 2)), 2);
  EXPECT_NE(a.decisions()[0].reason.find("p99"), std::string::npos) << a.decisions()[0].reason;
  // A slow p99 with nothing waiting and nothing refused is history, not load.
  Autoscaler b(opts());
  b.tick(at(0, 0.0, 3.0, 0));
  EXPECT_EQ(b.tick(at(10, 0.0, 3.0, 0)), 1);
}

TEST(Autoscaler, StaysWithinItsBounds) {
  Autoscaler a(opts());
  a.tick(at(0, 100));
  EXPECT_EQ(a.tick(at(3, 100)), 4);
  EXPECT_THROW(Autoscaler([] {
                 AutoscalerOptions o;
                 o.min_groups = 3, o.max_groups = 2;
                 return o;
               }()),
               std::invalid_argument);
}

}  // namespace
}  // namespace veil::serve
