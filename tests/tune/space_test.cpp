// Search-space parsing: good spaces sample inside their ranges; bad ones say what is wrong.
#include <gtest/gtest.h>

#include <cmath>

#include "veil/tune/space.h"

using veil::tune::parse_space;
using nlohmann::json;

namespace {

json good() {
  return json::parse(R"({"metric": "val_loss", "direction": "minimize", "epochs": 5,
    "params": {"lr": {"type": "float", "min": 1e-4, "max": 1e-1, "scale": "log"},
               "bs": {"type": "categorical", "values": [16, 32]},
               "w": {"type": "int", "min": 0, "max": 3}},
    "budget": {"money": 3.5, "deadline_hours": 2, "max_trials": 7}})");
}

void expect_error(json j, const std::string& needle) {
  try {
    parse_space(j);
    ADD_FAILURE() << "accepted a bad space: " << j.dump();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(TuneSpace, ParsesAndSamplesInRange) {
  auto s = parse_space(good());
  EXPECT_EQ(s.epochs, 5);
  EXPECT_EQ(s.budget.max_trials, 7);
  EXPECT_DOUBLE_EQ(s.budget.money, 3.5);
  EXPECT_DOUBLE_EQ(s.budget.deadline_s, 7200);
  auto cs = s.sample_n(200, 3);
  double lo = 1, hi = 0;
  for (const auto& c : cs) {
    double lr = c["lr"].get<double>();
    EXPECT_GE(lr, 1e-4);
    EXPECT_LE(lr, 1e-1);
    lo = std::min(lo, lr), hi = std::max(hi, lr);
    EXPECT_TRUE(c["bs"] == 16 || c["bs"] == 32);
    EXPECT_GE(c["w"].get<int>(), 0);
    EXPECT_LE(c["w"].get<int>(), 3);
  }
  EXPECT_LT(lo, 1e-3);  // log scale reaches the low decade
  EXPECT_EQ(s.sample_n(5, 3), s.sample_n(5, 3));
}

TEST(TuneSpace, BadConfigsSayWhatIsWrong) {
  auto j = good();
  j.erase("metric");
  expect_error(j, "\"metric\"");
  j = good();
  j["direction"] = "up";
  expect_error(j, "direction");
  j = good();
  j["params"]["lr"]["min"] = 1.0;
  expect_error(j, "exceeds max");
  j = good();
  j["params"]["lr"]["min"] = 0.0;
  expect_error(j, "log-scale range needs min > 0");
  j = good();
  j["params"]["lr"]["type"] = "complex";
  expect_error(j, "params.lr.type");
  j = good();
  j["params"]["bs"]["values"] = json::array();
  expect_error(j, "params.bs.values");
  j = good();
  j["epochs"] = 0;
  expect_error(j, "epochs");
  j = good();
  j["budget"]["money"] = -1;
  expect_error(j, "budget.money");
  j = good();
  j["params"] = json::object();
  expect_error(j, "params");
}
