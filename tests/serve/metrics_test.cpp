#include "veil/serve/metrics.h"

#include <gtest/gtest.h>

namespace veil::serve {
namespace {

TEST(Metrics, RendersCountersGaugesAndHistogramsInTheTextFormat) {
  Metrics m;
  m.counter("veil_requests_total", "Requests by outcome");
  m.gauge("veil_queue_depth", "Waiting requests");
  m.histogram("veil_latency_seconds", "Latency", {0.5, 1, 2});
  m.add("veil_requests_total", {{"outcome", "ok"}});
  m.add("veil_requests_total", {{"outcome", "ok"}}, 2);
  m.add("veil_requests_total", {{"outcome", "refused"}});
  m.set("veil_queue_depth", {}, 4);
  for (double v : {0.2, 0.7, 0.9, 5.0}) m.observe("veil_latency_seconds", {{"endpoint", "completions"}}, v);
  const std::string want =
      "# HELP veil_requests_total Requests by outcome\n"
      "# TYPE veil_requests_total counter\n"
      "veil_requests_total{outcome=\"ok\"} 3\n"
      "veil_requests_total{outcome=\"refused\"} 1\n"
      "# HELP veil_queue_depth Waiting requests\n"
      "# TYPE veil_queue_depth gauge\n"
      "veil_queue_depth 4\n"
      "# HELP veil_latency_seconds Latency\n"
      "# TYPE veil_latency_seconds histogram\n"
      "veil_latency_seconds_bucket{endpoint=\"completions\",le=\"0.5\"} 1\n"
      "veil_latency_seconds_bucket{endpoint=\"completions\",le=\"1\"} 3\n"
      "veil_latency_seconds_bucket{endpoint=\"completions\",le=\"2\"} 3\n"
      "veil_latency_seconds_bucket{endpoint=\"completions\",le=\"+Inf\"} 4\n"
      "veil_latency_seconds_sum{endpoint=\"completions\"} 6.8\n"
      "veil_latency_seconds_count{endpoint=\"completions\"} 4\n";
  EXPECT_EQ(m.render(), want);
  EXPECT_EQ(m.value("veil_requests_total", {{"outcome", "ok"}}), 3);
  EXPECT_EQ(m.value("veil_requests_total", {{"outcome", "failed"}}), 0);
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  Metrics m;
  m.gauge("g", "line one\nline \\two");
  m.set("g", {{"why", "a \"quoted\"\\path\n"}}, 1.5);
  EXPECT_EQ(m.render(), "# HELP g line one\\nline \\\\two\n# TYPE g gauge\ng{why=\"a \\\"quoted\\\"\\\\path\\n\"} 1.5\n");
}

TEST(Metrics, RefusesMisuse) {
  Metrics m;
  m.counter("c", "a counter");
  EXPECT_THROW(m.counter("bad-name", "x"), std::invalid_argument);
  EXPECT_THROW(m.gauge("c", "same name, other type"), std::invalid_argument);
  EXPECT_THROW(m.set("c", {}, 1), std::invalid_argument);  // a counter is not set
  EXPECT_THROW(m.add("c", {}, -1), std::invalid_argument);
  EXPECT_THROW(m.add("undeclared", {}), std::invalid_argument);
  EXPECT_THROW(m.add("c", {{"bad label", "x"}}), std::invalid_argument);
  EXPECT_THROW(m.histogram("h", "x", {1, 1}), std::invalid_argument);
}

TEST(Metrics, FormatsValuesAsPrometheusReadsThem) {
  EXPECT_EQ(format_value(3), "3");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_value(0.0 / 0.0), "NaN");
}

}  // namespace
}  // namespace veil::serve
