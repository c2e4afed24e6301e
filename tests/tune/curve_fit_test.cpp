// Learning-curve fitting on synthetic curves with known truth.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "veil/tune/curve_fit.h"

using namespace veil::tune;

namespace {
const CurveFamily& family(const std::string& n) {
  for (const auto& f : curve_families())
    if (n == f.name) return f;
  throw std::runtime_error("no family " + n);
}
}  // namespace

TEST(TuneCurveFit, EachFamilyRecoversItsOwnCurve) {
  // Noise-free curves of each family (increasing form) are fitted almost exactly.
  struct Case {
    const char* fam;
    std::vector<double> p;
  } cases[] = {{"pow3", {0.9, 0.5, 0.7}},           {"exp3", {0.8, 0.3, -0.5}},
               {"janoschek", {0.9, 0.2, 0.3, 0.9}}, {"mmf", {0.85, 0.1, 0.4, 1.2}},
               {"ilog2", {0.9, 0.3}},               {"pow4", {0.9, 1.0, 0.5, 0.8}},
               {"log_power", {0.9, 1.0, -1.2}}};
  for (const auto& c : cases) {
    const auto& f = family(c.fam);
    std::vector<double> x, y;
    for (int e = 1; e <= 20; ++e) x.push_back(e), y.push_back(f.f(e, c.p.data()));
    // Fit in the same normalised space predict_curve uses, via the public predictor.
    auto pr = predict_curve(y, 40, /*minimize=*/false);
    ASSERT_TRUE(pr.ok) << c.fam;
    EXPECT_NEAR(pr.mean, f.f(40, c.p.data()), 0.02) << c.fam;
    auto fit = fit_family(f, x, y);
    EXPECT_TRUE(fit.ok) << c.fam;
    EXPECT_LT(fit.sse, 1e-4) << c.fam;
  }
}

TEST(TuneCurveFit, PredictsFinalLossFromEarlyEpochsWithHonestUncertainty) {
  // A loss curve 2.0 + 1.2 * e^-0.6 plus noise: from 5 of 15 epochs, the prediction of
  // epoch 15 is within a few standard deviations and the band is not absurdly wide.
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(0, 0.005);
  int inside = 0, trials = 20;
  for (int t = 0; t < trials; ++t) {
    std::vector<double> y;
    for (int e = 1; e <= 15; ++e) y.push_back(2.0 + 1.2 * std::pow(double(e), -0.6) + noise(rng));
    std::vector<double> early(y.begin(), y.begin() + 5);
    auto p = predict_curve(early, 15, /*minimize=*/true);
    ASSERT_TRUE(p.ok);
    EXPECT_GT(p.members, 1);
    EXPECT_LT(p.stddev, 0.3);
    if (std::abs(p.mean - y.back()) < 3 * p.stddev + 0.01) ++inside;
  }
  EXPECT_GE(inside, 17);
}

TEST(TuneCurveFit, PoorTrialIsUnlikelyToBeatTheBest) {
  // A trial plateauing near 2.6 cannot reach a best of 2.0; a still-improving one is extrapolated.
  std::vector<double> poor, steep;
  for (int e = 1; e <= 6; ++e) {
    poor.push_back(2.6 + 0.5 * std::exp(-0.9 * e));
    steep.push_back(1.9 + 1.5 * std::pow(double(e), -0.4));
  }
  auto pp = predict_curve(poor, 15, true), ps = predict_curve(steep, 15, true);
  EXPECT_LT(pp.prob_better(2.0, true), 0.01);
  EXPECT_NEAR(ps.mean, 1.9 + 1.5 * std::pow(15.0, -0.4), 0.05);  // 2.407
  EXPECT_GT(ps.prob_better(2.45, true), 0.5);
  EXPECT_NEAR(ps.prob_better(2.3, true), 1 - ps.prob_better(2.3, false), 1e-12);
}

TEST(TuneCurveFit, TooFewPointsOrFlatCurvesAreHandled) {
  EXPECT_FALSE(predict_curve({2.0, 1.9}, 10, true).ok);
  auto flat = predict_curve({1.5, 1.5, 1.5, 1.5}, 10, true);
  ASSERT_TRUE(flat.ok);
  EXPECT_NEAR(flat.mean, 1.5, 1e-6);
  auto noisy = predict_curve({2.0, 2.4, 1.9, 2.6, 2.1}, 10, true);
  EXPECT_TRUE(noisy.ok);
  EXPECT_TRUE(std::isfinite(noisy.mean));
  EXPECT_TRUE(std::isfinite(noisy.stddev));
}
