// Calibration of learning-curve predictions on finished trials: the Student-t CDF, the
// residual calibration's coverage on synthetic curves, and the cross-trial map.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "veil/tune/calibration.h"
#include "veil/tune/cross_trial.h"

using namespace veil::tune;

TEST(TuneCalibration, StudentTCdf) {
  EXPECT_NEAR(student_t_cdf(0, 3), 0.5, 1e-12);
  EXPECT_NEAR(student_t_cdf(1, 1), 0.75, 1e-9);        // Cauchy
  EXPECT_NEAR(student_t_cdf(-1, 1), 0.25, 1e-9);
  EXPECT_NEAR(student_t_cdf(2.015, 5), 0.95, 1e-3);    // table value t_{0.95,5}
  EXPECT_NEAR(student_t_cdf(1.6449, 1e6), 0.95, 1e-4); // the normal limit
}

TEST(TuneCalibration, NoSpreadKnownMeansNoStop) {
  EXPECT_EQ(ResidualCalibration(std::vector<double>{}).prob_below(1.0, 0.0), 1.0);
  EXPECT_EQ(ResidualCalibration(std::vector<double>{0.3}).prob_below(1.0, 0.0), 1.0);
}

TEST(TuneCalibration, ShiftsByTheBiasAndWidensWithFewReferences) {
  // A predictor that is always 0.5 too high: the calibrated distribution moves down by 0.5.
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(-0.5, 0.1);
  std::vector<double> r;
  for (int i = 0; i < 400; ++i) r.push_back(noise(rng));
  ResidualCalibration c(r);
  EXPECT_NEAR(c.bias(), -0.5, 0.02);
  EXPECT_NEAR(c.prob_below(2.0, 1.5), 0.5, 0.03);
  EXPECT_NEAR(c.prob_below(2.0, 1.5 - 1.6449 * 0.1), 0.05, 0.015);
  // Five of the same residuals: Student-t with 4 degrees of freedom has heavier tails.
  ResidualCalibration few({-0.6, -0.55, -0.5, -0.45, -0.4});
  double p_few = few.prob_below(2.0, 1.5 - 3 * few.spread());
  EXPECT_GT(p_few, 0.01);  // a normal would say 0.0013 (before the sqrt(1 + 1/n) widening)
  ResidualCalibration kern({-0.6, -0.55, -0.5, -0.45, -0.4}, CalibrationForm::kernel);
  EXPECT_LT(kern.prob_below(2.0, 1.5 - 3 * few.spread()), p_few);
}

// Coverage on synthetic learning curves: y(e) = c + a e^-b, noisy. The "value at epoch 3"
// predictor is biased (curves keep falling) and its error depends on a and b; the map
// calibrated on 30 finished curves must put at most about 5% of new curves' finals below
// its 5% quantile (a stop at P < 0.05 is not overconfident) and about half below its
// median; "final = value at epoch 3" with no spread is wrong for most of them.
TEST(TuneCalibration, CrossTrialMapCoversNewCurves) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> C(1.5, 2.5), A(0.5, 1.5), B(0.4, 0.9);
  std::normal_distribution<double> eps(0, 0.01);
  auto curve = [&] {
    double c = C(rng), a = A(rng), b = B(rng);
    std::vector<double> y;
    for (int e = 1; e <= 12; ++e) y.push_back(c + a * std::pow(double(e), -b) + eps(rng));
    return y;
  };
  std::vector<double> at3, fin;
  for (int i = 0; i < 30; ++i) {
    auto y = curve();
    at3.push_back(y[2]), fin.push_back(y[11]);
  }
  FinalMap m = fit_final_map(at3, fin);
  ASSERT_TRUE(m.ok);
  ResidualCalibration cal(m.loo);
  auto quantile = [&](double x, double q) {  // calibrated q-quantile of the final, by bisection
    double lo = x - 3, hi = x + 1;
    for (int it = 0; it < 60; ++it) {
      double mid = (lo + hi) / 2;
      (cal.prob_below(m(x), mid) < q ? lo : hi) = mid;
    }
    return lo;
  };
  int below5 = 0, below50 = 0, below_raw = 0, n = 2000;
  for (int i = 0; i < n; ++i) {
    auto y = curve();
    below5 += y[11] < quantile(y[2], 0.05);
    below50 += y[11] < quantile(y[2], 0.5);
    below_raw += y[11] < y[2] - 0.05;  // "final = value at epoch 3" gives this probability 0
  }
  std::printf("below the calibrated 5%% quantile: %.3f, below the median: %.3f\n", double(below5) / n, double(below50) / n);
  EXPECT_LE(double(below5) / n, 0.08);  // never much more confident than it claims
  EXPECT_NEAR(double(below50) / n, 0.5, 0.08);
  EXPECT_GT(below_raw, n / 2);
}

TEST(TuneCalibration, FinalMapLeaveOneOut) {
  // An exact line: a, b recovered, leave-one-out residuals zero.
  std::vector<double> x = {1, 2, 3, 4, 5}, y;
  for (double v : x) y.push_back(0.5 + 0.8 * v);
  FinalMap m = fit_final_map(x, y);
  EXPECT_NEAR(m.a, 0.5, 1e-12);
  EXPECT_NEAR(m.b, 0.8, 1e-12);
  for (double r : m.loo) EXPECT_NEAR(r, 0, 1e-9);
  // Noisy: each leave-one-out residual equals the residual of a refit without that point.
  std::vector<double> yn = {1.4, 2.0, 2.9, 3.7, 4.9, 5.2};
  std::vector<double> xn = {1, 2, 3, 4, 5, 6};
  FinalMap f = fit_final_map(xn, yn);
  for (size_t i = 0; i < xn.size(); ++i) {
    std::vector<double> xs, ys;
    for (size_t j = 0; j < xn.size(); ++j)
      if (j != i) xs.push_back(xn[j]), ys.push_back(yn[j]);
    FinalMap g = fit_final_map(xs, ys);
    EXPECT_NEAR(f.loo[i], yn[i] - g(xn[i]), 1e-9) << i;
  }
  // Fewer than 4 references: the slope stays 1 (the mean remaining change).
  FinalMap s = fit_final_map({3.0, 4.0, 5.0}, {2.5, 3.3, 4.6});
  EXPECT_EQ(s.b, 1.0);
  EXPECT_NEAR(s.a, (-0.5 - 0.7 - 0.4) / 3, 1e-12);
  EXPECT_FALSE(fit_final_map({1.0}, {2.0}).ok);
}
